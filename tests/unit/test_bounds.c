/* Bounded input: geometric array growth (lp_vec_reserve), the YAML loader's
 * cap on what aliases expand to, and lp_problems_add keeping many problems. */
#include "lp_test.h"
#include "../../pkg/api/api.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/mem.h"
#include "../../pkg/util/vec.h"
#include <jansson.h>
#include <stdint.h>

static void vec_growth_is_geometric(void)
{
	int *v = NULL;
	size_t cap = 0, reallocs = 0;

	for (size_t n = 0; n < 100000; n++) {
		size_t old = cap;
		LP_CHECK_INT(lp_vec_reserve((void **)&v, &cap, n + 1, sizeof(*v)), LP_OK);
		if (cap != old)
			reallocs++;
		v[n] = (int)n;
	}
	LP_CHECK(cap >= 100000 && cap < 2 * 131072);
	LP_CHECK(reallocs <= 15); /* 8, 16, ... 131072 */
	LP_CHECK_INT(v[99999], 99999);
	/* already big enough: nothing happens */
	lp_mem_fail_nth(SIZE_MAX); /* counts: what is left says how many happened */
	LP_CHECK_INT(lp_vec_reserve((void **)&v, &cap, 10, sizeof(*v)), LP_OK);
	LP_CHECK(lp_mem_fail_nth(0) == SIZE_MAX);
	/* a jump: straight to a power of two that holds it, new room zeroed */
	lp_free(v);
	v = NULL;
	cap = 0;
	LP_CHECK_INT(lp_vec_reserve((void **)&v, &cap, 1000, sizeof(*v)), LP_OK);
	LP_CHECK_INT(cap, 1024);
	LP_CHECK_INT(v[1023], 0);
	lp_free(v);
}

static void vec_overflow_refused(void)
{
	char *v = NULL;
	size_t cap = 0;

	LP_CHECK_INT(lp_vec_reserve((void **)&v, &cap, SIZE_MAX / 2 + 2, 4), LP_ERR_TOO_LARGE);
	LP_CHECK(v == NULL && cap == 0);
}

/* levels of `width` aliases each, in one document */
static char *bomb(int levels, int width)
{
	struct lp_buf b;

	lp_buf_init(&b, 0);
	if (lp_buf_addf(&b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"))
		return NULL;
	for (int i = 1; i < levels; i++) {
		if (lp_buf_addf(&b, "a%d: &a%d [", i, i))
			return NULL;
		for (int k = 0; k < width; k++)
			if (lp_buf_addf(&b, "%s*a%d", k ? ", " : "", i - 1))
				return NULL;
		if (lp_buf_addf(&b, "]\n"))
			return NULL;
	}
	return lp_buf_take(&b);
}

static void alias_bomb_refused(void)
{
	struct lp_yaml_docs d;
	char *y = bomb(9, 10);

	LP_CHECK(y != NULL);
	LP_CHECK(strlen(y) < 1000);
	LP_CHECK_INT(lp_yaml_load_string(&d, y, strlen(y)), LP_ERR_PARSE);
	LP_CHECK_HAS(d.error, "excessive aliasing");
	lp_yaml_docs_free(&d);
	lp_free(y);
}

static void small_aliases_still_work(void)
{
	struct lp_yaml_docs d;
	char *y = bomb(3, 10); /* 1,000 scalars: well under the cap */

	LP_CHECK_INT(lp_yaml_load_string(&d, y, strlen(y)), LP_OK);
	LP_CHECK_INT(d.n, 1);
	if (d.n == 1) {
		json_t *a2 = json_object_get(d.v[0].root, "a2");
		LP_CHECK_INT(json_array_size(a2), 10);
		LP_CHECK_INT(json_array_size(json_array_get(a2, 9)), 10);
	}
	lp_yaml_docs_free(&d);
	lp_free(y);
}

static void many_problems(void)
{
	struct lp_problems p = {NULL, 0};

	for (int i = 0; i < 20000; i++)
		LP_CHECK_INT(lp_problems_add(&p, "spec.x", "problem %d", i), LP_OK);
	LP_CHECK_INT(p.n, 20000);
	LP_CHECK_STR(p.v[19999].message, "problem 19999");
	LP_CHECK_STR(p.v[8].message, "problem 8");
	lp_problems_free(&p);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"vec_growth_is_geometric", vec_growth_is_geometric},
	    {"vec_overflow_refused", vec_overflow_refused},
	    {"alias_bomb_refused", alias_bomb_refused},
	    {"small_aliases_still_work", small_aliases_still_work},
	    {"many_problems", many_problems},
	};
	return lp_test_main("bounds", tests, LP_TEST_COUNT(tests));
}
