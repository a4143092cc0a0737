/*
 * nt_config.h: the configuration file format shared by both programs.
 *
 * One "key = value" per line; '#' starts a comment; blank lines ignored;
 * keys are the long command-line option names without "--" (so
 * "db = host=/run/postgresql dbname=nodetask" equals --db ...). Values run
 * to the end of the line, surrounding spaces trimmed, optional "quotes".
 */
#ifndef NT_CONFIG_H
#define NT_CONFIG_H

#include <stddef.h>

/*
 * Calls fn(key, value, line, arg) for every setting in path. Stops at the
 * first non-zero return of fn and returns it. A syntax error or unreadable
 * file writes "FILE:LINE: reason" to err and returns NT_EINVAL / NT_EIO.
 */
typedef int (*nt_config_fn)(const char *key, const char *value, int line,
                            void *arg);
int nt_config_load(const char *path, nt_config_fn fn, void *arg, char *err,
                   size_t errlen);

#endif
