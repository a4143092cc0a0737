/*
 * loop_fixture.h: real loop devices for unit tests (with filesystems,
 * partitions, mounts and swap on them), always cleaned up.
 *
 * Header-only because every tests/unit/test_*.c is its own program.
 * Cleanup runs from the suite's fini hook and from atexit, so a failed
 * assertion still unmounts and detaches everything. A test's own child
 * processes must leave with _exit so they never clean up for the parent.
 * Devices are only ever ones this fixture attached (/dev/loopN).
 */
#ifndef LOOP_FIXTURE_H
#define LOOP_FIXTURE_H

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#define FX_MAX 8
#define FX_MIB (1024ULL * 1024)

struct fx_loop {
	char img[PATH_MAX];
	char dev[64];
	char mnt[PATH_MAX]; /* set while mounted */
	bool swap;
};

static char fx_dir[256];
static struct fx_loop fx_loops[FX_MAX];
static int fx_n;
static pid_t fx_owner; /* only the process that set up cleans up */

/*
 * Runs argv (PATH search), feeding input on stdin when given and keeping
 * up to outlen - 1 bytes of stdout in out. Returns the exit status, or
 * -1 when it could not run.
 */
static inline int
fx_run(const char *const *argv, const char *input, char *out, size_t outlen)
{
	int in[2] = {-1, -1}, o[2] = {-1, -1}, st;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(o, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	if (input != NULL && write(in[1], input, strlen(input)) < 0)
		perror("fx_run: write");
	close(in[1]);
	for (;;) {
		char sink[4096];

		if (out != NULL && got + 1 < outlen)
			r = read(o[0], out + got, outlen - 1 - got);
		else
			r = read(o[0], sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out != NULL && got + 1 < outlen)
			got += (size_t)r;
	}
	if (out != NULL && outlen > 0)
		out[got] = '\0';
	close(o[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define FX_RUN(...) \
	fx_run((const char *const[]){__VA_ARGS__, NULL}, NULL, NULL, 0)

/* Removes the partitions the kernel lists for dev, quietly. */
static inline void
fx_drop_parts(const char *dev)
{
	char part[80];
	struct stat st;

	snprintf(part, sizeof(part), "/sys/class/block/%sp1",
	         strrchr(dev, '/') + 1);
	if (stat(part, &st) == 0)
		FX_RUN("partx", "-d", dev);
}

static inline void
fx_cleanup(void)
{
	int i;

	if (fx_owner != getpid())
		return;
	for (i = fx_n - 1; i >= 0; i--) {
		struct fx_loop *l = &fx_loops[i];

		if (l->swap)
			FX_RUN("swapoff", l->dev);
		if (l->mnt[0] != '\0') {
			if (FX_RUN("umount", l->mnt) != 0)
				FX_RUN("umount", "-l", l->mnt);
			rmdir(l->mnt);
		}
		if (l->dev[0] != '\0') {
			/* BLKPG partitions outlive a detach: drop them. */
			fx_drop_parts(l->dev);
			FX_RUN("losetup", "-d", l->dev);
		}
		unlink(l->img);
		memset(l, 0, sizeof(*l));
	}
	fx_n = 0;
	if (fx_dir[0] != '\0')
		rmdir(fx_dir);
	fx_dir[0] = '\0';
}

static inline void
fx_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	fx_owner = getpid();
	snprintf(fx_dir, sizeof(fx_dir), "%s/nodetask-test-XXXXXX",
	         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(fx_dir), "mkdtemp: %s", strerror(errno));
	atexit(fx_cleanup);
}

static inline struct fx_loop *
fx_find(const char *dev)
{
	int i;

	for (i = 0; i < fx_n; i++)
		if (strcmp(fx_loops[i].dev, dev) == 0)
			return &fx_loops[i];
	cr_assert_fail("%s is not a fixture device", dev);
	return NULL;
}

/* A sparse image of size_mib attached to a free loop device. */
static inline const char *
fx_loop(uint64_t size_mib, bool read_only)
{
	struct fx_loop *l;
	char out[64];
	int fd, st;

	cr_assert_lt(fx_n, FX_MAX);
	l = &fx_loops[fx_n];
	snprintf(l->img, sizeof(l->img), "%s/disk%d.img", fx_dir, fx_n);
	fd = open(l->img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "create %s: %s", l->img, strerror(errno));
	cr_assert_eq(ftruncate(fd, (off_t)(size_mib * FX_MIB)), 0);
	close(fd);
	fx_n++; /* from here on cleanup removes the image */
	if (read_only)
		st = fx_run((const char *const[]){"losetup", "-r", "-f",
		                                  "--show", l->img, NULL},
		            NULL, out, sizeof(out));
	else
		st = fx_run((const char *const[]){"losetup", "-f", "--show",
		                                  l->img, NULL},
		            NULL, out, sizeof(out));
	out[strcspn(out, "\n")] = '\0';
	cr_assert_eq(st, 0, "losetup failed");
	cr_assert(strncmp(out, "/dev/loop", 9) == 0, "losetup gave '%s'", out);
	snprintf(l->dev, sizeof(l->dev), "%s", out);
	fx_drop_parts(l->dev); /* left over from an earlier user */
	return l->dev;
}

static inline void
fx_mkfs(const char *dev)
{
	cr_assert_eq(FX_RUN("mkfs.ext4", "-q", "-F", dev), 0, "mkfs %s", dev);
}

/* Mounts what (the device or a partition of it) in a fresh dir. */
static inline const char *
fx_mount(const char *dev, const char *what)
{
	struct fx_loop *l = fx_find(dev);

	snprintf(l->mnt, sizeof(l->mnt), "%s/mnt-%s", fx_dir,
	         strrchr(dev, '/') + 1);
	cr_assert_eq(mkdir(l->mnt, 0700), 0, "mkdir: %s", strerror(errno));
	if (FX_RUN("mount", what, l->mnt) != 0) {
		rmdir(l->mnt);
		l->mnt[0] = '\0';
		cr_assert_fail("mount %s failed", what);
	}
	return l->mnt;
}

static inline void
fx_swapon(const char *dev)
{
	cr_assert_eq(FX_RUN("mkswap", "-q", dev), 0);
	cr_assert_eq(FX_RUN("swapon", dev), 0, "swapon %s", dev);
	fx_find(dev)->swap = true;
}

/*
 * A GPT with one partition; the kernel is told with partx, which works
 * whether or not the kernel parses partition tables itself.
 */
static inline const char *
fx_gpt(const char *dev)
{
	static char part[80];
	struct stat st;

	cr_assert_eq(fx_run((const char *const[]){"sfdisk", "-q", "-w",
	                                          "always", dev, NULL},
	                    "label: gpt\n,\n", NULL, 0),
	             0, "sfdisk %s", dev);
	snprintf(part, sizeof(part), "%sp1", dev);
	if (stat(part, &st) != 0) /* sfdisk may have told the kernel */
		FX_RUN("partx", "-a", dev);
	cr_assert_eq(stat(part, &st), 0, "no %s: %s", part, strerror(errno));
	return part;
}

/* True when blkid -p recognises something on dev. */
static inline bool
fx_blkid_found(const char *dev)
{
	int st = FX_RUN("blkid", "-p", dev);

	cr_assert(st == 0 || st == 2, "blkid -p %s exited %d", dev, st);
	return st == 0;
}

static inline void
fx_fill(const char *dev, unsigned char byte, uint64_t size)
{
	static unsigned char buf[1 << 20];
	uint64_t off;
	int fd;

	memset(buf, byte, sizeof(buf));
	fd = open(dev, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	for (off = 0; off < size; off += sizeof(buf))
		cr_assert_eq(pwrite(fd, buf, sizeof(buf), (off_t)off),
		             (ssize_t)sizeof(buf));
	cr_assert_eq(fsync(fd), 0);
	close(fd);
}

/* True when every byte of dev reads zero (read past the page cache). */
static inline bool
fx_all_zero(const char *dev, uint64_t size)
{
	static unsigned char buf[1 << 20];
	uint64_t off;
	size_t i;
	int fd;

	fd = open(dev, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	ioctl(fd, BLKFLSBUF, 0); /* what the device holds, not the cache */
	for (off = 0; off < size; off += sizeof(buf)) {
		cr_assert_eq(pread(fd, buf, sizeof(buf), (off_t)off),
		             (ssize_t)sizeof(buf));
		for (i = 0; i < sizeof(buf); i++) {
			if (buf[i] != 0) {
				close(fd);
				return false;
			}
		}
	}
	close(fd);
	return true;
}

#endif
