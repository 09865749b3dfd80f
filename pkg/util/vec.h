/* pkg/util/vec: geometric growth for plain C arrays, so building an array of
 * n elements one at a time costs O(n) copying, not O(n^2). */
#ifndef LP_UTIL_VEC_H
#define LP_UTIL_VEC_H
#include <stddef.h>
#include "err.h"

/* Makes *v (an array of elements of elem bytes, *cap of them allocated) hold at
 * least need elements: when *cap < need it is reallocated to the first of 8,
 * 16, 32, ... (from 2 * *cap) that is >= need, and *cap updated. The elements
 * past the old capacity are zeroed. On LP_ERR_NOMEM (or LP_ERR_TOO_LARGE when
 * the size would overflow) *v and *cap are unchanged and still owned by the
 * caller. *v may be NULL with *cap 0. */
LP_WUR lp_err lp_vec_reserve(void **v, size_t *cap, size_t need, size_t elem);

#endif
