/* pkg/kube pieces that need no server: Status mapping, backoff, the watch line
 * splitter, conditions, paths, the work queue on a fake clock, the event loop. */
#include "lp_test.h"
#include "../../pkg/kube/apply.h"
#include "../../pkg/kube/client.h"
#include "../../pkg/kube/gvr.h"
#include "../../pkg/kube/informer.h"
#include "../../pkg/kube/workqueue.h"
#include "../../pkg/util/loop.h"
#include "../../pkg/util/mem.h"
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- Status → lp_err ---- */

struct status_case {
	long code;
	const char *body;
	lp_err want;
	const char *reason;
	const char *message;
};

static const struct status_case status_cases[] = {
    {200, "{}", LP_OK, "", ""},
    {201, NULL, LP_OK, "", ""},
    {0, NULL, LP_ERR_HTTP, "", ""},
    {404,
     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
     "\"configmaps \\\"x\\\" not found\",\"reason\":\"NotFound\",\"code\":404}",
     LP_ERR_NOTFOUND, "NotFound", "configmaps \"x\" not found"},
    {409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"exists\"}",
     LP_ERR_CONFLICT, "AlreadyExists", "exists"},
    {409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"modified\"}", LP_ERR_CONFLICT,
     "Conflict", "modified"},
    {410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old resource version\"}",
     LP_ERR_GONE, "Expired", "too old resource version"},
    {500, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"x\"}", LP_ERR_GONE, "Expired",
     "x"},
    {422,
     "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"message\":\"spec.x: Invalid value\","
     "\"details\":{\"causes\":[{\"field\":\"spec.x\"}]}}",
     LP_ERR_INVALID, "Invalid", "spec.x: Invalid value"},
    {401, "not json", LP_ERR_UNAUTHORIZED, "", ""},
    {403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"no\"}", LP_ERR_FORBIDDEN,
     "Forbidden", "no"},
    {415, "", LP_ERR_UNSUPPORTED, "", ""},
    {429, "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"slow\"}",
     LP_ERR_THROTTLED, "TooManyRequests", "slow"},
    {500, "{\"kind\":\"NotStatus\",\"reason\":\"X\",\"message\":\"Y\"}", LP_ERR_SERVER, "", ""},
    {503, NULL, LP_ERR_SERVER, "", ""},
    {504, NULL, LP_ERR_TIMEOUT, "", ""},
    {400, "{\"kind\":\"Status\",\"reason\":\"BadRequest\",\"message\":\"b\"}", LP_ERR_INVALID,
     "BadRequest", "b"},
};

static void t_status_to_err(void)
{
	struct lp_buf reason, message;

	lp_buf_init(&reason, 0);
	lp_buf_init(&message, 0);
	for (size_t i = 0; i < LP_TEST_COUNT(status_cases); i++) {
		const struct status_case *c = &status_cases[i];
		lp_err e = lp_kube_status_to_err(c->code, c->body, c->body ? strlen(c->body) : 0,
		                                 &reason, &message);
		if (e != c->want || strcmp(lp_buf_str(&reason), c->reason) != 0 ||
		    strcmp(lp_buf_str(&message), c->message) != 0)
			lp_test_fail(__FILE__, __LINE__, "case %zu (%ld): got %d \"%s\" \"%s\"", i,
			             c->code, e, lp_buf_str(&reason), lp_buf_str(&message));
	}
	lp_buf_free(&reason);
	lp_buf_free(&message);
}

/* ---- backoff ---- */

static void t_backoff(void)
{
	/* d = min(cap, base * 2^(n-1)); delay in [d/2, d] */
	struct {
		int n;
		uint64_t lo, hi;
	} rows[] = {
	    {1, 125, 250}, {2, 250, 500}, {3, 500, 1000}, {8, 15000, 30000}, {40, 15000, 30000}};

	for (size_t i = 0; i < LP_TEST_COUNT(rows); i++) {
		uint64_t mn = UINT64_MAX, mx = 0;
		for (uint32_t r = 0; r < 2000; r++) {
			uint64_t d = lp_kube_backoff_ms(rows[i].n, 250, 30000, -1, r * 2654435761u);
			if (d < mn)
				mn = d;
			if (d > mx)
				mx = d;
		}
		if (mn < rows[i].lo || mx > rows[i].hi || mn == mx)
			lp_test_fail(
			    __FILE__, __LINE__, "n=%d: range [%llu,%llu] not in [%llu,%llu]",
			    rows[i].n, (unsigned long long)mn, (unsigned long long)mx,
			    (unsigned long long)rows[i].lo, (unsigned long long)rows[i].hi);
	}
	/* Retry-After wins, capped */
	LP_CHECK_INT(lp_kube_backoff_ms(1, 250, 30000, 3, 12345), 3000);
	LP_CHECK_INT(lp_kube_backoff_ms(5, 250, 30000, 0, 12345), 0);
	LP_CHECK_INT(lp_kube_backoff_ms(1, 250, 30000, 3600, 1), 30000);
}

/* ---- line splitter ---- */

struct lines_seen {
	char all[4096];
	int n;
};

static lp_err collect(void *arg, const char *line, size_t len)
{
	struct lines_seen *s = arg;
	size_t used = strlen(s->all);

	if (strlen(line) != len)
		return LP_ERR_INVALID;
	snprintf(s->all + used, sizeof(s->all) - used, "[%s]", line);
	s->n++;
	return LP_OK;
}

static void t_lines_split_chunks(void)
{
	const char *stream = "{\"type\":\"ADDED\",\"a\":\"x\\ny\"}\r\n{\"type\":\"BOOKMARK\"}\n\n"
	                     "{\"type\":\"DELETED\"}\n{\"partial";
	size_t n = strlen(stream);

	/* every chunk size from 1 to the whole stream gives the same lines */
	for (size_t chunk = 1; chunk <= n; chunk++) {
		struct lp_kube_lines l;
		struct lines_seen s = {{0}, 0};
		lp_err err = LP_OK;

		lp_kube_lines_init(&l, 1024);
		for (size_t off = 0; off < n && !err; off += chunk)
			err = lp_kube_lines_feed(&l, stream + off,
			                         off + chunk > n ? n - off : chunk, collect, &s);
		if (err || s.n != 3 ||
		    strcmp(s.all, "[{\"type\":\"ADDED\",\"a\":\"x\\ny\"}][{\"type\":\"BOOKMARK\"}]"
		                  "[{\"type\":\"DELETED\"}]") != 0) {
			lp_test_fail(__FILE__, __LINE__, "chunk %zu: err %d, %d lines: %s", chunk,
			             err, s.n, s.all);
			lp_kube_lines_free(&l);
			return;
		}
		LP_CHECK_INT(l.pending.len, strlen("{\"partial"));
		lp_kube_lines_free(&l);
	}
}

static lp_err stop_at_second(void *arg, const char *line, size_t len)
{
	int *n = arg;

	(void)line;
	(void)len;
	return ++*n == 2 ? LP_ERR_GONE : LP_OK;
}

static void t_lines_limits(void)
{
	struct lp_kube_lines l;
	struct lines_seen s = {{0}, 0};
	int n = 0;

	lp_kube_lines_init(&l, 8);
	LP_CHECK_INT(lp_kube_lines_feed(&l, "12345", 5, collect, &s), LP_OK);
	LP_CHECK_INT(lp_kube_lines_feed(&l, "6789", 4, collect, &s), LP_ERR_TOO_LARGE);
	lp_kube_lines_free(&l);
	lp_kube_lines_init(&l, 0);
	LP_CHECK_INT(lp_kube_lines_feed(&l, "a\nb\nc\n", 6, stop_at_second, &n), LP_ERR_GONE);
	LP_CHECK_INT(n, 2);
	lp_kube_lines_free(&l);
}

/* ---- conditions ---- */

static void t_conditions_transition_time(void)
{
	json_t *prev = json_loads(
	    "[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Ok\",\"message\":\"\","
	    "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},"
	    "{\"type\":\"Valid\",\"status\":\"True\",\"reason\":\"Ok\",\"message\":\"\","
	    "\"lastTransitionTime\":\"2026-01-01T00:00:01Z\"}]",
	    0, NULL);
	json_t *next = json_array(), *out, *again;

	json_array_append_new(next, lp_kube_condition_new("Valid", 1, "Ok", "fine now"));
	json_array_append_new(next, lp_kube_condition_new("Ready", 0, "Invalid", "spec.x"));
	json_array_append_new(next, lp_kube_condition_new("AgentsReady", -1, "Pending", ""));
	out = lp_kube_conditions_merge(prev, next, "2026-02-02T00:00:00Z");
	LP_CHECK(out != NULL);
	if (!out)
		goto done;
	LP_CHECK_INT(json_array_size(out), 3);
	/* sorted by type */
	LP_CHECK_STR(json_string_value(json_object_get(json_array_get(out, 0), "type")),
	             "AgentsReady");
	LP_CHECK_STR(json_string_value(json_object_get(json_array_get(out, 0), "status")),
	             "Unknown");
	LP_CHECK_STR(
	    json_string_value(json_object_get(json_array_get(out, 0), "lastTransitionTime")),
	    "2026-02-02T00:00:00Z"); /* new */
	LP_CHECK_STR(
	    json_string_value(json_object_get(json_array_get(out, 1), "lastTransitionTime")),
	    "2026-02-02T00:00:00Z"); /* Ready flipped True -> False */
	LP_CHECK_STR(
	    json_string_value(json_object_get(json_array_get(out, 2), "lastTransitionTime")),
	    "2026-01-01T00:00:01Z"); /* Valid unchanged status: kept (message changed) */
	LP_CHECK_STR(json_string_value(json_object_get(json_array_get(out, 2), "message")),
	             "fine now");
	/* equality ignores order and lastTransitionTime, sees message changes */
	LP_CHECK(lp_kube_conditions_equal(out, next));
	LP_CHECK(!lp_kube_conditions_equal(prev, next));
	again = lp_kube_conditions_merge(out, next, "2026-03-03T00:00:00Z");
	LP_CHECK(again && json_equal(again, out)); /* a resync changes nothing */
	json_decref(again);
	LP_CHECK(lp_kube_conditions_merge(prev, NULL, "x") == NULL);
	json_decref(out);
done:
	json_decref(prev);
	json_decref(next);
}

/* ---- paths ---- */

static void t_paths(void)
{
	struct {
		const struct lp_kube_gvr *g;
		const char *ns, *name, *sub, *want;
	} rows[] = {
	    {&lp_kube_gvr_configmaps, "ns1", "cm", NULL, "/api/v1/namespaces/ns1/configmaps/cm"},
	    {&lp_kube_gvr_configmaps, NULL, NULL, NULL, "/api/v1/configmaps"},
	    {&lp_kube_gvr_daemonsets, "a", NULL, NULL, "/apis/apps/v1/namespaces/a/daemonsets"},
	    {&lp_kube_gvr_logpipelines, "t", "p", "status",
	     "/apis/logplane.io/v1alpha1/namespaces/t/logpipelines/p/status"},
	    {&lp_kube_gvr_clusterroles, NULL, "x:y", NULL,
	     "/apis/rbac.authorization.k8s.io/v1/clusterroles/x%3Ay"},
	    {&lp_kube_gvr_namespaces, NULL, "default", NULL, "/api/v1/namespaces/default"},
	};
	struct lp_buf b;

	lp_buf_init(&b, 0);
	for (size_t i = 0; i < LP_TEST_COUNT(rows); i++) {
		lp_buf_reset(&b);
		LP_CHECK_INT(lp_kube_path(&b, rows[i].g, rows[i].ns, rows[i].name, rows[i].sub),
		             LP_OK);
		LP_CHECK_STR(lp_buf_str(&b), rows[i].want);
	}
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_kube_path(&b, &lp_kube_gvr_clusterroles, "ns", "x", NULL), LP_ERR_INVALID);
	LP_CHECK_INT(lp_kube_path(&b, &lp_kube_gvr_configmaps, NULL, "x", NULL), LP_ERR_INVALID);
	LP_CHECK_INT(lp_kube_path(&b, &lp_kube_gvr_configmaps, "n", NULL, "status"),
	             LP_ERR_INVALID);
	lp_buf_reset(&b);
	LP_CHECK_INT(lp_kube_api_version(&b, &lp_kube_gvr_leases), LP_OK);
	LP_CHECK_STR(lp_buf_str(&b), "coordination.k8s.io/v1");
	lp_buf_free(&b);
}

/* ---- work queue with a fake clock ---- */

struct fake {
	uint64_t now;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

struct wq_log {
	char seen[1024];
	int n;
	int async; /* 1: do not call done() from the callback */
	lp_err result;
	char last[64];
};

static void wq_fn(void *arg, struct lp_kube_wq *wq, const char *key)
{
	struct wq_log *l = arg;
	size_t used = strlen(l->seen);

	snprintf(l->seen + used, sizeof(l->seen) - used, "%s;", key);
	snprintf(l->last, sizeof(l->last), "%s", key);
	l->n++;
	if (!l->async)
		lp_kube_wq_done(wq, key, l->result);
}

static void t_wq_dedupe_debounce(void)
{
	struct fake fk = {1000};
	struct lp_clock clk = {fake_now, &fk};
	struct lp_kube_wq_opts o = {0};
	struct lp_kube_wq *wq = NULL;
	struct wq_log log = {{0}, 0, 0, LP_OK, {0}};

	o.clock = &clk;
	LP_CHECK_INT(lp_kube_wq_new(&wq, NULL, &o, wq_fn, &log), LP_OK);
	if (!wq)
		return;
	for (int i = 0; i < 50; i++) { /* a burst */
		LP_CHECK_INT(lp_kube_wq_add(wq, "a"), LP_OK);
		fk.now += 1;
	}
	LP_CHECK_INT(lp_kube_wq_add(wq, "b"), LP_OK);
	LP_CHECK_INT(lp_kube_wq_len(wq), 2);
	fk.now = 1099;
	LP_CHECK_INT(lp_kube_wq_poll(wq), 1); /* "a" due at 1100 (the first add) */
	LP_CHECK_INT(log.n, 0);
	fk.now = 1100;
	LP_CHECK_INT(lp_kube_wq_poll(wq), 50); /* "b" due at 1150 */
	LP_CHECK_STR(log.seen, "a;");
	fk.now = 1150;
	LP_CHECK_INT(lp_kube_wq_poll(wq), -1);
	LP_CHECK_STR(log.seen, "a;b;");
	LP_CHECK_INT(lp_kube_wq_len(wq), 0);
	/* add_after: no debounce added, coalesced to the earliest */
	LP_CHECK_INT(lp_kube_wq_add_after(wq, "c", 5000), LP_OK);
	LP_CHECK_INT(lp_kube_wq_add(wq, "c"), LP_OK);
	LP_CHECK_INT(lp_kube_wq_poll(wq), 100);
	lp_kube_wq_free(wq);
}

/* A failed key's retry is queued even when memory runs out in done(): with
 * 1..40 other keys queued (so the heap is full at some of its sizes), the
 * allocation-failure hook fails the next allocation and done() must neither
 * need one nor lose the key. An add that fails for memory leaves the queue as
 * it was. */
static void t_wq_retry_no_memory(void)
{
	for (int extra = 1; extra <= 40; extra++) {
		struct fake fk = {0};
		struct lp_clock clk = {fake_now, &fk};
		struct lp_kube_wq_opts o = {0};
		struct lp_kube_wq *wq = NULL;
		struct wq_log log = {{0}, 0, 1, LP_OK, {0}};
		char key[16];
		int fired;

		o.clock = &clk;
		o.debounce_ms = 1;
		o.backoff_base_ms = 10;
		LP_CHECK_INT(lp_kube_wq_new(&wq, NULL, &o, wq_fn, &log), LP_OK);
		if (!wq)
			return;
		LP_CHECK_INT(lp_kube_wq_add(wq, "k"), LP_OK);
		fk.now = 1;
		lp_kube_wq_poll(wq); /* "k" in flight */
		LP_CHECK_STR(log.last, "k");
		for (int i = 0; i < extra; i++) {
			snprintf(key, sizeof(key), "f%d", i);
			LP_CHECK_INT(lp_kube_wq_add(wq, key), LP_OK);
		}
		lp_mem_fail_nth(1);
		lp_kube_wq_done(wq, "k", LP_ERR_CONFLICT);
		fired = lp_mem_fail_fired();
		lp_mem_fail_nth(0);
		if (fired || lp_kube_wq_len(wq) != (size_t)extra + 1) {
			lp_test_fail(__FILE__, __LINE__,
			             "%d keys queued: done() allocated (%d) or lost the retry "
			             "(queued %zu)",
			             extra, fired, lp_kube_wq_len(wq));
			lp_kube_wq_free(wq);
			return;
		}
		LP_CHECK_INT(lp_kube_wq_failures(wq, "k"), 1);
		/* a new key whose add fails for memory: not queued, the rest intact */
		lp_mem_fail_nth(1);
		LP_CHECK_INT(lp_kube_wq_add(wq, "new"), LP_ERR_NOMEM);
		lp_mem_fail_nth(0);
		LP_CHECK_INT(lp_kube_wq_len(wq), (size_t)extra + 1);
		/* the retry runs after its backoff */
		log.async = 0;
		fk.now = 100;
		log.seen[0] = '\0';
		lp_kube_wq_poll(wq);
		LP_CHECK(strstr(log.seen, "k;") != NULL);
		LP_CHECK_INT(lp_kube_wq_len(wq), 0);
		lp_kube_wq_free(wq);
	}
}

static void t_wq_backoff(void)
{
	struct fake fk = {0};
	struct lp_clock clk = {fake_now, &fk};
	struct lp_kube_wq_opts o = {0};
	struct lp_kube_wq *wq = NULL;
	struct wq_log log = {{0}, 0, 0, LP_ERR_SERVER, {0}};
	uint64_t want[] = {200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000};

	o.clock = &clk;
	o.debounce_ms = 10;
	LP_CHECK_INT(lp_kube_wq_new(&wq, NULL, &o, wq_fn, &log), LP_OK);
	if (!wq)
		return;
	LP_CHECK_INT(lp_kube_wq_add(wq, "k"), LP_OK);
	fk.now = 10;
	for (size_t i = 0; i < LP_TEST_COUNT(want); i++) {
		int64_t next = lp_kube_wq_poll(wq);
		if (next != (int64_t)want[i]) {
			lp_test_fail(__FILE__, __LINE__, "failure %zu: next %lld, want %llu", i + 1,
			             (long long)next, (unsigned long long)want[i]);
			break;
		}
		LP_CHECK_INT(lp_kube_wq_failures(wq, "k"), i + 1);
		fk.now += (uint64_t)next;
	}
	/* success resets */
	log.result = LP_OK;
	LP_CHECK_INT(lp_kube_wq_poll(wq), -1);
	LP_CHECK_INT(lp_kube_wq_failures(wq, "k"), 0);
	LP_CHECK_INT(lp_kube_wq_len(wq), 0);
	LP_CHECK_INT(log.n, (int)LP_TEST_COUNT(want) + 1);
	/* the next failure starts from the base again */
	log.result = LP_ERR_CONFLICT;
	LP_CHECK_INT(lp_kube_wq_add(wq, "k"), LP_OK);
	fk.now += 10;
	LP_CHECK_INT(lp_kube_wq_poll(wq), 200);
	lp_kube_wq_forget(wq, "k");
	LP_CHECK_INT(lp_kube_wq_len(wq), 0);
	LP_CHECK_INT(lp_kube_wq_failures(wq, "k"), 0);
	lp_kube_wq_free(wq);
}

static void t_wq_inflight_and_bounds(void)
{
	struct fake fk = {0};
	struct lp_clock clk = {fake_now, &fk};
	struct lp_kube_wq_opts o = {0};
	struct lp_kube_wq *wq = NULL;
	struct wq_log log = {{0}, 0, 1, LP_OK, {0}};

	o.clock = &clk;
	o.debounce_ms = 1;
	o.max_keys = 3;
	LP_CHECK_INT(lp_kube_wq_new(&wq, NULL, &o, wq_fn, &log), LP_OK);
	if (!wq)
		return;
	LP_CHECK_INT(lp_kube_wq_add(wq, "x"), LP_OK);
	LP_CHECK_INT(lp_kube_wq_add(wq, "y"), LP_OK);
	fk.now = 5;
	LP_CHECK_INT(lp_kube_wq_poll(wq), -1); /* one in flight (max_inflight 1) */
	LP_CHECK_STR(log.seen, "x;");
	LP_CHECK_INT(lp_kube_wq_inflight(wq), 1);
	/* re-added while in flight: not run twice at once, re-queued after done */
	LP_CHECK_INT(lp_kube_wq_add(wq, "x"), LP_OK);
	LP_CHECK_INT(lp_kube_wq_add(wq, "z"), LP_OK);
	LP_CHECK_INT(lp_kube_wq_add(wq, "w"), LP_ERR_LIMIT); /* x, y, z */
	fk.now = 10;
	LP_CHECK_INT(lp_kube_wq_poll(wq), -1);
	LP_CHECK_INT(log.n, 1);
	lp_kube_wq_done(wq, "x", LP_OK);
	LP_CHECK_INT(lp_kube_wq_len(wq), 3); /* y, z and x again */
	LP_CHECK_INT(lp_kube_wq_poll(wq), -1);
	LP_CHECK_STR(log.seen, "x;y;");
	lp_kube_wq_done(wq, "y", LP_OK);
	lp_kube_wq_done(wq, "nope", LP_OK); /* ignored */
	LP_CHECK_INT(lp_kube_wq_poll(wq), -1);
	lp_kube_wq_done(wq, log.last, LP_OK);
	LP_CHECK_INT(lp_kube_wq_poll(wq), -1);
	lp_kube_wq_done(wq, log.last, LP_OK);
	LP_CHECK_STR(log.seen, "x;y;z;x;");
	LP_CHECK_INT(lp_kube_wq_len(wq) + lp_kube_wq_inflight(wq), 0);
	lp_kube_wq_free(wq);
}

/* ---- the loop drives the queue ---- */

struct loop_wq {
	struct lp_loop *loop;
	int n;
};

static void loop_wq_fn(void *arg, struct lp_kube_wq *wq, const char *key)
{
	struct loop_wq *s = arg;

	s->n++;
	lp_kube_wq_done(wq, key, s->n < 3 ? LP_ERR_SERVER : LP_OK);
	if (s->n == 3)
		lp_loop_stop(s->loop);
}

static void t_wq_on_loop(void)
{
	struct lp_loop *loop = NULL;
	struct lp_kube_wq *wq = NULL;
	struct lp_kube_wq_opts o = {0};
	struct loop_wq s = {NULL, 0};
	uint64_t t0;

	LP_CHECK_INT(lp_loop_new(&loop, NULL), LP_OK);
	if (!loop)
		return;
	s.loop = loop;
	o.debounce_ms = 20;
	o.backoff_base_ms = 30;
	LP_CHECK_INT(lp_kube_wq_new(&wq, loop, &o, loop_wq_fn, &s), LP_OK);
	t0 = lp_clock_mono_ms();
	LP_CHECK_INT(lp_kube_wq_add(wq, "k"), LP_OK);
	LP_CHECK_INT(lp_loop_run(loop), LP_OK);
	LP_CHECK_INT(s.n, 3);
	/* 20 debounce + 30 + 60 backoff */
	LP_CHECK(lp_clock_mono_ms() - t0 >= 110);
	LP_CHECK(lp_clock_mono_ms() - t0 < 2000);
	lp_kube_wq_free(wq);
	lp_loop_free(loop);
}

/* ---- the loop itself ---- */

struct loop_state {
	struct lp_loop *loop;
	int ticks;
	int fired_b;
	struct lp_loop_timer *b;
	int pipe_reads;
	int fds[2];
	struct lp_loop_fd *w;
};

static int64_t tick(struct lp_loop *loop, void *arg)
{
	struct loop_state *s = arg;

	(void)loop;
	if (++s->ticks == 1) {
		lp_loop_timer_del(s->loop, s->b); /* cancel another timer from a callback */
		if (write(s->fds[1], "x", 1) != 1)
			return -1;
	}
	return s->ticks < 5 ? 1 : -1;
}

static int64_t never(struct lp_loop *loop, void *arg)
{
	struct loop_state *s = arg;

	(void)loop;
	s->fired_b = 1;
	return -1;
}

static void on_pipe(struct lp_loop *loop, int fd, unsigned events, void *arg)
{
	struct loop_state *s = arg;
	char c;

	if ((events & LP_LOOP_READ) && read(fd, &c, 1) == 1)
		s->pipe_reads++;
	lp_loop_fd_del(loop, s->w); /* remove itself */
}

static void t_loop_timers_fds(void)
{
	struct loop_state s;
	int flag = 0;

	memset(&s, 0, sizeof(s));
	LP_CHECK_INT(lp_loop_new(&s.loop, NULL), LP_OK);
	if (!s.loop)
		return;
	LP_CHECK(pipe(s.fds) == 0);
	LP_CHECK_INT(lp_loop_fd_add(s.loop, s.fds[0], LP_LOOP_READ, on_pipe, &s, &s.w), LP_OK);
	LP_CHECK_INT(lp_loop_fd_add(s.loop, s.fds[0], LP_LOOP_READ, on_pipe, &s, NULL),
	             LP_ERR_INVALID);
	LP_CHECK_INT(lp_loop_timer_add(s.loop, 5, tick, &s, NULL), LP_OK);
	LP_CHECK_INT(lp_loop_timer_add(s.loop, 30, never, &s, &s.b), LP_OK);
	LP_CHECK_INT(lp_loop_run(s.loop), LP_OK); /* ends: nothing left */
	LP_CHECK_INT(s.ticks, 5);
	LP_CHECK_INT(s.fired_b, 0);
	LP_CHECK_INT(s.pipe_reads, 1);
	LP_CHECK_INT(lp_loop_run_until(s.loop, &flag, 30), LP_ERR_TIMEOUT);
	close(s.fds[0]);
	close(s.fds[1]);
	lp_loop_free(s.loop);
}

static const struct lp_test tests[] = {
    {"status_to_err", t_status_to_err},
    {"backoff", t_backoff},
    {"lines_split_chunks", t_lines_split_chunks},
    {"lines_limits", t_lines_limits},
    {"conditions_transition_time", t_conditions_transition_time},
    {"paths", t_paths},
    {"wq_dedupe_debounce", t_wq_dedupe_debounce},
    {"wq_backoff", t_wq_backoff},
    {"wq_retry_no_memory", t_wq_retry_no_memory},
    {"wq_inflight_and_bounds", t_wq_inflight_and_bounds},
    {"wq_on_loop", t_wq_on_loop},
    {"loop_timers_fds", t_loop_timers_fds},
};

int main(void)
{
	return lp_test_main("kube_core", tests, LP_TEST_COUNT(tests));
}
