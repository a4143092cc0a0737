/*
 * disk_probe.c: facts about block devices, for the inventory and for the
 * refusals of destructive tasks.
 *
 * Identity and topology come from sysfs, signatures from libblkid's
 * low-level probe (which reads the device itself, never a cache), mounts
 * and swaps from libmount. Devices are compared by device number, never
 * by name: /dev/root, /dev/disk/by-id/... and /dev/sdb all name one disk.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <blkid/blkid.h>
#include <libmount/libmount.h>

#include "disk_probe.h"
#include "nt_err.h"

#define DISK_MIN_BYTES  (1ULL << 30) /* smaller is no use as an OSD */
#define DISK_MAX_PARTS  256
#define DISK_MAX_SYSTEM 16
#define DISK_MAX_DEPTH  8 /* dm on md on partition on disk ... */

/* The kernel's view of a device: its sysfs directory and partitions. */
struct disk_sys {
	char dir[PATH_MAX];    /* /sys/devices/.../block/sdb */
	char parent[PATH_MAX]; /* the whole disk's dir when a partition */
	dev_t dev;
	size_t n_parts;
	dev_t part_dev[DISK_MAX_PARTS];
	char part_name[DISK_MAX_PARTS][64];
};

/* Whole disks that hold /, /boot or /boot/efi (by sysfs name). */
struct disk_system {
	size_t n;
	char name[DISK_MAX_SYSTEM][64];
};

static void
disk_trim(char *s)
{
	size_t n = strlen(s);
	size_t i = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' ||
	                 s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (i > 0)
		memmove(s, s + i, n - i + 1);
}

/* Reads a small sysfs attribute; returns -1 when absent or unreadable. */
static int
disk_read_attr(const char *dir, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, attr) >=
	    (int)sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do {
		n = read(fd, buf, len - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	disk_trim(buf);
	return 0;
}

static int
disk_read_u64(const char *dir, const char *attr, uint64_t *out)
{
	char buf[64];
	char *end;

	if (disk_read_attr(dir, attr, buf, sizeof(buf)) != 0)
		return -1;
	errno = 0;
	*out = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf || *end != '\0')
		return -1;
	return 0;
}

static int
disk_read_dev(const char *dir, dev_t *out)
{
	char buf[32];
	unsigned int ma, mi;

	if (disk_read_attr(dir, "dev", buf, sizeof(buf)) != 0 ||
	    sscanf(buf, "%u:%u", &ma, &mi) != 2)
		return -1;
	*out = makedev(ma, mi);
	return 0;
}

static bool
disk_has_attr(const char *dir, const char *attr)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, attr) >=
	    (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

/* Copies with truncation: names from sysfs and mounts can be long. */
static void
disk_copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *
disk_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* The sysfs directory of a device number, resolved (no symlinks left). */
static int
disk_sysfs_dir(dev_t dev, char *dir)
{
	char link[64];

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev),
	         minor(dev));
	if (realpath(link, dir) == NULL)
		return -1;
	return 0;
}

/* The whole disk's sysfs dir of a device (itself unless a partition). */
static int
disk_whole_dir(dev_t dev, char *dir)
{
	char *slash;

	if (disk_sysfs_dir(dev, dir) != 0)
		return -1;
	if (disk_has_attr(dir, "partition")) {
		slash = strrchr(dir, '/');
		if (slash == NULL)
			return -1;
		*slash = '\0';
	}
	return 0;
}

/* Partitions the kernel knows: subdirectories holding a "partition" file. */
static void
disk_scan_parts(struct disk_sys *s)
{
	char sub[PATH_MAX];
	struct dirent *e;
	DIR *d;

	s->n_parts = 0;
	d = opendir(s->dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && s->n_parts < DISK_MAX_PARTS) {
		if (e->d_name[0] == '.' ||
		    strlen(e->d_name) >= sizeof(s->part_name[0]))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", s->dir, e->d_name) >=
		            (int)sizeof(sub) ||
		    !disk_has_attr(sub, "partition") ||
		    disk_read_dev(sub, &s->part_dev[s->n_parts]) != 0)
			continue;
		strcpy(s->part_name[s->n_parts], e->d_name);
		s->n_parts++;
	}
	closedir(d);
}

/* First entry of dir/holders (dm-0, md127), or false when none. */
static bool
disk_first_holder(const char *dir, char *name, size_t len)
{
	char path[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/holders", dir) >=
	    (int)sizeof(path))
		return false;
	d = opendir(path);
	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		disk_copy(name, len, e->d_name);
		found = true;
		break;
	}
	closedir(d);
	return found;
}

static void
disk_holders(struct disk_info *d, const struct disk_sys *s)
{
	char sub[PATH_MAX];
	size_t i;

	if (disk_first_holder(s->dir, d->holder, sizeof(d->holder))) {
		d->has_holders = true;
		return;
	}
	for (i = 0; i < s->n_parts; i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", s->dir,
		             s->part_name[i]) >= (int)sizeof(sub))
			continue;
		if (disk_first_holder(sub, d->holder, sizeof(d->holder))) {
			d->has_holders = true;
			return;
		}
	}
}

/* Where the disk hangs in the device tree says how it is attached. */
static void
disk_interface(struct disk_info *d, const char *dir)
{
	static const struct {
		const char *needle;
		const char *name;
	} map[] = {
	        {"/devices/virtual/block/loop", "loop"},
	        {"/usb", "usb"},
	        {"/nvme", "nvme"},
	        {"/ata", "sata"},
	        {"/end_device-", "sas"},
	        {"/target", "scsi"},
	        {"/virtio", "virtio"},
	        {"/mmc_host/", "mmc"},
	        {"/vbd-", "xen"},
	        {"/devices/virtual/", "virtual"},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strstr(dir, map[i].needle) != NULL) {
			snprintf(d->interface, sizeof(d->interface), "%s",
			         map[i].name);
			return;
		}
	}
	snprintf(d->interface, sizeof(d->interface), "unknown");
}

/* SCSI unit serial number page: 4-byte header, then ASCII. */
static int
disk_vpd80(const char *dir, char *out, size_t len)
{
	unsigned char buf[256];
	char path[PATH_MAX];
	size_t n, i, o = 0;
	ssize_t r;
	int fd;

	if (snprintf(path, sizeof(path), "%s/device/vpd_pg80", dir) >=
	    (int)sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf));
	close(fd);
	if (r < 4 || buf[1] != 0x80)
		return -1;
	n = ((size_t)buf[2] << 8) | buf[3];
	if (n > (size_t)r - 4)
		n = (size_t)r - 4;
	for (i = 0; i < n && o + 1 < len; i++) {
		if (buf[4 + i] >= 0x20 && buf[4 + i] < 0x7f)
			out[o++] = (char)buf[4 + i];
	}
	out[o] = '\0';
	disk_trim(out);
	return out[0] != '\0' ? 0 : -1;
}

static void
disk_identity(struct disk_info *d, const char *dir)
{
	static const char *serials[] = {"device/serial", "serial", "wwid",
	                                "device/wwid"};
	size_t i;

	disk_interface(d, dir);
	if (disk_read_attr(dir, "device/model", d->model, sizeof(d->model)) !=
	    0)
		d->model[0] = '\0';
	/* virtio shows a PCI id ("0x1af4") here, not a name. */
	if (disk_read_attr(dir, "device/vendor", d->vendor,
	                   sizeof(d->vendor)) != 0 ||
	    strncmp(d->vendor, "0x", 2) == 0)
		d->vendor[0] = '\0';
	if (disk_vpd80(dir, d->serial, sizeof(d->serial)) == 0)
		return;
	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		if (disk_read_attr(dir, serials[i], d->serial,
		                   sizeof(d->serial)) == 0 &&
		    d->serial[0] != '\0')
			return;
	}
	d->serial[0] = '\0';
}

static void
disk_add_sig(struct disk_info *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_signatures; i++) {
		if (strcmp(d->signatures[i], name) == 0)
			return;
	}
	if (d->n_signatures < DISK_MAX_SIGS) {
		snprintf(d->signatures[d->n_signatures],
		         sizeof(d->signatures[0]), "%s", name);
		d->n_signatures++;
	}
}

/* Every signature libblkid sees in [off, off + size) of fd. */
static void
disk_blkid_region(struct disk_info *d, int fd, uint64_t off, uint64_t size,
                  bool parts)
{
	const char *val;
	blkid_probe pr;

	pr = blkid_new_probe();
	if (pr == NULL)
		return;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off,
	                           (blkid_loff_t)size) != 0)
		goto out;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(
	        pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
	                    BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, parts ? 1 : 0);
	if (parts)
		blkid_probe_set_partitions_flags(
		        pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
	while (blkid_do_probe(pr) == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &val, NULL) == 0) {
			disk_add_sig(d, val);
			if (strcmp(val, "ceph_bluestore") == 0)
				d->is_osd = true;
			if (blkid_probe_lookup_value(pr, "USAGE", &val, NULL) ==
			            0 &&
			    strcmp(val, "filesystem") == 0)
				d->has_filesystem = true;
		} else if (blkid_probe_lookup_value(pr, "PTTYPE", &val, NULL) ==
		           0) {
			disk_add_sig(d, val);
		}
	}
out:
	blkid_free_probe(pr);
}

/*
 * Signatures on the disk and inside each partition of its table. The
 * partitions are probed by offset, so they count even when the kernel
 * has no device node for them.
 */
static void
disk_signatures(struct disk_info *d, bool *table_has_parts)
{
	blkid_partlist ls;
	blkid_partition p;
	blkid_probe pr;
	int fd, i, n;

	*table_has_parts = false;
	fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	disk_blkid_region(d, fd, 0, 0, true);
	if (!d->whole_disk)
		goto out;
	pr = blkid_new_probe();
	if (pr == NULL)
		goto out;
	if (blkid_probe_set_device(pr, fd, 0, 0) == 0) {
		blkid_probe_enable_superblocks(pr, 0);
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_FORCE_GPT);
		ls = blkid_probe_get_partitions(pr);
		n = ls != NULL ? blkid_partlist_numof_partitions(ls) : 0;
		*table_has_parts = n > 0;
		for (i = 0; i < n; i++) {
			p = blkid_partlist_get_partition(ls, i);
			if (p == NULL || blkid_partition_get_size(p) <= 0)
				continue;
			disk_blkid_region(
			        d, fd,
			        (uint64_t)blkid_partition_get_start(p) * 512,
			        (uint64_t)blkid_partition_get_size(p) * 512,
			        false);
		}
	}
	blkid_free_probe(pr);
out:
	close(fd);
}

/* The block device behind a mount or swap entry, or 0. */
static dev_t
disk_fs_dev(struct libmnt_fs *fs)
{
	const char *src;
	struct stat st;
	dev_t dev;

	dev = mnt_fs_get_devno(fs);
	if (dev != 0 && major(dev) != 0)
		return dev;
	/* btrfs and friends show an anonymous devno; ask the source. */
	src = mnt_fs_get_srcpath(fs);
	if (src != NULL && stat(src, &st) == 0 && S_ISBLK(st.st_mode))
		return st.st_rdev;
	return 0;
}

static bool
disk_is_ours(dev_t dev, const struct disk_sys *s)
{
	size_t i;

	if (dev == 0)
		return false;
	if (dev == s->dev)
		return true;
	for (i = 0; i < s->n_parts; i++) {
		if (dev == s->part_dev[i])
			return true;
	}
	return false;
}

static void
disk_mounts(struct disk_info *d, const struct disk_sys *s,
            struct libmnt_table *tb)
{
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	const char *target;

	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (it == NULL)
		return;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		if (!disk_is_ours(disk_fs_dev(fs), s))
			continue;
		target = mnt_fs_get_target(fs);
		if (target == NULL)
			continue;
		if (!d->mounted) {
			d->mounted = true;
			disk_copy(d->mountpoint, sizeof(d->mountpoint), target);
		}
		if (strncmp(target, "/var/lib/ceph/mon/", 18) == 0)
			d->is_mon = true;
	}
	mnt_free_iter(it);
}

static void
disk_swaps(struct disk_info *d, const struct disk_sys *s)
{
	struct libmnt_table *tb;
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	const char *src;
	struct stat st;

	tb = mnt_new_table();
	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (tb == NULL || it == NULL || mnt_table_parse_swaps(tb, NULL) != 0)
		goto out;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		src = mnt_fs_get_srcpath(fs);
		if (src != NULL && stat(src, &st) == 0 && S_ISBLK(st.st_mode) &&
		    disk_is_ours(st.st_rdev, s)) {
			d->swap_in_use = true;
			break;
		}
	}
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
}

/*
 * Adds the disks under a device: itself, or for a partition its disk, or
 * for dm/md the disks of its slaves (root on LVM or RAID).
 */
static void
disk_system_add(struct disk_system *sys, dev_t dev, int depth)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], sub[PATH_MAX];
	const char *name;
	struct dirent *e;
	bool slaves = false;
	dev_t sdev;
	DIR *dd;
	size_t i;

	if (depth > DISK_MAX_DEPTH || disk_whole_dir(dev, dir) != 0)
		return;
	snprintf(path, sizeof(path), "%s/slaves", dir);
	dd = opendir(path);
	if (dd != NULL) {
		while ((e = readdir(dd)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", path,
			             e->d_name) >= (int)sizeof(sub) ||
			    disk_read_dev(sub, &sdev) != 0)
				continue;
			slaves = true;
			disk_system_add(sys, sdev, depth + 1);
		}
		closedir(dd);
	}
	if (slaves)
		return;
	name = disk_basename(dir);
	for (i = 0; i < sys->n; i++) {
		if (strcmp(sys->name[i], name) == 0)
			return;
	}
	if (sys->n < DISK_MAX_SYSTEM && strlen(name) < sizeof(sys->name[0]))
		strcpy(sys->name[sys->n++], name);
}

static void
disk_system_disks(struct libmnt_table *tb, struct disk_system *sys)
{
	static const char *targets[] = {"/", "/boot", "/boot/efi"};
	struct libmnt_fs *fs;
	size_t i;
	dev_t dev;

	sys->n = 0;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		fs = mnt_table_find_target(tb, targets[i], MNT_ITER_BACKWARD);
		if (fs == NULL || !mnt_fs_streq_target(fs, targets[i]))
			continue;
		dev = disk_fs_dev(fs);
		if (dev != 0)
			disk_system_add(sys, dev, 0);
	}
}

static void
disk_devpath(char *out, size_t len, const char *name)
{
	char *p;

	/* sysfs spells a '/' in a device name as '!' (cciss!c0d0). */
	disk_copy(out, len, "/dev/");
	disk_copy(out + 5, len - 5, name);
	for (p = out + 5; *p != '\0'; p++) {
		if (*p == '!')
			*p = '/';
	}
}

static int
disk_probe_dev(dev_t dev, const char *shown, struct disk_info *out, char *err,
               size_t errlen)
{
	struct libmnt_table *tb;
	struct disk_system sys;
	struct disk_sys *s;
	bool table_parts;
	uint64_t v;
	size_t i;
	int rc = NT_OK;

	memset(out, 0, sizeof(*out));
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "probe %s: out of memory", shown);
		return NT_ENOMEM;
	}
	s->dev = dev;
	if (disk_sysfs_dir(dev, s->dir) != 0) {
		snprintf(err, errlen, "probe %s: not known to sysfs", shown);
		rc = NT_ENOTFOUND;
		goto out;
	}
	disk_copy(out->name, sizeof(out->name), disk_basename(s->dir));
	disk_devpath(out->path, sizeof(out->path), out->name);
	out->whole_disk = !disk_has_attr(s->dir, "partition");
	snprintf(s->parent, sizeof(s->parent), "%s", s->dir);
	if (!out->whole_disk)
		*strrchr(s->parent, '/') = '\0';
	else
		disk_scan_parts(s);

	if (disk_read_u64(s->dir, "size", &v) == 0)
		out->size_bytes = v * 512; /* sysfs counts 512-byte units */
	if (disk_read_u64(s->dir, "ro", &v) == 0)
		out->read_only = v != 0;
	disk_identity(out, s->parent);
	disk_holders(out, s);
	disk_signatures(out, &table_parts);
	out->has_partitions = s->n_parts > 0 || table_parts;

	tb = mnt_new_table();
	if (tb != NULL && mnt_table_parse_mtab(tb, NULL) == 0) {
		disk_mounts(out, s, tb);
		disk_system_disks(tb, &sys);
		for (i = 0; i < sys.n; i++) {
			if (strcmp(sys.name[i], disk_basename(s->parent)) == 0)
				out->system_disk = true;
		}
	} else {
		/* Unknown mounts: claim the worst rather than guess. */
		snprintf(err, errlen, "probe %s: cannot read the mount table",
		         shown);
		rc = NT_EIO;
	}
	mnt_unref_table(tb);
	disk_swaps(out, s);
out:
	free(s);
	return rc;
}

int
disk_probe(const char *path, struct disk_info *out, char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "probe: empty device path");
		return NT_EINVAL;
	}
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			snprintf(err, errlen, "probe %s: no such device", path);
			return NT_ENOTFOUND;
		}
		snprintf(err, errlen, "probe %s: %s", path, strerror(errno));
		return NT_EIO;
	}
	if (!S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "probe %s: not a block device", path);
		return NT_EINVAL;
	}
	return disk_probe_dev(st.st_rdev, path, out, err, errlen);
}

/* Names that are never disks to report: RAM disks, device-mapper, md. */
static bool
disk_listed(const char *name)
{
	char dir[PATH_MAX];
	uint64_t size;

	if (strncmp(name, "ram", 3) == 0 || strncmp(name, "zram", 4) == 0 ||
	    strncmp(name, "dm-", 3) == 0 || strncmp(name, "md", 2) == 0 ||
	    name[0] == '.')
		return false;
	if (strncmp(name, "loop", 4) != 0)
		return true;
	/* A loop device is a disk only while a file is attached. */
	snprintf(dir, sizeof(dir), "/sys/block/%s", name);
	return disk_has_attr(dir, "loop/backing_file") &&
	       disk_read_u64(dir, "size", &size) == 0 && size > 0;
}

static int
disk_cmp(const void *a, const void *b)
{
	const struct disk_info *x = a, *y = b;

	return strverscmp(x->name, y->name);
}

int
disk_list(struct disk_info **items, size_t *n)
{
	struct disk_info *v = NULL, *nv;
	char path[DISK_PATH_BUFLEN], err[256];
	size_t cap = 0, cnt = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	*items = NULL;
	*n = 0;
	d = opendir("/sys/block");
	if (d == NULL)
		return NT_EIO;
	while ((e = readdir(d)) != NULL) {
		if (!disk_listed(e->d_name))
			continue;
		disk_devpath(path, sizeof(path), e->d_name);
		if (stat(path, &st) != 0 || !S_ISBLK(st.st_mode))
			continue; /* no device node: nothing to act on */
		if (cnt == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return NT_ENOMEM;
			}
			v = nv;
		}
		if (disk_probe_dev(st.st_rdev, path, &v[cnt], err,
		                   sizeof(err)) == NT_OK)
			cnt++;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), disk_cmp);
	*items = v;
	*n = cnt;
	return NT_OK;
}

/*
 * An empty (or NULL) list restricts nothing: only the system disk is
 * always refused. A path matches when it or the path it resolves to
 * does, so both "/dev/disk/by-id/wwn-*" and "/dev/sd*" work.
 */
bool
disk_allowed(const char *path, const char *const *allow)
{
	char real[PATH_MAX];
	bool have_real;
	size_t i;

	if (allow == NULL || allow[0] == NULL)
		return true;
	if (path == NULL)
		return false;
	have_real = realpath(path, real) != NULL;
	for (i = 0; allow[i] != NULL; i++) {
		if (fnmatch(allow[i], path, FNM_PATHNAME) == 0)
			return true;
		if (have_real && fnmatch(allow[i], real, FNM_PATHNAME) == 0)
			return true;
	}
	return false;
}

static bool
disk_sig_usage(const char *name, int usage)
{
	const char *n;
	size_t i;
	int u;

	for (i = 0; blkid_superblocks_get_name(i, &n, &u) == 0; i++) {
		if (strcmp(n, name) == 0)
			return (u & usage) != 0;
	}
	return false;
}

#define DISK_REASON(...)                                           \
	do {                                                       \
		if (n < DISK_MAX_REASONS)                          \
			snprintf(reasons[n++], sizeof(reasons[0]), \
			         __VA_ARGS__);                     \
	} while (0)

size_t
disk_reject_reasons(const struct disk_info *d, const char *const *allow,
                    char reasons[DISK_MAX_REASONS][128])
{
	const char *s;
	size_t n = 0, i;

	if (!d->whole_disk)
		DISK_REASON("not a whole disk");
	if (d->system_disk)
		DISK_REASON("system disk");
	if (d->read_only)
		DISK_REASON("read-only");
	if (d->mounted)
		DISK_REASON("mounted at %.116s", d->mountpoint);
	if (d->swap_in_use)
		DISK_REASON("swap in use");
	if (d->has_holders)
		DISK_REASON("held by %s", d->holder);
	if (d->is_osd)
		DISK_REASON("already an OSD");
	if (d->has_partitions)
		DISK_REASON("has partitions");
	for (i = 0; i < d->n_signatures; i++) {
		s = d->signatures[i];
		if (blkid_known_pttype(s)) {
			if (!d->has_partitions)
				DISK_REASON("has partition table %s", s);
		} else if (disk_sig_usage(s, BLKID_USAGE_FILESYSTEM)) {
			DISK_REASON("has filesystem %s", s);
		} else if (strcmp(s, "ceph_bluestore") != 0) {
			DISK_REASON("has signature %s", s);
		}
	}
	if (d->size_bytes < DISK_MIN_BYTES)
		DISK_REASON("too small (< 1 GiB)");
	if (!disk_allowed(d->path, allow))
		DISK_REASON("outside allowed devices");
	return n;
}
