/* tests/unit/test_allocfail.c: allocation failure, for every allocation.
 *
 * The hook of pkg/util/mem.h fails the nth allocation of this thread. For
 * n = 1, 2, ... until n passes the scenario's last allocation:
 *  - render: one render of every case under tests/data/render/cases (but the
 *    1,400-pipeline split case) returns LP_ERR_NOMEM or the reference result,
 *    without and through a render cache; a render through that cache after a
 *    failed one gives the reference result (a failure leaves nothing wrong
 *    behind in the cache);
 *  - controller: against a kubesim started here, a LogPipeline change whose
 *    config computation (the handling of the "config" key) has its nth
 *    allocation failed still ends with the DaemonSet running the right
 *    configuration: the failure is returned and the key retried (the
 *    controller's config_errors counts them), never dropped as done.
 * jansson allocates through lp_malloc here (json_set_alloc_funcs), so the
 * JSON of the desired objects is part of every scenario. ASan (the unit test
 * build) reports any crash or leak. */
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lp_kubesim.h"
#include "lp_test.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/kube/client.h"
#include "../../pkg/kube/config.h"
#include "../../pkg/reconcile/controller.h"
#include "../../pkg/reconcile/desired.h"
#include "../../pkg/render/bundle.h"
#include "../../pkg/render/render.h"
#include "../../pkg/util/clock.h"
#include "../../pkg/util/loop.h"
#include "../../pkg/util/mem.h"

#define CONTROL_NS "logplane-system"
#define BIG        ((size_t)1 << 40) /* a countdown that does not run out: counts */

/* ---------- render ---------- */

static int same_config(const struct lp_rendered_config *a, const struct lp_rendered_config *b)
{
	if (a->n_files != b->n_files || strcmp(a->hash, b->hash) != 0)
		return 0;
	for (size_t i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i].name, b->files[i].name) != 0 ||
		    a->files[i].len != b->files[i].len ||
		    memcmp(a->files[i].data, b->files[i].data, a->files[i].len) != 0)
			return 0;
	return 1;
}

static int same_rendered(const struct lp_rendered *a, const struct lp_rendered *b)
{
	return same_config(&a->shipper, &b->shipper) &&
	       same_config(&a->aggregator, &b->aggregator) && a->n_problems == b->n_problems;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The case files, sorted (owned: free each and the array). */
static size_t case_files(char ***out)
{
	const char *top = getenv("LP_TOP");
	char dir[600];
	DIR *d;
	struct dirent *e;
	char **v = NULL;
	size_t n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/data/render/cases", top ? top : ".");
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char **nv;
		if (len < 5 || strcmp(e->d_name + len - 5, ".yaml") ||
		    strstr(e->d_name, "split-large"))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[n] = malloc(strlen(dir) + len + 2);
		if (!v[n])
			break;
		snprintf(v[n], strlen(dir) + len + 2, "%s/%s", dir, e->d_name);
		n++;
	}
	if (d)
		closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_name);
	*out = v;
	return n;
}

/* One render with the nth allocation failed (n = BIG: none); through cache
 * when given. Checks the result against ref. Returns 1 when the failure
 * happened. *nomem counts LP_ERR_NOMEM returns. */
static int render_failing(const struct lp_render_bundle *b, const struct lp_rendered *ref,
                          struct lp_render_cache *cache, size_t n, size_t *nomem)
{
	struct lp_render_input in = {0};
	struct lp_rendered r;
	lp_err err;
	int fired;

	memset(&r, 0, sizeof(r));
	in.control_ns = CONTROL_NS;
	in.cache = cache;
	lp_mem_fail_nth(n);
	err = lp_render_bundle_render(&r, b, &in);
	fired = lp_mem_fail_fired();
	lp_mem_fail_nth(0);
	if (err == LP_OK) {
		if (!same_rendered(&r, ref))
			lp_test_fail(__FILE__, __LINE__,
			             "allocation %zu failed%s: a different result", n,
			             cache ? " (cached)" : "");
		lp_rendered_free(&r);
	} else if (err == LP_ERR_NOMEM) {
		(*nomem)++;
	} else {
		lp_test_fail(__FILE__, __LINE__, "allocation %zu failed%s: %s, want LP_ERR_NOMEM",
		             n, cache ? " (cached)" : "", lp_strerror(err));
	}
	return fired;
}

static void t_render_every_allocation(void)
{
	char **files = NULL;
	size_t n_files = case_files(&files), n, nomem[2] = {0, 0}, total[2] = {0, 0};
	struct lp_render_bundle b;
	struct lp_rendered ref;
	int have_ref = 0;

	memset(&b, 0, sizeof(b));
	memset(&ref, 0, sizeof(ref));
	LP_CHECK(n_files > 30);
	if (n_files < 30 ||
	    lp_render_bundle_load(&b, (const char *const *)files, n_files, CONTROL_NS) != LP_OK) {
		lp_test_fail(__FILE__, __LINE__, "cannot load the %zu cases", n_files);
		goto out;
	}
	have_ref = lp_render_bundle_render(&ref, &b, NULL) == LP_OK;
	LP_CHECK(have_ref && ref.shipper.n_files > 0);
	if (!have_ref)
		goto out;
	for (n = 1; n < BIG && !lp_test_failed; n++) /* without a cache */
		if (!render_failing(&b, &ref, NULL, n, &nomem[0]))
			break;
	total[0] = n - 1;
	for (n = 1; n < BIG && !lp_test_failed; n++) { /* through a cache, then again */
		struct lp_render_cache *cache = lp_render_cache_new();
		size_t again = 0;
		int fired;
		LP_CHECK(cache != NULL);
		if (!cache)
			break;
		fired = render_failing(&b, &ref, cache, n, &nomem[1]);
		if (fired)
			(void)render_failing(&b, &ref, cache, BIG, &again);
		if (again)
			lp_test_fail(__FILE__, __LINE__,
			             "allocation %zu: the render after it failed", n);
		lp_render_cache_free(cache);
		if (!fired)
			break;
	}
	total[1] = n - 1;
	printf("# render: %zu allocations (%zu through a cache), each failed once: "
	       "%zu and %zu renders returned LP_ERR_NOMEM, the others the reference result\n",
	       total[0], total[1], nomem[0], nomem[1]);
	LP_CHECK(total[0] > 100 && nomem[0] > 0 && nomem[1] > 0);
out:
	if (have_ref)
		lp_rendered_free(&ref);
	lp_render_bundle_free(&b);
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
}

/* ---------- controller ---------- */

static char tmpdir[256];
static pid_t sim_pid = -1;
static struct lp_loop *loop;
static struct lp_kube_config *cfg;
static struct lp_kube_client *cl;

/* Synchronous request; the HTTP status (0 on transport error), the parsed body
 * in *out when given (new reference, may be NULL). */
static long req(const char *method, const char *path, const char *ctype, const char *body,
                json_t **out)
{
	struct lp_kube_req r = {0};
	struct lp_kube_resp resp;
	long status;

	r.method = method;
	r.path = path;
	r.content_type = ctype;
	r.body = body;
	r.body_len = body ? strlen(body) : 0;
	memset(&resp, 0, sizeof(resp));
	if (lp_kube_call_sync(cl, &r, &resp) != LP_OK && !resp.status)
		printf("# %s %s: no answer\n", method, path);
	status = resp.status;
	if (out)
		*out = resp.body.len ? json_loadb(resp.body.ptr, resp.body.len, 0, NULL) : NULL;
	lp_kube_resp_free(&resp);
	return status;
}

static long post_json(const char *path, const json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	long st = s ? req("POST", path, NULL, s, NULL) : 0;

	free(s);
	return st;
}

/* Registers the CRDs of crds/ and waits until LogPipelines can be listed. */
static int crds_register(void)
{
	const char *top = getenv("LP_TOP");
	const char *names[] = {"logpipelines.yaml", "logoutputs.yaml"};
	char path[600];

	for (size_t i = 0; i < 2; i++) {
		struct lp_yaml_docs docs = {0};
		int ok;
		snprintf(path, sizeof(path), "%s/crds/%s", top ? top : ".", names[i]);
		ok = lp_yaml_load_file(&docs, path) == LP_OK && docs.n == 1 &&
		     post_json("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
		               docs.v[0].root) == 201;
		lp_yaml_docs_free(&docs);
		if (!ok) {
			printf("# cannot register %s\n", path);
			return -1;
		}
	}
	for (int i = 0; i < 100; i++) {
		if (req("GET", "/apis/logplane.io/v1alpha1/logpipelines", NULL, NULL, NULL) ==
		        200 &&
		    req("GET", "/apis/logplane.io/v1alpha1/logoutputs", NULL, NULL, NULL) == 200)
			return 0;
		usleep(50000);
	}
	return -1;
}

static const char *const world[] = {
    "/api/v1/namespaces",
    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" CONTROL_NS "\"}}",
    "/api/v1/namespaces/" CONTROL_NS "/secrets",
    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"ingest-token\"},"
    "\"data\":{\"token\":\"c2VjcmV0\"}}",
    "/apis/logplane.io/v1alpha1/namespaces/" CONTROL_NS "/logoutputs",
    "{\"apiVersion\":\"logplane.io/v1alpha1\",\"kind\":\"LogOutput\",\"metadata\":{\"name\":"
    "\"hook\"},\"spec\":{\"type\":\"http\",\"http\":{\"host\":\"ingest.example.com\",\"uri\":"
    "\"/v1/logs\",\"headers\":[{\"name\":\"Authorization\",\"valueFrom\":{\"secretKeyRef\":"
    "{\"name\":\"ingest-token\",\"key\":\"token\"}}}]}}}",
    "/apis/logplane.io/v1alpha1/namespaces/" CONTROL_NS "/logoutputs",
    "{\"apiVersion\":\"logplane.io/v1alpha1\",\"kind\":\"LogOutput\",\"metadata\":{\"name\":"
    "\"console\"},\"spec\":{\"type\":\"stdout\"}}",
    /* invalid (its header's Secret has no such key): its problems are kept
     * with its facts, listed in its status */
    "/apis/logplane.io/v1alpha1/namespaces/" CONTROL_NS "/logoutputs",
    "{\"apiVersion\":\"logplane.io/v1alpha1\",\"kind\":\"LogOutput\",\"metadata\":{\"name\":"
    "\"broken\"},\"spec\":{\"type\":\"http\",\"http\":{\"host\":\"ingest.example.com\","
    "\"headers\":[{\"name\":\"X-Key\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
    "\"ingest-token\",\"key\":\"nope\"}}}]}}}",
    "/apis/logplane.io/v1alpha1/namespaces/" CONTROL_NS "/logpipelines",
    "{\"apiVersion\":\"logplane.io/v1alpha1\",\"kind\":\"LogPipeline\",\"metadata\":{\"name\":"
    "\"p1\"},\"spec\":{\"input\":{\"application\":{}},\"parse\":{\"format\":\"json\"},"
    "\"transforms\":[{\"dropFields\":[\"v0\"]}],\"routes\":[{\"outputRef\":\"hook\"},"
    "{\"outputRef\":\"console\",\"match\":{\"field\":\"level\",\"in\":[\"error\"]}}]}}",
};

/* Sets p1's dropped field to v<variant>. */
static int pipeline_set(int variant)
{
	char body[200];

	snprintf(body, sizeof(body), "{\"spec\":{\"transforms\":[{\"dropFields\":[\"v%d\"]}]}}",
	         variant);
	return req("PATCH", "/apis/logplane.io/v1alpha1/namespaces/" CONTROL_NS "/logpipelines/p1",
	           "application/merge-patch+json", body, NULL) == 200;
}

/* The config hash the DaemonSet's pods are to run; "" when none. */
static void ds_hash(char out[65])
{
	json_t *ds = NULL;
	const char *h;

	out[0] = '\0';
	if (req("GET", "/apis/apps/v1/namespaces/" CONTROL_NS "/daemonsets/" LP_SHIPPER_NAME, NULL,
	        NULL, &ds) == 200) {
		h = json_string_value(json_object_get(
		    json_object_get(
		        json_object_get(json_object_get(json_object_get(ds, "spec"), "template"),
		                        "metadata"),
		        "annotations"),
		    LP_CONFIG_HASH_ANNOTATION));
		snprintf(out, 65, "%s", h ? h : "");
	}
	json_decref(ds);
}

struct hook {         /* arms the allocation failure for the next "config" key */
	int arm;      /* the next "config" key gets failure n */
	size_t n;     /* BIG: count only */
	int active;   /* armed for the key being handled */
	int fired;    /* the last armed key had its allocation failed */
	size_t count; /* with n = BIG: allocations of the last armed key */
};

static void on_key(void *arg, const char *key, int end)
{
	struct hook *h = arg;

	if (strcmp(key, "config") != 0)
		return;
	if (!end && h->arm) {
		h->arm = 0;
		h->active = 1;
		lp_mem_fail_nth(h->n);
	} else if (end && h->active) {
		h->active = 0;
		h->fired = lp_mem_fail_fired();
		h->count = h->n - lp_mem_fail_nth(0);
	}
}

/* Runs the loop until the armed key ran, a config run ended after runs0 and
 * the DaemonSet's config hash is want (want NULL: any other than not); the
 * hash into got. 0 after 15 s. */
static int converge(struct lp_ctrl *c, const struct hook *h, uint64_t runs0, const char *want,
                    const char * not, char got[65])
{
	uint64_t end = lp_clock_mono_ms() + 15000;

	got[0] = '\0';
	while (lp_clock_mono_ms() < end) {
		struct lp_ctrl_stats st;
		if (lp_loop_run_once(loop, 20) != LP_OK)
			return 0;
		lp_ctrl_get_stats(c, &st);
		if (h->arm || h->active || st.config_runs <= runs0)
			continue;
		ds_hash(got);
		if (want ? !strcmp(got, want) : got[0] && strcmp(got, not ) != 0)
			return 1;
	}
	return 0;
}

/* Changes p1 to variant v with allocation n of the next "config" key failed
 * (BIG: none, counted) and runs the loop until the DaemonSet runs the
 * configuration want (NULL: a new one, into got). */
static int change(struct lp_ctrl *c, struct hook *h, int v, size_t n, const char *want,
                  const char * not, char got[65])
{
	struct lp_ctrl_stats st;

	lp_ctrl_get_stats(c, &st);
	h->n = n;
	h->arm = 1;
	if (!pipeline_set(v)) {
		lp_test_fail(__FILE__, __LINE__, "PATCH of the LogPipeline failed");
		return 0;
	}
	return converge(c, h, st.config_runs, want, not, got);
}

static void t_controller_every_allocation(void)
{
	struct hook h = {0};
	struct lp_ctrl_opts o = {0};
	struct lp_ctrl *c = NULL;
	struct lp_ctrl_stats st;
	char hash[2][65], got[65], kc[300];
	struct lp_buf msg;
	size_t n, changes, short_runs = 0, fired = 0, most = 0;

	lp_buf_init(&msg, 0);
	snprintf(kc, sizeof(kc), "%s/kubeconfig", tmpdir);
	if (lp_kube_config_from_kubeconfig(&cfg, kc, NULL, &msg) != LP_OK ||
	    lp_kube_client_new(&cl, loop, cfg) != LP_OK || crds_register() != 0) {
		lp_test_fail(__FILE__, __LINE__, "setup: %s", lp_buf_str(&msg));
		goto out;
	}
	for (size_t i = 0; i < sizeof(world) / sizeof(world[0]); i += 2)
		if (req("POST", world[i], NULL, world[i + 1], NULL) != 201) {
			lp_test_fail(__FILE__, __LINE__, "setup: POST %s", world[i]);
			goto out;
		}
	o.control_ns = CONTROL_NS;
	o.nofile_image =
	    "reg.example/logplane-operator:1"; /* the init container's allocations too */
	o.debounce_ms = 1;
	o.retry_base_ms = 1;
	o.on_key = on_key;
	o.on_key_arg = &h;
	if (lp_ctrl_new(&c, loop, cl, &o) != LP_OK || lp_ctrl_start(c) != LP_OK) {
		lp_test_fail(__FILE__, __LINE__, "setup: controller");
		goto out;
	}
	/* the two configurations, without failures, their allocations counted */
	if (!converge(c, &h, 0, NULL, "", hash[0]) ||
	    !change(c, &h, 1, BIG, NULL, hash[0], hash[1]) ||
	    !(most = h.count, change(c, &h, 0, BIG, hash[0], NULL, got))) {
		lp_test_fail(__FILE__, __LINE__, "the two configurations: \"%s\", \"%s\"", hash[0],
		             hash[1]);
		goto out;
	}
	most = h.count > most ? h.count : most;
	/* every allocation of one config computation fails once. The armed run
	 * can be a short one (a "config" key queued before the PATCH was seen):
	 * n is given up only when three runs in a row ended before allocation n. */
	for (n = 1, changes = 1; n < BIG && !lp_test_failed; changes++) {
		int v = (int)(changes % 2);
		if (!change(c, &h, v, n, hash[v], NULL, got)) {
			lp_test_fail(
			    __FILE__, __LINE__,
			    "allocation %zu failed: the DaemonSet runs \"%.12s\", not \"%.12s\" "
			    "after 15 s",
			    n, got, hash[v]);
			break;
		}
		if (!h.fired) {
			if (++short_runs < 3)
				continue;
			break;
		}
		short_runs = 0;
		fired++;
		n++;
	}
	lp_ctrl_get_stats(c, &st);
	printf("# controller: %zu allocations in one config computation (%zu counted without "
	       "failures), each failed once; %llu failed computations retried; the right "
	       "configuration every time\n",
	       fired, most, (unsigned long long)st.config_errors);
	LP_CHECK(fired > 50 && 2 * fired >= most);
	LP_CHECK(st.config_errors > 0);
	{ /* the invalid output's problems, kept through all that, reach its status */
		json_t *bo = NULL;
		const json_t *bst;
		uint64_t end = lp_clock_mono_ms() + 15000;
		for (;;) {
			json_decref(bo);
			bo = NULL;
			if (req("GET",
			        "/apis/logplane.io/v1alpha1/namespaces/" CONTROL_NS
			        "/logoutputs/broken",
			        NULL, NULL, &bo) != 200)
				break;
			bst = json_object_get(bo, "status");
			if (json_integer_value(json_object_get(bst, "problemCount")) >= 1 ||
			    lp_clock_mono_ms() > end || lp_loop_run_once(loop, 20) != LP_OK)
				break;
		}
		bst = json_object_get(bo, "status");
		LP_CHECK(json_integer_value(json_object_get(bst, "problemCount")) >= 1);
		LP_CHECK(json_array_size(json_object_get(bst, "problems")) >= 1);
		json_decref(bo);
	}
out:
	lp_ctrl_free(c);
	lp_kube_client_free(cl);
	cl = NULL;
	lp_kube_config_free(cfg);
	cfg = NULL;
	lp_buf_free(&msg);
}

static const struct lp_test tests[] = {
    {"render_every_allocation", t_render_every_allocation},
    {"controller_config_every_allocation", t_controller_every_allocation},
};

int main(void)
{
	char cmd[600];
	int rc = 1;

	/* a hung test dies, and kubesim with it (PDEATHSIG); under run.sh's 600 s: ~50 s
	 * alone, it overran 280 s once on a machine loaded 20 times over */
	alarm(540);
	json_set_alloc_funcs(lp_malloc, lp_free);
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "%s/lp-allocfail-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL allocfail:setup: mkdtemp failed\n");
		return 1;
	}
	sim_pid = lp_kubesim_start(tmpdir, NULL);
	if (sim_pid <= 0 || lp_loop_new(&loop, NULL) != LP_OK) {
		printf("FAIL allocfail:setup: kubesim did not start\n");
		goto out;
	}
	rc = lp_test_main("allocfail", tests, LP_TEST_COUNT(tests));
out:
	lp_loop_free(loop);
	lp_kubesim_stop(sim_pid);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
