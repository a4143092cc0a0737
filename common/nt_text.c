/*
 * nt_text.c: text repair for untrusted input (see nt_text.h).
 */
#include "nt_text.h"

#include <string.h>

size_t
nt_text_utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

size_t
nt_text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t changed = 0;

	while (*p != '\0') {
		size_t n = nt_text_utf8_len(p);

		if (n == 0 ||
		    (n == 1 && ((*p < 0x20 && *p != '\t') || *p == 0x7f))) {
			*p++ = '?';
			changed++;
			continue;
		}
		p += n;
	}
	return changed;
}

bool
nt_text_is_token(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}
