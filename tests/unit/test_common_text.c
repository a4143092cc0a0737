/*
 * test_common_text.c: UTF-8 repair of untrusted text and the hash map.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nt_err.h"
#include "nt_map.h"
#include "nt_text.h"

Test(text, valid_utf8_is_untouched)
{
	char s[] = "wipe /dev/sdb: 100% \xc3\xa9t\xc3\xa9 \xe2\x82\xac "
	           "\xf0\x9f\x92\xbe";

	cr_assert_eq(nt_text_sanitize(s), 0);
	cr_assert_str_eq(s,
	                 "wipe /dev/sdb: 100% \xc3\xa9t\xc3\xa9 \xe2\x82\xac "
	                 "\xf0\x9f\x92\xbe");
}

Test(text, invalid_bytes_become_question_marks)
{
	char lone[] = "a\xff"
	              "b";
	char truncated[] = "x\xe2\x82";
	char overlong[] = "\xc0\xaf";
	char surrogate[] = "\xed\xa0\x80";
	char too_big[] = "\xf4\x90\x80\x80";

	cr_assert_eq(nt_text_sanitize(lone), 1);
	cr_assert_str_eq(lone, "a?b");
	cr_assert_eq(nt_text_sanitize(truncated), 2);
	cr_assert_str_eq(truncated, "x??");
	cr_assert_eq(nt_text_sanitize(overlong), 2);
	cr_assert_eq(nt_text_sanitize(surrogate), 3);
	cr_assert_eq(nt_text_sanitize(too_big), 4);
}

Test(text, control_characters_but_tab_are_replaced)
{
	char s[] = "a\tb\x1b[31mc\x7f";

	cr_assert_eq(nt_text_sanitize(s), 2);
	cr_assert_str_eq(s, "a\tb?[31mc?");
}

Test(text, utf8_len)
{
	cr_assert_eq(nt_text_utf8_len((const unsigned char *)"a"), 1);
	cr_assert_eq(nt_text_utf8_len((const unsigned char *)"\xc3\xa9"), 2);
	cr_assert_eq(nt_text_utf8_len((const unsigned char *)"\xe2\x82\xac"),
	             3);
	cr_assert_eq(
	        nt_text_utf8_len((const unsigned char *)"\xf0\x9f\x92\xbe"), 4);
	cr_assert_eq(nt_text_utf8_len((const unsigned char *)"\xc3"), 0);
	cr_assert_eq(nt_text_utf8_len((const unsigned char *)"\x80"), 0);
}

Test(text, tokens)
{
	cr_assert(nt_text_is_token("worker-01", 255));
	cr_assert_not(nt_text_is_token("", 255));
	cr_assert_not(nt_text_is_token("two words", 255));
	cr_assert_not(nt_text_is_token("tab\there", 255));
	cr_assert_not(nt_text_is_token("caf\xc3\xa9", 255));
	cr_assert_not(nt_text_is_token("abcdef", 5));
}

static void
map_count(const char *key, void *value, void *arg)
{
	(void)key;
	*(size_t *)arg += (size_t)(uintptr_t)value;
}

Test(map, put_get_replace_delete_across_growth)
{
	struct nt_map m;
	char key[32];
	size_t sum = 0;

	nt_map_init(&m);
	cr_assert_null(nt_map_get(&m, "absent"));
	cr_assert_null(nt_map_del(&m, "absent"));
	for (uintptr_t i = 1; i <= 1000; i++) {
		snprintf(key, sizeof(key), "node-%lu", (unsigned long)i);
		cr_assert_eq(nt_map_put(&m, key, (void *)i), NT_OK);
	}
	cr_assert_eq(m.count, 1000);
	cr_assert_eq((uintptr_t)nt_map_get(&m, "node-777"), 777);
	cr_assert_eq(nt_map_put(&m, "node-777", (void *)7), NT_OK);
	cr_assert_eq(m.count, 1000);
	cr_assert_eq((uintptr_t)nt_map_get(&m, "node-777"), 7);
	cr_assert_eq((uintptr_t)nt_map_del(&m, "node-1"), 1);
	cr_assert_null(nt_map_get(&m, "node-1"));
	cr_assert_eq(m.count, 999);
	nt_map_each(&m, map_count, &sum);
	/* 1..1000 minus 1 (deleted) minus 770 (777 became 7). */
	cr_assert_eq(sum, 1000 * 1001 / 2 - 1 - 770);
	nt_map_fini(&m);
	cr_assert_eq(m.count, 0);
}
