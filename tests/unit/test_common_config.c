/*
 * test_common_config.c: the "key = value" configuration file reader.
 *
 * Each test writes its file into a fresh mkdtemp directory that the
 * suite's fini removes again.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nt_config.h"
#include "nt_err.h"

#define MAXSET 32

struct setting {
	char key[64];
	char value[256];
	int line;
};

struct seen {
	struct setting s[MAXSET];
	int n;
	int stop_at; /* return 7 from the callback for this entry (1-based) */
};

static char dir[512];
static char path[600];

static void
cfg_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0') {
		tmp = "/tmp";
	}
	snprintf(dir, sizeof(dir), "%s/nt_config_test.XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp in %s", tmp);
	snprintf(path, sizeof(path), "%s/test.conf", dir);
}

static void
cfg_teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(config, .init = cfg_setup, .fini = cfg_teardown);

static void
cfg_write(const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static int
cfg_collect(const char *key, const char *value, int line, void *arg)
{
	struct seen *seen = arg;
	struct setting *s;

	cr_assert_lt(seen->n, MAXSET);
	s = &seen->s[seen->n++];
	snprintf(s->key, sizeof(s->key), "%s", key);
	snprintf(s->value, sizeof(s->value), "%s", value);
	s->line = line;
	return seen->n == seen->stop_at ? 7 : 0;
}

static void
check_setting(const struct seen *seen, int i, const char *key,
              const char *value, int line)
{
	cr_assert_lt(i, seen->n, "only %d settings", seen->n);
	cr_assert_str_eq(seen->s[i].key, key, "setting %d", i);
	cr_assert_str_eq(seen->s[i].value, value, "setting %d (%s)", i, key);
	cr_assert_eq(seen->s[i].line, line, "setting %d (%s)", i, key);
}

static int
cfg_load(const char *text, struct seen *seen, char *err, size_t errlen)
{
	cfg_write(text, strlen(text));
	return nt_config_load(path, cfg_collect, seen, err, errlen);
}

Test(config, settings_comments_and_quotes)
{
	static const char text[] =
	        "# nodetask controller\n"
	        "\n"
	        "listen = http://127.0.0.1:8080\n"
	        "   db=host=/run/postgresql dbname=nodetask   \n"
	        "\t# indented comment\n"
	        "log-level\t=\tdebug # trailing comment\n"
	        "agent-url = tcp://node#1:5555\n"
	        "name = \"  spaced # not a comment  \"\n"
	        "quoted = \"x\"   # comment after quotes\n"
	        "empty =\n"
	        "empty-quoted = \"\"\n"
	        "inner = say \"hi\" there\n"
	        "hash = #only a comment\n"
	        "   \t  \n"
	        "listen = http://[::1]:9090\n"
	        "last = no newline";
	struct seen seen = {0};
	char err[1024] = "";

	cr_assert_eq(cfg_load(text, &seen, err, sizeof(err)), NT_OK, "%s", err);
	cr_assert_eq(seen.n, 12);
	check_setting(&seen, 0, "listen", "http://127.0.0.1:8080", 3);
	check_setting(&seen, 1, "db", "host=/run/postgresql dbname=nodetask",
	              4);
	check_setting(&seen, 2, "log-level", "debug", 6);
	check_setting(&seen, 3, "agent-url", "tcp://node#1:5555", 7);
	check_setting(&seen, 4, "name", "  spaced # not a comment  ", 8);
	check_setting(&seen, 5, "quoted", "x", 9);
	check_setting(&seen, 6, "empty", "", 10);
	check_setting(&seen, 7, "empty-quoted", "", 11);
	check_setting(&seen, 8, "inner", "say \"hi\" there", 12);
	check_setting(&seen, 9, "hash", "", 13);
	/* Repeated keys are all reported, in order; the caller picks. */
	check_setting(&seen, 10, "listen", "http://[::1]:9090", 15);
	check_setting(&seen, 11, "last", "no newline", 16);
	cr_assert_str_eq(err, "", "err written on success");
}

Test(config, crlf_and_byte_order_mark)
{
	struct seen seen = {0};

	cr_assert_eq(cfg_load("\xef\xbb\xbf"
	                      "a = 1\r\n"
	                      "b = \"two\"\r\n"
	                      "\r\n"
	                      "c = 3 # x\r\n",
	                      &seen, NULL, 0),
	             NT_OK);
	cr_assert_eq(seen.n, 3);
	check_setting(&seen, 0, "a", "1", 1);
	check_setting(&seen, 1, "b", "two", 2);
	check_setting(&seen, 2, "c", "3", 4);
}

Test(config, empty_file)
{
	struct seen seen = {0};

	cr_assert_eq(cfg_load("", &seen, NULL, 0), NT_OK);
	cr_assert_eq(seen.n, 0);
	cr_assert_eq(cfg_load("# only\n\n   # comments\n", &seen, NULL, 0),
	             NT_OK);
	cr_assert_eq(seen.n, 0);
}

static void
check_syntax_error(const char *text, int line, const char *reason)
{
	struct seen seen = {0};
	char err[1024] = "";
	char want[700];

	cr_assert_eq(cfg_load(text, &seen, err, sizeof(err)), NT_EINVAL,
	             "accepted: %s", text);
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0,
	             "error \"%s\" does not start with \"%s\"", err, want);
	cr_assert_not_null(strstr(err, reason), "error \"%s\" lacks \"%s\"",
	                   err, reason);
	/* Lines before the error were delivered, nothing after it. */
	cr_assert_eq(seen.n, line - 1);
}

Test(config, syntax_errors)
{
	check_syntax_error("a = 1\nb = 2\njust words\n", 3, "'='");
	check_syntax_error("a = 1\n= value\n", 2, "key");
	check_syntax_error("bad key = x\n", 1, "'='");
	check_syntax_error("k@y = x\n", 1, "'='");
	check_syntax_error("a = 1\nb = \"open\nc = 3\n", 2, "unterminated");
	check_syntax_error("q = \"a\" b\n", 1, "after the closing quote");
	check_syntax_error("q = \"a\"# b\n", 1, "after the closing quote");
	check_syntax_error("a = 1\n\xef\xbb\xbf"
	                   "b = 2\n",
	                   2, "key");
}

Test(config, nul_byte_is_an_error)
{
	static const char text[] = "a = 1\nb = x\0y\n";
	char err[1024] = "";
	struct seen seen = {0};
	char want[700];

	cfg_write(text, sizeof(text) - 1);
	cr_assert_eq(nt_config_load(path, cfg_collect, &seen, err, sizeof(err)),
	             NT_EINVAL);
	snprintf(want, sizeof(want), "%s:2: ", path);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	cr_assert_eq(seen.n, 1);
}

Test(config, callback_result_stops_loading)
{
	struct seen seen = {.stop_at = 2};
	char err[1024] = "";

	cr_assert_eq(cfg_load("a = 1\nb = 2\nc = 3\n", &seen, err, sizeof(err)),
	             7);
	cr_assert_eq(seen.n, 2);
	cr_assert_str_eq(err, "", "err written for the callback's error");
}

Test(config, unreadable_files)
{
	struct seen seen = {0};
	char err[1024] = "";
	char missing[600];

	snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
	cr_assert_eq(
	        nt_config_load(missing, cfg_collect, &seen, err, sizeof(err)),
	        NT_EIO);
	cr_assert_eq(strncmp(err, missing, strlen(missing)), 0, "%s", err);
	cr_assert_not_null(strstr(err, "No such file"), "%s", err);

	/* A directory opens but cannot be read. */
	err[0] = '\0';
	cr_assert_eq(nt_config_load(dir, cfg_collect, &seen, err, sizeof(err)),
	             NT_EIO);
	cr_assert_eq(strncmp(err, dir, strlen(dir)), 0, "%s", err);
	cr_assert_eq(seen.n, 0);

	/* No err buffer: still the right code, no crash. */
	cr_assert_eq(nt_config_load(missing, cfg_collect, &seen, NULL, 0),
	             NT_EIO);
	cr_assert_eq(nt_config_load(NULL, cfg_collect, &seen, err, sizeof(err)),
	             NT_EINVAL);
}

Test(config, short_error_buffer_is_terminated)
{
	struct seen seen = {0};
	char err[8];

	memset(err, 'x', sizeof(err));
	cr_assert_eq(cfg_load("oops\n", &seen, err, sizeof(err)), NT_EINVAL);
	cr_assert_eq(err[sizeof(err) - 1], '\0');
	cr_assert_eq(strlen(err), sizeof(err) - 1);
}
