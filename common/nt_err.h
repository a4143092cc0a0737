/*
 * nt_err.h: error codes shared by every nodetask module.
 *
 * Functions return 0 (NT_OK) or one of these; the caller decides what a
 * code means for its user (an HTTP status, an exit code, a log line).
 */
#ifndef NT_ERR_H
#define NT_ERR_H

#include <stddef.h>

enum nt_err {
	NT_OK = 0,
	NT_EINVAL,    /* bad input from a caller or peer */
	NT_ENOMEM,    /* allocation failed */
	NT_ENOTFOUND, /* the named object does not exist */
	NT_ECONFLICT, /* the object's state forbids the change */
	NT_EUNAVAIL,  /* a needed service (database, peer) is down */
	NT_EIO,       /* an I/O or system call failed */
	NT_EPERM,     /* not allowed */
	NT_ETIMEDOUT, /* gave up waiting */
	NT_ECLOSED,   /* the object is shutting down */
	NT_EPROTO,    /* a peer broke the protocol */
	NT_EEXIST,    /* the object already exists */
	NT_ETOOBIG,   /* input larger than allowed */
};

/* A short lowercase description, e.g. "not found". */
const char *nt_strerror(int err);
/* Formats a reason into err (when err is non-NULL and errlen > 0). */
void nt_errf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
