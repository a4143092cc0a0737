/*
 * store_disks.c: the disks each agent reports.
 *
 * A report replaces the node's inventory. Rows are upserted by (node,
 * device path) so a disk keeps its id from one report to the next, which
 * is what lets an operator name a disk by id in POST /ceph/osd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "store_internal.h"

#define STORE_DISK_COLS                                                  \
	"d.id, d.node_id, n.hostname, d.device_path, d.capacity_bytes,"  \
	" d.interface, d.model, d.vendor, d.serial, d.is_osd, d.is_mon," \
	" d.has_filesystem, d.available, d.reject_reasons::text"

static const struct store_stmt store_st_disk_upsert = {
        STORE_PS_DISK_UPSERT, "disk_upsert", 12,
        "INSERT INTO disks (node_id, device_path, capacity_bytes, interface,"
        " model, vendor, serial, is_osd, is_mon, has_filesystem, available,"
        " reject_reasons)"
        " VALUES ($1::uuid, $2, $3::bigint, $4, $5, $6, $7, $8::boolean,"
        " $9::boolean, $10::boolean, $11::boolean, $12::jsonb)"
        " ON CONFLICT (node_id, device_path) DO UPDATE SET"
        " capacity_bytes = excluded.capacity_bytes,"
        " interface = excluded.interface, model = excluded.model,"
        " vendor = excluded.vendor, serial = excluded.serial,"
        " is_osd = excluded.is_osd, is_mon = excluded.is_mon,"
        " has_filesystem = excluded.has_filesystem,"
        " available = excluded.available,"
        " reject_reasons = excluded.reject_reasons, updated_at = now()"};

static const struct store_stmt store_st_disk_prune = {
        STORE_PS_DISK_PRUNE, "disk_prune", 2,
        "DELETE FROM disks WHERE node_id = $1::uuid"
        " AND NOT (device_path = ANY ($2::text[]))"};

static const struct store_stmt store_st_node_lock = {
        STORE_PS_DISK_LOCK, "disk_node_lock", 1,
        "SELECT 1 FROM nodes WHERE id = $1 FOR NO KEY UPDATE"};

static const struct store_stmt store_st_disk_list = {
        STORE_PS_NONE, "disk_list", 1,
        "SELECT " STORE_DISK_COLS " FROM disks d"
        " JOIN nodes n ON n.id = d.node_id"
        " WHERE $1::uuid IS NULL OR d.node_id = $1::uuid"
        " ORDER BY n.hostname, d.device_path"};

static const struct store_stmt store_st_disk_get = {
        STORE_PS_NONE, "disk_get", 1,
        "SELECT " STORE_DISK_COLS " FROM disks d"
        " JOIN nodes n ON n.id = d.node_id WHERE d.id = $1"};

static const char *
store_tf(bool b)
{
	return b ? "t" : "f";
}

static int
store_disk_upsert(struct store_conn *c, const char *node_id,
                  const struct store_disk *d)
{
	/* Hardware strings and where they go among the parameters. */
	const char *in[5] = {d->device_path, d->interface, d->model, d->vendor,
	                     d->serial};
	static const int slot[5] = {1, 3, 4, 5, 6};
	char cap[24], *tmp[6] = {NULL};
	const char *p[12], *rr;
	PGresult *r;
	int rv = NT_OK;

	snprintf(cap, sizeof(cap), "%lld", (long long)d->capacity_bytes);
	p[0] = node_id;
	for (int i = 0; i < 5; i++)
		if ((p[slot[i]] = store_utf8(in[i], &tmp[i])) == NULL)
			rv = NT_ENOMEM;
	p[2] = cap;
	p[7] = store_tf(d->is_osd);
	p[8] = store_tf(d->is_mon);
	p[9] = store_tf(d->has_filesystem);
	p[10] = store_tf(d->available);
	rr = d->reject_reasons != NULL ? d->reject_reasons : "[]";
	if ((p[11] = store_utf8(rr, &tmp[5])) == NULL)
		rv = NT_ENOMEM;
	if (rv == NT_OK) {
		rv = store_exec(c, &store_st_disk_upsert, p, &r);
		PQclear(r);
	}
	for (int i = 0; i < 6; i++)
		free(tmp[i]);
	return rv;
}

static int
store_disk_prune(struct store_conn *c, const char *node_id,
                 const struct store_disk *disks, size_t n)
{
	struct store_buf b = {0};
	const char *p[2];
	char *tmp;
	PGresult *r;
	int rv;

	for (size_t i = 0; i < n; i++) {
		const char *path = store_utf8(disks[i].device_path, &tmp);

		if (path == NULL)
			b.oom = true;
		else
			store_buf_elem(&b, path);
		free(tmp);
	}
	p[0] = node_id;
	if ((p[1] = store_buf_end(&b)) == NULL) {
		store_buf_fini(&b);
		return NT_ENOMEM;
	}
	rv = store_exec(c, &store_st_disk_prune, p, &r);
	PQclear(r);
	store_buf_fini(&b);
	return rv;
}

int
store_disks_replace(struct store *s, const char *node_id,
                    const struct store_disk *disks, size_t n)
{
	char id[NT_UUID_BUFLEN];
	const char *p[] = {id};
	struct store_conn *c;
	PGresult *r;
	int rv;

	if (!store_uuid(node_id, id) || (n > 0 && disks == NULL))
		return NT_EINVAL;
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	if ((rv = store_begin(c)) != NT_OK)
		goto out;
	/*
	 * Serialises two reports of one node and tells a missing node apart;
	 * NO KEY so that runs being created for the node need not wait.
	 */
	if ((rv = store_exec(c, &store_st_node_lock, p, &r)) != NT_OK)
		goto fail;
	if (PQntuples(r) == 0)
		rv = NT_ENOTFOUND;
	PQclear(r);
	for (size_t i = 0; rv == NT_OK && i < n; i++)
		rv = store_disk_upsert(c, id, &disks[i]);
	if (rv == NT_OK)
		rv = store_disk_prune(c, id, disks, n);
	if (rv == NT_OK && (rv = store_commit(c)) == NT_OK)
		goto out;
fail:
	store_rollback(c);
out:
	store_conn_put(s, c);
	return rv;
}

static void
store_disk_fini_item(void *item)
{
	store_disk_fini(item);
}

static int
store_disk_row(void *item, const PGresult *r, int i)
{
	struct store_disk *d = item;
	int err = NT_OK;

	store_copy(d->id, sizeof(d->id), r, i, 0);
	store_copy(d->node_id, sizeof(d->node_id), r, i, 1);
	store_copy(d->node_hostname, sizeof(d->node_hostname), r, i, 2);
	store_copy(d->device_path, sizeof(d->device_path), r, i, 3);
	d->capacity_bytes = store_i64(r, i, 4);
	store_copy(d->interface, sizeof(d->interface), r, i, 5);
	store_copy(d->model, sizeof(d->model), r, i, 6);
	store_copy(d->vendor, sizeof(d->vendor), r, i, 7);
	store_copy(d->serial, sizeof(d->serial), r, i, 8);
	d->is_osd = store_bool(r, i, 9);
	d->is_mon = store_bool(r, i, 10);
	d->has_filesystem = store_bool(r, i, 11);
	d->available = store_bool(r, i, 12);
	d->reject_reasons = store_dup(r, i, 13, &err);
	return err;
}

int
store_disk_list(struct store *s, const char *node_id, struct store_disk **items,
                size_t *n)
{
	char id[NT_UUID_BUFLEN];
	const char *p[] = {NULL};
	PGresult *r;
	int rv;

	*items = NULL;
	*n = 0;
	if (node_id != NULL) {
		if (!store_uuid(node_id, id))
			return NT_EINVAL;
		p[0] = id;
	}
	if ((rv = store_exec1(s, &store_st_disk_list, p, &r)) != NT_OK)
		return rv;
	rv = store_rows(r, sizeof(**items), store_disk_row,
	                store_disk_fini_item, (void **)items, n);
	PQclear(r);
	return rv;
}

int
store_disk_get(struct store *s, const char *id, struct store_disk *out)
{
	char did[NT_UUID_BUFLEN];
	const char *p[] = {did};
	PGresult *r;
	int rv;

	memset(out, 0, sizeof(*out));
	if (!store_uuid(id, did))
		return NT_EINVAL;
	if ((rv = store_exec1(s, &store_st_disk_get, p, &r)) != NT_OK)
		return rv;
	if (PQntuples(r) == 1)
		rv = store_disk_row(out, r, 0);
	else
		rv = NT_ENOTFOUND;
	PQclear(r);
	if (rv != NT_OK)
		store_disk_fini(out);
	return rv;
}

void
store_disk_fini(struct store_disk *d)
{
	if (d == NULL)
		return;
	free(d->reject_reasons);
	d->reject_reasons = NULL;
}

void
store_disk_free(struct store_disk *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_disk_fini(&items[i]);
	free(items);
}
