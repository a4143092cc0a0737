/*
 * test_disk_probe.c: disk_probe, disk_list, disk_allowed and
 * disk_reject_reasons on real loop devices: size, interface, signatures,
 * partitions, mounts, swap, read-only, BlueStore, the system disk.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "disk_probe.h"
#include "loop_fixture.h"
#include "nt_err.h"

TestSuite(probe, .init = fx_setup, .fini = fx_cleanup, .timeout = 60);

static const char *const loops[] = {"/dev/loop*", NULL};

static void
probe(const char *path, struct disk_info *d)
{
	char err[256];
	int rc = disk_probe(path, d, err, sizeof(err));

	cr_assert_eq(rc, NT_OK, "probe %s: %s", path, err);
}

static bool
has_sig(const struct disk_info *d, const char *sig)
{
	size_t i;

	for (i = 0; i < d->n_signatures; i++)
		if (strcmp(d->signatures[i], sig) == 0)
			return true;
	return false;
}

/* True when one of the reasons is exactly r. */
static bool
has_reason(const struct disk_info *d, const char *const *allow, const char *r)
{
	char reasons[DISK_MAX_REASONS][128];
	size_t n = disk_reject_reasons(d, allow, reasons), i;

	for (i = 0; i < n; i++)
		if (strcmp(reasons[i], r) == 0)
			return true;
	return false;
}

static size_t
n_reasons(const struct disk_info *d, const char *const *allow)
{
	char reasons[DISK_MAX_REASONS][128];

	return disk_reject_reasons(d, allow, reasons);
}

Test(probe, blank_loop_device)
{
	const char *dev = fx_loop(1024, false);
	const char *const other[] = {"/dev/sdz*", NULL};
	struct disk_info d;

	probe(dev, &d);
	cr_assert_str_eq(d.path, dev);
	cr_assert_str_eq(d.name, strrchr(dev, '/') + 1);
	cr_assert_eq(d.size_bytes, 1024 * FX_MIB);
	cr_assert(d.whole_disk);
	cr_assert_str_eq(d.interface, "loop");
	cr_assert_not(d.read_only);
	cr_assert_not(d.mounted);
	cr_assert_not(d.has_partitions);
	cr_assert_not(d.has_filesystem);
	cr_assert_not(d.system_disk);
	cr_assert_not(d.is_osd);
	cr_assert_eq(d.n_signatures, 0);
	cr_assert_eq(n_reasons(&d, loops), 0, "a blank 1 GiB disk is usable");
	cr_assert_eq(n_reasons(&d, NULL), 0);
	cr_assert(has_reason(&d, other, "outside allowed devices"));
}

Test(probe, small_device_too_small)
{
	const char *dev = fx_loop(64, false);
	struct disk_info d;

	probe(dev, &d);
	cr_assert_eq(d.size_bytes, 64 * FX_MIB);
	cr_assert(has_reason(&d, loops, "too small (< 1 GiB)"));
}

Test(probe, ext4_signature)
{
	const char *dev = fx_loop(64, false);
	struct disk_info d;

	fx_mkfs(dev);
	probe(dev, &d);
	cr_assert(has_sig(&d, "ext4"));
	cr_assert(d.has_filesystem);
	cr_assert(has_reason(&d, loops, "has filesystem ext4"));
}

Test(probe, gpt_partition_with_filesystem)
{
	const char *dev = fx_loop(64, false);
	struct disk_info d, p;
	const char *part;

	part = fx_gpt(dev);
	probe(dev, &d);
	cr_assert(d.has_partitions);
	cr_assert(has_sig(&d, "gpt"));
	cr_assert_not(d.has_filesystem);
	cr_assert(has_reason(&d, loops, "has partitions"));

	fx_mkfs(part);
	probe(dev, &d);
	cr_assert(has_sig(&d, "ext4"), "filesystem inside the partition");
	cr_assert(d.has_filesystem);

	probe(part, &p);
	cr_assert_not(p.whole_disk);
	cr_assert_str_eq(p.interface, "loop");
	cr_assert(has_sig(&p, "ext4"));
	cr_assert(has_reason(&p, loops, "not a whole disk"));
}

Test(probe, mounted_device_and_partition)
{
	const char *dev = fx_loop(64, false);
	const char *dev2 = fx_loop(64, false);
	char want[300];
	struct disk_info d;
	const char *mnt, *part;

	fx_mkfs(dev);
	mnt = fx_mount(dev, dev);
	probe(dev, &d);
	cr_assert(d.mounted);
	cr_assert_str_eq(d.mountpoint, mnt);
	snprintf(want, sizeof(want), "mounted at %s", mnt);
	cr_assert(has_reason(&d, loops, want));

	/* A mounted partition makes its whole disk mounted. */
	part = fx_gpt(dev2);
	fx_mkfs(part);
	mnt = fx_mount(dev2, part);
	probe(dev2, &d);
	cr_assert(d.mounted);
	cr_assert_str_eq(d.mountpoint, mnt);
}

Test(probe, swap_in_use)
{
	const char *dev = fx_loop(64, false);
	struct disk_info d;

	fx_swapon(dev);
	probe(dev, &d);
	cr_assert(d.swap_in_use);
	cr_assert(has_reason(&d, loops, "swap in use"));
}

Test(probe, read_only)
{
	const char *dev = fx_loop(64, true);
	struct disk_info d;

	probe(dev, &d);
	cr_assert(d.read_only);
	cr_assert(has_reason(&d, loops, "read-only"));
}

Test(probe, bluestore_is_osd)
{
	static const char magic[] = "bluestore block device\n";
	const char *dev = fx_loop(64, false);
	struct disk_info d;
	int fd;

	fd = open(dev, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, magic, sizeof(magic) - 1, 0),
	             (ssize_t)sizeof(magic) - 1);
	fsync(fd);
	close(fd);
	probe(dev, &d);
	cr_assert(has_sig(&d, "ceph_bluestore"));
	cr_assert(d.is_osd);
	cr_assert(has_reason(&d, loops, "already an OSD"));
}

Test(probe, not_found_and_not_block)
{
	struct disk_info d;
	char err[256];

	cr_assert_eq(disk_probe("/dev/nodetask-no-such", &d, err, sizeof(err)),
	             NT_ENOTFOUND);
	cr_assert(strstr(err, "/dev/nodetask-no-such") != NULL, "%s", err);
	cr_assert_eq(disk_probe("/dev/null", &d, err, sizeof(err)), NT_EINVAL);
	cr_assert(strstr(err, "not a block device") != NULL, "%s", err);
}

Test(probe, list_has_attached_loops_sorted)
{
	const char *dev = fx_loop(64, false);
	struct disk_info *v;
	bool found = false;
	size_t n, i;

	cr_assert_eq(disk_list(&v, &n), NT_OK);
	for (i = 0; i < n; i++) {
		cr_assert_neq(strncmp(v[i].name, "ram", 3), 0);
		cr_assert_neq(strncmp(v[i].name, "zram", 4), 0);
		cr_assert_neq(strncmp(v[i].name, "dm-", 3), 0);
		cr_assert(v[i].whole_disk);
		if (strcmp(v[i].interface, "loop") == 0)
			cr_assert_gt(v[i].size_bytes, 0, "detached %s listed",
			             v[i].name);
		if (strcmp(v[i].path, dev) == 0)
			found = true;
		if (i > 0)
			cr_assert_lt(strverscmp(v[i - 1].name, v[i].name), 0);
	}
	free(v);
	cr_assert(found, "%s not listed", dev);
}

/* The disk holding / is the system disk, when / is on a block device. */
Test(probe, system_disk)
{
	char sys[64], real[PATH_MAX];
	struct disk_info *v;
	struct stat st;
	size_t n, i;
	bool found = false;

	cr_assert_eq(stat("/", &st), 0);
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_dev),
	         minor(st.st_dev));
	if (major(st.st_dev) == 0 || realpath(sys, real) == NULL)
		cr_skip_test("/ is not on a block device here");
	cr_assert_eq(disk_list(&v, &n), NT_OK);
	for (i = 0; i < n; i++) {
		char needle[80];

		snprintf(needle, sizeof(needle), "/%s", v[i].name);
		if (strstr(real, needle) == NULL)
			continue;
		found = true;
		cr_assert(v[i].system_disk,
		          "%s holds / but is not the "
		          "system disk",
		          v[i].name);
		cr_assert(has_reason(&v[i], NULL, "system disk"));
	}
	free(v);
	if (!found)
		cr_skip_test("the disk holding / is not listed (dm or md)");
}

Test(probe, allow_globs)
{
	const char *dev = fx_loop(64, false);
	const char *const none[] = {NULL};
	const char *const sd[] = {"/dev/sd*", NULL};
	const char *const two[] = {"/dev/sd*", "/dev/loop*", NULL};
	char link[PATH_MAX];

	cr_assert(disk_allowed(dev, NULL), "no list: everything allowed");
	cr_assert(disk_allowed(dev, none), "empty list: everything allowed");
	cr_assert_not(disk_allowed(dev, sd));
	cr_assert(disk_allowed(dev, two));
	cr_assert(disk_allowed("/dev/sdb", sd));
	cr_assert_not(disk_allowed("/dev/sdb/x", sd), "* stops at /");

	/* A link is judged by where it leads as well as by its name. */
	snprintf(link, sizeof(link), "%s/by-id-disk", fx_dir);
	cr_assert_eq(symlink(dev, link), 0);
	cr_assert(disk_allowed(link, loops));
	cr_assert_not(disk_allowed(link, sd));
	unlink(link);
}
