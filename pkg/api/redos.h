/* pkg/api/redos: the super-linear backtracking check every user regex passes
 * (see redos.c for how inputs are built from the pattern's structure). */
#ifndef LP_API_REDOS_H
#define LP_API_REDOS_H
#include <stddef.h>
#include <oniguruma.h>
#include "../util/err.h"

/* Backtracking steps (Oniguruma's retry count, per search) one attack input
 * may take before the regex is refused. A linear regex needs a few hundred on
 * these ~50-byte inputs; an exponential one runs past it within microseconds. */
#define LP_REDOS_STEPS 100000

/* Checks the compiled reg (borrowed; compiled from pattern with the Ruby
 * syntax and UTF-8) against inputs built from pattern. LP_OK when none takes
 * more than LP_REDOS_STEPS and no two adjacent unbounded repetitions share a
 * string with something after them that can fail (see redos.c); LP_ERR_INVALID with why set to a
 * message that carries the example input; LP_ERR_NOMEM. */
LP_WUR lp_err lp_redos_check(OnigRegex reg, const char *pattern, char *why, size_t whysz);

/* Backtracking steps Oniguruma takes for one match of reg at the start of
 * s[0..len): its retry count, found as the smallest retry limit in match that
 * is not exceeded (to within 1.6 %). -1 when it is above max; -2 on no memory. */
long lp_redos_steps(OnigRegex reg, const char *s, size_t len, long max);

#endif
