/*
 * test_common_uuid.c: random UUID generation and strict UUID parsing.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "nt_uuid.h"

static int
uuid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

Test(uuid, new_has_shape_version_and_variant)
{
	char u[NT_UUID_BUFLEN];

	cr_assert_eq(nt_uuid_new(u), NT_OK);
	cr_assert_eq(strlen(u), NT_UUID_STRLEN);
	cr_assert(nt_uuid_parse(u, NULL), "generated uuid %s does not parse",
	          u);
	cr_assert_eq(u[14], '4', "version nibble in %s", u);
	cr_assert(strchr("89ab", u[19]) != NULL, "variant nibble in %s", u);
	for (size_t i = 0; i < NT_UUID_STRLEN; i++) {
		cr_assert(u[i] == '-' || (u[i] >= '0' && u[i] <= '9') ||
		                  (u[i] >= 'a' && u[i] <= 'f'),
		          "char %zu of %s is not lowercase hex", i, u);
	}
}

Test(uuid, new_is_random)
{
	enum { N = 2000 };
	char(*u)[NT_UUID_BUFLEN] = calloc(N, sizeof(*u));

	cr_assert_not_null(u);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(nt_uuid_new(u[i]), NT_OK);
		cr_assert_eq(u[i][14], '4');
	}
	qsort(u, N, sizeof(*u), uuid_cmp);
	for (int i = 1; i < N; i++) {
		cr_assert_str_neq(u[i - 1], u[i], "duplicate uuid");
	}
	free(u);
}

Test(uuid, parse_accepts_and_lowercases)
{
	char out[NT_UUID_BUFLEN];

	cr_assert(nt_uuid_parse("0f8fad5b-d9cb-469f-a165-70867728950e", out));
	cr_assert_str_eq(out, "0f8fad5b-d9cb-469f-a165-70867728950e");
	cr_assert(nt_uuid_parse("0F8FAD5B-D9CB-469F-A165-70867728950E", out));
	cr_assert_str_eq(out, "0f8fad5b-d9cb-469f-a165-70867728950e");
	/* Only the shape is checked, not the version: nil uuid is fine. */
	cr_assert(nt_uuid_parse("00000000-0000-0000-0000-000000000000", out));
	cr_assert(nt_uuid_parse("ffffffff-ffff-ffff-ffff-ffffffffffff", NULL));
}

Test(uuid, parse_rejects_other_shapes)
{
	static const char *const bad[] = {
	        "",
	        "0f8fad5b-d9cb-469f-a165-70867728950",   /* 35 chars */
	        "0f8fad5b-d9cb-469f-a165-70867728950e0", /* 37 chars */
	        "0f8fad5bd9cb469fa16570867728950e",      /* no dashes */
	        "0f8fad5b-d9cb-469f-a16570867728950e-",  /* dash moved */
	        "0f8fad5bd-9cb-469f-a165-70867728950e",  /* dash moved */
	        "0f8fad5b-d9cb-469f-a165-70867728950g",  /* not hex */
	        "0f8fad5b-d9cb-469f-a165_70867728950e",  /* wrong separator */
	        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
	        " 0f8fad5b-d9cb-469f-a165-70867728950e",
	        "0f8fad5b-d9cb-469f-a165-70867728950e ",
	        "0f8fad5b-d9cb-469f-a165-70867728950e\n",
	        "0f8fad5b-d9cb-469f--165-70867728950e",
	        "+f8fad5b-d9cb-469f-a165-70867728950e",
	        "../../../../../../../../../etc/passwd",
	};
	char out[NT_UUID_BUFLEN] = "untouched";

	cr_assert_not(nt_uuid_parse(NULL, out));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_not(nt_uuid_parse(bad[i], out), "accepted \"%s\"",
		              bad[i]);
	}
	cr_assert_str_eq(out, "untouched", "out written on rejection");
}

Test(uuid, parse_stops_at_short_string)
{
	/* A short string must be rejected without reading past its end. */
	char *s = malloc(9);

	cr_assert_not_null(s);
	memcpy(s, "0f8fad5b", 9);
	cr_assert_not(nt_uuid_parse(s, NULL));
	free(s);
}
