/*
 * http.h: the REST API server (civetweb).
 *
 * The server owns a civetweb context whose worker threads route requests
 * to the resource handlers (route_*.c). Handlers reach the database only
 * through the store and tell the agent hub about new work through
 * hub_notify_node().
 */
#ifndef HTTP_H
#define HTTP_H

#include "ctl_config.h"

struct store;
struct hub;
struct http_server;

/*
 * Starts listening on cfg->http_listen with cfg->http_threads workers.
 * hub may be NULL (then nobody is notified). Returns NT_EIO when the port
 * cannot be bound (message logged, naming the address).
 */
int http_server_start(struct http_server **hp, const struct ctl_config *cfg,
                      struct store *store, struct hub *hub);
/* Stops accepting, lets in-flight requests finish, frees everything. */
void http_server_stop(struct http_server *h);

#endif
