# Turns docs/openapi.json into a C byte array, served at GET /openapi.json.
# Input: IN (the JSON file), OUT (C file to write).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR n "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
       "\\1\n\t" bytes "${bytes}")
set(body "/* Generated from docs/openapi.json; do not edit. */\n")
string(APPEND body "#include <stddef.h>\n\n")
string(APPEND body "extern const char api_openapi_json[];\n")
string(APPEND body "extern const size_t api_openapi_json_len;\n\n")
string(APPEND body "const char api_openapi_json[] = {\n\t${bytes}0x00};\n")
string(APPEND body "const size_t api_openapi_json_len = ${n};\n")
file(WRITE ${OUT} "${body}")
