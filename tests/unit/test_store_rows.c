/*
 * test_store_rows.c: store_rows(), the one mapping of result rows into
 * typed arrays: every row in order, an empty result, and a failing row
 * that leaves nothing allocated behind.
 */
#include "store_internal.h"
#include "test_store_util.h"

TestSuite(store_rows, .init = tst_setup, .fini = tst_close, .timeout = 60);

struct tst_item {
	int64_t n;
	char *copy; /* heap, so a missed fini shows under the sanitizer */
};

static int tst_fail_at = -1;
static int tst_finis;

static int
tst_row(void *item, const PGresult *r, int i)
{
	struct tst_item *t = item;
	int err = NT_OK;

	t->copy = store_dup(r, i, 0, &err);
	t->n = store_i64(r, i, 0);
	return i == tst_fail_at ? NT_ENOMEM : err;
}

static void
tst_fini(void *item)
{
	struct tst_item *t = item;

	free(t->copy);
	t->copy = NULL;
	tst_finis++;
}

static PGresult *
tst_series(int n)
{
	static const struct store_stmt st = {
	        STORE_PS_NONE, "tst_series", 1,
	        "SELECT generate_series(1, $1::int)"};
	char v[16];
	const char *p[] = {v};
	PGresult *r;

	snprintf(v, sizeof(v), "%d", n);
	cr_assert_eq(store_exec1(tst_store, &st, p, &r), NT_OK);
	return r;
}

Test(store_rows, every_row_in_order)
{
	PGresult *r = tst_series(100);
	struct tst_item *v;
	size_t n;

	cr_assert_eq(
	        store_rows(r, sizeof(*v), tst_row, tst_fini, (void **)&v, &n),
	        NT_OK);
	PQclear(r);
	cr_assert_eq(n, 100);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(v[i].n, (int64_t)i + 1);
		tst_fini(&v[i]);
	}
	free(v);
}

Test(store_rows, empty_result)
{
	PGresult *r = tst_series(0);
	struct tst_item *v;
	size_t n = 99;

	cr_assert_eq(
	        store_rows(r, sizeof(*v), tst_row, tst_fini, (void **)&v, &n),
	        NT_OK);
	PQclear(r);
	cr_assert_eq(n, 0);
	cr_assert_not_null(v);
	free(v);
}

Test(store_rows, failing_row_frees_everything)
{
	PGresult *r = tst_series(10);
	struct tst_item *v = (struct tst_item *)1;
	size_t n = 99;

	tst_fail_at = 6;
	tst_finis = 0;
	cr_assert_eq(
	        store_rows(r, sizeof(*v), tst_row, tst_fini, (void **)&v, &n),
	        NT_ENOMEM);
	PQclear(r);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	/* Rows 0..5 and the failed row 6, whose copy was made. */
	cr_assert_eq(tst_finis, 7);
}
