/*
 * nt_uuid.h: RFC 4122 UUIDs as the API writes them (lowercase, 36 chars).
 */
#ifndef NT_UUID_H
#define NT_UUID_H

#include <stdbool.h>

#define NT_UUID_STRLEN 36
#define NT_UUID_BUFLEN 37

/* A random (version 4) UUID from getrandom(2). Returns NT_EIO on failure. */
int nt_uuid_new(char out[NT_UUID_BUFLEN]);
/*
 * True when s is exactly 8-4-4-4-12 hex digits. Uppercase is accepted and
 * lowercased into out when out is non-NULL.
 */
bool nt_uuid_parse(const char *s, char out[NT_UUID_BUFLEN]);

#endif
