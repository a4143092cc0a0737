/*
 * task_osd.c: ceph.create-osd: turns a disk into a BlueStore OSD with
 * ceph-volume in raw mode, starts its daemon and waits until the cluster
 * reports it up. docs/ceph-notes.md holds the recipe and the facts each
 * step relies on.
 *
 * Order: settings and their files; "already an OSD" (raw list, read
 * only); the refusals of disk.wipe under an exclusive claim
 * (wipe_common.c); the cluster must answer; the question; the quick
 * wipe. The claim is then released for ceph-volume: raw prepare, raw
 * list (id and uuid), raw activate, start the daemon, wait for up + in.
 *
 * Exit 0 of prepare proves nothing (on a labelled device it is "already
 * prepared" and does nothing): raw list before and after decides. A
 * failed or canceled run undoes what it made where that is safe: an OSD
 * that never came up is stopped, its tmpfs unmounted, its label erased
 * (only a label with its uuid) and its id purged (purge-new refuses an
 * OSD that ever booted).
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nt_err.h"
#include "nt_json.h"
#include "nt_time.h"
#include "task.h"
#include "tasks.h"
#include "wipe_common.h"

#define OSD_ROOT "/var/lib/ceph/osd"
/* ceph-volume reads the bootstrap key from here, whatever we say. */
#define OSD_VOLUME_KEYRING "/var/lib/ceph/bootstrap-osd/ceph.keyring"
#define OSD_LABEL_MAGIC    "bluestore block device\n"
#define OSD_UUID_LEN       36
#define OSD_MON_WAIT_MAX   60   /* s: longest wait for the monitor */
#define OSD_CLEANUP_MON    5    /* s: the same after a cancel (grace) */
#define OSD_POLL_MS        1000 /* between two osd dump calls */
#define OSD_NOTE_MS        15000
#define OSD_ARGV_MAX       32
#define OSD_TEXT           256
#define OSD_WHY            (OSD_TEXT * 2 + 64)
#define OSD_MAX_LAYERS     8 /* stacked tmpfs mounts undone, at most */

/* How osd_exec treats a command's output. */
enum {
	OSD_LOUD = 0,
	OSD_QUIET = 1,   /* log none of it (polling) */
	OSD_PARSE = 2,   /* stdout is parsed, not logged */
	OSD_VOLUME = 4,  /* ceph-volume: look for id, uuid, reason */
	OSD_CLEANUP = 8, /* runs after a stop too */
	OSD_NONOISE = 16 /* keyring search noise is not logged */
};

/* What the output of the command running now told. */
struct osd_out {
	int flags;
	char reason[OSD_TEXT]; /* ceph-volume's "-->  RuntimeError: ..." */
	char cause[OSD_TEXT];  /* "[errno 110] RADOS timed out ..." */
	char last[OSD_TEXT];   /* the last stderr line that is not noise */
	bool already;          /* "is already prepared" */
};

struct osd {
	struct task_ctx *t;
	struct wipe_dev d;
	const char *path;   /* as the operator named it */
	char dev[PATH_MAX]; /* the kernel's name, as ceph-volume wants */
	const char *dclass; /* NULL: ceph-volume's choice */
	bool confirm;
	const char *conf; /* settings */
	const char *keyring;
	const char *start_cmd;
	char volume[PATH_MAX];
	char ceph[PATH_MAX];
	char log_dir[PATH_MAX];
	int64_t up_ms, cmd_ms;
	int mon_s;
	char env_conf[PATH_MAX + 16];
	char env_args[128];
	char env_mount[96];
	const char *env[4];       /* ceph-volume and the ceph CLI */
	const char *env_start[3]; /* the daemon keeps no op timeout */
	int id;                   /* what this run made; -1: none known */
	char uuid[OSD_UUID_LEN + 1];
	bool prepared; /* prepare started: there may be things to undo */
	bool started;  /* a start of the daemon was tried */
	bool watch_daemon;
	bool have_st;
	struct stat dev_st; /* before ceph-volume chowned the node */
	struct osd_out out;
	char *err;
	size_t errlen;
};

static enum task_outcome osd_fail(struct osd *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static enum task_outcome
osd_fail(struct osd *o, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return wipe_fail(&o->d, "%s", msg);
}

static enum task_outcome
osd_stopped(struct osd *o, const char *when)
{
	return wipe_stopped(&o->d, when);
}

static void
osd_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

/* Sleeps ms, waking early for a stop. False when stopping. */
static bool
osd_sleep(int64_t ms)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	int64_t end = nt_time_mono_ms() + ms;

	while (nt_time_mono_ms() < end) {
		if (task_stopping())
			return false;
		nanosleep(&ts, NULL);
	}
	return !task_stopping();
}

static bool
osd_is_uuid(const char *s)
{
	for (int i = 0; i < OSD_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		             (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

/* ---- output of commands ------------------------------------------------ */

static bool
osd_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Cephx keys ("AQ" + base64, 40 characters with "==") never reach the
 * log, whatever prints them (a keyring, show-label's osd_key).
 */
static void
osd_redact(char *line)
{
	char *p = line, *q;

	while ((p = strstr(p, "AQ")) != NULL) {
		q = p;
		while (osd_b64(*q))
			q++;
		if (q - p >= 36 && q[0] == '=') {
			while (*q == '=')
				q++;
			memcpy(p, "[key]", 5);
			memmove(p + 5, q, strlen(q) + 1);
			p += 5;
		} else {
			p = q > p ? q : p + 1;
		}
	}
}

/* Printed by every ceph call with --keyring; says nothing. */
static bool
osd_noise(const char *line)
{
	return strstr(line, "unable to find a keyring on") != NULL ||
	       strstr(line, "no keyring found at") != NULL;
}

/* A number after prefix in line, or -1. */
static int
osd_num_after(const char *line, const char *prefix)
{
	const char *p = strstr(line, prefix);
	char *end;
	long v;

	if (p == NULL)
		return -1;
	p += strlen(prefix);
	if (*p < '0' || *p > '9')
		return -1;
	v = strtol(p, &end, 10);
	if (v < 0 || v > INT_MAX ||
	    (*end != '\0' && *end != ' ' && *end != '/' && *end != '\n'))
		return -1;
	return (int)v;
}

/* What prepare says on its way: the OSD's uuid and id, the reason. */
static void
osd_volume_line(struct osd *o, const char *line)
{
	const char *p;
	int id = -1;

	if (o->uuid[0] == '\0' && (p = strstr(line, " osd new ")) != NULL &&
	    strlen(p + 9) >= OSD_UUID_LEN && osd_is_uuid(p + 9)) {
		memcpy(o->uuid, p + 9, OSD_UUID_LEN);
		o->uuid[OSD_UUID_LEN] = '\0';
	}
	if (o->id < 0) {
		id = osd_num_after(line, "Creating keyring file for osd.");
		if (id < 0)
			id = osd_num_after(line,
			                   "tmpfs tmpfs " OSD_ROOT "/ceph-");
		if (id < 0)
			id = osd_num_after(line, "--mkfs -i ");
		if (id >= 0)
			o->id = id;
	}
	if (strncmp(line, "-->  ", 5) == 0)
		osd_copy(o->out.reason, sizeof(o->out.reason), line + 5);
	else if ((p = strstr(line, ": error: ")) != NULL)
		osd_copy(o->out.reason, sizeof(o->out.reason), p + 9);
	if (strstr(line, "is already prepared") != NULL)
		o->out.already = true;
}

static bool
osd_line(void *arg, int stream, char *line, enum nt_log_level *level)
{
	struct osd *o = arg;
	const char *p = line;

	(void)level;
	osd_redact(line);
	if (stream == 2 && !osd_noise(line) && line[0] != '\0') {
		while (*p == ' ')
			p++;
		if (strncmp(p, "stderr: ", 8) == 0)
			p += 8;
		osd_copy(o->out.last, sizeof(o->out.last), p);
		if (strstr(p, "[errno ") != NULL ||
		    strstr(p, "timed out") != NULL ||
		    strncmp(p, "Error E", 7) == 0)
			osd_copy(o->out.cause, sizeof(o->out.cause), p);
	}
	if (o->out.flags & OSD_VOLUME)
		osd_volume_line(o, line);
	if ((o->out.flags & OSD_QUIET) ||
	    ((o->out.flags & OSD_NONOISE) && osd_noise(line)))
		return false;
	return !(stream == 1 && (o->out.flags & OSD_PARSE));
}

/* Runs argv with the Ceph environment; output handled as flags say. */
static int
osd_exec(struct osd *o, const char *const *argv, int flags, int64_t timeout_ms,
         int *status, char **capture)
{
	struct task_exec_opts x = {0};

	memset(&o->out, 0, sizeof(o->out));
	o->out.flags = flags;
	x.env = o->env;
	x.timeout_ms = (int)timeout_ms;
	x.capture = capture;
	x.stderr_info = true; /* ceph-volume says everything on stderr */
	x.when_stopping = (flags & OSD_CLEANUP) != 0;
	x.on_line = osd_line;
	x.arg = o;
	return task_exec_opt(o->t, argv, &x, status);
}

/* Why a command failed: "exit 1: <reason> (<cause>)", for errors. */
static void
osd_why(const struct osd *o, int rc, int status, int64_t timeout_ms, char *out,
        size_t len)
{
	const struct osd_out *r = &o->out;
	const char *detail = r->reason[0] != '\0'  ? r->reason
	                     : r->cause[0] != '\0' ? r->cause
	                                           : r->last;
	const char *extra = "";

	if (detail == r->reason && r->cause[0] != '\0' &&
	    strstr(r->reason, r->cause) == NULL)
		extra = r->cause;
	if (rc == NT_ETIMEDOUT)
		snprintf(out, len, "timed out after %lld s%s%s%s%s",
		         (long long)(timeout_ms / 1000),
		         detail[0] != '\0' ? "; last: " : "", detail,
		         extra[0] != '\0' ? " " : "", extra);
	else if (rc != NT_OK)
		snprintf(out, len, "could not be run");
	else
		snprintf(out, len, "exit %d%s%s%s%s%s", status,
		         detail[0] != '\0' ? ": " : "", detail,
		         extra[0] != '\0' ? " (" : "", extra,
		         extra[0] != '\0' ? ")" : "");
}

/* ---- the ceph CLI (as client.bootstrap-osd) ------------------------------ */

static int
osd_ceph(struct osd *o, const char *const *args, int flags, int mon_s,
         int *status, char **capture)
{
	const char *argv[OSD_ARGV_MAX];
	int64_t timeout = (int64_t)(mon_s + 30) * 1000;
	char ct[16];
	size_t n = 0;

	/* Later than client-mount-timeout, which says why it gave up. */
	snprintf(ct, sizeof(ct), "%d", mon_s + 5);
	argv[n++] = o->ceph;
	argv[n++] = "-n";
	argv[n++] = "client.bootstrap-osd";
	argv[n++] = "-k";
	argv[n++] = o->keyring;
	argv[n++] = "--connect-timeout";
	argv[n++] = ct;
	while (*args != NULL && n < OSD_ARGV_MAX - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (timeout > o->cmd_ms)
		timeout = o->cmd_ms;
	return osd_exec(o, argv, flags | OSD_NONOISE, timeout, status, capture);
}

/* `ceph osd dump`: NT_OK and *dump (caller deletes), else o->out says. */
static int
osd_dump(struct osd *o, int flags, int mon_s, cJSON **dump)
{
	static const char *const args[] = {"osd", "dump", "-f", "json", NULL};
	char *cap = NULL;
	int rc, status;

	*dump = NULL;
	rc = osd_ceph(o, args, flags | OSD_PARSE, mon_s, &status, &cap);
	if (rc == NT_OK && status != 0)
		rc = NT_EIO;
	if (rc == NT_OK) {
		*dump = cJSON_Parse(cap);
		if (!cJSON_IsObject(*dump)) {
			cJSON_Delete(*dump);
			*dump = NULL;
			osd_copy(o->out.last, sizeof(o->out.last),
			         "osd dump printed no JSON object");
			rc = NT_EPROTO;
		}
	}
	free(cap);
	return rc;
}

/* The entry of our OSD in a dump: by uuid when known, else by id. */
static const cJSON *
osd_dump_find(const struct osd *o, const cJSON *dump)
{
	const cJSON *it;
	const char *u;
	int64_t id;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(dump, "osds"))
	{
		if (nt_json_int(it, "osd", &id) != NT_JSON_OK)
			continue;
		if (o->uuid[0] != '\0') {
			if (nt_json_string(it, "uuid", &u) == NT_JSON_OK &&
			    strcmp(u, o->uuid) == 0)
				return it;
		} else if (o->id >= 0 && id == o->id) {
			return it;
		}
	}
	return NULL;
}

/* "exists,new" from the entry's state list. */
static void
osd_state(const cJSON *e, char *out, size_t len)
{
	const cJSON *it;
	size_t n = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(e, "state"))
	{
		if (cJSON_IsString(it) && n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s",
			                      n > 0 ? "," : "",
			                      it->valuestring);
	}
}

static bool
osd_state_has(const cJSON *e, const char *s)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(e, "state"))
	{
		if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
			return true;
	}
	return false;
}

/* ---- settings -------------------------------------------------------- */

static enum task_outcome
osd_cfg_str(struct osd *o, const char *key, const char *def, const char **out)
{
	switch (nt_json_string(o->t->config, key, out)) {
	case NT_JSON_OK:
		if ((*out)[0] != '\0')
			return TASK_COMPLETED;
		break;
	case NT_JSON_WRONGTYPE:
		return osd_fail(o, "agent setting %s is not a string", key);
	default:
		break;
	}
	*out = def;
	return TASK_COMPLETED;
}

static enum task_outcome
osd_cfg_ms(struct osd *o, const char *key, int64_t def, int64_t *out)
{
	switch (nt_json_int(o->t->config, key, out)) {
	case NT_JSON_OK:
		if (*out > 0 && *out <= INT_MAX)
			return TASK_COMPLETED;
		return osd_fail(o, "agent setting %s is out of range", key);
	case NT_JSON_WRONGTYPE:
		return osd_fail(o, "agent setting %s is not a number", key);
	default:
		*out = def;
		return TASK_COMPLETED;
	}
}

/* A file the run needs: fail at once, naming it. */
static enum task_outcome
osd_need_file(struct osd *o, const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return osd_fail(o, "%s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return osd_fail(o, "%s %s: not a regular file", what, path);
	if (access(path, R_OK) != 0)
		return osd_fail(o, "%s %s: %s", what, path, strerror(errno));
	return TASK_COMPLETED;
}

/* A program: itself when it has a '/', else on PATH, else in sbin/bin. */
static bool
osd_find_prog(const char *name, char *out, size_t len)
{
	static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin",
	                                   "/bin", NULL};
	const char *path = getenv("PATH"), *p, *end;
	size_t dl;
	int i;

	if (strchr(name, '/') != NULL) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0;
	}
	for (p = path != NULL ? path : ""; *p != '\0';
	     p = *end != '\0' ? end + 1 : end) {
		end = strchrnul(p, ':');
		dl = (size_t)(end - p);
		if (dl > 0 &&
		    snprintf(out, len, "%.*s/%s", (int)dl, p, name) <
		            (int)len &&
		    access(out, X_OK) == 0)
			return true;
	}
	for (i = 0; dirs[i] != NULL; i++) {
		snprintf(out, len, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return true;
	}
	snprintf(out, len, "%s", name);
	return false;
}

/* ceph-volume logs into STATE_DIR/ceph-volume, or a fresh directory. */
static enum task_outcome
osd_log_dir(struct osd *o)
{
	const char *state;

	if (nt_json_string(o->t->config, "stateDir", &state) == NT_JSON_OK &&
	    state[0] == '/') {
		snprintf(o->log_dir, sizeof(o->log_dir), "%s/ceph-volume",
		         state);
		if (mkdir(o->log_dir, 0700) != 0 && errno != EEXIST)
			return osd_fail(o, "ceph-volume log directory %s: %s",
			                o->log_dir, strerror(errno));
		return TASK_COMPLETED;
	}
	snprintf(o->log_dir, sizeof(o->log_dir),
	         "/tmp/nodetask-ceph-volume.XXXXXX");
	if (mkdtemp(o->log_dir) == NULL)
		return osd_fail(o, "ceph-volume log directory: %s",
		                strerror(errno));
	return TASK_COMPLETED;
}

static enum task_outcome
osd_settings(struct osd *o)
{
	const char *env_conf = getenv("CEPH_CONF"), *volume, *ceph, *base;
	enum task_outcome r;

	if (env_conf == NULL || env_conf[0] == '\0')
		env_conf = OSD_DEFAULT_CONF;
	if ((r = osd_cfg_str(o, "cephConf", env_conf, &o->conf)) !=
	            TASK_COMPLETED ||
	    (r = osd_cfg_str(o, "cephBootstrapKeyring", OSD_DEFAULT_KEYRING,
	                     &o->keyring)) != TASK_COMPLETED ||
	    (r = osd_cfg_str(o, "cephVolume", OSD_DEFAULT_VOLUME, &volume)) !=
	            TASK_COMPLETED ||
	    (r = osd_cfg_str(o, "ceph", OSD_DEFAULT_CEPH, &ceph)) !=
	            TASK_COMPLETED ||
	    (r = osd_cfg_str(o, "osdStartCommand", OSD_DEFAULT_START,
	                     &o->start_cmd)) != TASK_COMPLETED ||
	    (r = osd_cfg_ms(o, "osdUpTimeoutMs", OSD_DEFAULT_UP_TIMEOUT_MS,
	                    &o->up_ms)) != TASK_COMPLETED ||
	    (r = osd_cfg_ms(o, "cephCommandTimeoutMs",
	                    OSD_DEFAULT_COMMAND_TIMEOUT_MS, &o->cmd_ms)) !=
	            TASK_COMPLETED)
		return r;
	/* Ceph's own waits end first, so the error names the cause. */
	o->mon_s = (int)(o->cmd_ms / 2000);
	if (o->mon_s > OSD_MON_WAIT_MAX)
		o->mon_s = OSD_MON_WAIT_MAX;
	if (o->mon_s < 1)
		o->mon_s = 1;
	if ((r = osd_need_file(o, "ceph config", o->conf)) != TASK_COMPLETED ||
	    (r = osd_need_file(o, "bootstrap-osd keyring", o->keyring)) !=
	            TASK_COMPLETED)
		return r;
	if (!osd_find_prog(volume, o->volume, sizeof(o->volume)))
		return osd_fail(o,
		                "ceph-volume %s: not found or not executable",
		                o->volume);
	/* ceph-volume itself (not a wrapper) reads one fixed path. */
	base = strrchr(o->volume, '/');
	if (strcmp(base != NULL ? base + 1 : o->volume, "ceph-volume") == 0 &&
	    strcmp(o->keyring, OSD_VOLUME_KEYRING) != 0 &&
	    (r = osd_need_file(o,
	                       "ceph-volume reads the bootstrap-osd key "
	                       "only from",
	                       OSD_VOLUME_KEYRING)) != TASK_COMPLETED)
		return r;
	if (!osd_find_prog(ceph, o->ceph, sizeof(o->ceph)))
		return osd_fail(o, "ceph CLI %s: not found or not executable",
		                o->ceph);
	snprintf(o->env_conf, sizeof(o->env_conf), "CEPH_CONF=%s", o->conf);
	snprintf(o->env_args, sizeof(o->env_args),
	         "CEPH_ARGS=--client-mount-timeout %d --rados-mon-op-timeout "
	         "%d",
	         o->mon_s, o->mon_s);
	snprintf(o->env_mount, sizeof(o->env_mount),
	         "CEPH_ARGS=--client-mount-timeout %d", o->mon_s);
	o->env[0] = o->env_conf;
	o->env[1] = "CEPH_VOLUME_ALLOW_LOOP_DEVICES=true";
	o->env[2] = o->env_args;
	o->env[3] = NULL;
	o->env_start[0] = o->env_conf;
	o->env_start[1] = o->env_mount;
	o->env_start[2] = NULL;
	return osd_log_dir(o);
}

/* deviceClass: what the controller allows, checked again here. */
static bool
osd_class_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	}
	return true;
}

static enum task_outcome
osd_params(struct osd *o)
{
	const cJSON *p = o->t->params;

	switch (nt_json_string(p, "devicePath", &o->path)) {
	case NT_JSON_OK:
		break;
	case NT_JSON_WRONGTYPE:
		o->d.path = "(invalid)";
		return osd_fail(o, "devicePath must be a string");
	default:
		o->d.path = "(none)";
		if (cJSON_GetObjectItemCaseSensitive(p, "diskId") != NULL)
			return osd_fail(o, "diskId was not resolved to a "
			                   "devicePath; the controller must "
			                   "send devicePath");
		return osd_fail(o, "devicePath is required");
	}
	o->d.path = o->path;
	if (o->path[0] != '/' || strlen(o->path) >= DISK_PATH_BUFLEN)
		return osd_fail(o, "devicePath must be an absolute path");
	switch (nt_json_string(p, "deviceClass", &o->dclass)) {
	case NT_JSON_OK:
		if (!osd_class_ok(o->dclass))
			return osd_fail(o, "deviceClass must be 1 to 32 "
			                   "characters of a-z, 0-9, '_' and "
			                   "'-'");
		break;
	case NT_JSON_WRONGTYPE:
		return osd_fail(o, "deviceClass must be a string");
	default:
		o->dclass = NULL;
		break;
	}
	if (nt_json_bool(p, "confirm", &o->confirm) == NT_JSON_WRONGTYPE)
		return osd_fail(o, "confirm must be true or false");
	return TASK_COMPLETED;
}

/* ---- before anything is written ---------------------------------------- */

/*
 * What raw list needs before it may even read the device: a block
 * device we may touch, by its kernel name (raw list finds nothing by a
 * symlink's name).
 */
static enum task_outcome
osd_resolve(struct osd *o)
{
	struct stat st;

	if (stat(o->path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return osd_fail(o, "no such device");
		return osd_fail(o, "%s", strerror(errno));
	}
	if (!S_ISBLK(st.st_mode))
		return osd_fail(o, "not a block device");
	if (!disk_allowed(o->path, o->t->allow))
		return osd_fail(o, "outside allowed devices");
	if (realpath(o->path, o->dev) == NULL)
		return osd_fail(o, "cannot resolve the path: %s",
		                strerror(errno));
	return TASK_COMPLETED;
}

/* `ceph-volume raw list DEV`: the entries (object), NULL on failure. */
static cJSON *
osd_raw_list(struct osd *o, int flags, char *why, size_t whylen)
{
	const char *argv[] = {o->volume,  "--log-path", o->log_dir,
	                      "raw",      "list",       o->dev,
	                      "--format", "json",       NULL};
	char *cap = NULL;
	cJSON *list = NULL;
	int rc, status;

	rc = osd_exec(o, argv, flags | OSD_PARSE, o->cmd_ms, &status, &cap);
	if (rc == NT_ECLOSED)
		snprintf(why, whylen, "stopped");
	else if (rc != NT_OK || status != 0)
		osd_why(o, rc, status, o->cmd_ms, why, whylen);
	else if (!cJSON_IsObject(list = cJSON_Parse(cap)))
		snprintf(why, whylen, "printed no JSON object");
	else {
		free(cap);
		return list;
	}
	cJSON_Delete(list);
	free(cap);
	return NULL;
}

/* An entry of raw list's output: its OSD id (-1: none) and device. */
static const cJSON *
osd_raw_first(const cJSON *list, int64_t *id, const char **device)
{
	const cJSON *e = list != NULL ? list->child : NULL;

	*id = -1;
	*device = "?";
	if (e == NULL)
		return NULL;
	if (nt_json_int(e, "osd_id", id) != NT_JSON_OK)
		*id = -1;
	if (nt_json_string(e, "device", device) != NT_JSON_OK)
		*device = "?";
	return e;
}

/* Refuses a device that already backs an OSD (its label says so). */
static enum task_outcome
osd_not_an_osd(struct osd *o)
{
	const char *device, *fsid;
	const cJSON *e;
	char why[OSD_WHY];
	cJSON *list;
	int64_t id;

	list = osd_raw_list(o, OSD_LOUD, why, sizeof(why));
	if (list == NULL) {
		if (task_stopping())
			return osd_stopped(o, "while reading the BlueStore "
			                      "label");
		return osd_fail(o, "ceph-volume raw list failed: %s", why);
	}
	e = osd_raw_first(list, &id, &device);
	if (e == NULL) {
		cJSON_Delete(list);
		task_log(o->t, NT_LOG_INFO,
		         "ceph-volume raw list: no OSD on %s", o->dev);
		return TASK_COMPLETED;
	}
	if (nt_json_string(e, "ceph_fsid", &fsid) != NT_JSON_OK)
		fsid = "?";
	if (id >= 0)
		osd_fail(o, "device already backs osd.%lld (cluster %s, %s)",
		         (long long)id, fsid, device);
	else
		osd_fail(o, "device holds BlueStore data of OSD %s",
		         e->string != NULL ? e->string : "?");
	cJSON_Delete(list);
	return TASK_FAILED;
}

/* The cluster must answer before anything is wiped. */
static enum task_outcome
osd_cluster(struct osd *o)
{
	const cJSON *it;
	const char *fsid = "?";
	char why[OSD_WHY];
	cJSON *dump;
	int n = 0, up = 0, rc;
	int64_t v;

	task_log(o->t, NT_LOG_INFO, "asking the cluster (%s) for its OSD map",
	         o->conf);
	rc = osd_dump(o, OSD_LOUD, o->mon_s, &dump);
	if (rc == NT_ECLOSED)
		return osd_stopped(o, "while asking the cluster");
	if (rc != NT_OK) {
		if (o->out.cause[0] != '\0')
			osd_copy(why, sizeof(why), o->out.cause);
		else if (rc == NT_ETIMEDOUT)
			snprintf(why, sizeof(why), "no answer in %d s",
			         o->mon_s + 30);
		else
			osd_copy(why, sizeof(why),
			         o->out.last[0] != '\0' ? o->out.last
			                                : nt_strerror(rc));
		return osd_fail(o, "the cluster does not answer: %s", why);
	}
	nt_json_string(dump, "fsid", &fsid);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(dump, "osds"))
	{
		n++;
		if (nt_json_int(it, "up", &v) == NT_JSON_OK && v == 1)
			up++;
	}
	task_log(o->t, NT_LOG_INFO, "cluster %s answers: %d OSDs, %d up", fsid,
	         n, up);
	cJSON_Delete(dump);
	return TASK_COMPLETED;
}

/* Claim, refusals, question, wipe; the claim is released at the end. */
static enum task_outcome
osd_ready_device(struct osd *o)
{
	char prompt[DISK_PATH_BUFLEN + 64];
	enum task_outcome r;
	size_t i;

	if ((r = wipe_open(&o->d)) != TASK_COMPLETED ||
	    (r = wipe_check(&o->d)) != TASK_COMPLETED)
		return r;
	for (i = 0; i < o->d.info.n_signatures; i++) {
		if (strcmp(o->d.info.signatures[i], "ceph_bluestore") == 0)
			task_log(o->t, NT_LOG_INFO,
			         "a BlueStore label without an OSD in it (a "
			         "prepare that did not finish): existing data");
	}
	if ((r = osd_cluster(o)) != TASK_COMPLETED)
		return r;
	snprintf(prompt, sizeof(prompt),
	         "Disk %s contains existing data. Wipe it and create an OSD?",
	         o->path);
	if ((r = wipe_confirm(&o->d, prompt, o->confirm)) != TASK_COMPLETED)
		return r;
	if (wipe_has_data(&o->d)) {
		task_log(o->t, NT_LOG_INFO, "quick wipe of %s", o->path);
		if ((r = wipe_prepare(&o->d)) != TASK_COMPLETED ||
		    (r = wipe_quick(&o->d)) != TASK_COMPLETED)
			return r;
	}
	wipe_dev_close(&o->d); /* ceph-volume needs the device now */
	return TASK_COMPLETED;
}

/* ---- prepare, activate, start ------------------------------------------ */

static enum task_outcome
osd_prepare(struct osd *o)
{
	const char *argv[16] = {o->volume, "--log-path",  o->log_dir, "raw",
	                        "prepare", "--bluestore", "--data",   o->dev};
	char why[OSD_WHY];
	int rc, status, n = 8;

	if (o->dclass != NULL) {
		argv[n++] = "--crush-device-class";
		argv[n++] = o->dclass;
	}
	argv[n] = NULL;
	if (task_stopping())
		return osd_stopped(o, "before ceph-volume raw prepare");
	o->have_st = stat(o->dev, &o->dev_st) == 0;
	task_log(o->t, NT_LOG_INFO,
	         "ceph-volume raw prepare --bluestore --data %s%s%s (log in "
	         "%s)",
	         o->dev, o->dclass != NULL ? " --crush-device-class " : "",
	         o->dclass != NULL ? o->dclass : "", o->log_dir);
	o->prepared = true;
	rc = osd_exec(o, argv, OSD_VOLUME, o->cmd_ms, &status, NULL);
	if (rc == NT_ECLOSED)
		return osd_stopped(o, "during ceph-volume raw prepare");
	if (rc != NT_OK || status != 0) {
		osd_why(o, rc, status, o->cmd_ms, why, sizeof(why));
		return osd_fail(o, "ceph-volume raw prepare failed: %s", why);
	}
	if (o->out.already)
		return osd_fail(o, "ceph-volume raw prepare did nothing: the "
		                   "device already carries a BlueStore label");
	return TASK_COMPLETED;
}

/* The id and uuid of what prepare made, from the label. */
static enum task_outcome
osd_identify(struct osd *o)
{
	const char *device, *uuid;
	const cJSON *e;
	char why[OSD_WHY];
	cJSON *list;
	int64_t id;

	list = osd_raw_list(o, OSD_LOUD, why, sizeof(why));
	if (list == NULL) {
		if (task_stopping())
			return osd_stopped(o, "after ceph-volume raw prepare");
		return osd_fail(o, "ceph-volume raw list after prepare: %s",
		                why);
	}
	e = osd_raw_first(list, &id, &device);
	if (e == NULL || id < 0 || e->string == NULL ||
	    strlen(e->string) != OSD_UUID_LEN) {
		cJSON_Delete(list);
		return osd_fail(o, "ceph-volume raw prepare exited 0 but raw "
		                   "list finds no OSD on the device");
	}
	uuid = e->string;
	if (o->uuid[0] != '\0' && strcmp(uuid, o->uuid) != 0) {
		osd_fail(o, "raw list finds OSD %s, prepare made %s", uuid,
		         o->uuid);
		cJSON_Delete(list);
		return TASK_FAILED;
	}
	osd_copy(o->uuid, sizeof(o->uuid), uuid);
	o->id = (int)id;
	cJSON_Delete(list);
	task_log(o->t, NT_LOG_INFO, "prepared osd.%d (uuid %s) on %s", o->id,
	         o->uuid, o->dev);
	return TASK_COMPLETED;
}

static enum task_outcome
osd_activate(struct osd *o)
{
	const char *argv[] = {o->volume, "--log-path",   o->log_dir,
	                      "raw",     "activate",     "--device",
	                      o->dev,    "--no-systemd", NULL};
	char why[OSD_WHY];
	int rc, status;

	if (task_stopping())
		return osd_stopped(o, "before ceph-volume raw activate");
	task_log(o->t, NT_LOG_INFO,
	         "ceph-volume raw activate --device %s "
	         "--no-systemd",
	         o->dev);
	rc = osd_exec(o, argv, OSD_VOLUME, o->cmd_ms, &status, NULL);
	if (rc == NT_ECLOSED)
		return osd_stopped(o, "during ceph-volume raw activate");
	if (rc != NT_OK || status != 0) {
		osd_why(o, rc, status, o->cmd_ms, why, sizeof(why));
		return osd_fail(o, "ceph-volume raw activate failed: %s", why);
	}
	return TASK_COMPLETED;
}

static bool
osd_systemd(void)
{
	struct stat st;

	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The start command split on spaces, "{id}" replaced by the id; the
 * words live in buf.
 */
static bool
osd_start_argv(const struct osd *o, const char **argv, size_t max, char *buf,
               size_t len)
{
	const char *p = o->start_cmd, *w;
	size_t n = 0, used = 0, wl;
	char id[16];
	int k;

	snprintf(id, sizeof(id), "%d", o->id);
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (n + 1 >= max)
			return false;
		argv[n++] = buf + used;
		for (w = p; *p != '\0' && *p != ' '; p++)
			;
		wl = (size_t)(p - w);
		while (wl > 0) {
			if (wl >= 4 && strncmp(w, "{id}", 4) == 0) {
				k = snprintf(buf + used, len - used, "%s", id);
				w += 4;
				wl -= 4;
			} else {
				k = snprintf(buf + used, len - used, "%c", *w);
				w++;
				wl--;
			}
			if (k < 0 || (size_t)k >= len - used)
				return false;
			used += (size_t)k;
		}
		if (used + 1 >= len)
			return false;
		buf[used++] = '\0';
	}
	argv[n] = NULL;
	return n > 0;
}

static enum task_outcome
osd_start(struct osd *o)
{
	struct task_exec_opts x = {0};
	const char *argv[OSD_ARGV_MAX];
	char buf[1024], unit[32], why[OSD_WHY];
	const char *prog;
	int rc, status;

	if (task_stopping())
		return osd_stopped(o, "before starting the OSD daemon");
	if (osd_systemd()) {
		snprintf(unit, sizeof(unit), "ceph-osd@%d", o->id);
		argv[0] = "systemctl";
		argv[1] = "enable";
		argv[2] = "--now";
		argv[3] = unit;
		argv[4] = NULL;
		task_log(o->t, NT_LOG_INFO,
		         "systemd runs this host: systemctl enable --now %s",
		         unit);
		if (strcmp(o->conf, OSD_DEFAULT_CONF) != 0)
			task_log(o->t, NT_LOG_WARN, "the unit reads %s, not %s",
			         OSD_DEFAULT_CONF, o->conf);
	} else {
		if (!osd_start_argv(o, argv, OSD_ARGV_MAX, buf, sizeof(buf)))
			return osd_fail(o,
			                "the OSD start command \"%s\" is "
			                "empty or too long",
			                o->start_cmd);
		task_log(o->t, NT_LOG_INFO,
		         "no systemd as PID 1: starting osd.%d with \"%s\" in "
		         "a session of its own (it outlives this run and the "
		         "agent)",
		         o->id, o->start_cmd);
		prog = strrchr(argv[0], '/');
		prog = prog != NULL ? prog + 1 : argv[0];
		o->watch_daemon = strcmp(prog, "ceph-osd") == 0;
	}
	memset(&o->out, 0, sizeof(o->out));
	x.env = o->env_start;
	x.timeout_ms = (int)o->cmd_ms;
	x.stderr_info = true;
	x.new_session = true;
	x.on_line = osd_line;
	x.arg = o;
	o->started = true;
	rc = task_exec_opt(o->t, argv, &x, &status);
	if (rc == NT_ECLOSED)
		return osd_stopped(o, "while starting the OSD daemon");
	if (rc != NT_OK || status != 0) {
		osd_why(o, rc, status, o->cmd_ms, why, sizeof(why));
		return osd_fail(o, "starting osd.%d failed: %s", o->id, why);
	}
	return TASK_COMPLETED;
}

/* ---- the daemon ---------------------------------------------------------- */

/* argv of /proc/PID as NUL-separated words; returns the byte count. */
static ssize_t
osd_cmdline(const char *pid, char *buf, size_t len)
{
	char path[300];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r > 0)
		buf[r] = '\0';
	return r;
}

/* Is this ceph-osd's argv serving osd.id (-i N, --id N, --id=N)? */
static bool
osd_argv_is(const char *buf, ssize_t n, int id)
{
	const char *w = buf, *prog, *next;
	bool is_osd;
	char want[16];

	prog = strrchr(buf, '/');
	prog = prog != NULL ? prog + 1 : buf;
	is_osd = strcmp(prog, "ceph-osd") == 0;
	snprintf(want, sizeof(want), "%d", id);
	while (is_osd && w < buf + n) {
		next = w + strlen(w) + 1;
		if (strcmp(w, "--mkfs") == 0)
			return false;
		if ((strcmp(w, "-i") == 0 || strcmp(w, "--id") == 0) &&
		    next < buf + n && strcmp(next, want) == 0)
			return true;
		if (strncmp(w, "--id=", 5) == 0 && strcmp(w + 5, want) == 0)
			return true;
		w = next;
	}
	return false;
}

/* Reads a small file into buf (trailing newline cut); false if none. */
static bool
osd_read_small(const char *path, char *buf, size_t len)
{
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r < 0)
		return false;
	buf[r] = '\0';
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		buf[--r] = '\0';
	return true;
}

/* Does /proc/PID/environ hold CEPH_CONF=<our config>? */
static bool
osd_env_is_ours(const struct osd *o, const char *pid)
{
	char path[300], buf[16384];
	const char *w;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (w = buf; w < buf + n; w += strlen(w) + 1) {
		if (strcmp(w, o->env_conf) == 0)
			return true;
	}
	return false;
}

/*
 * The ceph-osd process of our OSD: its argv names the id, and its data
 * directory (seen through its own root) holds our uuid or it runs with
 * our CEPH_CONF (we started it). 0: none.
 */
static pid_t
osd_daemon_pid(const struct osd *o)
{
	char buf[4096], path[PATH_MAX], fsid[64];
	struct dirent *e;
	pid_t found = 0;
	ssize_t n;
	DIR *d;

	d = opendir("/proc");
	if (d == NULL)
		return 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		n = osd_cmdline(e->d_name, buf, sizeof(buf));
		if (n <= 0 || !osd_argv_is(buf, n, o->id))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/root%s/ceph-%d/fsid",
		         e->d_name, OSD_ROOT, o->id);
		if ((osd_read_small(path, fsid, sizeof(fsid)) &&
		     strcmp(fsid, o->uuid) == 0) ||
		    osd_env_is_ours(o, e->d_name))
			found = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* Is this argv a ceph-osd --mkfs of our OSD (--osd-uuid ours)? */
static bool
osd_argv_is_mkfs(const char *buf, ssize_t n, const char *uuid)
{
	const char *w = buf, *prog, *next;
	bool mkfs = false, ours = false;

	prog = strrchr(buf, '/');
	prog = prog != NULL ? prog + 1 : buf;
	if (strcmp(prog, "ceph-osd") != 0 || uuid[0] == '\0')
		return false;
	for (; w < buf + n; w = next) {
		next = w + strlen(w) + 1;
		if (strcmp(w, "--mkfs") == 0)
			mkfs = true;
		if (strcmp(w, "--osd-uuid") == 0 && next < buf + n &&
		    strcmp(next, uuid) == 0)
			ours = true;
	}
	return mkfs && ours;
}

/*
 * ceph-osd --mkfs forks a child that leaves the process group and goes
 * on writing the label after its parent was killed: find and end it
 * before the device is touched. Returns how many there were.
 */
static int
osd_end_mkfs(struct osd *o)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	char buf[4096];
	struct dirent *e;
	pid_t pids[8];
	int n = 0, i, round;
	ssize_t len;
	DIR *d;

	d = opendir("/proc");
	if (d == NULL)
		return 0;
	while (n < 8 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		len = osd_cmdline(e->d_name, buf, sizeof(buf));
		if (len > 0 && osd_argv_is_mkfs(buf, len, o->uuid))
			pids[n++] = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		task_log(o->t, NT_LOG_INFO,
		         "ending ceph-osd --mkfs (pid %d) of OSD %s",
		         (int)pids[i], o->uuid);
		kill(pids[i], SIGKILL); /* a half-made OSD: nothing to save */
	}
	for (round = 0; round < 50; round++) {
		for (i = 0; i < n && kill(pids[i], 0) != 0; i++)
			;
		if (i == n)
			break;
		nanosleep(&ts, NULL);
	}
	return n;
}

/* Waits (up to 10 s) until nothing holds the device exclusively. */
static void
osd_wait_device(struct osd *o)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	int fd, i;

	for (i = 0; i < 100; i++) {
		fd = open(o->dev, O_RDONLY | O_EXCL | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return;
		}
		if (errno != EBUSY)
			return;
		nanosleep(&ts, NULL);
	}
}

static enum task_outcome
osd_result(struct osd *o, cJSON **result)
{
	cJSON *r = cJSON_CreateObject();

	if (r == NULL ||
	    cJSON_AddNumberToObject(r, "osdId", (double)o->id) == NULL ||
	    cJSON_AddStringToObject(r, "osdFsid", o->uuid) == NULL) {
		cJSON_Delete(r);
		return osd_fail(o, "out of memory");
	}
	*result = r;
	return TASK_COMPLETED;
}

/* Polls the OSD map until our OSD is up and in. */
static enum task_outcome
osd_wait_up(struct osd *o)
{
	int64_t t0 = nt_time_mono_ms(), deadline = t0 + o->up_ms;
	int64_t note = t0 + OSD_NOTE_MS, v, up, in;
	char state[128] = "", seen[128] = "", err[OSD_TEXT] = "";
	const cJSON *e;
	cJSON *dump;
	int gone = 0, rc;

	task_log(o->t, NT_LOG_INFO,
	         "waiting up to %lld s for osd.%d to be up and in",
	         (long long)(o->up_ms / 1000), o->id);
	for (;;) {
		rc = osd_dump(o, OSD_QUIET, o->mon_s, &dump);
		if (rc == NT_ECLOSED)
			return osd_stopped(o, "while waiting for the OSD");
		if (rc == NT_OK) {
			err[0] = '\0';
			e = osd_dump_find(o, dump);
			up = in = 0;
			if (e != NULL) {
				osd_state(e, state, sizeof(state));
				if (nt_json_int(e, "up", &v) == NT_JSON_OK)
					up = v;
				if (nt_json_int(e, "in", &v) == NT_JSON_OK)
					in = v;
			} else {
				osd_copy(state, sizeof(state),
				         "not in the map");
			}
			cJSON_Delete(dump);
			if (up == 1 && in == 1) {
				task_log(
				        o->t, NT_LOG_INFO,
				        "osd.%d is up and in (%s) after %.1f s",
				        o->id, state,
				        (double)(nt_time_mono_ms() - t0) /
				                1000);
				return TASK_COMPLETED;
			}
		} else {
			osd_copy(err, sizeof(err),
			         o->out.cause[0] != '\0' ? o->out.cause
			                                 : o->out.last);
			osd_copy(state, sizeof(state), "unknown");
		}
		if (strcmp(state, seen) != 0 || nt_time_mono_ms() >= note) {
			task_log(o->t, NT_LOG_INFO, "osd.%d: %s%s%s", o->id,
			         state, err[0] != '\0' ? "; osd dump: " : "",
			         err);
			osd_copy(seen, sizeof(seen), state);
			note = nt_time_mono_ms() + OSD_NOTE_MS;
		}
		if (o->watch_daemon) {
			gone = osd_daemon_pid(o) == 0 ? gone + 1 : 0;
			if (gone >= 3)
				return osd_fail(o,
				                "osd.%d: its ceph-osd process "
				                "exited before the OSD came up "
				                "(see the OSD's log)",
				                o->id);
		}
		if (nt_time_mono_ms() >= deadline)
			return osd_fail(
			        o, "osd.%d is not up after %lld s (%s%s%s)",
			        o->id, (long long)(o->up_ms / 1000), state,
			        err[0] != '\0' ? "; " : "", err);
		if (!osd_sleep(OSD_POLL_MS))
			return osd_stopped(o, "while waiting for the OSD");
	}
}

/* ---- undoing a failed or canceled run --------------------------------- */

static void
osd_stop_daemon(struct osd *o)
{
	const char *argv[] = {"systemctl", "disable", "--now", NULL, NULL};
	struct timespec ts = {0, 100 * 1000 * 1000};
	char unit[32];
	pid_t pid;
	int i, status;

	if (osd_systemd()) {
		snprintf(unit, sizeof(unit), "ceph-osd@%d", o->id);
		argv[3] = unit;
		task_log(o->t, NT_LOG_INFO, "systemctl disable --now %s", unit);
		osd_exec(o, argv, OSD_CLEANUP, 30000, &status, NULL);
	}
	pid = osd_daemon_pid(o);
	if (pid == 0)
		return;
	task_log(o->t, NT_LOG_INFO, "stopping ceph-osd (pid %d) of osd.%d",
	         (int)pid, o->id);
	kill(pid, SIGTERM);
	for (i = 0; i < 50 && kill(pid, 0) == 0; i++)
		nanosleep(&ts, NULL);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGKILL);
		for (i = 0; i < 20 && kill(pid, 0) == 0; i++)
			nanosleep(&ts, NULL);
	}
}

static bool
osd_is_mountpoint(const char *dir)
{
	struct stat a, b;
	char parent[PATH_MAX + 8];

	snprintf(parent, sizeof(parent), "%s/..", dir);
	if (stat(dir, &a) != 0 || stat(parent, &b) != 0)
		return false;
	return a.st_dev != b.st_dev;
}

/* A mount at dir is this run's: our uuid, or our device, or empty. */
static bool
osd_mount_is_ours(const struct osd *o, const char *dir)
{
	char path[PATH_MAX + 16], buf[PATH_MAX];
	struct dirent *e;
	bool empty = true;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "%s/fsid", dir);
	if (osd_read_small(path, buf, sizeof(buf)))
		return o->uuid[0] != '\0' && strcmp(buf, o->uuid) == 0;
	snprintf(path, sizeof(path), "%s/block", dir);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		return strcmp(buf, o->dev) == 0;
	}
	d = opendir(dir);
	if (d == NULL)
		return false;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 ||
		        strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* Unmounts the OSD's tmpfs, every stacked layer that is ours. */
static bool
osd_unmount(struct osd *o)
{
	char dir[PATH_MAX];
	int i;

	snprintf(dir, sizeof(dir), "%s/ceph-%d", OSD_ROOT, o->id);
	for (i = 0; i < OSD_MAX_LAYERS && osd_is_mountpoint(dir); i++) {
		if (!osd_mount_is_ours(o, dir)) {
			task_log(o->t, NT_LOG_WARN,
			         "%s: the mount there is not this run's: left "
			         "as it is",
			         dir);
			return false;
		}
		if (umount2(dir, 0) != 0 && umount2(dir, MNT_DETACH) != 0) {
			task_log(o->t, NT_LOG_WARN, "unmount %s: %s", dir,
			         strerror(errno));
			return false;
		}
		task_log(o->t, NT_LOG_INFO, "unmounted %s", dir);
	}
	if (rmdir(dir) == 0)
		task_log(o->t, NT_LOG_INFO, "removed %s", dir);
	return true;
}

/* Erases the label this run wrote (its uuid at offset 23), quick wipe. */
static bool
osd_wipe_label(struct osd *o)
{
	unsigned char head[sizeof(OSD_LABEL_MAGIC) - 1 + OSD_UUID_LEN];
	const size_t ml = sizeof(OSD_LABEL_MAGIC) - 1;
	char perr[256], cerr[512] = "";
	struct wipe_dev w;
	bool ok = false;

	wipe_dev_init(&w, o->t, "create-osd", o->path, cerr, sizeof(cerr));
	w.cleanup = true;
	if (wipe_open(&w) != TASK_COMPLETED)
		goto out;
	if (pread(w.fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, OSD_LABEL_MAGIC, ml) != 0) {
		task_log(o->t, NT_LOG_INFO, "no BlueStore label on %s",
		         o->path);
		ok = true;
		goto out;
	}
	if (o->uuid[0] == '\0' || memcmp(head + ml, o->uuid, OSD_UUID_LEN)) {
		task_log(o->t, NT_LOG_WARN,
		         "the BlueStore label on %s is not this run's: left as "
		         "it is",
		         o->path);
		goto out;
	}
	if (disk_probe(w.self, &w.info, perr, sizeof(perr)) != NT_OK) {
		task_log(o->t, NT_LOG_WARN, "probe %s: %s", o->path, perr);
		goto out;
	}
	task_log(o->t, NT_LOG_INFO, "erasing the label of OSD %s on %s",
	         o->uuid, o->path);
	ok = wipe_prepare(&w) == TASK_COMPLETED &&
	     wipe_quick(&w) == TASK_COMPLETED;
out:
	wipe_dev_close(&w);
	return ok;
}

static bool
osd_purge(struct osd *o, int mon_s)
{
	char name[32];
	const char *args[] = {"osd", "purge-new", name,
	                      "--yes-i-really-mean-it", NULL};
	int rc, status;

	snprintf(name, sizeof(name), "osd.%d", o->id);
	task_log(o->t, NT_LOG_INFO,
	         "purging osd.%d: its id was allocated but it never came up",
	         o->id);
	rc = osd_ceph(o, args, OSD_CLEANUP, mon_s, &status, NULL);
	if (rc == NT_OK && status == 0)
		return true;
	task_log(o->t, NT_LOG_WARN,
	         "could not purge osd.%d (%s); once the cluster answers: ceph "
	         "osd purge-new osd.%d --yes-i-really-mean-it",
	         o->id,
	         o->out.cause[0] != '\0'  ? o->out.cause
	         : o->out.last[0] != '\0' ? o->out.last
	                                  : "no answer",
	         o->id);
	return false;
}

/* Appends to the run's error what cleanup could not undo. */
static void
osd_note(struct osd *o, const char *what)
{
	size_t n = strlen(o->err);

	snprintf(o->err + n, o->errlen - n, "%s%s",
	         strstr(o->err, "; left behind: ") != NULL ? ", "
	                                                   : "; left behind: ",
	         what);
}

/*
 * Undoes what prepare and start made, in the order the notes give: the
 * daemon, the tmpfs, the label, the id. Only for an OSD that never
 * booted; one that did is left in place.
 */
static void
osd_cleanup(struct osd *o, bool canceled)
{
	int mon_s = canceled && o->mon_s > OSD_CLEANUP_MON ? OSD_CLEANUP_MON
	                                                   : o->mon_s;
	bool known = false, in_map = false, booted = false;
	const cJSON *e;
	char note[96];
	cJSON *dump;
	int64_t id;

	if (o->uuid[0] == '\0' && o->id < 0) {
		task_log(o->t, NT_LOG_INFO,
		         "nothing to undo: no OSD id was requested");
		return;
	}
	task_log(o->t, NT_LOG_INFO, "undoing what this run made (OSD %s%s)",
	         o->uuid[0] != '\0' ? o->uuid : "of unknown uuid",
	         o->id >= 0 ? "" : ", id unknown");
	osd_end_mkfs(o); /* first: it writes on while it lives */
	if (osd_dump(o, OSD_QUIET | OSD_CLEANUP, mon_s, &dump) == NT_OK) {
		known = true;
		e = osd_dump_find(o, dump);
		if (e != NULL) {
			in_map = true;
			booted = !osd_state_has(e, "new");
			if (o->id < 0 &&
			    nt_json_int(e, "osd", &id) == NT_JSON_OK)
				o->id = (int)id;
		}
		cJSON_Delete(dump);
	} else {
		task_log(o->t, NT_LOG_WARN, "the cluster does not answer: %s",
		         o->out.cause[0] != '\0' ? o->out.cause : o->out.last);
	}
	if (o->started && (booted || !known)) {
		task_log(o->t, NT_LOG_WARN,
		         "osd.%d %s: left in place (remove it with ceph osd "
		         "purge %d --yes-i-really-mean-it)",
		         o->id, booted ? "has booted" : "may have booted",
		         o->id);
		snprintf(note, sizeof(note), "osd.%d", o->id);
		osd_note(o, note);
		return;
	}
	if (o->id >= 0 && o->started)
		osd_stop_daemon(o);
	osd_wait_device(o);
	if (o->id >= 0 && !osd_unmount(o)) {
		snprintf(note, sizeof(note), "%s/ceph-%d", OSD_ROOT, o->id);
		osd_note(o, note);
	}
	if (!osd_wipe_label(o))
		osd_note(o, "the BlueStore label");
	if (o->id >= 0 && (in_map || !known) && !osd_purge(o, mon_s)) {
		snprintf(note, sizeof(note), "osd.%d in the OSD map", o->id);
		osd_note(o, note);
	}
	if (o->have_st &&
	    chown(o->dev, o->dev_st.st_uid, o->dev_st.st_gid) != 0)
		task_log(o->t, NT_LOG_WARN, "chown %s back: %s", o->dev,
		         strerror(errno));
}

/* ---- the task ------------------------------------------------------------ */

static enum task_outcome
osd_steps(struct osd *o, cJSON **result)
{
	enum task_outcome r;

	if ((r = osd_params(o)) != TASK_COMPLETED ||
	    (r = osd_settings(o)) != TASK_COMPLETED)
		return r;
	task_log(o->t, NT_LOG_INFO,
	         "creating a BlueStore OSD on %s%s%s (cluster config %s)",
	         o->path, o->dclass != NULL ? ", device class " : "",
	         o->dclass != NULL ? o->dclass : "", o->conf);
	if ((r = osd_resolve(o)) != TASK_COMPLETED ||
	    (r = osd_not_an_osd(o)) != TASK_COMPLETED ||
	    (r = osd_ready_device(o)) != TASK_COMPLETED)
		return r;
	if ((r = osd_prepare(o)) != TASK_COMPLETED ||
	    (r = osd_identify(o)) != TASK_COMPLETED ||
	    (r = osd_activate(o)) != TASK_COMPLETED ||
	    (r = osd_start(o)) != TASK_COMPLETED ||
	    (r = osd_wait_up(o)) != TASK_COMPLETED)
		return r;
	return osd_result(o, result);
}

static enum task_outcome
osd_run(struct task_ctx *t, cJSON **result, char *err, size_t errlen)
{
	enum task_outcome r;
	struct osd *o;

	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		snprintf(err, errlen, "ceph.create-osd: out of memory");
		return TASK_FAILED;
	}
	o->t = t;
	o->id = -1;
	o->err = err;
	o->errlen = errlen;
	wipe_dev_init(&o->d, t, "create-osd", "(none)", err, errlen);
	r = osd_steps(o, result);
	wipe_dev_close(&o->d);
	if (r != TASK_COMPLETED && o->prepared)
		osd_cleanup(o, r == TASK_CANCELED);
	free(o);
	return r;
}

const struct task_def task_ceph_create_osd = {
        .name = "ceph.create-osd",
        .run = osd_run,
};
