/* pkg/util/hash: the one string/byte hash (64-bit FNV-1a). Not for anything
 * an attacker may choose to collide with on purpose where that matters: the
 * tables that use it are bounded or keyed by our own names. */
#ifndef LP_UTIL_HASH_H
#define LP_UTIL_HASH_H
#include <stddef.h>
#include <stdint.h>

#define LP_HASH_SEED 1469598103934665603ull /* FNV-1a offset basis */

/* Folds n bytes at p into h; h = 0 starts a new hash (same as LP_HASH_SEED). */
uint64_t lp_hash_bytes(uint64_t h, const void *p, size_t n);
/* Folds s and its terminating NUL into h (NULL as ""), so that ("ab","c") and
 * ("a","bc") differ; h = 0 starts a new hash. */
uint64_t lp_hash_str(uint64_t h, const char *s);
/* Hash of the characters of s (no NUL folded in): for hash tables keyed by string. */
uint64_t lp_hash_key(const char *s);

#endif
