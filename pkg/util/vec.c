/* pkg/util/vec.c: see vec.h. */
#include "vec.h"
#include "mem.h"
#include <stdint.h>
#include <string.h>

lp_err lp_vec_reserve(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return LP_OK;
	if (elem == 0)
		return LP_ERR_INVALID;
	if (*cap > SIZE_MAX / 2)
		return LP_ERR_TOO_LARGE;
	ncap = *cap * 2 > 8 ? *cap * 2 : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return LP_ERR_TOO_LARGE;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return LP_ERR_TOO_LARGE;
	p = lp_realloc(*v, ncap * elem);
	if (!p)
		return LP_ERR_NOMEM;
	memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
	*v = p;
	*cap = ncap;
	return LP_OK;
}
