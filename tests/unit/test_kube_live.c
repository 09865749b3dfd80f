/* pkg/kube against a real tests/kubesim started by this program (TLS + token on
 * 127.0.0.1, port 0). kubesim dies with us (PR_SET_PDEATHSIG) and is stopped at
 * the end; every wait is bounded. */
#include "lp_test.h"
#include "lp_kubesim.h"
#include "../../pkg/kube/apply.h"
#include "../../pkg/kube/client.h"
#include "../../pkg/kube/events.h"
#include "../../pkg/kube/gvr.h"
#include "../../pkg/kube/informer.h"
#include "../../pkg/kube/lease.h"
#include "../../pkg/util/loop.h"
#include "../../pkg/util/mem.h"
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static pid_t sim_pid = -1;
static struct lp_loop *loop;
static struct lp_kube_config *cfg;
static struct lp_kube_client *cl;

/* ---------- kubesim process ---------- */

static int start_kubesim(void)
{
	char state[300];
	const char *extra[] = {
	    "--token", "U=user1:group1", "--bookmark-interval", "0.3", "--state", state, NULL};

	snprintf(state, sizeof(state), "%s/state.json", tmpdir);
	sim_pid = lp_kubesim_start(tmpdir, extra);
	return sim_pid > 0 ? 0 : -1;
}

static void stop_kubesim(void)
{
	lp_kubesim_stop(sim_pid);
	sim_pid = -1;
}

/* ---------- helpers ---------- */

/* Synchronous request; returns the HTTP status (0 on transport error) and, when
 * out is given, the parsed body (new reference, may be NULL). */
static long req(const char *method, const char *path, const char *ctype, const char *body,
                json_t **out)
{
	struct lp_kube_req r = {0};
	struct lp_kube_resp resp;
	long status;
	lp_err err;

	r.method = method;
	r.path = path;
	r.content_type = ctype;
	r.body = body;
	r.body_len = body ? strlen(body) : 0;
	memset(&resp, 0, sizeof(resp));
	err = lp_kube_call_sync(cl, &r, &resp);
	(void)err;
	status = resp.status;
	if (out)
		*out = resp.body.len ? json_loadb(resp.body.ptr, resp.body.len, 0, NULL) : NULL;
	lp_kube_resp_free(&resp);
	return status;
}

static int ns_create(const char *ns)
{
	char body[256];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         ns);
	return req("POST", "/api/v1/namespaces", NULL, body, NULL) == 201;
}

static long cm_create(const char *ns, const char *name, const char *labels, int n)
{
	char path[256], body[512];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
	         "\"labels\":{%s}},\"data\":{\"n\":\"%d\"}}",
	         name, labels ? labels : "", n);
	return req("POST", path, NULL, body, NULL);
}

static long cm_set(const char *ns, const char *name, int n)
{
	char path[256], body[128];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	snprintf(body, sizeof(body), "{\"data\":{\"n\":\"%d\"}}", n);
	return req("PATCH", path, "application/merge-patch+json", body, NULL);
}

static long cm_delete(const char *ns, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	return req("DELETE", path, NULL, NULL, NULL);
}

static long faults(const char *json)
{
	return req("POST", "/admin/faults", NULL, json, NULL);
}

/* kubesim counter: changes (or writes) of a resource ("configmaps") */
static long counter(const char *what, const char *resource)
{
	json_t *c = NULL;
	long v = -1;

	if (req("GET", "/admin/counters", NULL, NULL, &c) == 200)
		v = (long)json_integer_value(json_object_get(json_object_get(c, what), resource));
	json_decref(c);
	return v;
}

/* kubesim's count of API requests so far */
static uint64_t counter_total(void)
{
	json_t *c = NULL;
	uint64_t v = 0;

	if (req("GET", "/admin/counters", NULL, NULL, &c) == 200)
		v = (uint64_t)json_integer_value(json_object_get(c, "requestsTotal"));
	json_decref(c);
	return v;
}

/* Runs the loop until cond(arg) or timeout_ms. */
static int wait_for(int (*cond)(void *), void *arg, int64_t timeout_ms)
{
	uint64_t end = lp_clock_mono_ms() + (uint64_t)timeout_ms;

	while (!cond(arg)) {
		if (lp_clock_mono_ms() >= end)
			return 0;
		if (lp_loop_run_once(loop, 20) != LP_OK)
			return 0;
	}
	return 1;
}

static void run_for(int64_t ms)
{
	uint64_t end = lp_clock_mono_ms() + (uint64_t)ms;

	while (lp_clock_mono_ms() < end)
		if (lp_loop_run_once(loop, (int64_t)(end - lp_clock_mono_ms())) != LP_OK)
			return;
}

/* ---------- an informer recorder: keeps data.n per object ---------- */

#define REC_MAX 2048
struct rec {
	struct lp_kube_informer *inf;
	char log[8192]; /* "U:key=n D:key " for the first events */
	int upserts, deletes, synced;
	int bad_order;  /* an object's n went backwards or repeated */
	int last_n[64]; /* by object index (name "oN") */
	int seen[64][40];
	int nseen[64];
};

static int obj_index(const char *key)
{
	const char *s = strrchr(key, '/');

	s = s ? s + 1 : key;
	if (s[0] != 'o')
		return -1;
	return atoi(s + 1) < 64 ? atoi(s + 1) : -1;
}

static void *rec_transform(void *arg, const char *key, json_t *obj, lp_err *err)
{
	const char *n = json_string_value(json_object_get(json_object_get(obj, "data"), "n"));
	int *kept = lp_malloc(sizeof(int));

	(void)arg;
	(void)key;
	if (!kept) {
		*err = LP_ERR_NOMEM;
		return NULL;
	}
	*kept = n ? atoi(n) : -1;
	return kept;
}

static void rec_free(void *arg, void *kept)
{
	(void)arg;
	lp_free(kept);
}

/* Appends "U:key=n " (n >= 0) or "D:key " to the log. */
static void rec_log(struct rec *r, const char *tag, const char *key, int n)
{
	size_t used = strlen(r->log);

	if (used >= sizeof(r->log) - 128)
		return;
	if (n >= 0)
		snprintf(r->log + used, sizeof(r->log) - used, "%s:%s=%d ", tag, key, n);
	else
		snprintf(r->log + used, sizeof(r->log) - used, "%s:%s ", tag, key);
}

static void rec_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old_kept)
{
	struct rec *r = arg;
	int n = *(int *)kept, i = obj_index(key);

	(void)obj;
	r->upserts++;
	rec_log(r, "U", key, n);
	if (i >= 0) {
		if (old_kept && *(int *)old_kept >= n)
			r->bad_order++;
		if (r->nseen[i] < 40)
			r->seen[i][r->nseen[i]++] = n;
		r->last_n[i] = n;
	}
}

static void rec_delete(void *arg, const char *key, void *kept)
{
	struct rec *r = arg;

	r->deletes++;
	(void)kept;
	rec_log(r, "D", key, -1);
}

static void rec_synced(void *arg)
{
	((struct rec *)arg)->synced++;
}

static const struct lp_kube_informer_ops rec_ops = {rec_transform, rec_free, rec_upsert, rec_delete,
                                                    rec_synced};

static struct rec *rec_start_t(const char *ns, const char *label_selector, int page_limit,
                               int timeout_s)
{
	struct lp_kube_informer_opts o = {0};
	struct rec *r = calloc(1, sizeof(*r));
	char path[256];

	if (!r)
		return NULL;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	o.path = path;
	o.label_selector = label_selector;
	o.page_limit = page_limit;
	o.timeout_seconds = timeout_s;
	if (lp_kube_informer_new(&r->inf, cl, &o, &rec_ops, r) != LP_OK ||
	    lp_kube_informer_start(r->inf) != LP_OK) {
		lp_kube_informer_free(r->inf);
		free(r);
		return NULL;
	}
	return r;
}

static struct rec *rec_start(const char *ns, const char *label_selector, int page_limit)
{
	return rec_start_t(ns, label_selector, page_limit, 30);
}

static void rec_stop(struct rec *r)
{
	if (!r)
		return;
	lp_kube_informer_free(r->inf);
	free(r);
}

static int rec_is_synced(void *arg)
{
	return ((struct rec *)arg)->synced > 0;
}

struct count_goal {
	struct rec *r;
	int upserts, deletes;
	size_t count;
};

static int goal_reached(void *arg)
{
	struct count_goal *g = arg;

	return g->r->upserts >= g->upserts && g->r->deletes >= g->deletes &&
	       lp_kube_informer_count(g->r->inf) == g->count;
}

/* ---------- tests ---------- */

static void t_rest_basics(void)
{
	json_t *o = NULL;
	struct lp_kube_req r = {0};
	struct lp_kube_resp resp;
	lp_err err;

	LP_CHECK(ns_create("basics"));
	LP_CHECK_INT(cm_create("basics", "a", NULL, 1), 201);
	LP_CHECK_INT(cm_create("basics", "a", NULL, 1), 409);
	LP_CHECK_INT(req("GET", "/api/v1/namespaces/basics/configmaps/a", NULL, NULL, &o), 200);
	LP_CHECK_STR(json_string_value(json_object_get(json_object_get(o, "data"), "n")), "1");
	json_decref(o);
	/* Status → lp_err with the server's message kept */
	r.method = "GET";
	r.path = "/api/v1/namespaces/basics/configmaps/missing";
	memset(&resp, 0, sizeof(resp));
	err = lp_kube_call_sync(cl, &r, &resp);
	LP_CHECK_INT(err, LP_ERR_NOTFOUND);
	LP_CHECK_INT(resp.status, 404);
	LP_CHECK_STR(resp.reason, "NotFound");
	LP_CHECK_HAS(resp.message, "missing");
	lp_kube_resp_free(&resp);
	/* a client without the token gets 401 */
	{
		struct lp_kube_config *c2 = NULL;
		struct lp_kube_client *k2 = NULL;
		char kc[300];
		snprintf(kc, sizeof(kc), "%s/kubeconfig", tmpdir);
		LP_CHECK_INT(lp_kube_config_from_kubeconfig(&c2, kc, NULL, NULL), LP_OK);
		if (c2) {
			lp_free(c2->token);
			c2->token = lp_strdup("wrong");
			LP_CHECK_INT(lp_kube_client_new(&k2, loop, c2), LP_OK);
			memset(&resp, 0, sizeof(resp));
			if (k2)
				LP_CHECK_INT(lp_kube_call_sync(k2, &r, &resp), LP_ERR_UNAUTHORIZED);
			lp_kube_resp_free(&resp);
			lp_kube_client_free(k2);
			lp_kube_config_free(c2);
		}
	}
}

static void write_tmp(const char *name, const char *text)
{
	char p[400];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void t_token_file_rotation(void)
{
	/* a 401 makes the client re-read its token file once before giving up */
	struct lp_kube_config *c2 = NULL;
	struct lp_kube_client *k2 = NULL;
	struct lp_kube_req r = {0};
	struct lp_kube_resp resp;
	char kc[300], tok[300];

	snprintf(kc, sizeof(kc), "%s/kubeconfig", tmpdir);
	snprintf(tok, sizeof(tok), "%s/token", tmpdir);
	write_tmp("token", "stale\n");
	LP_CHECK_INT(lp_kube_config_from_kubeconfig(&c2, kc, NULL, NULL), LP_OK);
	if (!c2)
		return;
	lp_free(c2->token);
	c2->token = NULL;
	c2->token_file = lp_strdup(tok);
	LP_CHECK_INT(lp_kube_client_new(&k2, loop, c2), LP_OK);
	if (!k2)
		goto out;
	r.method = "GET";
	r.path = "/api/v1/namespaces/basics/configmaps/a";
	memset(&resp, 0, sizeof(resp));
	LP_CHECK_INT(lp_kube_call_sync(k2, &r, &resp), LP_ERR_UNAUTHORIZED);
	LP_CHECK_INT(resp.attempts, 2);
	lp_kube_resp_free(&resp);
	write_tmp("token", "T\n"); /* rotated */
	memset(&resp, 0, sizeof(resp));
	LP_CHECK_INT(lp_kube_call_sync(k2, &r, &resp), LP_OK);
	LP_CHECK_INT(resp.attempts, 2);
	lp_kube_resp_free(&resp);
	memset(&resp, 0, sizeof(resp));
	LP_CHECK_INT(lp_kube_call_sync(k2, &r, &resp), LP_OK);
	LP_CHECK_INT(resp.attempts, 1);
	lp_kube_resp_free(&resp);
out:
	lp_kube_client_free(k2);
	lp_kube_config_free(c2);
}

static void t_tls_verified(void)
{
	/* without kubesim's CA (system CAs only) the server must not be trusted */
	struct lp_kube_config *c2 = NULL;
	struct lp_kube_client *k2 = NULL;
	struct lp_kube_req r = {0};
	struct lp_kube_resp resp;
	uint64_t requests0;
	char kc[300];

	snprintf(kc, sizeof(kc), "%s/kubeconfig", tmpdir);
	LP_CHECK_INT(lp_kube_config_from_kubeconfig(&c2, kc, NULL, NULL), LP_OK);
	if (!c2)
		return;
	lp_free(c2->ca_data.data);
	c2->ca_data.data = NULL;
	c2->ca_data.len = 0;
	LP_CHECK_INT(lp_kube_client_new(&k2, loop, c2), LP_OK);
	r.method = "GET";
	r.path = "/api/v1/namespaces";
	memset(&resp, 0, sizeof(resp));
	requests0 = counter_total();
	if (k2) {
		LP_CHECK_INT(lp_kube_call_sync(k2, &r, &resp), LP_ERR_HTTP);
		LP_CHECK_INT(resp.attempts, 1); /* a verification failure is not retried */
	}
	LP_CHECK_INT(resp.status, 0);
	LP_CHECK(strstr(resp.message, "certificate") || strstr(resp.message, "SSL"));
	LP_CHECK_INT(counter_total(), requests0); /* nothing reached the API */
	lp_kube_resp_free(&resp);
	lp_kube_client_free(k2);
	lp_kube_config_free(c2);
}

static void t_informer_order(void)
{
	struct rec *r;
	struct count_goal g;

	LP_CHECK(ns_create("inf1"));
	LP_CHECK_INT(cm_create("inf1", "pre", NULL, 7), 201);
	r = rec_start("inf1", NULL, 0);
	LP_CHECK(r != NULL);
	if (!r)
		return;
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	LP_CHECK_STR(r->log, "U:inf1/pre=7 ");
	LP_CHECK_INT(cm_create("inf1", "a", NULL, 1), 201);
	LP_CHECK_INT(cm_set("inf1", "a", 2), 200);
	LP_CHECK_INT(cm_create("inf1", "b", NULL, 3), 201);
	LP_CHECK_INT(cm_delete("inf1", "a"), 200);
	g.r = r;
	g.upserts = 4;
	g.deletes = 1;
	g.count = 2;
	LP_CHECK(wait_for(goal_reached, &g, 10000));
	run_for(200); /* nothing more may arrive */
	LP_CHECK_STR(r->log, "U:inf1/pre=7 U:inf1/a=1 U:inf1/a=2 U:inf1/b=3 D:inf1/a ");
	{
		void *kept = NULL;
		LP_CHECK(lp_kube_informer_get(r->inf, "inf1/b", &kept));
		LP_CHECK(kept && *(int *)kept == 3);
		LP_CHECK(!lp_kube_informer_get(r->inf, "inf1/a", NULL));
		LP_CHECK(lp_kube_informer_rv(r->inf, "inf1/b") != NULL);
	}
	LP_CHECK_INT(lp_kube_informer_stats(r->inf)->relists, 0);
	rec_stop(r);
}

static void t_label_selector(void)
{
	struct rec *r;
	struct count_goal g;

	LP_CHECK(ns_create("sel"));
	LP_CHECK_INT(cm_create("sel", "x1", "\"app\":\"x\"", 1), 201);
	LP_CHECK_INT(cm_create("sel", "y1", "\"app\":\"y\"", 1), 201);
	r = rec_start("sel", "app=x", 0);
	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	LP_CHECK_INT(cm_create("sel", "x2", "\"app\":\"x\"", 2), 201);
	LP_CHECK_INT(cm_create("sel", "y2", "\"app\":\"y\"", 2), 201);
	g.r = r;
	g.upserts = 2;
	g.deletes = 0;
	g.count = 2;
	LP_CHECK(wait_for(goal_reached, &g, 10000));
	run_for(200);
	LP_CHECK_STR(r->log, "U:sel/x1=1 U:sel/x2=2 ");
	rec_stop(r);
	/* a field selector: exactly one object by name (how Secrets are watched) */
	{
		struct lp_kube_informer_opts o = {0};
		struct rec *f = calloc(1, sizeof(*f));
		if (!f) {
			LP_CHECK(f != NULL);
			return;
		}
		o.path = "/api/v1/namespaces/sel/configmaps";
		o.field_selector = "metadata.name=y2";
		LP_CHECK_INT(lp_kube_informer_new(&f->inf, cl, &o, &rec_ops, f), LP_OK);
		LP_CHECK_INT(lp_kube_informer_start(f->inf), LP_OK);
		LP_CHECK(wait_for(rec_is_synced, f, 10000));
		LP_CHECK_INT(cm_set("sel", "y1", 5), 200);
		LP_CHECK_INT(cm_set("sel", "y2", 6), 200);
		g.r = f;
		g.upserts = 2;
		g.deletes = 0;
		g.count = 1;
		LP_CHECK(wait_for(goal_reached, &g, 10000));
		run_for(200);
		LP_CHECK_STR(f->log, "U:sel/y2=2 U:sel/y2=6 ");
		rec_stop(f);
	}
}

static void t_pagination(void)
{
	struct rec *r;
	char name[32];
	int fails = 0;

	LP_CHECK(ns_create("page"));
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "p%04d", i);
		if (cm_create("page", name, NULL, i) != 201)
			fails++;
	}
	LP_CHECK_INT(fails, 0);
	r = rec_start("page", NULL, 0); /* default limit 500 */
	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 30000));
	LP_CHECK_INT(lp_kube_informer_count(r->inf), 1100);
	LP_CHECK_INT(r->upserts, 1100);
	LP_CHECK_INT(lp_kube_informer_stats(r->inf)->pages, 3);
	LP_CHECK_INT(lp_kube_informer_stats(r->inf)->lists, 1);
	rec_stop(r);
}

static int has_bookmark(void *arg)
{
	return lp_kube_informer_stats(((struct rec *)arg)->inf)->bookmarks >= 2;
}

static void t_bookmarks(void)
{
	struct rec *r;
	char *rv0 = NULL;

	LP_CHECK(ns_create("bm"));
	r = rec_start("bm", NULL, 0);
	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	rv0 = lp_strdup(lp_kube_informer_last_rv(r->inf));
	/* writes elsewhere move the global resourceVersion; bookmarks carry it here */
	LP_CHECK_INT(cm_create("basics", "bm-elsewhere", NULL, 1), 201);
	LP_CHECK(wait_for(has_bookmark, r, 5000));
	run_for(400);
	LP_CHECK(rv0 && lp_kube_informer_last_rv(r->inf) &&
	         strcmp(rv0, lp_kube_informer_last_rv(r->inf)) != 0);
	LP_CHECK_INT(r->upserts, 0); /* a bookmark is not an object */
	lp_free(rv0);
	rec_stop(r);
}

static int all_at(void *arg)
{
	struct rec *r = arg;

	for (int i = 0; i < 10; i++)
		if (r->last_n[i] != 30)
			return 0;
	return 1;
}

static void t_resume_after_close(void)
{
	struct rec *r;
	char name[16];

	LP_CHECK(ns_create("res"));
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		LP_CHECK_INT(cm_create("res", name, NULL, 0), 201);
	}
	r = rec_start("res", NULL, 0);
	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	for (int round = 1; round <= 30; round++) {
		if (round == 10 || round == 20)
			LP_CHECK_INT(faults("{\"close_watches\":true}"), 200);
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "o%d", i);
			if (cm_set("res", name, round) != 200)
				lp_test_fail(__FILE__, __LINE__, "patch %s round %d failed", name,
				             round);
		}
	}
	LP_CHECK(wait_for(all_at, r, 15000));
	run_for(300);
	/* every change exactly once and in order: 0 (list), then 1..30 */
	for (int i = 0; i < 10; i++) {
		int ok = r->nseen[i] == 31;
		for (int k = 0; ok && k < 31; k++)
			ok = r->seen[i][k] == k;
		if (!ok) {
			lp_test_fail(__FILE__, __LINE__, "o%d saw %d values, not 0..30 in order", i,
			             r->nseen[i]);
			break;
		}
	}
	LP_CHECK_INT(r->bad_order, 0);
	LP_CHECK(lp_kube_informer_stats(r->inf)->watch_restarts >= 2);
	LP_CHECK_INT(lp_kube_informer_stats(r->inf)->relists, 0);
	rec_stop(r);
}

static void t_watch_timeout_resume(void)
{
	struct rec *r = rec_start_t("bm", NULL, 0, 1); /* the server ends each watch after 1 s */
	const struct lp_kube_informer_stats *st;
	struct count_goal g;

	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	run_for(2600);
	st = lp_kube_informer_stats(r->inf);
	LP_CHECK(st->watch_restarts >= 2);
	LP_CHECK_INT(st->relists, 0);
	LP_CHECK_INT(st->errors, 0);
	LP_CHECK_INT(st->lists, 1);
	LP_CHECK_INT(cm_create("bm", "o1", NULL, 4), 201);
	g.r = r;
	g.upserts = 1;
	g.deletes = 0;
	g.count = 1;
	LP_CHECK(wait_for(goal_reached, &g, 5000));
	LP_CHECK_STR(r->log, "U:bm/o1=4 ");
	rec_stop(r);
}

static int all_at_10(void *arg)
{
	struct rec *r = arg;

	for (int i = 0; i < 5; i++)
		if (r->last_n[i] != 10)
			return 0;
	return 1;
}

static void t_restart_during_changes(void)
{
	struct rec *r;
	char name[16];

	LP_CHECK(ns_create("rst"));
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		LP_CHECK_INT(cm_create("rst", name, NULL, 0), 201);
	}
	r = rec_start("rst", NULL, 0);
	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	for (int round = 1; round <= 10; round++) {
		if (round == 5)
			LP_CHECK_INT(faults("{\"restart\":true,\"down_ms\":300}"), 200);
		for (int i = 0; i < 5; i++) {
			snprintf(name, sizeof(name), "o%d", i);
			if (cm_set("rst", name, round) != 200)
				lp_test_fail(__FILE__, __LINE__, "patch %s round %d failed", name,
				             round);
		}
	}
	LP_CHECK(wait_for(all_at_10, r, 20000));
	run_for(300);
	LP_CHECK_INT(r->bad_order, 0); /* no duplicate, nothing out of order */
	LP_CHECK_INT(lp_kube_informer_count(r->inf), 5);
	LP_CHECK(lp_kube_informer_stats(r->inf)->watch_restarts >= 1);
	rec_stop(r);
}

static int all_at_3_o1(void *arg)
{
	return ((struct rec *)arg)->last_n[1] == 3;
}

static int watch_down(void *arg)
{
	return lp_kube_informer_stats(((struct rec *)arg)->inf)->errors +
	           lp_kube_informer_stats(((struct rec *)arg)->inf)->watch_restarts >
	       0;
}

static int gone_done(void *arg)
{
	struct rec *r = arg;
	void *a = NULL;

	return lp_kube_informer_count(r->inf) == 2 && lp_kube_informer_get(r->inf, "gone/o0", &a) &&
	       a && *(int *)a == 5 && lp_kube_informer_get(r->inf, "gone/o3", NULL);
}

static void t_relist_on_410(void)
{
	struct rec *r;

	LP_CHECK(ns_create("gone"));
	LP_CHECK_INT(cm_create("gone", "o0", NULL, 0), 201);
	LP_CHECK_INT(cm_create("gone", "o1", NULL, 0), 201);
	LP_CHECK_INT(cm_create("gone", "o2", NULL, 0), 201);
	r = rec_start("gone", NULL, 0);
	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	/* take the watch down and keep it down while things change */
	LP_CHECK_INT(faults("{\"fail\":{\"count\":100000,\"code\":500,\"match\":\"watch\"},"
	                    "\"close_watches\":true}"),
	             200);
	LP_CHECK(wait_for(watch_down, r, 5000));
	LP_CHECK_INT(cm_delete("gone", "o1"), 200);
	LP_CHECK_INT(cm_delete("gone", "o2"), 200);
	LP_CHECK_INT(cm_set("gone", "o0", 5), 200);
	LP_CHECK_INT(cm_create("gone", "o3", NULL, 1), 201);
	LP_CHECK_INT(faults("{\"expire_history\":true,\"clear\":true}"), 200);
	LP_CHECK(wait_for(gone_done, r, 20000));
	LP_CHECK(lp_kube_informer_stats(r->inf)->relists >= 1);
	LP_CHECK_INT(r->deletes, 2);
	LP_CHECK_HAS(r->log, "D:gone/o1 ");
	LP_CHECK_HAS(r->log, "D:gone/o2 ");
	LP_CHECK_HAS(r->log, "U:gone/o0=5 ");
	LP_CHECK_HAS(r->log, "U:gone/o3=1 ");
	LP_CHECK_INT(r->synced, 2);
	rec_stop(r);
}

static int relisted(void *arg)
{
	return lp_kube_informer_stats(((struct rec *)arg)->inf)->lists >= 2;
}

static void t_http_410_relist_quiet(void)
{
	/* a watch answered with HTTP 410 (not an ERROR event) relists; objects
	 * whose resourceVersion did not change are not reported again */
	struct rec *r;

	LP_CHECK(ns_create("h410"));
	LP_CHECK_INT(cm_create("h410", "o0", NULL, 0), 201);
	LP_CHECK_INT(cm_create("h410", "o1", NULL, 0), 201);
	r = rec_start("h410", NULL, 0);
	if (!r) {
		LP_CHECK(r != NULL);
		return;
	}
	LP_CHECK(wait_for(rec_is_synced, r, 10000));
	LP_CHECK_INT(r->upserts, 2);
	LP_CHECK_INT(faults("{\"fail\":{\"count\":1,\"code\":410,\"match\":\"watch\"},"
	                    "\"close_watches\":true}"),
	             200);
	LP_CHECK(wait_for(relisted, r, 10000));
	run_for(300);
	LP_CHECK_INT(lp_kube_informer_stats(r->inf)->relists, 1);
	LP_CHECK_INT(r->synced, 2);
	LP_CHECK_INT(r->upserts, 2); /* nothing changed: nothing reported */
	LP_CHECK_INT(r->deletes, 0);
	LP_CHECK_INT(lp_kube_informer_count(r->inf), 2);
	LP_CHECK_INT(cm_set("h410", "o1", 3), 200); /* and the new watch works */
	LP_CHECK(wait_for(all_at_3_o1, r, 5000));
	rec_stop(r);
}

static void t_retry_faults(void)
{
	struct lp_kube_req r = {0};
	struct lp_kube_resp resp;
	uint64_t t0;
	uint64_t retries0 = lp_kube_client_stats(cl)->retries;

	r.method = "GET";
	r.path = "/api/v1/namespaces/basics/configmaps/a";
	/* 429 with Retry-After: 1 twice, then fine */
	LP_CHECK_INT(faults("{\"fail\":{\"count\":2,\"code\":429,\"retryAfter\":1,"
	                    "\"match\":\"configmaps\"}}"),
	             200);
	t0 = lp_clock_mono_ms();
	memset(&resp, 0, sizeof(resp));
	LP_CHECK_INT(lp_kube_call_sync(cl, &r, &resp), LP_OK);
	LP_CHECK_INT(resp.attempts, 3);
	LP_CHECK(lp_clock_mono_ms() - t0 >= 1900); /* Retry-After honoured */
	lp_kube_resp_free(&resp);
	/* 500 twice: retried with backoff */
	LP_CHECK_INT(faults("{\"fail\":{\"count\":2,\"code\":500,\"match\":\"configmaps\"}}"), 200);
	memset(&resp, 0, sizeof(resp));
	LP_CHECK_INT(lp_kube_call_sync(cl, &r, &resp), LP_OK);
	LP_CHECK_INT(resp.attempts, 3);
	lp_kube_resp_free(&resp);
	/* more failures than attempts: the last error comes back with its message */
	LP_CHECK_INT(faults("{\"fail\":{\"count\":3,\"code\":500,\"match\":\"configmaps\"}}"), 200);
	r.max_attempts = 2;
	memset(&resp, 0, sizeof(resp));
	LP_CHECK_INT(lp_kube_call_sync(cl, &r, &resp), LP_ERR_SERVER);
	LP_CHECK_INT(resp.attempts, 2);
	LP_CHECK_HAS(resp.message, "injected fault");
	lp_kube_resp_free(&resp);
	LP_CHECK_INT(faults("{\"clear\":true}"), 200);
	LP_CHECK_INT(lp_kube_client_stats(cl)->retries - retries0, 5);
	{
		const struct lp_kube_stats *s = lp_kube_client_stats(cl);
		uint64_t n429 = 0;
		for (size_t i = 0; i < s->nrows; i++)
			if (s->rows[i].code == 429 && strcmp(s->rows[i].verb, "GET") == 0)
				n429 = s->rows[i].n;
		LP_CHECK_INT(n429, 2);
	}
}

/* async completion recorder */
struct done {
	int n;
	lp_err err;
	long status;
	json_t *body;
};

static void on_done(void *arg, struct lp_kube_resp *r)
{
	struct done *d = arg;

	d->n++;
	d->err = r->err;
	d->status = r->status;
	json_decref(d->body);
	d->body = r->body.len ? json_loadb(r->body.ptr, r->body.len, 0, NULL) : NULL;
}

static int is_done(void *arg)
{
	return ((struct done *)arg)->n > 0;
}

static void done_reset(struct done *d)
{
	json_decref(d->body);
	memset(d, 0, sizeof(*d));
}

static void t_server_side_apply(void)
{
	json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1",
	                        "kind", "ConfigMap", "metadata", "name", "owned", "namespace",
	                        "basics", "labels", "app.kubernetes.io/managed-by", "logplane",
	                        "data", "fluent-bit.yaml", "service: {}\n");
	struct done d = {0};
	char *rv1 = NULL;
	long changes0;

	LP_CHECK_INT(lp_kube_apply(cl, &lp_kube_gvr_configmaps, "basics", obj, on_done, &d), LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.err, LP_OK);
	LP_CHECK_INT(d.status, 201);
	rv1 = lp_strdup(json_string_value(
	    json_object_get(json_object_get(d.body, "metadata"), "resourceVersion")));
	changes0 = counter("changes", "configmaps");
	done_reset(&d);
	/* identical re-apply: 200, nothing changes */
	LP_CHECK_INT(lp_kube_apply(cl, &lp_kube_gvr_configmaps, "basics", obj, on_done, &d), LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.status, 200);
	LP_CHECK_STR(json_string_value(
	                 json_object_get(json_object_get(d.body, "metadata"), "resourceVersion")),
	             rv1);
	LP_CHECK_INT(counter("changes", "configmaps"), changes0);
	done_reset(&d);
	/* a changed apply is written */
	json_object_set_new(json_object_get(obj, "data"), "fluent-bit.yaml",
	                    json_string("service: {flush: 1}\n"));
	LP_CHECK_INT(lp_kube_apply(cl, &lp_kube_gvr_configmaps, "basics", obj, on_done, &d), LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.status, 200);
	LP_CHECK_INT(counter("changes", "configmaps"), changes0 + 1);
	done_reset(&d);
	/* bad input is refused before any request */
	LP_CHECK_INT(lp_kube_apply(cl, &lp_kube_gvr_configmaps, "other", obj, on_done, &d),
	             LP_ERR_INVALID);
	lp_free(rv1);
	json_decref(obj);
}

static const char *widget_crd =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.test.logplane.io\"},\"spec\":{\"group\":\"test.logplane.io\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":"
    "\"Widget\",\"listKind\":\"WidgetList\"},\"versions\":[{\"name\":\"v1\",\"served\":true,"
    "\"storage\":true,\"subresources\":{\"status\":{}},\"schema\":{\"openAPIV3Schema\":{\"type\":"
    "\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-"
    "fields\":true},\"status\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}"
    "}}}}]}}";

static const struct lp_kube_gvr widgets = {"test.logplane.io", "v1", "widgets", "Widget", 1};

static void t_status_write(void)
{
	json_t *o = NULL, *status = NULL, *conds;
	struct done d = {0};
	long gen;
	char *rv = NULL;

	LP_CHECK_INT(req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", NULL,
	                 widget_crd, NULL),
	             201);
	run_for(300);
	LP_CHECK_INT(req("POST", "/apis/test.logplane.io/v1/namespaces/basics/widgets", NULL,
	                 "{\"apiVersion\":\"test.logplane.io/v1\",\"kind\":\"Widget\",\"metadata\":"
	                 "{\"name\":\"w\"},\"spec\":{\"size\":1}}",
	                 &o),
	             201);
	gen =
	    (long)json_integer_value(json_object_get(json_object_get(o, "metadata"), "generation"));
	json_decref(o);
	o = NULL;
	conds = json_array();
	json_array_append_new(conds, lp_kube_condition_new("Ready", 1, "Ok", "all good"));
	status = json_pack("{s:i, s:o}", "observedGeneration", (json_int_t)gen, "conditions",
	                   lp_kube_conditions_merge(NULL, conds, "2026-01-01T00:00:00Z"));
	LP_CHECK_INT(lp_kube_status_patch(cl, &widgets, "basics", "w", status, on_done, &d), LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.err, LP_OK);
	done_reset(&d);
	LP_CHECK_INT(
	    req("GET", "/apis/test.logplane.io/v1/namespaces/basics/widgets/w", NULL, NULL, &o),
	    200);
	LP_CHECK_STR(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(json_object_get(o, "status"), "conditions"), 0),
	        "reason")),
	    "Ok");
	/* status writes do not bump the generation */
	LP_CHECK_INT(
	    json_integer_value(json_object_get(json_object_get(o, "metadata"), "generation")), gen);
	/* PUT on /status with a stale resourceVersion: 409 */
	rv = lp_strdup(
	    json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion")));
	LP_CHECK_INT(req("PATCH", "/apis/test.logplane.io/v1/namespaces/basics/widgets/w",
	                 "application/merge-patch+json", "{\"spec\":{\"size\":2}}", NULL),
	             200);
	json_object_set_new(json_object_get(o, "status"), "note", json_string("x"));
	LP_CHECK_INT(lp_kube_status_put(cl, &widgets, "basics", "w", o, on_done, &d), LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.err, LP_ERR_CONFLICT);
	done_reset(&d);
	lp_free(rv);
	json_decref(o);
	json_decref(status);
	json_decref(conds);
}

static void t_finalizers(void)
{
	json_t *o = NULL, *fin;
	struct done d = {0};
	char rv[64];

	LP_CHECK_INT(cm_create("basics", "fin", NULL, 1), 201);
	LP_CHECK_INT(req("GET", "/api/v1/namespaces/basics/configmaps/fin", NULL, NULL, &o), 200);
	snprintf(
	    rv, sizeof(rv), "%s",
	    json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion")));
	json_decref(o);
	LP_CHECK_INT(lp_kube_finalizer_add(cl, &lp_kube_gvr_configmaps, "basics", "fin", NULL, rv,
	                                   "logplane.io/cleanup", on_done, &d),
	             LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.err, LP_OK);
	done_reset(&d);
	/* stale resourceVersion: refused */
	LP_CHECK_INT(lp_kube_finalizer_add(cl, &lp_kube_gvr_configmaps, "basics", "fin", NULL, rv,
	                                   "logplane.io/other", on_done, &d),
	             LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK(d.err == LP_ERR_CONFLICT || d.err == LP_ERR_INVALID);
	done_reset(&d);
	/* delete: held by the finalizer */
	LP_CHECK_INT(cm_delete("basics", "fin"), 200);
	LP_CHECK_INT(req("GET", "/api/v1/namespaces/basics/configmaps/fin", NULL, NULL, &o), 200);
	LP_CHECK(json_object_get(json_object_get(o, "metadata"), "deletionTimestamp") != NULL);
	fin = json_object_get(json_object_get(o, "metadata"), "finalizers");
	snprintf(
	    rv, sizeof(rv), "%s",
	    json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion")));
	/* adding a present one completes without a request */
	LP_CHECK_INT(lp_kube_finalizer_add(cl, &lp_kube_gvr_configmaps, "basics", "fin", fin, rv,
	                                   "logplane.io/cleanup", on_done, &d),
	             LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.err, LP_OK);
	LP_CHECK_INT(d.status, 0);
	done_reset(&d);
	LP_CHECK_INT(lp_kube_finalizer_remove(cl, &lp_kube_gvr_configmaps, "basics", "fin", fin, rv,
	                                      "logplane.io/cleanup", on_done, &d),
	             LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.err, LP_OK);
	done_reset(&d);
	json_decref(o);
	run_for(200);
	LP_CHECK_INT(req("GET", "/api/v1/namespaces/basics/configmaps/fin", NULL, NULL, NULL), 404);
	/* delete of something absent: NOTFOUND */
	LP_CHECK_INT(
	    lp_kube_delete(cl, &lp_kube_gvr_configmaps, "basics", "fin", NULL, on_done, &d), LP_OK);
	LP_CHECK(wait_for(is_done, &d, 10000));
	LP_CHECK_INT(d.err, LP_ERR_NOTFOUND);
	done_reset(&d);
}

static void t_events(void)
{
	struct lp_kube_events *ev = NULL;
	struct lp_kube_objref obj = {
	    "logplane.io/v1alpha1", "LogPipeline", "basics", "evp", "uid-1", NULL};
	json_t *list = NULL;
	const char *path =
	    "/api/v1/namespaces/basics/events?fieldSelector=involvedObject.name%3Devp";

	LP_CHECK_INT(lp_kube_events_new(&ev, cl, "logplane-operator", "default", 300), LP_OK);
	if (!ev)
		return;
	LP_CHECK_INT(lp_kube_event(ev, &obj, "Warning", "InvalidSpec", "spec.routes[0]: missing"),
	             LP_OK);
	LP_CHECK_INT(lp_kube_event(ev, &obj, "Warning", "InvalidSpec", "spec.routes[0]: missing"),
	             LP_OK);
	run_for(200);
	LP_CHECK_INT(lp_kube_events_stats(ev)->created, 1);
	LP_CHECK_INT(lp_kube_events_stats(ev)->suppressed, 1);
	LP_CHECK_INT(req("GET", path, NULL, NULL, &list), 200);
	LP_CHECK_INT(json_array_size(json_object_get(list, "items")), 1);
	{
		json_t *e = json_array_get(json_object_get(list, "items"), 0);
		LP_CHECK_STR(json_string_value(json_object_get(e, "reason")), "InvalidSpec");
		LP_CHECK_STR(json_string_value(json_object_get(e, "type")), "Warning");
		LP_CHECK_STR(json_string_value(
		                 json_object_get(json_object_get(e, "involvedObject"), "kind")),
		             "LogPipeline");
		LP_CHECK_INT(json_integer_value(json_object_get(e, "count")), 1);
	}
	json_decref(list);
	list = NULL;
	run_for(200); /* past the 300 ms de-dup window: count goes up on the same Event */
	LP_CHECK_INT(lp_kube_event(ev, &obj, "Warning", "InvalidSpec", "spec.routes[0]: missing"),
	             LP_OK);
	run_for(300);
	LP_CHECK_INT(lp_kube_events_stats(ev)->updated, 1);
	LP_CHECK_INT(req("GET", path, NULL, NULL, &list), 200);
	LP_CHECK_INT(json_array_size(json_object_get(list, "items")), 1);
	LP_CHECK_INT(json_integer_value(json_object_get(
	                 json_array_get(json_object_get(list, "items"), 0), "count")),
	             2);
	LP_CHECK_INT(lp_kube_events_stats(ev)->failed, 0);
	json_decref(list);
	lp_kube_events_free(ev);
}

struct lease_obs {
	int started, stopped;
};

static void l_started(void *arg)
{
	((struct lease_obs *)arg)->started++;
}

static void l_stopped(void *arg)
{
	((struct lease_obs *)arg)->stopped++;
}

static int is_leading(void *arg)
{
	return lp_kube_lease_leading(arg);
}

static void released(void *arg, lp_err err)
{
	*(int *)arg = err == LP_OK ? 1 : -1;
}

static void t_lease(void)
{
	struct lp_kube_lease *a = NULL, *b = NULL, *c = NULL;
	struct lease_obs oa = {0, 0}, ob = {0, 0}, oc = {0, 0};
	struct lp_kube_lease_opts o = {0};
	uint64_t t0;
	int rel = 0;

	o.ns = "basics";
	o.name = "logplane-leader";
	o.duration_ms = 3000; /* short for the test, long enough for a loaded machine */
	o.renew_ms = 500;
	o.retry_ms = 200;
	o.on_started = l_started;
	o.on_stopped = l_stopped;
	o.identity = "a";
	o.arg = &oa;
	LP_CHECK_INT(lp_kube_lease_new(&a, cl, &o), LP_OK);
	o.identity = "b";
	o.arg = &ob;
	LP_CHECK_INT(lp_kube_lease_new(&b, cl, &o), LP_OK);
	o.identity = "c";
	o.arg = &oc;
	LP_CHECK_INT(lp_kube_lease_new(&c, cl, &o), LP_OK);
	if (!a || !b || !c)
		goto out;
	LP_CHECK_INT(lp_kube_lease_start(a), LP_OK);
	LP_CHECK(wait_for(is_leading, a, 5000));
	LP_CHECK_INT(lp_kube_lease_start(b), LP_OK);
	run_for(4000); /* longer than the lease: a renews, b must not take it */
	LP_CHECK(lp_kube_lease_leading(a));
	LP_CHECK(!lp_kube_lease_leading(b));
	LP_CHECK_INT(oa.started, 1);
	LP_CHECK_INT(ob.started, 0);
	/* a dies without releasing: b takes over after the lease expires */
	lp_kube_lease_free(a);
	a = NULL;
	t0 = lp_clock_mono_ms();
	LP_CHECK(wait_for(is_leading, b, 8000));
	LP_CHECK(lp_clock_mono_ms() - t0 >= 3000 - 500 - 200);
	LP_CHECK(lp_clock_mono_ms() - t0 <= 3000 + 200 + 1000);
	LP_CHECK_INT(ob.started, 1);
	/* b releases: c takes over at once, not after a lease duration */
	LP_CHECK_INT(lp_kube_lease_start(c), LP_OK);
	run_for(400);
	LP_CHECK(!lp_kube_lease_leading(c));
	LP_CHECK_INT(lp_kube_lease_release(b, released, &rel), LP_OK);
	t0 = lp_clock_mono_ms();
	LP_CHECK(wait_for(is_leading, c, 3000));
	LP_CHECK(lp_clock_mono_ms() - t0 < 1000);
	LP_CHECK_INT(rel, 1);
	LP_CHECK(!lp_kube_lease_leading(b));
	LP_CHECK_INT(ob.stopped, 0); /* release is not a loss */
	{
		json_t *l = NULL;
		LP_CHECK_INT(
		    req("GET",
		        "/apis/coordination.k8s.io/v1/namespaces/basics/leases/logplane-leader",
		        NULL, NULL, &l),
		    200);
		LP_CHECK_STR(json_string_value(
		                 json_object_get(json_object_get(l, "spec"), "holderIdentity")),
		             "c");
		LP_CHECK(json_integer_value(
		             json_object_get(json_object_get(l, "spec"), "leaseTransitions")) >= 2);
		json_decref(l);
	}
out:
	lp_kube_lease_free(a);
	lp_kube_lease_free(b);
	lp_kube_lease_free(c);
}

/* ops that call the client from inside informer callbacks */
struct nested {
	struct rec *victim; /* freed from the first upsert */
	int upserts, gets_ok, gets_started;
};

static void nested_get_done(void *arg, struct lp_kube_resp *r)
{
	struct nested *n = arg;

	if (r->err == LP_OK)
		n->gets_ok++;
}

static void nested_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old)
{
	struct nested *n = arg;
	struct lp_kube_req r = {0};

	(void)key;
	(void)obj;
	(void)kept;
	(void)old;
	n->upserts++;
	if (n->victim) {
		rec_stop(n->victim); /* another informer, mid-watch */
		n->victim = NULL;
	}
	r.method = "GET";
	r.path = "/api/v1/namespaces/nest";
	if (lp_kube_call_start(cl, &r, nested_get_done, n, NULL) == LP_OK)
		n->gets_started++;
}

static int nested_done(void *arg)
{
	struct nested *n = arg;

	return n->upserts >= 3 && n->gets_ok == n->gets_started;
}

static void t_callbacks_use_client(void)
{
	static const struct lp_kube_informer_ops ops = {NULL, NULL, nested_upsert, NULL, NULL};
	struct lp_kube_informer_opts o = {0};
	struct lp_kube_informer *inf = NULL;
	struct nested n = {NULL, 0, 0, 0};

	LP_CHECK(ns_create("nest"));
	n.victim = rec_start("nest", NULL, 0);
	LP_CHECK(n.victim && wait_for(rec_is_synced, n.victim, 10000));
	o.path = "/api/v1/namespaces/nest/configmaps";
	LP_CHECK_INT(lp_kube_informer_new(&inf, cl, &o, &ops, &n), LP_OK);
	if (!inf) {
		rec_stop(n.victim);
		return;
	}
	LP_CHECK_INT(lp_kube_informer_start(inf), LP_OK);
	run_for(300);
	/* watch events: the callbacks run outside of libcurl */
	LP_CHECK_INT(cm_create("nest", "a", NULL, 1), 201);
	LP_CHECK_INT(cm_create("nest", "b", NULL, 1), 201);
	LP_CHECK_INT(cm_create("nest", "c", NULL, 1), 201);
	LP_CHECK(wait_for(nested_done, &n, 10000));
	LP_CHECK_INT(n.gets_started, 3);
	LP_CHECK_INT(n.gets_ok, 3);
	LP_CHECK(n.victim == NULL);
	lp_kube_informer_free(inf);
	rec_stop(n.victim);
}

static int cancelled_n;

static void on_cancelled(void *arg, struct lp_kube_resp *r)
{
	(void)arg;
	if (r->err == LP_ERR_IO && r->status == 0)
		cancelled_n++;
}

static void t_client_free_cancels(void)
{
	struct lp_kube_client *k2 = NULL;
	struct lp_kube_req r = {0};

	LP_CHECK_INT(lp_kube_client_new(&k2, loop, cfg), LP_OK);
	if (!k2)
		return;
	r.method = "GET";
	r.path = "/api/v1/namespaces/basics/configmaps?watch=true&timeoutSeconds=30";
	r.on_data = NULL;
	LP_CHECK_INT(lp_kube_call_start(k2, &r, on_cancelled, NULL, NULL), LP_OK);
	LP_CHECK_INT(lp_kube_call_start(k2, &r, on_cancelled, NULL, NULL), LP_OK);
	run_for(100);
	lp_kube_client_free(k2);
	LP_CHECK_INT(cancelled_n, 2);
	run_for(100); /* no stale timer or socket fires into the freed client */
}

static const struct lp_test tests[] = {
    {"rest_basics", t_rest_basics},
    {"tls_verified", t_tls_verified},
    {"token_file_rotation", t_token_file_rotation},
    {"informer_order", t_informer_order},
    {"label_and_field_selector", t_label_selector},
    {"pagination_1100", t_pagination},
    {"bookmarks", t_bookmarks},
    {"watch_timeout_resume", t_watch_timeout_resume},
    {"resume_after_close_watches", t_resume_after_close},
    {"relist_on_410", t_relist_on_410},
    {"http_410_relist_quiet", t_http_410_relist_quiet},
    {"retry_429_500", t_retry_faults},
    {"server_side_apply", t_server_side_apply},
    {"status_write", t_status_write},
    {"finalizers_delete", t_finalizers},
    {"events_dedup", t_events},
    {"lease_takeover_release", t_lease},
    {"callbacks_use_client", t_callbacks_use_client},
    {"client_free_cancels", t_client_free_cancels},
    {"restart_during_changes", t_restart_during_changes},
};

int main(void)
{
	char kc[300], cmd[600];
	struct lp_buf msg;
	int rc = 1;

	alarm(170); /* a hung test dies, and kubesim with it (PDEATHSIG) */
	signal(SIGPIPE, SIG_IGN);
	lp_buf_init(&msg, 0);
	snprintf(tmpdir, sizeof(tmpdir), "%s/lp-kube-live-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL kube_live:setup: mkdtemp failed\n");
		return 1;
	}
	if (start_kubesim() != 0) {
		printf("FAIL kube_live:setup: kubesim did not start\n");
		goto out;
	}
	snprintf(kc, sizeof(kc), "%s/kubeconfig", tmpdir);
	if (lp_kube_config_from_kubeconfig(&cfg, kc, NULL, &msg) != LP_OK ||
	    lp_loop_new(&loop, NULL) != LP_OK || lp_kube_client_new(&cl, loop, cfg) != LP_OK) {
		printf("FAIL kube_live:setup: client: %s\n", lp_buf_str(&msg));
		goto out;
	}
	rc = lp_test_main("kube_live", tests, LP_TEST_COUNT(tests));
out:
	lp_kube_client_free(cl);
	lp_kube_config_free(cfg);
	lp_loop_free(loop);
	lp_buf_free(&msg);
	stop_kubesim();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
