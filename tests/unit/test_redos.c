/* The polynomial half of the regex check (pkg/api/redos.c, docs/security.md):
 * two adjacent unbounded repetitions that match a common string, with
 * something after them that can fail, are refused with the field's message
 * naming both and an example input; the patterns users write stay accepted.
 * The backtracking steps are measured with Oniguruma's retry limit
 * (lp_redos_steps): a refused pattern's steps grow with the square of the
 * run's length, an accepted one's linearly. */
#include "lp_test.h"
#include "../../pkg/api/check.h"
#include "../../pkg/api/redos.h"
#include <oniguruma.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *re;
	const char *named; /* the first repetition as the message names it */
} poly_bad[] = {
    {"\\d+\\d+$", "\"\\d+\" and \"\\d+\""},
    {".*.*=.*", "\".*\" and \".*\""},
    {"(\\d+)\\s*(\\d+)$", "\"\\d+\" and \"\\d+\""},
    {"^[a-z0-9]+\\d+x", "\"[a-z0-9]+\" and \"\\d+\""},
    {"^key=\\S+\\S*;", "\"\\S+\" and \"\\S*\""},
    {"(?<a>.+)(?<b>.+)=", "\".+\" and \".+\""},
    {"^\\w+?\\w+:", "\"\\w+?\" and \"\\w+\""},
    {"^\\w+\\w*$", "\"\\w+\" and \"\\w*\""},
};

/* accepted: nothing can fail after them, disjoint sets, possessive, atomic,
 * a literal between them, and patterns of examples/ and the docs */
static const char *const poly_good[] = {
    "\\d+\\d+",
    "[a-z]+\\d+$",
    "\\d++\\d+$",
    "(?>\\d+)\\d+$",
    "\\d+\\.\\d+$",
    ".*.*$",
    "\\s+(?<message>[\\s\\S]*)$",
    "^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<log>.*)$",
    "^(?<key>\\w+)\\s*=\\s*(?<value>\\S+)$",
    "^\\S+ \\S+ \\S+$",
    "level=(?:debug|info)",
};

static void t_poly_refused(void)
{
	char why[768];

	for (size_t i = 0; i < LP_TEST_COUNT(poly_bad); i++) {
		why[0] = 0;
		if (lp_regex_check(poly_bad[i].re, NULL, why, sizeof(why)) != LP_ERR_INVALID) {
			lp_test_fail(__FILE__, __LINE__, "%s accepted", poly_bad[i].re);
			continue;
		}
		LP_CHECK_HAS(why, "backtrack polynomially");
		LP_CHECK_HAS(why, poly_bad[i].named);
		LP_CHECK_HAS(why, "-byte input \"");
		LP_CHECK_HAS(why, "backtracking steps with 64 bytes");
	}
}

static void t_poly_accepted(void)
{
	char why[768];

	for (size_t i = 0; i < LP_TEST_COUNT(poly_good); i++) {
		why[0] = 0;
		if (lp_regex_check(poly_good[i], NULL, why, sizeof(why)) != LP_OK)
			lp_test_fail(__FILE__, __LINE__, "%s refused: %s", poly_good[i], why);
	}
}

/* steps of pattern on prefix + n x pump + suffix */
static long steps_of(const char *pat, const char *prefix, const char *pump, size_t n,
                     const char *suffix)
{
	OnigRegex reg;
	OnigErrorInfo ei;
	char in[4096];
	size_t o;
	long s;

	if (onig_new(&reg, (const OnigUChar *)pat, (const OnigUChar *)pat + strlen(pat),
	             ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &ei) != ONIG_NORMAL)
		return -3;
	o = (size_t)snprintf(in, sizeof(in), "%s", prefix);
	for (size_t k = 0; k < n && o + strlen(pump) < sizeof(in) - 16; k++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "%s", pump);
	o += (size_t)snprintf(in + o, sizeof(in) - o, "%s", suffix);
	s = lp_redos_steps(reg, in, o, 1L << 26);
	onig_free(reg);
	return s;
}

/* Measured with the retry limit: x4 the run gives x16 the steps for the
 * refused patterns Oniguruma does not optimise, x4 for accepted ones. */
static void t_poly_measured(void)
{
	static const struct {
		const char *re, *prefix, *pump, *suffix;
		int quadratic;
	} m[] = {
	    {"\\d+\\d+$", "", "1", "!", 1},
	    {"(\\d+)\\s*(\\d+)$", "", "1", "!", 1},
	    {"^\\w+\\w*$", "", "a", "!", 1},
	    {"^\\d+$", "", "1", "!", 0},
	    {"^\\S+ \\S+ \\S+$", "", "a", "!", 0},
	    {"[a-z]+\\d+$", "", "a", "!", 0},
	    {"\\d++\\d+$", "", "1", "!", 0},
	};

	for (size_t i = 0; i < LP_TEST_COUNT(m); i++) {
		long s64 = steps_of(m[i].re, m[i].prefix, m[i].pump, 64, m[i].suffix);
		long s256 = steps_of(m[i].re, m[i].prefix, m[i].pump, 256, m[i].suffix);
		double ratio = s64 > 0 ? (double)s256 / (double)s64 : 0;
		printf("# %-22s 64 bytes: %7ld steps, 256 bytes: %7ld steps (x%.1f)\n", m[i].re, s64,
		       s256, ratio);
		if (s64 < 0 || s256 < 0) {
			lp_test_fail(__FILE__, __LINE__, "%s: not measured (%ld, %ld)", m[i].re, s64,
			             s256);
			continue;
		}
		if (m[i].quadratic && !(ratio >= 12 && s256 > 20000))
			lp_test_fail(__FILE__, __LINE__, "%s: x%.1f, expected quadratic", m[i].re, ratio);
		if (!m[i].quadratic && ratio > 5)
			lp_test_fail(__FILE__, __LINE__, "%s: x%.1f, expected linear", m[i].re, ratio);
	}
}

/* The message's numbers are the ones measured on its example input. */
static void t_poly_message_measures(void)
{
	char why[768], want[64];
	long s64 = steps_of("\\d+\\d+$", "", "0", 64, "!");

	LP_CHECK_INT(lp_regex_check("\\d+\\d+$", NULL, why, sizeof(why)), LP_ERR_INVALID);
	LP_CHECK_HAS(why, "\"0000000000000000000000000000000000000000000000000000000000000000!\"");
	snprintf(want, sizeof(want), "measured: %ld backtracking steps", s64);
	LP_CHECK_HAS(why, want);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"poly_refused", t_poly_refused},
	    {"poly_accepted", t_poly_accepted},
	    {"poly_measured", t_poly_measured},
	    {"poly_message_measures", t_poly_message_measures},
	};
	return lp_test_main("redos", tests, LP_TEST_COUNT(tests));
}
