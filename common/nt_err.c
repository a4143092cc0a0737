/*
 * nt_err.c: descriptions of the nodetask error codes.
 */
#include "nt_err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static const char *const nt_err_text[] = {
        [NT_OK] = "ok",
        [NT_EINVAL] = "invalid argument",
        [NT_ENOMEM] = "out of memory",
        [NT_ENOTFOUND] = "not found",
        [NT_ECONFLICT] = "conflict",
        [NT_EUNAVAIL] = "unavailable",
        [NT_EIO] = "i/o error",
        [NT_EPERM] = "not permitted",
        [NT_ETIMEDOUT] = "timed out",
        [NT_ECLOSED] = "closed",
        [NT_EPROTO] = "protocol error",
        [NT_EEXIST] = "already exists",
        [NT_ETOOBIG] = "too big",
};

const char *
nt_strerror(int err)
{
	size_t n = sizeof(nt_err_text) / sizeof(nt_err_text[0]);

	if (err < 0 || (size_t)err >= n || nt_err_text[err] == NULL) {
		return "unknown error";
	}
	return nt_err_text[err];
}

void
nt_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
