/*
 * nt_hash.c: SHA-256 digests and random secrets for keys and tokens.
 */
#include "nt_hash.h"
#include "nt_err.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define NT_SECRET_BYTES     32
#define NT_SECRET_PREFIXMAX 8

static const char nt_hash_hexdigits[] = "0123456789abcdef";

static void
nt_hash_hex(const uint8_t *b, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = nt_hash_hexdigits[b[i] >> 4];
		out[2 * i + 1] = nt_hash_hexdigits[b[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/*
 * Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up again
 * under a lock on every digest, which showed in every API request (the
 * key is hashed before the key cache is asked).
 */
static EVP_MD *nt_hash_sha256;
static pthread_once_t nt_hash_once = PTHREAD_ONCE_INIT;

static void
nt_hash_fetch(void)
{
	nt_hash_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void
nt_sha256_hex(const void *data, size_t len, char out[NT_SHA256_BUFLEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char empty[1] = {0};

	pthread_once(&nt_hash_once, nt_hash_fetch);
	if (data == NULL) {
		data = empty; /* EVP wants a valid pointer even for len 0 */
		len = 0;
	}
	if (nt_hash_sha256 == NULL ||
	    EVP_Digest(data, len, md, &mdlen, nt_hash_sha256, NULL) != 1 ||
	    mdlen != NT_SHA256_HEXLEN / 2) {
		/* Only on allocation failure; "" equals no stored hash. */
		out[0] = '\0';
		return;
	}
	nt_hash_hex(md, mdlen, out);
}

int
nt_secret_new(const char *prefix, char out[NT_SECRET_BUFLEN])
{
	uint8_t b[NT_SECRET_BYTES];
	size_t plen;
	int rv;

	if (prefix == NULL || (plen = strlen(prefix)) > NT_SECRET_PREFIXMAX) {
		return NT_EINVAL;
	}
	if ((rv = nt_random_bytes(b, sizeof(b))) != NT_OK) {
		return rv;
	}
	memcpy(out, prefix, plen);
	out[plen] = '_';
	nt_hash_hex(b, sizeof(b), out + plen + 1);
	OPENSSL_cleanse(b, sizeof(b));
	return NT_OK;
}

/*
 * Lengths are not secret (all secrets of a kind have the same length). An
 * empty string never matches: it is what a failed hash leaves behind.
 */
bool
nt_secret_equal(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL) {
		return false;
	}
	la = strlen(a);
	lb = strlen(b);
	if (la != lb || la == 0) {
		return false;
	}
	return CRYPTO_memcmp(a, b, la) == 0;
}
