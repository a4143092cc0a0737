/*
 * test_common_hash.c: SHA-256 against published vectors; secrets.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "nt_hash.h"

static void
check_sha(const void *data, size_t len, const char *want)
{
	char out[NT_SHA256_BUFLEN];

	nt_sha256_hex(data, len, out);
	cr_assert_str_eq(out, want);
}

/* Vectors from FIPS 180-2 / NIST. */
Test(hash, sha256_known_vectors)
{
	const char *s448 =
	        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	check_sha("abc", 3,
	          "ba7816bf8f01cfea414140de5dae2223"
	          "b00361a396177a9cb410ff61f20015ad");
	check_sha("", 0,
	          "e3b0c44298fc1c149afbf4c8996fb924"
	          "27ae41e4649b934ca495991b7852b855");
	check_sha(NULL, 0,
	          "e3b0c44298fc1c149afbf4c8996fb924"
	          "27ae41e4649b934ca495991b7852b855");
	check_sha(s448, strlen(s448),
	          "248d6a61d20638b8e5c026930c3e6039"
	          "a33ce45964ff2167f6ecedd419db06c1");
}

Test(hash, sha256_million_a)
{
	size_t n = 1000000;
	char *a = malloc(n);

	cr_assert_not_null(a);
	memset(a, 'a', n);
	check_sha(a, n,
	          "cdc76e5c9914fb9281a1c7e284d73e67"
	          "f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

Test(hash, sha256_uses_length_not_nul)
{
	char a[NT_SHA256_BUFLEN], b[NT_SHA256_BUFLEN];

	nt_sha256_hex("ab\0c", 4, a);
	nt_sha256_hex("ab\0d", 4, b);
	cr_assert_str_neq(a, b);
	nt_sha256_hex("abc", 2, a);
	nt_sha256_hex("ab", 2, b);
	cr_assert_str_eq(a, b);
	cr_assert_eq(strlen(a), NT_SHA256_HEXLEN);
}

static void
check_secret(const char *prefix, const char *s)
{
	size_t plen = strlen(prefix);

	cr_assert_eq(strlen(s), plen + 1 + 64, "bad length: %s", s);
	cr_assert_eq(strncmp(s, prefix, plen), 0);
	cr_assert_eq(s[plen], '_');
	for (size_t i = plen + 1; s[i] != '\0'; i++) {
		cr_assert((s[i] >= '0' && s[i] <= '9') ||
		                  (s[i] >= 'a' && s[i] <= 'f'),
		          "not lowercase hex: %s", s);
	}
}

Test(hash, secret_new_shape)
{
	char a[NT_SECRET_BUFLEN], b[NT_SECRET_BUFLEN];

	cr_assert_eq(nt_secret_new("ntk", a), NT_OK);
	check_secret("ntk", a);
	cr_assert_eq(nt_secret_new("ntk", b), NT_OK);
	cr_assert_str_neq(a, b, "two secrets are equal");
	cr_assert_eq(nt_secret_new("abcdefgh", a), NT_OK); /* 8: longest */
	check_secret("abcdefgh", a);
	cr_assert_eq(nt_secret_new("", a), NT_OK);
	check_secret("", a);
}

Test(hash, secret_new_rejects_bad_prefix)
{
	char a[NT_SECRET_BUFLEN];

	cr_assert_eq(nt_secret_new("abcdefghi", a), NT_EINVAL);
	cr_assert_eq(nt_secret_new(NULL, a), NT_EINVAL);
}

Test(hash, secret_equal)
{
	char a[NT_SECRET_BUFLEN], b[NT_SECRET_BUFLEN];

	cr_assert_eq(nt_secret_new("k", a), NT_OK);
	memcpy(b, a, sizeof(a));
	cr_assert(nt_secret_equal(a, b));
	b[strlen(b) - 1] ^= 1;
	cr_assert_not(nt_secret_equal(a, b), "last char differs");
	memcpy(b, a, sizeof(a));
	b[0] = 'x';
	cr_assert_not(nt_secret_equal(a, b), "first char differs");
	memcpy(b, a, sizeof(a));
	b[10] = '\0';
	cr_assert_not(nt_secret_equal(a, b), "prefix of the other");
	cr_assert_not(nt_secret_equal(b, a), "prefix of the other");
	cr_assert_not(nt_secret_equal(a, NULL));
	cr_assert_not(nt_secret_equal(NULL, a));
	cr_assert_not(nt_secret_equal(NULL, NULL));
	cr_assert_not(nt_secret_equal("", ""), "empty never matches");
}

Test(hash, secret_hash_round_trip)
{
	char s[NT_SECRET_BUFLEN];
	char h1[NT_SHA256_BUFLEN], h2[NT_SHA256_BUFLEN];

	cr_assert_eq(nt_secret_new("node", s), NT_OK);
	nt_sha256_hex(s, strlen(s), h1);
	nt_sha256_hex(s, strlen(s), h2);
	cr_assert(nt_secret_equal(h1, h2));
	s[5] ^= 1;
	nt_sha256_hex(s, strlen(s), h2);
	cr_assert_not(nt_secret_equal(h1, h2));
}
