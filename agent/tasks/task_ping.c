/*
 * task_ping.c: node.ping, the smallest task: proves the dispatch path to
 * a node works (and measures it) without touching anything.
 */
#include <sys/sysinfo.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nt_json.h"
#include "task.h"
#include "tasks.h"

/* The agent's --hostname when it passed one, else the kernel's. */
static void
ping_hostname(const struct task_ctx *t, char *out, size_t len)
{
	const char *name;

	if (nt_json_string(t->config, "hostname", &name) == NT_JSON_OK &&
	    name[0] != '\0') {
		snprintf(out, len, "%s", name);
		return;
	}
	if (gethostname(out, len) != 0)
		snprintf(out, len, "unknown");
	out[len - 1] = '\0';
}

static enum task_outcome
ping_run(struct task_ctx *t, cJSON **result, char *err, size_t errlen)
{
	char host[HOST_NAME_MAX + 1];
	struct sysinfo si;
	cJSON *r;

	ping_hostname(t, host, sizeof(host));
	if (sysinfo(&si) != 0)
		si.uptime = 0;
	task_log(t, NT_LOG_INFO, "pong from %s (agent %s)", host,
	         NODETASK_VERSION);
	r = cJSON_CreateObject();
	if (r == NULL || cJSON_AddStringToObject(r, "hostname", host) == NULL ||
	    cJSON_AddStringToObject(r, "agentVersion", NODETASK_VERSION) ==
	            NULL ||
	    cJSON_AddNumberToObject(r, "uptimeSeconds", (double)si.uptime) ==
	            NULL) {
		cJSON_Delete(r);
		snprintf(err, errlen, "node.ping: out of memory");
		return TASK_FAILED;
	}
	*result = r;
	return TASK_COMPLETED;
}

const struct task_def task_node_ping = {
        .name = "node.ping",
        .run = ping_run,
};
