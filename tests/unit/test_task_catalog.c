/*
 * test_task_catalog.c: params validation per task (API.md catalogue)
 * and diskId resolution, without a database.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "nt_err.h"
#include "task_catalog.h"

#define NODE_A "550e8400-e29b-41d4-a716-446655440000"
#define NODE_B "660e8400-e29b-41d4-a716-446655440000"
#define DISK   "b2c3d4e5-f6a7-8901-bcde-f12345678901"

/* Checks params (JSON text, NULL: none); returns the code, err set. */
static int
check(const char *task, const char *params, struct task_request *out, char *err)
{
	cJSON *p = params ? cJSON_Parse(params) : NULL;
	int rv;

	if (params != NULL)
		cr_assert_not_null(p, "test JSON: %s", params);
	err[0] = '\0';
	rv = task_catalog_check(task, p, out, err, 256);
	cJSON_Delete(p);
	return rv;
}

static void
expect_ok(const char *task, const char *params)
{
	struct task_request out;
	char err[256];

	cr_expect_eq(check(task, params, &out, err), NT_OK, "%s %s: %s", task,
	             params ? params : "(none)", err);
}

/* Refused, with a message that names `mentions`. */
static void
expect_bad(const char *task, const char *params, const char *mentions)
{
	struct task_request out;
	char err[256];

	cr_expect_eq(check(task, params, &out, err), NT_EINVAL, "%s %s", task,
	             params ? params : "(none)");
	cr_expect_neq(err[0], '\0');
	if (mentions != NULL)
		cr_expect_not_null(strstr(err, mentions),
		                   "%s %s: \"%s\" does not mention %s", task,
		                   params, err, mentions);
}

Test(catalog, known_tasks)
{
	cr_assert(task_catalog_known("node.ping"));
	cr_assert(task_catalog_known("disk.wipe"));
	cr_assert(task_catalog_known("ceph.create-osd"));
	cr_assert_not(task_catalog_known("disk.format"));
	cr_assert_not(task_catalog_known("node.PING"));
	cr_assert_not(task_catalog_known("node.ping "));
	cr_assert_not(task_catalog_known(""));
	cr_assert_not(task_catalog_known(NULL));
}

Test(catalog, unknown_task_names)
{
	const char *names[] = {"disk.format", "", "node.PING", "node.ping ",
	                       "ceph.create_osd"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		expect_bad(names[i], NULL, "taskName");
}

Test(catalog, ping)
{
	expect_ok("node.ping", NULL);
	expect_ok("node.ping", "{}");
	expect_bad("node.ping", "{\"devicePath\": \"/dev/sdb\"}",
	           "params.devicePath");
	expect_bad("node.ping", "{\"x\": 1}", "params.x");
	expect_bad("node.ping", "{\"confirm\": true}", "params.confirm");
}

Test(catalog, wipe_valid)
{
	struct task_request out;
	char err[256];

	cr_assert_eq(check("disk.wipe",
	                   "{\"devicePath\": \"/dev/sdb\", \"mode\": \"full\","
	                   " \"confirm\": true}",
	                   &out, err),
	             NT_OK, "%s", err);
	cr_expect_str_eq(out.task_name, "disk.wipe");
	cr_expect_str_eq(out.device_path, "/dev/sdb");
	cr_expect_str_eq(out.disk_id, "");

	cr_assert_eq(
	        check("disk.wipe", "{\"diskId\": \"" DISK "\"}", &out, err),
	        NT_OK, "%s", err);
	cr_expect_str_eq(out.disk_id, DISK);
	cr_expect_str_eq(out.device_path, "");

	expect_ok("disk.wipe", "{\"devicePath\": \"/dev/sdb\", \"mode\": "
	                       "\"quick\"}");
	expect_ok("disk.wipe", "{\"devicePath\": \"/dev/sdb\", \"mode\": "
	                       "\"discard\", \"confirm\": false}");
	expect_ok("disk.wipe", "{\"devicePath\": \"/dev/nvme0n1\"}");
	expect_ok("disk.wipe", "{\"devicePath\": \"/dev/disk/by-id/"
	                       "ata-Samsung_SSD_850_S21NX0AG123456\"}");
	expect_ok("disk.wipe", "{\"devicePath\": \"/dev/disk/by-path/"
	                       "pci-0000:00:1f.2-ata-1\"}");
	/* null counts as absent */
	expect_ok("disk.wipe",
	          "{\"devicePath\": \"/dev/sdb\", \"mode\": null}");
}

Test(catalog, wipe_uppercase_disk_id_is_lowercased)
{
	struct task_request out;
	char err[256];

	cr_assert_eq(check("disk.wipe",
	                   "{\"diskId\": "
	                   "\"B2C3D4E5-F6A7-8901-BCDE-F12345678901\"}",
	                   &out, err),
	             NT_OK, "%s", err);
	cr_expect_str_eq(out.disk_id, DISK);
}

Test(catalog, wipe_refusals)
{
	expect_bad("disk.wipe", NULL, "devicePath");
	expect_bad("disk.wipe", "{}", "devicePath");
	expect_bad("disk.wipe", "{\"mode\": \"quick\"}", "diskId");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", \"diskId\": \"" DISK "\"}",
	           "exactly one");
	expect_bad("disk.wipe", "{\"devicePath\": 5}", "params.devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": 5}", "string");
	expect_bad("disk.wipe", "{\"devicePath\": \"\"}", "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"sdb\"}", "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/etc/passwd\"}",
	           "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev/../etc/passwd\"}",
	           "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev/\"}", "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev/sdb; rm -rf /\"}",
	           "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev/sdb\\n\"}",
	           "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev//sdb\"}",
	           "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev/sdb/\"}",
	           "devicePath");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev/./sdb\"}",
	           "devicePath");
	expect_bad("disk.wipe", "{\"diskId\": \"not-a-uuid\"}", "diskId");
	expect_bad("disk.wipe", "{\"diskId\": 7}", "diskId");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", \"mode\": "
	           "\"fast\"}",
	           "params.mode");
	expect_bad("disk.wipe", "{\"devicePath\": \"/dev/sdb\", \"mode\": 1}",
	           "params.mode must be a string");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", \"mode\": \"\"}",
	           "params.mode");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", \"confirm\": "
	           "\"yes\"}",
	           "params.confirm must be a boolean");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", \"confirm\": 1}",
	           "params.confirm");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"deviceClass\": \"ssd\"}",
	           "params.deviceClass");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", \"force\": true}",
	           "params.force");
	expect_bad("disk.wipe",
	           "{\"devicePath\": \"/dev/sdb\", \"devicePath\": "
	           "\"/dev/sdc\"}",
	           "twice");
}

Test(catalog, long_device_path)
{
	char json[600], path[400];

	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memcpy(path, "/dev/", 5);
	snprintf(json, sizeof(json), "{\"devicePath\": \"%s\"}", path);
	expect_bad("disk.wipe", json, "devicePath");
}

Test(catalog, osd)
{
	expect_ok("ceph.create-osd", "{\"devicePath\": \"/dev/vdy\", "
	                             "\"deviceClass\": \"ssd\", \"confirm\": "
	                             "true}");
	expect_ok("ceph.create-osd", "{\"diskId\": \"" DISK "\"}");
	expect_ok("ceph.create-osd", "{\"devicePath\": \"/dev/sdb\", "
	                             "\"deviceClass\": \"nvme_fast-1\"}");
	expect_bad("ceph.create-osd", "{}", "devicePath");
	expect_bad("ceph.create-osd",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"mode\": \"quick\"}",
	           "params.mode");
	expect_bad("ceph.create-osd",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"deviceClass\": 3}",
	           "params.deviceClass must be a string");
	expect_bad("ceph.create-osd",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"deviceClass\": \"\"}",
	           "params.deviceClass");
	expect_bad("ceph.create-osd",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"deviceClass\": \"ssd class\"}",
	           "params.deviceClass");
	expect_bad("ceph.create-osd",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"deviceClass\": \"SSD\"}",
	           "params.deviceClass");
	expect_bad("ceph.create-osd",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"deviceClass\": "
	           "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	           "params.deviceClass");
	expect_bad("ceph.create-osd",
	           "{\"devicePath\": \"/dev/sdb\", "
	           "\"confirm\": \"true\"}",
	           "params.confirm");
	expect_bad("ceph.create-osd", "{\"devicePath\": [\"/dev/sdb\"]}",
	           "params.devicePath");
}

Test(catalog, params_must_be_an_object)
{
	expect_bad("node.ping", "[]", "params");
	expect_bad("disk.wipe", "\"x\"", "params");
}

static struct store_disk
sample_disk(const char *node, const char *path)
{
	struct store_disk d;

	memset(&d, 0, sizeof(d));
	strcpy(d.id, DISK);
	strcpy(d.node_id, node);
	strcpy(d.device_path, path);
	return d;
}

Test(catalog, resolve_disk)
{
	struct task_request out;
	struct store_disk d = sample_disk(NODE_A, "/dev/sdc");
	char err[256];

	cr_assert_eq(
	        check("disk.wipe", "{\"diskId\": \"" DISK "\"}", &out, err),
	        NT_OK);
	cr_assert_eq(
	        task_catalog_resolve_disk(&out, &d, NODE_A, err, sizeof(err)),
	        NT_OK, "%s", err);
	cr_expect_str_eq(out.device_path, "/dev/sdc");
}

Test(catalog, resolve_disk_of_another_node)
{
	struct task_request out;
	struct store_disk d = sample_disk(NODE_B, "/dev/sdc");
	char err[256];

	cr_assert_eq(
	        check("disk.wipe", "{\"diskId\": \"" DISK "\"}", &out, err),
	        NT_OK);
	cr_assert_eq(
	        task_catalog_resolve_disk(&out, &d, NODE_A, err, sizeof(err)),
	        NT_EINVAL);
	cr_expect_not_null(strstr(err, NODE_B));
	cr_expect_str_eq(out.device_path, "");
}

Test(catalog, resolve_disk_with_odd_stored_path)
{
	struct task_request out;
	struct store_disk d = sample_disk(NODE_A, "sdc");
	char err[256];

	cr_assert_eq(
	        check("disk.wipe", "{\"diskId\": \"" DISK "\"}", &out, err),
	        NT_OK);
	cr_assert_eq(
	        task_catalog_resolve_disk(&out, &d, NODE_A, err, sizeof(err)),
	        NT_EINVAL);
}
