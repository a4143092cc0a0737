/*
 * store_audit.c: the audit log, one row per change anyone asked for.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nt_err.h"
#include "store_internal.h"

static const struct store_stmt store_st_audit_add = {
        STORE_PS_AUDIT_ADD, "audit_add", 6,
        "INSERT INTO audit_log (actor, action, object_type, object_id,"
        " status, detail) VALUES ($1, $2, $3, $4, $5::integer, $6)"};

int
store_audit_add(struct store *s, const struct store_audit *a)
{
	const char *in[6], *p[6];
	char *tmp[6] = {NULL};
	char status[16];
	PGresult *r;
	int rv = NT_OK;

	if (a == NULL || a->actor == NULL || a->action == NULL)
		return NT_EINVAL;
	snprintf(status, sizeof(status), "%d", a->status);
	in[0] = a->actor;
	in[1] = a->action;
	in[2] = a->object_type;
	in[3] = a->object_id;
	in[4] = status;
	in[5] = a->detail;
	/* These may quote what a client sent, valid UTF-8 or not. */
	for (int i = 0; i < 6; i++) {
		p[i] = store_utf8(in[i], &tmp[i]);
		if (in[i] != NULL && p[i] == NULL)
			rv = NT_ENOMEM;
	}
	if (rv == NT_OK) {
		rv = store_exec1(s, &store_st_audit_add, p, &r);
		PQclear(r);
	}
	for (int i = 0; i < 6; i++)
		free(tmp[i]);
	return rv;
}
