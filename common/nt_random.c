/*
 * nt_random.c: nt_random_bytes (declared in nt_hash.h), on its own so that
 * a program needing only random bytes (the agent: node ids, spool names)
 * does not link nt_hash.o and, through it, libcrypto: loading libcrypto
 * alone adds about 1.4 MB to a process's resident set.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>

#include "nt_err.h"
#include "nt_hash.h"

int
nt_random_bytes(void *out, size_t len)
{
	uint8_t *buf = out;
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return NT_EIO;
		}
		got += (size_t)n;
	}
	return NT_OK;
}
