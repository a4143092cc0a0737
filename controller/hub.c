/*
 * hub.c: placeholder until the agent link lands; notifies nobody.
 */
#include "hub.h"
#include "nt_err.h"

#include <stddef.h>

int
hub_start(struct hub **hp, const struct ctl_config *cfg, struct store *store)
{
	(void)cfg;
	(void)store;
	*hp = NULL;
	return NT_OK;
}

void
hub_stop(struct hub *h)
{
	(void)h;
}

void
hub_notify_node(struct hub *h, const char *node_id)
{
	(void)h;
	(void)node_id;
}
