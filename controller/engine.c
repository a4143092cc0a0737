/*
 * engine.c: timed work of the controller (see engine.h).
 */
#include "engine.h"

#include <stdlib.h>

#include "hub.h"
#include "nt_err.h"
#include "nt_log.h"
#include "store.h"

void
engine_tick(struct store *store, struct hub *hub)
{
	char(*nodes)[NT_UUID_BUFLEN] = NULL;
	size_t n = 0;
	int rv;

	rv = store_questions_expire(store, &nodes, &n);
	if (rv != NT_OK) {
		/* The database being down is reported by the requests. */
		if (rv != NT_EUNAVAIL)
			nt_warn("engine: expiring questions: %s",
			        nt_strerror(rv));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		nt_info("engine: a question of node %s expired; its run failed",
		        nodes[i]);
		hub_notify_node(hub, nodes[i]);
	}
	free(nodes);
}
