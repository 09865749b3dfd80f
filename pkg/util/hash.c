/* pkg/util/hash.c: 64-bit FNV-1a (see hash.h). */
#include "hash.h"
#include <string.h>

#define FNV_PRIME 1099511628211ull

uint64_t lp_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (!h)
		h = LP_HASH_SEED;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t lp_hash_str(uint64_t h, const char *s)
{
	return lp_hash_bytes(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

uint64_t lp_hash_key(const char *s)
{
	uint64_t h = LP_HASH_SEED;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= FNV_PRIME;
	}
	return h;
}
