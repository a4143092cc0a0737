/*
 * nt_path.c: file names inside a program's own directories (nt_path.h).
 */
#include "nt_path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
nt_path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = malloc(len);

	if (p != NULL)
		snprintf(p, len, "%s/%s", dir, name);
	return p;
}
