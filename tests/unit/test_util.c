#include "lp_test.h"
#include "../../pkg/util/b64.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/clock.h"
#include "../../pkg/util/err.h"
#include "../../pkg/util/hash.h"
#include "../../pkg/util/hex.h"
#include "../../pkg/util/htab.h"
#include "../../pkg/util/log.h"
#include "../../pkg/util/mem.h"
#include <jansson.h>
#include <stdlib.h>

static void t_strerror(void)
{
	for (int e = 0; e < LP_ERR_LAST; e++) {
		const char *s = lp_strerror((lp_err)e);
		LP_CHECK(s != NULL);
		LP_CHECK(strcmp(s, "unknown error") != 0);
	}
	LP_CHECK_STR(lp_strerror(LP_ERR_LAST), "unknown error");
	LP_CHECK_STR(lp_strerror((lp_err)-3), "unknown error");
	LP_CHECK(lp_err_retryable(LP_ERR_THROTTLED));
	LP_CHECK(!lp_err_retryable(LP_ERR_INVALID));
}

static void t_buf_basic(void)
{
	struct lp_buf b;
	char *s;

	lp_buf_init(&b, 0);
	LP_CHECK_STR(lp_buf_str(&b), "");
	LP_CHECK_INT(lp_buf_adds(&b, "abc"), LP_OK);
	LP_CHECK_INT(lp_buf_addc(&b, '-'), LP_OK);
	LP_CHECK_INT(lp_buf_addf(&b, "%d/%s", 42, "x"), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "abc-42/x");
	LP_CHECK_INT(b.len, 8);
	lp_buf_reset(&b);
	LP_CHECK_STR(lp_buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		LP_CHECK_INT(lp_buf_adds(&b, "0123456789"), LP_OK);
	LP_CHECK_INT(b.len, 10000);
	s = lp_buf_take(&b);
	LP_CHECK_INT(strlen(s), 10000);
	LP_CHECK(b.ptr == NULL);
	lp_free(s);
	s = lp_buf_take(&b);
	LP_CHECK_STR(s, "");
	lp_free(s);
	lp_buf_free(&b);
	lp_buf_free(NULL);
}

static void t_buf_cap(void)
{
	struct lp_buf b;

	lp_buf_init(&b, 10);
	LP_CHECK_INT(lp_buf_adds(&b, "0123456789"), LP_OK);
	LP_CHECK_INT(lp_buf_adds(&b, "x"), LP_ERR_TOO_LARGE);
	/* on failure the buffer freed itself */
	LP_CHECK(b.ptr == NULL);
	LP_CHECK_INT(b.len, 0);
	LP_CHECK_INT(lp_buf_addf(&b, "%s", "01234567890"), LP_ERR_TOO_LARGE);
	LP_CHECK(b.ptr == NULL);
	lp_buf_free(&b);
}

static void t_mem(void)
{
	char *a = lp_strdup("hello");
	char *b = lp_strndup("hello world", 5);
	void *z = lp_calloc(0, 0);

	LP_CHECK_STR(a, "hello");
	LP_CHECK_STR(b, "hello");
	LP_CHECK(z != NULL);
	LP_CHECK(lp_strdup(NULL) == NULL);
	lp_free(a);
	lp_free(b);
	lp_free(z);
}

/* The allocation-failure hook fails exactly the nth allocation, once. */
static void t_mem_fail_nth(void)
{
	void *p[4] = {0};

	LP_CHECK_INT(lp_mem_fail_nth(3), 0);
	p[0] = lp_malloc(8);
	p[1] = lp_strdup("x");
	LP_CHECK(!lp_mem_fail_fired());
	p[2] = lp_calloc(2, 8);
	LP_CHECK(p[0] && p[1] && !p[2]);
	LP_CHECK(lp_mem_fail_fired());
	p[3] = lp_realloc(NULL, 8); /* off again */
	LP_CHECK(p[3] != NULL);
	lp_mem_fail_nth(10); /* counting: two allocations leave 8 */
	lp_free(lp_malloc(1));
	lp_free(lp_strndup("ab", 1));
	LP_CHECK_INT(lp_mem_fail_nth(0), 8);
	lp_mem_fail_nth(1);
	LP_CHECK(lp_realloc(p[3], 64) == NULL); /* p[3] stays valid */
	lp_mem_fail_nth(0);
	LP_CHECK(!lp_mem_fail_fired());
	for (int i = 0; i < 4; i++)
		lp_free(p[i]);
}

static void t_clock(void)
{
	uint64_t a = lp_clock_mono_ns(), b = lp_clock_mono_ns();
	char ts[21];

	LP_CHECK(b >= a);
	LP_CHECK(lp_clock_system.now_ms(NULL) >= a / 1000000u);
	lp_clock_rfc3339(ts);
	LP_CHECK_INT(strlen(ts), 20);
	LP_CHECK(ts[4] == '-' && ts[10] == 'T' && ts[19] == 'Z');
	/* RFC 3339 text to seconds: what creation times sort by */
	LP_CHECK_INT(lp_clock_rfc3339_parse("1970-01-01T00:00:00Z"), 0);
	LP_CHECK_INT(lp_clock_rfc3339_parse("2026-11-23T18:25:17Z"), 1795458317);
	LP_CHECK_INT(lp_clock_rfc3339_parse("2026-11-23T18:25:18Z") -
	                 lp_clock_rfc3339_parse("2026-11-23T18:25:17Z"),
	             1);
	LP_CHECK_INT(lp_clock_rfc3339_parse(NULL), 0);
	LP_CHECK_INT(lp_clock_rfc3339_parse("yesterday"), 0);
	LP_CHECK_INT(lp_clock_rfc3339_parse("1969-12-31T23:59:59Z"), 0);
}

static char *log_capture(int text, enum lp_log_level min, enum lp_log_level lvl)
{
	char *data = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&data, &size);
	struct lp_log log;
	struct lp_log_obj obj = {"LogPipeline", "team-a", "app"};

	lp_log_init(&log, f, min, text);
	lp_log(&log, lvl, &obj, "reconciled \"%s\" in %d ms", "x\ny", 3);
	fclose(f);
	return data;
}

static void t_log_json(void)
{
	char *line = log_capture(0, LP_LOG_INFO, LP_LOG_WARN);
	json_error_t jerr;
	json_t *o = json_loads(line, 0, &jerr);

	LP_CHECK(o != NULL);
	LP_CHECK_STR(json_string_value(json_object_get(o, "level")), "warn");
	LP_CHECK_STR(json_string_value(json_object_get(o, "msg")), "reconciled \"x\ny\" in 3 ms");
	LP_CHECK_STR(json_string_value(json_object_get(o, "kind")), "LogPipeline");
	LP_CHECK_STR(json_string_value(json_object_get(o, "namespace")), "team-a");
	LP_CHECK_STR(json_string_value(json_object_get(o, "name")), "app");
	LP_CHECK(json_object_get(o, "time") != NULL);
	/* exactly one line */
	LP_CHECK(strchr(line, '\n') == line + strlen(line) - 1);
	json_decref(o);
	free(line);
}

static void t_log_text_and_level(void)
{
	char *line = log_capture(1, LP_LOG_INFO, LP_LOG_ERROR);

	LP_CHECK_HAS(line, "error LogPipeline/team-a/app reconciled");
	free(line);
	line = log_capture(0, LP_LOG_WARN, LP_LOG_DEBUG);
	LP_CHECK_STR(line, "");
	free(line);
	LP_CHECK_INT(lp_log_level_parse("warn"), LP_LOG_WARN);
	LP_CHECK_INT(lp_log_level_parse("loud"), -1);
}

static void t_b64(void)
{
	static const struct {
		const char *in, *out;
		size_t len;
	} ok[] = {
	    {"", "", 0},
	    {"YQ==", "a", 1},
	    {"YWI=", "ab", 2},
	    {"YWJj", "abc", 3},
	    {"aGVsbG8gd29ybGQ=", "hello world", 11},
	    {"AGE=", "\0a", 2},
	};
	static const char *const bad[] = {"YQ=", "Y", "!!!!", "YQ==YQ=="};
	size_t len;
	char *s;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		len = 99;
		s = lp_b64_decode(ok[i].in, 64, &len);
		LP_CHECK(s != NULL);
		if (s) {
			LP_CHECK_INT(len, ok[i].len);
			LP_CHECK(memcmp(s, ok[i].out, ok[i].len) == 0 && s[len] == '\0');
		}
		lp_free(s);
		/* the length alone, as a Secret value counts */
		LP_CHECK_INT(lp_b64_decoded_len(ok[i].in), ok[i].len);
	}
	LP_CHECK_INT(lp_b64_decoded_len(NULL), 0);
	LP_CHECK_INT(lp_b64_decoded_len(""), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = lp_b64_decode(bad[i], 64, NULL);
		if (s)
			lp_test_fail(__FILE__, __LINE__, "\"%s\" decoded", bad[i]);
		lp_free(s);
	}
	LP_CHECK(lp_b64_decode(NULL, 64, NULL) == NULL);
	LP_CHECK(lp_b64_decode("YWJj", 3, NULL) == NULL); /* longer than max */
}

struct hnode {
	struct lp_htab_node hl;
	char key[24];
};

static const char *hnode_key(const struct lp_htab_node *n)
{
	return LP_HTAB_ENTRY(n, const struct hnode, hl)->key;
}

/* Keys k0..k(n-1) in nodes[], inserted in order, with reserve before each. */
static int htab_fill(struct lp_htab *t, struct hnode *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(nodes[i].key, sizeof(nodes[i].key), "k%zu", i);
		if (lp_htab_reserve(t) != LP_OK)
			return -1;
		lp_htab_insert(t, &nodes[i].hl);
	}
	return 0;
}

static void t_htab(void)
{
	/* table-driven: how many keys go in, which are deleted (every del-th, 0:
	 * none), the bucket count expected after the inserts */
	static const struct {
		size_t n, del, nb;
	} cases[] = {
	    {0, 0, 0},      /* empty: no buckets, finds nothing */
	    {1, 0, 64},     /* first reserve: 64 buckets */
	    {64, 2, 64},    /* full but not grown: 64 keys in 64 buckets */
	    {65, 3, 128},   /* growth: the 65th doubles */
	    {1000, 1, 1024} /* several doublings, then everything deleted */
	};
	static struct hnode nodes[1000];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct lp_htab t;
		size_t left = cases[c].n;

		lp_htab_init(&t, hnode_key);
		LP_CHECK(lp_htab_find(&t, "k0") == NULL);
		LP_CHECK(htab_fill(&t, nodes, cases[c].n) == 0);
		LP_CHECK_INT(t.n, cases[c].n);
		LP_CHECK_INT(t.nb, cases[c].nb);
		if (t.nb &&
		    t.n == t.nb) { /* full: a growth that fails for memory keeps it as it was */
			lp_mem_fail_nth(1);
			LP_CHECK(lp_htab_reserve(&t) == LP_ERR_NOMEM);
			lp_mem_fail_nth(0);
			LP_CHECK_INT(t.nb, cases[c].nb);
		}
		for (size_t i = 0; i < cases[c].n; i++) /* find: each key, its own node */
			if (lp_htab_find(&t, nodes[i].key) != &nodes[i].hl)
				lp_test_fail(__FILE__, __LINE__, "case %zu: %s not found", c,
				             nodes[i].key);
		LP_CHECK(lp_htab_find(&t, "absent") == NULL);
		for (size_t i = 0; cases[c].del && i < cases[c].n; i += cases[c].del) {
			struct lp_htab_node **slot = lp_htab_slot(&t, nodes[i].key);
			LP_CHECK(slot && *slot == &nodes[i].hl);
			if (slot && *slot) {
				lp_htab_unlink(&t, slot);
				left--;
			}
		}
		LP_CHECK_INT(t.n, left);
		for (size_t i = 0; i < cases[c].n; i++) {
			int deleted = cases[c].del && i % cases[c].del == 0;
			if ((lp_htab_find(&t, nodes[i].key) != NULL) == deleted)
				lp_test_fail(__FILE__, __LINE__, "case %zu: %s %s", c, nodes[i].key,
				             deleted ? "found after delete" : "lost");
		}
		lp_htab_free(&t);
		LP_CHECK(t.b == NULL && t.nb == 0 && t.n == 0);
	}
}

/* Keys that share a bucket (at 64 buckets) all stay findable, and deleting
 * one in the middle of the chain keeps the others. */
static void t_htab_collisions(void)
{
	struct hnode nodes[8];
	struct lp_htab t;
	size_t n = 0;
	uint64_t want = lp_hash_key("c0") & 63;
	char key[24];

	for (unsigned i = 0; n < 8 && i < 100000; i++) {
		snprintf(key, sizeof(key), "c%u", i);
		if ((lp_hash_key(key) & 63) == want)
			memcpy(nodes[n++].key, key, sizeof(key));
	}
	LP_CHECK_INT(n, 8);
	lp_htab_init(&t, hnode_key);
	for (size_t i = 0; i < n; i++) {
		LP_CHECK(lp_htab_reserve(&t) == LP_OK);
		lp_htab_insert(&t, &nodes[i].hl);
	}
	LP_CHECK_INT(t.nb, 64);
	{
		size_t chain = 0; /* they really share one bucket */
		for (struct lp_htab_node *e = t.b[want]; e; e = e->next)
			chain++;
		LP_CHECK_INT(chain, n);
	}
	for (size_t i = 0; i < n; i++)
		LP_CHECK(lp_htab_find(&t, nodes[i].key) == &nodes[i].hl);
	lp_htab_unlink(&t, lp_htab_slot(&t, nodes[3].key));
	LP_CHECK(lp_htab_find(&t, nodes[3].key) == NULL);
	for (size_t i = 0; i < n; i++)
		if (i != 3)
			LP_CHECK(lp_htab_find(&t, nodes[i].key) == &nodes[i].hl);
	lp_htab_free(&t);
}

static void t_hex(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
	    {"", 0, ""},
	    {"\x00", 1, "00"},
	    {"\x0f\xf0", 2, "0ff0"},
	    {"\xde\xad\xbe\xef", 4, "deadbeef"},
	    {"\x01\x23\x45\x67\x89\xab\xcd\xef", 8, "0123456789abcdef"},
	};
	char out[17];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		lp_hex_encode(out, cases[i].in, cases[i].n);
		LP_CHECK_STR(out, cases[i].want);
	}
	/* decoding gives the bytes back; a short or non-hex text fails */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char bin[8];
		LP_CHECK(lp_hex_decode(bin, cases[i].want, cases[i].n));
		LP_CHECK(!memcmp(bin, cases[i].in, cases[i].n));
	}
	{
		static const char *const bad[] = {"0", "0g", "AB", "a ", "-1"};
		unsigned char bin[1];
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			LP_CHECK(!lp_hex_decode(bin, bad[i], 1));
		LP_CHECK(!lp_hex_decode(bin, NULL, 1));
		LP_CHECK(lp_hex_decode(bin, "7fzz", 1) && bin[0] == 0x7f); /* the first 2 only */
	}
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"strerror", t_strerror},
	    {"buf_basic", t_buf_basic},
	    {"buf_cap", t_buf_cap},
	    {"mem", t_mem},
	    {"mem_fail_nth", t_mem_fail_nth},
	    {"clock", t_clock},
	    {"log_json", t_log_json},
	    {"log_text_and_level", t_log_text_and_level},
	    {"b64", t_b64},
	    {"htab", t_htab},
	    {"htab_collisions", t_htab_collisions},
	    {"hex", t_hex},
	};
	return lp_test_main("util", tests, LP_TEST_COUNT(tests));
}
