/*
 * nt_uuid.c: random (version 4) UUIDs and strict parsing of their text.
 */
#include "nt_uuid.h"
#include "nt_err.h"
#include "nt_hash.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>

static const char nt_uuid_hex[] = "0123456789abcdef";

/* Dashes sit after byte 4, 6, 8 and 10 (text offsets 8, 13, 18, 23). */
static bool
nt_uuid_is_dash_pos(size_t i)
{
	return i == 8 || i == 13 || i == 18 || i == 23;
}

int
nt_uuid_new(char out[NT_UUID_BUFLEN])
{
	uint8_t b[16];
	size_t pos = 0;
	int rv;

	if ((rv = nt_random_bytes(b, sizeof(b))) != NT_OK) {
		return rv;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */
	for (size_t i = 0; i < sizeof(b); i++) {
		if (nt_uuid_is_dash_pos(pos)) {
			out[pos++] = '-';
		}
		out[pos++] = nt_uuid_hex[b[i] >> 4];
		out[pos++] = nt_uuid_hex[b[i] & 0x0f];
	}
	out[pos] = '\0';
	return NT_OK;
}

/* The lowercase hex digit for c, or 0 when c is not a hex digit. */
static char
nt_uuid_lower_hex(char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
		return c;
	}
	if (c >= 'A' && c <= 'F') {
		return (char)(c - 'A' + 'a');
	}
	return 0;
}

bool
nt_uuid_parse(const char *s, char out[NT_UUID_BUFLEN])
{
	char buf[NT_UUID_BUFLEN];
	size_t i;

	if (s == NULL) {
		return false;
	}
	/* Bounded scan: never read past a terminator of a short string. */
	for (i = 0; i < NT_UUID_STRLEN && s[i] != '\0'; i++) {
		if (nt_uuid_is_dash_pos(i)) {
			if (s[i] != '-') {
				return false;
			}
			buf[i] = '-';
		} else if ((buf[i] = nt_uuid_lower_hex(s[i])) == 0) {
			return false;
		}
	}
	if (i != NT_UUID_STRLEN || s[i] != '\0') {
		return false;
	}
	buf[i] = '\0';
	if (out != NULL) {
		for (i = 0; i < NT_UUID_BUFLEN; i++) {
			out[i] = buf[i];
		}
	}
	return true;
}
