/*
 * test_store_keys.c: API keys, the audit log, nodes and enrollment.
 */
#include "nt_hash.h"
#include "nt_time.h"
#include "test_store_util.h"

TestSuite(store_keys, .init = tst_setup, .fini = tst_close, .timeout = 60);

Test(store_keys, create_lookup_revoke)
{
	char name[STORE_NAME_BUFLEN];
	enum store_scope scope;
	struct store_key *keys;
	size_t n;

	cr_assert_eq(
	        store_key_create(tst_store, "ops", STORE_SCOPE_ADMIN, "aaaa"),
	        NT_OK);
	cr_assert_eq(
	        store_key_create(tst_store, "viewer", STORE_SCOPE_READ, "bbbb"),
	        NT_OK);
	cr_assert_eq(store_key_lookup(tst_store, "aaaa", name, &scope), NT_OK);
	cr_assert_str_eq(name, "ops");
	cr_assert_eq(scope, STORE_SCOPE_ADMIN);
	cr_assert_eq(store_key_lookup(tst_store, "bbbb", name, &scope), NT_OK);
	cr_assert_str_eq(name, "viewer");
	cr_assert_eq(scope, STORE_SCOPE_READ);
	cr_assert_eq(store_key_lookup(tst_store, "cccc", name, &scope),
	             NT_ENOTFOUND);

	cr_assert_eq(store_key_revoke(tst_store, "ops"), NT_OK);
	cr_assert_eq(store_key_lookup(tst_store, "aaaa", name, &scope),
	             NT_ENOTFOUND);
	cr_assert_eq(store_key_revoke(tst_store, "ops"), NT_ENOTFOUND);
	cr_assert_eq(store_key_revoke(tst_store, "nobody"), NT_ENOTFOUND);

	cr_assert_eq(store_key_list(tst_store, &keys, &n), NT_OK);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(keys[0].name, "ops");
	cr_assert_gt(keys[0].revoked_at_us, 0);
	cr_assert_geq(keys[0].revoked_at_us, keys[0].created_at_us);
	cr_assert_str_eq(keys[1].name, "viewer");
	cr_assert_eq(keys[1].revoked_at_us, 0);
	cr_assert_gt(keys[1].created_at_us, 1600000000000000LL);
	store_key_free(keys, n);
}

Test(store_keys, duplicate_names_and_hashes)
{
	cr_assert_eq(
	        store_key_create(tst_store, "ops", STORE_SCOPE_ADMIN, "h1"),
	        NT_OK);
	cr_assert_eq(store_key_create(tst_store, "ops", STORE_SCOPE_READ, "h2"),
	             NT_EEXIST);
	cr_assert_eq(
	        store_key_create(tst_store, "other", STORE_SCOPE_READ, "h1"),
	        NT_EEXIST);
	/* A revoked key's name is free again. */
	cr_assert_eq(store_key_revoke(tst_store, "ops"), NT_OK);
	cr_assert_eq(store_key_create(tst_store, "ops", STORE_SCOPE_READ, "h3"),
	             NT_OK);
	cr_assert_eq(store_key_create(tst_store, "", STORE_SCOPE_READ, "h4"),
	             NT_EINVAL);
	cr_assert_eq(
	        store_key_create(tst_store, "x", (enum store_scope)9, "h4"),
	        NT_EINVAL);
}

Test(store_keys, audit_rows)
{
	struct store_audit a = {.actor = "ops",
	                        .action = "POST /task/runs",
	                        .object_type = "run",
	                        .object_id = "r1",
	                        .status = 201,
	                        .detail = "bad \xff byte"};
	struct store_audit b = {.actor = "cli", .action = "key create"};
	PGresult *r;

	cr_assert_eq(store_audit_add(tst_store, &a), NT_OK);
	cr_assert_eq(store_audit_add(tst_store, &b), NT_OK);
	r = tst_sql("SELECT actor, action, object_type, object_id, status,"
	            " detail FROM audit_log ORDER BY id");
	cr_assert_eq(PQntuples(r), 2);
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "POST /task/runs");
	cr_assert_str_eq(PQgetvalue(r, 0, 4), "201");
	cr_assert_str_eq(PQgetvalue(r, 0, 5), "bad \xef\xbf\xbd byte");
	cr_assert(PQgetisnull(r, 1, 2));
	cr_assert(PQgetisnull(r, 1, 5));
	PQclear(r);
	b.actor = NULL;
	cr_assert_eq(store_audit_add(tst_store, &b), NT_EINVAL);
}

Test(store_keys, enroll_and_authenticate)
{
	char id[NT_UUID_BUFLEN], id2[NT_UUID_BUFLEN];
	int64_t hour = 3600LL * 1000000;
	struct store_node n;

	nt_uuid_new(id);
	nt_uuid_new(id2);
	cr_assert_eq(
	        store_token_create(tst_store, "tok1", nt_time_now_us() + hour),
	        NT_OK);
	cr_assert_eq(
	        store_token_create(tst_store, "old", nt_time_now_us() - hour),
	        NT_OK);
	cr_assert_eq(store_node_enroll(tst_store, "nope", id, "w1", "s1"),
	             NT_EPERM);
	cr_assert_eq(store_node_enroll(tst_store, "old", id, "w1", "s1"),
	             NT_EPERM);
	cr_assert_eq(store_node_get(tst_store, id, &n), NT_ENOTFOUND);
	cr_assert_eq(store_node_enroll(tst_store, "tok1", id, "w1", "s1"),
	             NT_OK);
	/* One time only. */
	cr_assert_eq(store_node_enroll(tst_store, "tok1", id2, "w2", "s2"),
	             NT_EPERM);
	cr_assert_eq(store_node_get(tst_store, id2, &n), NT_ENOTFOUND);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM enroll_tokens"
	                         " WHERE used_at IS NOT NULL"),
	             1);

	cr_assert_eq(store_node_auth(tst_store, id, "s1"), NT_OK);
	cr_assert_eq(store_node_auth(tst_store, id, "s2"), NT_EPERM);
	cr_assert_eq(store_node_auth(tst_store, id2, "s1"), NT_EPERM);
	cr_assert_eq(store_node_auth(tst_store, "junk", "s1"), NT_EPERM);

	/* A new token re-keys a known node. */
	cr_assert_eq(
	        store_token_create(tst_store, "tok2", nt_time_now_us() + hour),
	        NT_OK);
	cr_assert_eq(store_node_enroll(tst_store, "tok2", id, "w1", "s9"),
	             NT_OK);
	cr_assert_eq(store_node_auth(tst_store, id, "s1"), NT_EPERM);
	cr_assert_eq(store_node_auth(tst_store, id, "s9"), NT_OK);

	/* A node inserted without a secret never authenticates. */
	memset(&n, 0, sizeof(n));
	memcpy(n.id, id2, sizeof(n.id));
	snprintf(n.hostname, sizeof(n.hostname), "w2");
	cr_assert_eq(store_node_insert(tst_store, &n, NULL), NT_OK);
	cr_assert_eq(store_node_insert(tst_store, &n, NULL), NT_EEXIST);
	cr_assert_eq(store_node_auth(tst_store, id2, ""), NT_EPERM);
}

Test(store_keys, node_online_seen_offline)
{
	char a[NT_UUID_BUFLEN], b[NT_UUID_BUFLEN], c[NT_UUID_BUFLEN];
	char ids[3][NT_UUID_BUFLEN];
	struct store_node n, *list;
	size_t count;

	tst_node("worker-02", a);
	tst_node("worker-01", b);
	nt_uuid_new(c);
	cr_assert_eq(store_node_get(tst_store, a, &n), NT_OK);
	cr_assert_str_eq(n.state, "offline");
	cr_assert_eq(n.last_seen_at_us, 0);
	cr_assert_gt(n.created_at_us, 0);

	cr_assert_eq(store_node_online(tst_store, a, "worker-02b", "0.1.0",
	                               "10.0.0.2:5000"),
	             NT_OK);
	cr_assert_eq(store_node_online(tst_store, c, "x", "0.1.0", "y"),
	             NT_ENOTFOUND);
	cr_assert_eq(store_node_get(tst_store, a, &n), NT_OK);
	cr_assert_str_eq(n.state, "online");
	cr_assert_str_eq(n.hostname, "worker-02b");
	cr_assert_str_eq(n.agent_version, "0.1.0");
	cr_assert_str_eq(n.address, "10.0.0.2:5000");
	cr_assert_gt(n.last_seen_at_us, 0);

	/* Heartbeats: only online nodes, unknown and junk ids ignored. */
	PQclear(tst_sql("UPDATE nodes SET last_seen_at = now() - interval "
	                "'1 hour'"));
	memcpy(ids[0], a, NT_UUID_BUFLEN);
	memcpy(ids[1], b, NT_UUID_BUFLEN);
	snprintf(ids[2], NT_UUID_BUFLEN, "not-a-uuid");
	cr_assert_eq(store_nodes_seen(tst_store,
	                              (const char(*)[NT_UUID_BUFLEN])ids, 3),
	             NT_OK);
	cr_assert_eq(store_nodes_seen(tst_store, NULL, 0), NT_OK);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM nodes"
	                         " WHERE last_seen_at > now() - interval "
	                         "'1 minute'"),
	             1);

	cr_assert_eq(store_node_offline(tst_store, a), NT_OK);
	cr_assert_eq(store_node_offline(tst_store, c), NT_ENOTFOUND);
	cr_assert_eq(store_node_get(tst_store, a, &n), NT_OK);
	cr_assert_str_eq(n.state, "offline");

	cr_assert_eq(store_node_list(tst_store, &list, &count), NT_OK);
	cr_assert_eq(count, 2);
	cr_assert_str_eq(list[0].hostname, "worker-01");
	cr_assert_str_eq(list[1].hostname, "worker-02b");
	store_node_free(list, count);
	cr_assert_eq(store_node_get(tst_store, "bad", &n), NT_EINVAL);
}
