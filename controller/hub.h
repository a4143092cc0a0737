/*
 * hub.h: the controller's side of the agent link (nng).
 *
 * The hub listens for agents, authenticates them (enrollment token or node
 * secret), stores their events through the store and answers their long
 * polls with work: dispatches, stops and answers.
 */
#ifndef HUB_H
#define HUB_H

#include "ctl_config.h"

struct store;
struct hub;

int hub_start(struct hub **hp, const struct ctl_config *cfg,
              struct store *store);
void hub_stop(struct hub *h);
/*
 * Something changed for node_id (new run, cancel, answer): answer its
 * agent's parked poll now. Cheap and non-blocking; safe from any thread;
 * h may be NULL.
 */
void hub_notify_node(struct hub *h, const char *node_id);

#endif
