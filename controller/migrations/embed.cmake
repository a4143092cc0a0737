# Turns the migration files into a C table: {version, name, sql}.
# Input: DIR (the migrations directory), OUT (C file to write). The files
# are listed here rather than passed in: a list argument would be split
# into several shell commands at its semicolons.
file(GLOB FILES ${DIR}/*.sql)
list(SORT FILES)
set(body "/* Generated from the SQL files in controller/migrations; do not edit. */\n")
string(APPEND body "#include \"store_migrations.h\"\n\n")
string(APPEND body "const struct store_migration store_migrations[] = {\n")
set(n 0)
foreach(f ${FILES})
  get_filename_component(name ${f} NAME)
  string(REGEX MATCH "^([0-9]+)" ver "${name}")
  # "008" would be a malformed octal literal in C.
  string(REGEX REPLACE "^0+([0-9])" "\\1" ver "${ver}")
  file(READ ${f} sql HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" sql "${sql}")
  string(APPEND body "\t{${ver}, \"${name}\", \"${sql}\"},\n")
  math(EXPR n "${n}+1")
endforeach()
string(APPEND body "};\nconst int store_migrations_count = ${n};\n")
file(WRITE ${OUT} "${body}")
