/*
 * nt_hash.h: secrets (API keys, enrollment tokens, node secrets).
 *
 * Secrets are 32 random bytes written as "<prefix>_" + 64 hex digits; only
 * their SHA-256 is stored. A fast hash is right here because the secret has
 * 256 bits of entropy: there is nothing for a slow KDF to protect.
 */
#ifndef NT_HASH_H
#define NT_HASH_H

#include <stdbool.h>
#include <stddef.h>

#define NT_SHA256_HEXLEN 64
#define NT_SHA256_BUFLEN 65
#define NT_SECRET_BUFLEN 80

/* Fills buf with len bytes from getrandom(2). NT_EIO on failure. */
int nt_random_bytes(void *buf, size_t len);
/* out = lowercase hex SHA-256 of data. */
void nt_sha256_hex(const void *data, size_t len, char out[NT_SHA256_BUFLEN]);
/* out = prefix "_" 64 hex digits of getrandom(2). prefix <= 8 chars. */
int nt_secret_new(const char *prefix, char out[NT_SECRET_BUFLEN]);
/* Constant-time comparison of two equal-length strings. */
bool nt_secret_equal(const char *a, const char *b);

#endif
