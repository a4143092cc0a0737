/*
 * nt_config.c: reader for the "key = value" configuration file.
 *
 * A '#' starts a comment at the start of a line or after whitespace, so
 * values such as "tcp://host#1" keep their '#'. A value in double quotes
 * is taken verbatim (no escapes) and may hold '#' and outer spaces.
 */
#include "nt_config.h"
#include "nt_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
nt_config_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool
nt_config_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static char *
nt_config_skip_space(char *s)
{
	while (nt_config_space(*s)) {
		s++;
	}
	return s;
}

/* True when only whitespace, or whitespace and a comment, is left. */
static bool
nt_config_rest_empty(const char *s)
{
	const char *p = s;

	while (nt_config_space(*p)) {
		p++;
	}
	return *p == '\0' || (*p == '#' && p > s);
}

/*
 * Unquoted value: up to a '#' after whitespace, trailing spaces trimmed.
 * v[-1] exists (it is the '=' or a space after it).
 */
static void
nt_config_plain_value(char *v)
{
	char *end = v;

	for (char *p = v; *p != '\0'; p++) {
		if (*p == '#' && nt_config_space(p[-1])) {
			break;
		}
		if (!nt_config_space(*p)) {
			end = p + 1;
		}
	}
	*end = '\0';
}

/*
 * Splits one line in place. Returns NULL and sets *key for a blank or
 * comment line, else a reason for a syntax error.
 */
static const char *
nt_config_split(char *line, char **key, char **value)
{
	char *s = nt_config_skip_space(line);
	char *k = s;
	char *v;

	*key = NULL;
	if (*s == '\0' || *s == '#') {
		return NULL;
	}
	while (nt_config_keychar(*s)) {
		s++;
	}
	if (s == k) {
		return "expected a key";
	}
	v = nt_config_skip_space(s);
	if (*v != '=') {
		return "expected '=' after the key";
	}
	*s = '\0';
	v = nt_config_skip_space(v + 1);
	if (*v == '"') {
		char *close = strchr(v + 1, '"');
		if (close == NULL) {
			return "unterminated quoted value";
		}
		if (!nt_config_rest_empty(close + 1)) {
			return "text after the closing quote";
		}
		*close = '\0';
		v++;
	} else {
		nt_config_plain_value(v);
	}
	*key = k;
	*value = v;
	return NULL;
}

static int
nt_config_read(FILE *f, const char *path, nt_config_fn fn, void *arg, char *err,
               size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	int rv = NT_OK;

	while (rv == NT_OK && (n = getline(&line, &cap, f)) >= 0) {
		char *key = NULL, *value = NULL, *text = line;
		const char *why;

		lineno++;
		if ((size_t)n != strlen(line)) {
			why = "NUL byte in line";
		} else {
			if (n > 0 && line[n - 1] == '\n') {
				line[n - 1] = '\0';
			}
			if (lineno == 1 &&
			    strncmp(text, "\xef\xbb\xbf", 3) == 0) {
				text += 3; /* UTF-8 byte order mark */
			}
			why = nt_config_split(text, &key, &value);
		}
		if (why != NULL) {
			nt_errf(err, errlen, "%s:%d: %s", path, lineno, why);
			rv = NT_EINVAL;
		} else if (key != NULL) {
			rv = fn(key, value, lineno, arg);
		}
	}
	if (rv == NT_OK && ferror(f)) {
		nt_errf(err, errlen, "%s:%d: %s", path, lineno + 1,
		        strerror(errno));
		rv = NT_EIO;
	}
	free(line);
	return rv;
}

int
nt_config_load(const char *path, nt_config_fn fn, void *arg, char *err,
               size_t errlen)
{
	FILE *f;
	int rv;

	if (path == NULL || fn == NULL) {
		nt_errf(err, errlen, "no configuration file given");
		return NT_EINVAL;
	}
	if ((f = fopen(path, "r")) == NULL) {
		nt_errf(err, errlen, "%s: %s", path, strerror(errno));
		return NT_EIO;
	}
	rv = nt_config_read(f, path, fn, arg, err, errlen);
	fclose(f);
	return rv;
}
