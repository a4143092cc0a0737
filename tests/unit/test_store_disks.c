/*
 * test_store_disks.c: disk inventories, replaced per node by each report.
 */
#include "test_store_util.h"

TestSuite(store_disks, .init = tst_setup, .fini = tst_close, .timeout = 60);

static struct store_disk
tst_disk(const char *path, int64_t bytes, const char *reasons)
{
	struct store_disk d;

	memset(&d, 0, sizeof(d));
	snprintf(d.device_path, sizeof(d.device_path), "%s", path);
	d.capacity_bytes = bytes;
	snprintf(d.interface, sizeof(d.interface), "sata");
	snprintf(d.model, sizeof(d.model), "Model X");
	snprintf(d.vendor, sizeof(d.vendor), "ACME");
	snprintf(d.serial, sizeof(d.serial), "S-%s", path + 5);
	d.available = reasons == NULL;
	d.reject_reasons = (char *)reasons;
	return d;
}

Test(store_disks, replace_keeps_ids)
{
	char n1[NT_UUID_BUFLEN], n2[NT_UUID_BUFLEN], id_sdb[NT_UUID_BUFLEN];
	struct store_disk in[3], *v, d;
	size_t n;

	tst_node("worker-02", n1);
	tst_node("worker-01", n2);
	in[0] = tst_disk("/dev/sdb", 4000000000000LL, NULL);
	in[1] = tst_disk("/dev/sda", 500000000000LL,
	                 "[\"holds the root filesystem\"]");
	in[1].has_filesystem = true;
	cr_assert_eq(store_disks_replace(tst_store, n1, in, 2), NT_OK);
	in[2] = tst_disk("/dev/nvme0n1", 1000000000000LL, NULL);
	cr_assert_eq(store_disks_replace(tst_store, n2, &in[2], 1), NT_OK);

	cr_assert_eq(store_disk_list(tst_store, n1, &v, &n), NT_OK);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].device_path, "/dev/sda");
	cr_assert_str_eq(v[0].reject_reasons,
	                 "[\"holds the root filesystem\"]");
	cr_assert(v[0].has_filesystem);
	cr_assert_not(v[0].available);
	cr_assert_str_eq(v[1].device_path, "/dev/sdb");
	cr_assert_str_eq(v[1].reject_reasons, "[]");
	cr_assert_eq(v[1].capacity_bytes, 4000000000000LL);
	cr_assert_str_eq(v[1].node_hostname, "worker-02");
	cr_assert_str_eq(v[1].serial, "S-sdb");
	cr_assert(v[1].available);
	memcpy(id_sdb, v[1].id, sizeof(id_sdb));
	store_disk_free(v, n);

	/* All nodes: by hostname, then device path. */
	cr_assert_eq(store_disk_list(tst_store, NULL, &v, &n), NT_OK);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[0].device_path, "/dev/nvme0n1");
	cr_assert_str_eq(v[1].device_path, "/dev/sda");
	store_disk_free(v, n);

	/* sdb changes, sda is gone, sdc is new: sdb keeps its id. */
	in[0].is_osd = true;
	in[0].available = false;
	in[0].reject_reasons = "[\"already an OSD\"]";
	in[1] = tst_disk("/dev/sdc", 8000000000000LL, NULL);
	cr_assert_eq(store_disks_replace(tst_store, n1, in, 2), NT_OK);
	cr_assert_eq(store_disk_list(tst_store, n1, &v, &n), NT_OK);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].device_path, "/dev/sdb");
	cr_assert_str_eq(v[0].id, id_sdb);
	cr_assert(v[0].is_osd);
	cr_assert_str_eq(v[0].reject_reasons, "[\"already an OSD\"]");
	cr_assert_str_eq(v[1].device_path, "/dev/sdc");
	store_disk_free(v, n);

	cr_assert_eq(store_disk_get(tst_store, id_sdb, &d), NT_OK);
	cr_assert_str_eq(d.device_path, "/dev/sdb");
	cr_assert_str_eq(d.node_id, n1);
	store_disk_fini(&d);
	cr_assert_eq(store_disk_get(tst_store,
	                            "00000000-0000-4000-8000-000000000000", &d),
	             NT_ENOTFOUND);

	/* An empty report empties the inventory. */
	cr_assert_eq(store_disks_replace(tst_store, n1, NULL, 0), NT_OK);
	cr_assert_eq(store_disk_list(tst_store, n1, &v, &n), NT_OK);
	cr_assert_eq(n, 0);
	store_disk_free(v, n);
}

Test(store_disks, unknown_node)
{
	char id[NT_UUID_BUFLEN];
	struct store_disk d = tst_disk("/dev/sdb", 1, NULL);

	nt_uuid_new(id);
	cr_assert_eq(store_disks_replace(tst_store, id, &d, 1), NT_ENOTFOUND);
	cr_assert_eq(store_disks_replace(tst_store, "junk", &d, 1), NT_EINVAL);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM disks"), 0);
}
