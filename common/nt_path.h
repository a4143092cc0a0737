/*
 * nt_path.h: file names inside a program's own directories.
 */
#ifndef NT_PATH_H
#define NT_PATH_H

/* "dir/name", malloc'd (caller frees); NULL when out of memory. */
char *nt_path_join(const char *dir, const char *name);

#endif
