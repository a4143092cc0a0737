/*
 * engine.h: the controller's timed work, run from the main thread once a
 * second: expiring unanswered questions (their runs fail and their agents
 * are told to stop).
 */
#ifndef ENGINE_H
#define ENGINE_H

struct store;
struct hub;

void engine_tick(struct store *store, struct hub *hub);

#endif
