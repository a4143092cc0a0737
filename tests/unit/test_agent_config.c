/*
 * test_agent_config.c: the agent's command line and config file: what is
 * required, defaults, validation of each setting, and that the command
 * line overrides the file wherever --config stands.
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_config.h"
#include "nt_err.h"

static char dir[512];
static char conf[600];

static void
cfg_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0') {
		tmp = "/tmp";
	}
	snprintf(dir, sizeof(dir), "%s/nt_agent_config.XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
}

static void
cfg_teardown(void)
{
	unlink(conf);
	rmdir(dir);
}

TestSuite(agent_config, .init = cfg_setup, .fini = cfg_teardown);

static void
write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Parses a NULL-terminated argument list (program name added). */
static int
parse(struct agent_config *c, enum agent_config_action *act, char *err,
      size_t errlen, const char *first, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;
	const char *a;

	argv[argc++] = "nodetask-agent";
	va_start(ap, first);
	for (a = first; a != NULL && argc < 63; a = va_arg(ap, const char *)) {
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	return agent_config_parse(c, argc, argv, act, err, errlen);
}

#define REQ "--controller", "tcp://127.0.0.1:7400", "--state-dir", "/var/x"

Test(agent_config, defaults)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[256] = "";

	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, NULL), NT_OK, "%s",
	             err);
	cr_assert_eq(act, AGENT_CONFIG_RUN);
	cr_assert_str_eq(c.controller, "tcp://127.0.0.1:7400");
	cr_assert_str_eq(c.state_dir, "/var/x");
	cr_assert_eq(c.grace_ms, 10000);
	cr_assert_eq(c.rescan_ms, 30000);
	cr_assert_eq(c.on_shutdown, AGENT_SHUTDOWN_CANCEL);
	cr_assert_eq(c.log_level, NT_LOG_INFO);
	cr_assert_eq(c.n_allow, 0);
	cr_assert_str_eq(c.enroll_token, "");
	cr_assert_neq(c.hostname[0], '\0', "system host name by default");
}

Test(agent_config, required)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[256] = "";

	cr_assert_eq(
	        parse(&c, &act, err, sizeof(err), "--state-dir", "/x", NULL),
	        NT_EINVAL);
	cr_assert(strstr(err, "--controller") != NULL, "%s", err);
	cr_assert_eq(parse(&c, &act, err, sizeof(err), "--controller",
	                   "tcp://h:1", NULL),
	             NT_EINVAL);
	cr_assert(strstr(err, "--state-dir") != NULL, "%s", err);
}

Test(agent_config, all_options)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[256] = "";
	const char *allow[AGENT_ALLOW_MAX + 1];

	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, "--hostname",
	                   "node-7", "--enroll-token=nte_abc",
	                   "--allow-devices", "/dev/sd[b-z],,/dev/loop*",
	                   "--grace", "2s", "--on-shutdown", "finish",
	                   "--rescan", "500ms", "--log-level", "debug", NULL),
	             NT_OK, "%s", err);
	cr_assert_str_eq(c.hostname, "node-7");
	cr_assert_str_eq(c.enroll_token, "nte_abc");
	cr_assert_eq(c.n_allow, 2, "empty patterns are skipped");
	cr_assert_str_eq(c.allow[0], "/dev/sd[b-z]");
	cr_assert_str_eq(c.allow[1], "/dev/loop*");
	cr_assert_eq(c.grace_ms, 2000);
	cr_assert_eq(c.rescan_ms, 500);
	cr_assert_eq(c.on_shutdown, AGENT_SHUTDOWN_FINISH);
	cr_assert_eq(c.log_level, NT_LOG_DEBUG);
	agent_config_allow_list(&c, allow);
	cr_assert_str_eq(allow[1], "/dev/loop*");
	cr_assert_null(allow[2]);
}

Test(agent_config, help_and_version)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[256] = "";

	cr_assert_eq(parse(&c, &act, err, sizeof(err), "--help", NULL), NT_OK);
	cr_assert_eq(act, AGENT_CONFIG_HELP);
	cr_assert_eq(parse(&c, &act, err, sizeof(err), "-h", NULL), NT_OK);
	cr_assert_eq(act, AGENT_CONFIG_HELP);
	cr_assert_eq(parse(&c, &act, err, sizeof(err), "--version", NULL),
	             NT_OK);
	cr_assert_eq(act, AGENT_CONFIG_VERSION);
}

/* Each bad command line fails with a message naming what is wrong. */
Test(agent_config, bad_values)
{
	static const struct {
		const char *opt, *value, *says;
	} cases[] = {
	        {"--controller", "http://x", "nng URL"},
	        {"--controller", "tcp://", "nng URL"},
	        {"--grace", "0", "duration"},
	        {"--grace", "ten", "duration"},
	        {"--grace", "2d", "duration"},
	        {"--rescan", "-1s", "duration"},
	        {"--on-shutdown", "later", "cancel or finish"},
	        {"--log-level", "loud", "debug, info"},
	        {"--hostname", "two words", "host name"},
	        {"--enroll-token", "", "token"},
	        {"--allow-devices", "sd*", "absolute"},
	        {"--state-dir", "", "empty"},
	};
	struct agent_config c;
	enum agent_config_action act;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ,
		                   cases[i].opt, cases[i].value, NULL),
		             NT_EINVAL, "%s %s accepted", cases[i].opt,
		             cases[i].value);
		cr_assert(strstr(err, cases[i].says) != NULL,
		          "%s %s: '%s' lacks '%s'", cases[i].opt,
		          cases[i].value, err, cases[i].says);
		cr_assert_null(strchr(err, '\n'), "one line");
	}
}

Test(agent_config, bad_command_lines)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[256];

	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, "--bogus", NULL),
	             NT_EINVAL);
	cr_assert(strstr(err, "--bogus") != NULL, "%s", err);
	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, "--grace", NULL),
	             NT_EINVAL);
	cr_assert(strstr(err, "needs a value") != NULL, "%s", err);
	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, "extra", NULL),
	             NT_EINVAL);
	cr_assert(strstr(err, "extra") != NULL, "%s", err);
	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, "--help=yes", NULL),
	             NT_EINVAL);
}

Test(agent_config, too_many_patterns)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[256], list[4096] = "";

	for (int i = 0; i <= AGENT_ALLOW_MAX; i++) {
		strcat(list, i > 0 ? ",/dev/x" : "/dev/x");
	}
	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, "--allow-devices",
	                   list, NULL),
	             NT_EINVAL);
	cr_assert(strstr(err, "more than") != NULL, "%s", err);
}

Test(agent_config, file_then_command_line)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[512] = "";

	write_conf("# agent settings\n"
	           "controller = tcp://ctl.example:7400\n"
	           "state-dir = /var/lib/nodetask-agent\n"
	           "grace = 5s\n"
	           "allow-devices = /dev/sdb, /dev/sdc\n"
	           "on-shutdown = finish\n");
	/* --config after --grace: the command line still wins. */
	cr_assert_eq(parse(&c, &act, err, sizeof(err), "--grace", "1s",
	                   "--config", conf, NULL),
	             NT_OK, "%s", err);
	cr_assert_str_eq(c.controller, "tcp://ctl.example:7400");
	cr_assert_eq(c.grace_ms, 1000);
	cr_assert_eq(c.n_allow, 2);
	cr_assert_str_eq(c.allow[1], "/dev/sdc", "spaces trimmed");
	cr_assert_eq(c.on_shutdown, AGENT_SHUTDOWN_FINISH);
}

Test(agent_config, file_errors_name_the_line)
{
	struct agent_config c;
	enum agent_config_action act;
	char err[512] = "", want[700];

	write_conf("controller = tcp://h:1\nstate-dir = /x\ncolour = blue\n");
	cr_assert_eq(parse(&c, &act, err, sizeof(err), "--config", conf, NULL),
	             NT_EINVAL);
	snprintf(want, sizeof(want), "%s:3: unknown setting 'colour'", conf);
	cr_assert_str_eq(err, want);

	write_conf("controller = tcp://h:1\ngrace = soon\n");
	cr_assert_eq(parse(&c, &act, err, sizeof(err), "--config", conf, NULL),
	             NT_EINVAL);
	cr_assert(strstr(err, ":2: --grace:") != NULL, "%s", err);

	/* "config" itself is a command-line-only option. */
	write_conf("config = /etc/other.conf\n");
	cr_assert_eq(parse(&c, &act, err, sizeof(err), "--config", conf, NULL),
	             NT_EINVAL);

	cr_assert_eq(parse(&c, &act, err, sizeof(err), REQ, "--config",
	                   "/nonexistent/agent.conf", NULL),
	             NT_EIO);
	cr_assert(strstr(err, "/nonexistent/agent.conf") != NULL, "%s", err);
}
