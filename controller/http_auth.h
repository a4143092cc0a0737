/*
 * http_auth.h: API keys on REST requests ("Authorization: Bearer KEY").
 *
 * A key is looked up by its SHA-256. Answers, found or not, are cached in
 * memory for a few seconds so a busy client costs no extra query per
 * request; the price is that a revoked key keeps working, and a new key
 * tried too early keeps failing, for at most HTTP_AUTH_TTL_MS.
 */
#ifndef HTTP_AUTH_H
#define HTTP_AUTH_H

#include "store.h"

#define HTTP_AUTH_TTL_MS     5000 /* a found key */
#define HTTP_AUTH_NEG_TTL_MS 2000 /* an unknown key */
#define HTTP_AUTH_SLOTS      1024 /* cache entries (power of two) */
#define HTTP_AUTH_KEY_MAX    256  /* longest key accepted */

struct http_auth;

int http_auth_init(struct http_auth **ap, struct store *store);
void http_auth_fini(struct http_auth *a);
/*
 * Checks an Authorization header value (NULL when absent). NT_OK fills
 * name and scope; NT_EPERM: missing, malformed or unknown key (401);
 * NT_EUNAVAIL: the key could not be checked (503).
 */
int http_auth_check(struct http_auth *a, const char *authorization,
                    char name[STORE_NAME_BUFLEN], enum store_scope *scope);

#endif
