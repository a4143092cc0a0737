/*
 * store_migrations.h: the schema migrations compiled into the controller.
 *
 * The table is generated at build time from the SQL files in
 * controller/migrations (in file-name order) by migrations/embed.cmake;
 * store_migrate() applies the ones the database has not recorded yet.
 */
#ifndef STORE_MIGRATIONS_H
#define STORE_MIGRATIONS_H

struct store_migration {
	int version;      /* from the file name's leading number */
	const char *name; /* the file name, e.g. "001_schema.sql" */
	const char *sql;  /* the file's text, run as one simple query */
};

extern const struct store_migration store_migrations[];
extern const int store_migrations_count;

#endif
