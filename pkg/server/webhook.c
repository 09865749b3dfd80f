/* The admission webhook: HTTPS endpoint, world from the controller's caches,
 * and the certificate keeper (webhook.h). */
#include "webhook.h"
#include "../api/admission.h"
#include "../render/render.h"
#include "certs.h"
#include "https.h"
#include "../util/b64.h"
#include "../util/mem.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RETRY_MS        10000
#define MAX_SECRET_TEXT 65536

enum step { STEP_IDLE, STEP_GET_SECRET, STEP_WRITE_SECRET, STEP_GET_CONFIG, STEP_PUT_CONFIG };

struct lp_webhook {
	struct lp_loop *loop;
	struct lp_kube_client *client;
	struct lp_https *https;
	char *control_ns, *secret_name, *config_name, *service_name;
	char *names[LP_CERTS_MAX_NAMES]; /* of the serving certificate */
	size_t n_names;
	int external_certs;
	int allow_plain_http;
	uint64_t check_ms;
	const struct lp_log *log;
	const struct lp_opmetrics *metrics;
	struct lp_ctrl *ctrl;
	int64_t (*now)(void *ctx);
	void *now_ctx;
	struct lp_loop_timer *timer;
	struct lp_kube_call *call;
	enum step step;
	struct lp_certs cur;  /* what the Secret holds (or will after the write) */
	char *served_crt;     /* the tls.crt text being served, for "changed?" */
	int warned_no_config; /* logged once that the configuration is missing */
	/* the world, kept while the controller's caches do not change (res_epoch) */
	struct world_build *world;
	uint64_t world_epoch;
};

static void say(const struct lp_webhook *w, enum lp_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct lp_webhook *w, enum lp_log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!w->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lp_log(w->log, lvl, NULL, "webhook: %s", msg);
}

static int64_t now_s(const struct lp_webhook *w)
{
	return w->now ? w->now(w->now_ctx) : (int64_t)time(NULL);
}

/* ---------- admission ---------- */

struct world_build {
	const struct lp_output **outs;
	const struct lp_pipeline **pls;
	size_t n_outs, n_pls, cap_outs, cap_pls;
	int nomem;
};

static void world_add(void *arg, const struct lp_pipeline *p, const struct lp_output *o)
{
	struct world_build *b = arg;

	if (b->nomem)
		return;
	if (o) {
		if (b->n_outs == b->cap_outs) {
			size_t ncap = b->cap_outs ? b->cap_outs * 2 : 256;
			const struct lp_output **nv = lp_realloc(b->outs, ncap * sizeof(*nv));
			if (!nv) {
				b->nomem = 1;
				return;
			}
			b->outs = nv;
			b->cap_outs = ncap;
		}
		b->outs[b->n_outs++] = o;
	} else if (p && p->http.enabled) { /* only an input.http port can clash */
		if (b->n_pls == b->cap_pls) {
			size_t ncap = b->cap_pls ? b->cap_pls * 2 : 16;
			const struct lp_pipeline **nv = lp_realloc(b->pls, ncap * sizeof(*nv));
			if (!nv) {
				b->nomem = 1;
				return;
			}
			b->pls = nv;
			b->cap_pls = ncap;
		}
		b->pls[b->n_pls++] = p;
	}
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void world_free(struct world_build *b)
{
	if (!b)
		return;
	lp_free(b->outs);
	lp_free(b->pls);
	lp_free(b);
}

/* The cached world, rebuilt when the caches changed; NULL on no memory. */
static struct world_build *world_get(struct lp_webhook *w)
{
	struct world_build *b;
	uint64_t epoch = lp_ctrl_res_epoch(w->ctrl);

	if (w->world && w->world_epoch == epoch)
		return w->world;
	world_free(w->world);
	w->world = NULL;
	b = lp_calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	lp_ctrl_foreach_object(w->ctrl, world_add, b);
	if (b->nomem) {
		world_free(b);
		return NULL;
	}
	lp_outputs_sort(b->outs, b->n_outs);
	w->world = b;
	w->world_epoch = epoch;
	return b;
}

/* A stand-in stdout LogOutput ns/name (for a route to an output that does
 * not exist yet: the pipeline's own text is what is measured). */
static struct lp_output *stand_in(const char *ns, const char *name)
{
	struct lp_problems probs = {0};
	struct lp_output *o = NULL;
	json_t *j = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion",
	                      LP_API_GROUP_VERSION, "kind", "LogOutput", "metadata", "name", name,
	                      "namespace", ns, "spec", "type", "stdout");

	if (j && lp_output_parse(&o, j, &probs) != LP_OK) {
		lp_output_free(o);
		o = NULL;
	}
	lp_problems_free(&probs);
	json_decref(j);
	return o;
}

/* lp_world.pipeline_render_check: renders p alone with the outputs it routes
 * to (stand-ins for those not there yet), and takes the renderer's "too
 * large alone" problem, so the webhook refuses the pipeline the operator
 * (and `logplane validate`) would refuse. */
static lp_err render_check(void *ctx, const struct lp_pipeline *p, const struct lp_world *w,
                           struct lp_problems *probs)
{
	const struct lp_output **outs = lp_calloc(p->n_routes + 1, sizeof(*outs));
	struct lp_output **own = lp_calloc(p->n_routes + 1, sizeof(*own));
	struct lp_render_input in;
	struct lp_rendered r;
	size_t n = 0, n_own = 0;
	lp_err err = LP_ERR_NOMEM;

	(void)ctx;
	if (!outs || !own || !p->meta.ns)
		goto out;
	for (size_t i = 0; i < p->n_routes; i++) {
		const char *ref = p->routes[i].output_ref;
		const char *ons = lp_route_output_ns(p, &p->routes[i]); /* a shared one too */
		const struct lp_output *found = NULL;
		for (size_t j = 0; ref && !found && j < w->n_outputs; j++) {
			const struct lp_output *o = w->outputs[j];
			if (o && o->meta.ns && o->meta.name && !strcmp(o->meta.ns, ons) &&
			    !strcmp(o->meta.name, ref))
				found = o;
		}
		if (!found && ref) {
			if (!(own[n_own] = stand_in(ons, ref)))
				goto out;
			found = own[n_own++];
		}
		if (found)
			outs[n++] = found;
	}
	memset(&in, 0, sizeof(in));
	in.control_ns = w->control_ns;
	in.pipelines = &p;
	in.n_pipelines = 1;
	in.outputs = outs;
	in.n_outputs = n;
	in.no_summaries = 1;
	err = lp_render(&r, &in);
	if (err) /* (r untouched) */
		goto out;
	for (size_t i = 0; !err && i < r.n_problems; i++) {
		const struct lp_render_problem *rp = &r.problems[i];
		if (!strcmp(rp->kind, "LogPipeline") &&
		    !strncmp(rp->message, LP_RENDER_TOO_LARGE_ALONE,
		             strlen(LP_RENDER_TOO_LARGE_ALONE)))
			err = lp_problems_add(probs, rp->field, "%s", rp->message);
	}
	lp_rendered_free(&r);
out:
	for (size_t i = 0; i < n_own; i++)
		lp_output_free(own[i]);
	lp_free(own);
	lp_free(outs);
	return err == LP_ERR_NOMEM ? err : LP_OK;
}

lp_err lp_webhook_handle(struct lp_webhook *w, const char *path, const char *body, size_t len,
                         struct lp_buf *out, int *status, const char **content_type)
{
	struct world_build none = {0}, *b = &none;
	struct lp_world world = {0};
	struct lp_admission_result res;
	double t0 = mono_s();
	lp_err err;

	if (strcmp(path, "/validate") != 0 && strncmp(path, "/validate?", 10) != 0) {
		*status = 404;
		*content_type = "text/plain; charset=utf-8";
		return lp_buf_adds(out, "not found: POST /validate\n");
	}
	if (w->ctrl && !(b = world_get(w)))
		return LP_ERR_NOMEM;
	world.control_ns = w->control_ns;
	world.allow_plain_http = w->allow_plain_http;
	world.outputs = b->outs;
	world.n_outputs = b->n_outs;
	world.outputs_sorted = 1;
	world.pipelines = b->pls;
	world.n_pipelines = b->n_pls;
	world.pipeline_render_check = render_check;
	err = lp_admission_review(body, len, &world, out, &res);
	if (err)
		return err;
	*status = res.http_status;
	if (res.http_status != 200)
		*content_type = "text/plain; charset=utf-8";
	lp_opmetrics_admission(w->metrics, res.kind, lp_admission_verdict_name(res.verdict),
	                       mono_s() - t0);
	if (res.verdict == LP_ADMISSION_REFUSED || res.verdict == LP_ADMISSION_BAD_REQUEST)
		say(w, LP_LOG_DEBUG, "%s: %s", res.kind[0] ? res.kind : "request",
		    lp_admission_verdict_name(res.verdict));
	return LP_OK;
}

static lp_err https_handler(void *ctx, const char *path, const char *body, size_t len,
                            struct lp_buf *out, int *status, const char **content_type)
{
	return lp_webhook_handle(ctx, path, body, len, out, status, content_type);
}

/* ---------- the certificate keeper ---------- */

static void schedule(struct lp_webhook *w, uint64_t ms)
{
	w->step = STEP_IDLE;
	w->call = NULL;
	if (w->timer)
		lp_loop_timer_set(w->loop, w->timer, (int64_t)ms);
}

static char *b64_encode(const char *s)
{
	size_t n = strlen(s);
	char *out = lp_malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static lp_err start_call(struct lp_webhook *w, const char *method, const char *path,
                         const char *body, enum step step, lp_kube_done_cb cb)
{
	struct lp_kube_req req = {0};

	req.method = method;
	if (!strcmp(method, "PATCH"))
		req.content_type = "application/merge-patch+json";
	req.path = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.max_attempts = 2;
	req.timeout_ms = 10000;
	w->step = step;
	return lp_kube_call_start(w->client, &req, cb, w, &w->call);
}

/* The certificate in w->cur goes live (after the caBundle is current). */
static void serve_current(struct lp_webhook *w)
{
	char *copy;

	if (!w->cur.tls_crt || !w->cur.tls_key ||
	    (w->served_crt && !strcmp(w->served_crt, w->cur.tls_crt)))
		return;
	if (lp_https_set_cert(w->https, w->cur.tls_crt, w->cur.tls_key) != LP_OK) {
		say(w, LP_LOG_ERROR,
		    "Secret %s/%s: tls.crt and tls.key do not make a usable "
		    "certificate",
		    w->control_ns, w->secret_name);
		return;
	}
	copy = lp_strdup(w->cur.tls_crt);
	if (copy) {
		lp_free(w->served_crt);
		w->served_crt = copy;
	}
	say(w, LP_LOG_INFO, "serving the certificate of Secret %s/%s", w->control_ns,
	    w->secret_name);
}

static void config_put_done(void *arg, struct lp_kube_resp *resp)
{
	struct lp_webhook *w = arg;

	w->call = NULL;
	if (resp->err) {
		say(w, LP_LOG_WARN,
		    "updating the caBundle of ValidatingWebhookConfiguration %s: %s",
		    w->config_name,
		    resp->message && *resp->message ? resp->message : lp_strerror(resp->err));
		schedule(w, resp->err == LP_ERR_CONFLICT ? 0 : RETRY_MS);
		return;
	}
	say(w, LP_LOG_INFO, "caBundle of ValidatingWebhookConfiguration %s set", w->config_name);
	serve_current(w);
	schedule(w, w->check_ms);
}

static void config_get_done(void *arg, struct lp_kube_resp *resp)
{
	struct lp_webhook *w = arg;
	json_t *cfg = NULL, *hooks, *patch = NULL;
	char *bundle = NULL, *text = NULL, path[512];
	size_t i;
	int changed = 0;
	lp_err err;

	w->call = NULL;
	if (resp->err == LP_ERR_NOTFOUND) {
		if (!w->warned_no_config)
			say(w, LP_LOG_WARN,
			    "ValidatingWebhookConfiguration %s not found: the API "
			    "server does not call this webhook",
			    w->config_name);
		w->warned_no_config = 1;
		serve_current(w);
		schedule(w, w->check_ms);
		return;
	}
	if (resp->err)
		goto retry;
	w->warned_no_config = 0;
	cfg = json_loadb(resp->body.ptr ? resp->body.ptr : "", resp->body.len, 0, NULL);
	hooks = json_object_get(cfg, "webhooks");
	bundle = b64_encode(w->cur.ca_crt);
	if (!cfg || !bundle)
		goto retry;
	for (i = 0; i < json_array_size(hooks); i++) {
		json_t *cc = json_object_get(json_array_get(hooks, i), "clientConfig");
		if (!json_is_object(cc))
			continue;
		if (!json_is_string(json_object_get(cc, "caBundle")) ||
		    strcmp(json_string_value(json_object_get(cc, "caBundle")), bundle) != 0) {
			if (json_object_set_new(cc, "caBundle", json_string(bundle)))
				goto retry;
			changed = 1;
		}
	}
	if (!changed) {
		serve_current(w);
		schedule(w, w->check_ms);
		goto out;
	}
	/* a merge patch of the whole webhooks list, on the resourceVersion read
	 * (a 409 when someone changed it since: read again) */
	patch = json_pack("{s:{s:O}, s:O}", "metadata", "resourceVersion",
	                  json_object_get(json_object_get(cfg, "metadata"), "resourceVersion"),
	                  "webhooks", hooks);
	text = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
	snprintf(path, sizeof(path),
	         "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/%s",
	         w->config_name);
	if (!text || (err = start_call(w, "PATCH", path, text, STEP_PUT_CONFIG, config_put_done)))
		goto retry;
	goto out;
retry:
	say(w, LP_LOG_WARN, "reading ValidatingWebhookConfiguration %s: %s", w->config_name,
	    resp->err ? (resp->message && *resp->message ? resp->message : lp_strerror(resp->err))
	              : "cannot update it");
	serve_current(w); /* the old bundle may still verify it (same CA) */
	schedule(w, RETRY_MS);
out:
	free(text);
	lp_free(bundle);
	json_decref(patch);
	json_decref(cfg);
}

/* The Secret is current: make the caBundle match, then serve. */
static void after_secret(struct lp_webhook *w)
{
	char path[512];

	if (w->external_certs || !w->config_name || !w->config_name[0] || !w->cur.ca_crt) {
		serve_current(w);
		schedule(w, w->check_ms);
		return;
	}
	snprintf(path, sizeof(path),
	         "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/%s",
	         w->config_name);
	if (start_call(w, "GET", path, NULL, STEP_GET_CONFIG, config_get_done) != LP_OK) {
		serve_current(w);
		schedule(w, RETRY_MS);
	}
}

static void secret_write_done(void *arg, struct lp_kube_resp *resp)
{
	struct lp_webhook *w = arg;

	w->call = NULL;
	if (resp->err == LP_ERR_CONFLICT) { /* another replica wrote it first: read theirs */
		lp_certs_clear(&w->cur);
		schedule(w, 0);
		return;
	}
	if (resp->err) {
		say(w, LP_LOG_ERROR, "writing Secret %s/%s: %s", w->control_ns, w->secret_name,
		    resp->message && *resp->message ? resp->message : lp_strerror(resp->err));
		lp_certs_clear(&w->cur);
		schedule(w, RETRY_MS);
		return;
	}
	say(w, LP_LOG_INFO, "Secret %s/%s written with a new certificate", w->control_ns,
	    w->secret_name);
	after_secret(w);
}

static char *secret_body(const struct lp_webhook *w, const struct lp_certs *c, const char *rv)
{
	json_t *o, *data;
	char *text = NULL, *v[4] = {0};
	static const char *const keys[4] = {"ca.crt", "ca.key", "tls.crt", "tls.key"};
	const char *src[4] = {c->ca_crt, c->ca_key, c->tls_crt, c->tls_key};

	o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:s, s:{}}", "apiVersion", "v1",
	              "kind", "Secret", "metadata", "name", w->secret_name, "namespace",
	              w->control_ns, "labels", "app.kubernetes.io/name", "logplane",
	              "app.kubernetes.io/component", "webhook", "type", "kubernetes.io/tls",
	              "data");
	data = json_object_get(o, "data");
	if (!o || !data)
		goto out;
	if (rv &&
	    json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(rv)))
		goto out;
	for (int i = 0; i < 4; i++)
		if (!(v[i] = b64_encode(src[i])) ||
		    json_object_set_new(data, keys[i], json_string(v[i])))
			goto out;
	text = json_dumps(o, JSON_COMPACT);
out:
	for (int i = 0; i < 4; i++)
		lp_free(v[i]);
	json_decref(o);
	return text;
}

static char *data_key(const json_t *data, const char *key)
{
	const char *v = json_string_value(json_object_get(data, key));
	return v ? lp_b64_decode(v, MAX_SECRET_TEXT, NULL) : NULL;
}

static void secret_get_done(void *arg, struct lp_kube_resp *resp)
{
	struct lp_webhook *w = arg;
	json_t *list = NULL, *sec = NULL;
	const json_t *data;
	const char *rv = NULL;
	struct lp_certs got = {0}, renewed = {0};
	enum lp_certs_state st;
	char *body = NULL, path[512];
	lp_err err;

	w->call = NULL;
	if (resp->err && resp->err != LP_ERR_NOTFOUND) {
		say(w, LP_LOG_WARN, "reading Secret %s/%s: %s", w->control_ns, w->secret_name,
		    resp->message && *resp->message ? resp->message : lp_strerror(resp->err));
		schedule(w, RETRY_MS);
		return;
	}
	if (!resp->err) {
		list = json_loadb(resp->body.ptr ? resp->body.ptr : "", resp->body.len, 0, NULL);
		sec = json_incref(json_array_get(json_object_get(list, "items"), 0));
	}
	if (sec) {
		data = json_object_get(sec, "data");
		rv = json_string_value(
		    json_object_get(json_object_get(sec, "metadata"), "resourceVersion"));
		got.ca_crt = data_key(data, "ca.crt");
		got.ca_key = data_key(data, "ca.key");
		got.tls_crt = data_key(data, "tls.crt");
		got.tls_key = data_key(data, "tls.key");
	}
	if (w->external_certs) {
		lp_certs_clear(&w->cur);
		w->cur = got;
		memset(&got, 0, sizeof(got));
		if (!w->cur.tls_crt)
			say(w, LP_LOG_WARN, "Secret %s/%s has no tls.crt yet (cert-manager)",
			    w->control_ns, w->secret_name);
		after_secret(w);
		goto out;
	}
	st = lp_certs_check(&got, (const char *const *)w->names, w->n_names, now_s(w));
	if (st == LP_CERTS_OK) {
		lp_certs_clear(&w->cur);
		w->cur = got;
		memset(&got, 0, sizeof(got));
		after_secret(w);
		goto out;
	}
	err =
	    lp_certs_renew(&renewed, &got, st, (const char *const *)w->names, w->n_names, now_s(w));
	if (err) {
		say(w, LP_LOG_ERROR, "making a certificate: %s", lp_strerror(err));
		schedule(w, RETRY_MS);
		goto out;
	}
	say(w, LP_LOG_INFO, "%s",
	    st == LP_CERTS_RENEW_ALL ? "new CA and serving certificate"
	                             : "new serving certificate");
	body = secret_body(w, &renewed, rv);
	lp_certs_clear(&w->cur);
	w->cur = renewed;
	memset(&renewed, 0, sizeof(renewed));
	if (rv) /* a merge patch on the resourceVersion read: a 409 if another replica won */
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", w->control_ns,
		         w->secret_name);
	else
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets", w->control_ns);
	if (!body || start_call(w, rv ? "PATCH" : "POST", path, body, STEP_WRITE_SECRET,
	                        secret_write_done) != LP_OK) {
		lp_certs_clear(&w->cur);
		schedule(w, RETRY_MS);
	}
out:
	free(body);
	lp_certs_clear(&got);
	lp_certs_clear(&renewed);
	json_decref(sec);
	json_decref(list);
}

static int64_t check_tick(struct lp_loop *loop, void *arg)
{
	struct lp_webhook *w = arg;
	char path[512];
	(void)loop;

	if (w->step != STEP_IDLE)
		return (int64_t)w->check_ms; /* a call is under way; it re-arms the timer */
	/* a list by name: the operator may list Secrets (the ones outputs
	 * reference) but is not granted get */
	snprintf(path, sizeof(path),
	         "/api/v1/namespaces/%s/secrets?fieldSelector=metadata.name%%3D%s", w->control_ns,
	         w->secret_name);
	if (start_call(w, "GET", path, NULL, STEP_GET_SECRET, secret_get_done) != LP_OK) {
		w->step = STEP_IDLE;
		return RETRY_MS;
	}
	return (int64_t)w->check_ms; /* re-armed by schedule() when the chain ends */
}

/* ---------- life cycle ---------- */

lp_err lp_webhook_new(struct lp_webhook **out, struct lp_loop *loop, struct lp_kube_client *client,
                      const struct lp_webhook_opts *o)
{
	struct lp_webhook *w;
	struct lp_https_opts ho = {0};
	lp_err err = LP_ERR_NOMEM;

	if (!out || !loop || !client || !o)
		return LP_ERR_INVALID;
	w = lp_calloc(1, sizeof(*w));
	if (!w)
		return LP_ERR_NOMEM;
	w->loop = loop;
	w->client = client;
	w->external_certs = o->external_certs;
	w->check_ms = o->check_ms ? o->check_ms : 60000;
	w->log = o->log;
	w->metrics = o->metrics;
	w->ctrl = o->ctrl;
	w->now = o->now;
	w->now_ctx = o->now_ctx;
	w->control_ns = lp_strdup(o->control_ns ? o->control_ns : LP_DEFAULT_CONTROL_NAMESPACE);
	w->allow_plain_http = o->allow_plain_http;
	w->secret_name = lp_strdup(o->secret_name ? o->secret_name : "logplane-webhook-tls");
	w->config_name = lp_strdup(o->config_name ? o->config_name : "");
	w->service_name = lp_strdup(o->service_name ? o->service_name : "logplane-webhook");
	if (!w->control_ns || !w->secret_name || !w->config_name || !w->service_name)
		goto fail;
	{
		const char *svc = w->service_name, *ns = w->control_ns, *p = o->extra_names;
		size_t n = strlen(svc) + strlen(ns) + 32;
		for (int i = 0; i < 4; i++)
			if (!(w->names[i] = lp_malloc(n)))
				goto fail;
		snprintf(w->names[0], n, "%s.%s.svc", svc, ns); /* what the API server dials */
		snprintf(w->names[1], n, "%s.%s.svc.cluster.local", svc, ns);
		snprintf(w->names[2], n, "%s.%s", svc, ns);
		snprintf(w->names[3], n, "%s", svc);
		w->n_names = 4;
		while (p && *p) {
			size_t len = strcspn(p, ",");
			if (len) {
				err = LP_ERR_INVALID;
				if (w->n_names == LP_CERTS_MAX_NAMES || len > 253)
					goto fail;
				err = LP_ERR_NOMEM;
				if (!(w->names[w->n_names++] = lp_strndup(p, len)))
					goto fail;
			}
			p += len + (p[len] == ',');
		}
	}
	ho.host = o->host;
	ho.port = o->port;
	ho.loop = loop;
	ho.handler = https_handler;
	ho.ctx = w;
	err = lp_https_new(&w->https, &ho);
	if (err)
		goto fail;
	*out = w;
	return LP_OK;
fail:
	lp_webhook_free(w);
	return err;
}

lp_err lp_webhook_start(struct lp_webhook *w)
{
	if (!w || w->timer)
		return LP_ERR_INVALID;
	return lp_loop_timer_add(w->loop, 0, check_tick, w, &w->timer);
}

void lp_webhook_free(struct lp_webhook *w)
{
	if (!w)
		return;
	if (w->call)
		lp_kube_call_cancel(w->client, w->call);
	if (w->timer)
		lp_loop_timer_del(w->loop, w->timer);
	lp_https_free(w->https);
	world_free(w->world);
	lp_certs_clear(&w->cur);
	lp_free(w->served_crt);
	for (size_t i = 0; i < LP_CERTS_MAX_NAMES; i++)
		lp_free(w->names[i]);
	lp_free(w->control_ns);
	lp_free(w->secret_name);
	lp_free(w->config_name);
	lp_free(w->service_name);
	lp_free(w);
}

int lp_webhook_port(const struct lp_webhook *w)
{
	return w ? lp_https_port(w->https) : -1;
}

int lp_webhook_serving(const struct lp_webhook *w)
{
	return w && lp_https_has_cert(w->https);
}
