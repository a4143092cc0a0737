/*
 * nt_text.h: making untrusted text safe to store and show.
 *
 * Log lines come from commands on the node (ceph-volume, the kernel); one
 * invalid byte would make PostgreSQL reject a whole batch, forever on every
 * resend. So text is repaired at the edges, never rejected.
 */
#ifndef NT_TEXT_H
#define NT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence starting at p (1 to 4), or 0 when it
 * is not valid (RFC 3629: no overlong forms, surrogates, or code points
 * past U+10FFFF). p must be NUL-terminated.
 */
size_t nt_text_utf8_len(const unsigned char *p);
/*
 * Replaces, in place, each byte that is not part of valid UTF-8 and each
 * control character other than tab with '?'. Returns how many changed.
 */
size_t nt_text_sanitize(char *s);
/* True when s is 1..max printable ASCII characters (ids, names, tokens). */
bool nt_text_is_token(const char *s, size_t max);

#endif
