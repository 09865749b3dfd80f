/* pkg/reconcile/ctrl_outputs.c: what follows a config application for each
 * LogOutput: its finalizer (added while it owns something outside its
 * namespace, removed once cleaned up) and its AWS jobs (credentials check,
 * provisioning, cleanup) on the worker thread. */
#include "ctrl_int.h"
#include <stdio.h>
#include <string.h>
#include "../kube/apply.h"
#include "../kube/events.h"
#include "../kube/gvr.h"
#include "../kube/client.h"
#include "../util/b64.h"
#include "../util/mem.h"

static int output_needs_finalizer(struct lp_ctrl *c, const struct res_kept *k, size_t n_refs)
{
	const struct lp_output *o = k->o;
	int prov = lp_output_provision(o);

	if (!o)
		return 0;
	if (prov && c->o.aws)
		return 1;
	/* its Secrets are mirrored into the control namespace */
	return n_refs > 0 && o->meta.ns && strcmp(o->meta.ns, c->control_ns) != 0;
}

static int has_finalizer(const struct res_kept *k)
{
	size_t i;
	const json_t *v;
	json_array_foreach(k->finalizers, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), LP_FINALIZER))
			return 1;
	}
	return 0;
}

static void count_ref(void *arg, const char *name)
{
	(*(size_t *)arg)++;
}

/* ---------- finalizers and AWS ---------- */

static void finalizer_done(void *arg, struct lp_kube_resp *resp)
{
	struct call_ctx *x = arg;
	struct lp_ctrl *c = x->c;

	if (c) {
		void *kept = NULL;
		if (lp_kube_informer_get(c->res[RES_OUTPUT], x->key, &kept) && kept &&
		    ((struct res_kept *)kept)->facts)
			((struct res_kept *)kept)->facts->finalizer_inflight = 0;
		if (resp->err && resp->err != LP_ERR_NOTFOUND) {
			ctrl_logf(c, LP_LOG_WARN, "LogOutput", NULL, x->key, "finalizer update: %s",
			          resp->message && *resp->message ? resp->message
			                                          : lp_strerror(resp->err));
			ctrl_enqueue(c, KEY_CONFIG);
		}
	}
	ctrl_call_free(x);
}

/* Starts adding (add 1) or removing k's finalizer, unless one is in flight.
 * Returns what kept it from starting. */
static lp_err finalizer_change(struct lp_ctrl *c, const char *key, struct res_kept *k, int add)
{
	char ns[256];
	const char *name, *rv = lp_kube_informer_rv(c->res[RES_OUTPUT], key);
	struct call_ctx *x;
	lp_err err;

	if (k->facts->finalizer_inflight || !rv)
		return LP_OK;
	ctrl_split_key(key, ns, sizeof(ns), &name);
	x = ctrl_call_new(c, CALL_FINALIZER);
	if (!x || !(x->key = lp_strdup(key))) {
		if (x)
			ctrl_call_free(x);
		return LP_ERR_NOMEM;
	}
	if (add)
		err = lp_kube_finalizer_add(c->client, &lp_kube_gvr_logoutputs, ns, name,
		                            k->finalizers, rv, LP_FINALIZER, finalizer_done, x);
	else
		err = lp_kube_finalizer_remove(c->client, &lp_kube_gvr_logoutputs, ns, name,
		                               k->finalizers, rv, LP_FINALIZER, finalizer_done, x);
	if (err) {
		ctrl_call_free(x);
		return err;
	}
	k->facts->finalizer_inflight = 1;
	ctrl_logf(c, LP_LOG_INFO, "LogOutput", ns, name, "%s finalizer %s",
	          add ? "adding" : "removing", LP_FINALIZER);
	return LP_OK;
}

struct aws_job {
	struct lp_ctrl *c;
	const struct lp_ctrl_aws_ops *ops; /* the only thing the worker thread reads */
	struct res_kept *k;                /* referenced */
	char *key;
	int deleting;
	uint64_t fp;
	char *ak, *sk, *st; /* decoded credentials */
	struct lp_ctrl_aws_result res;
	struct aws_job *next;
};

static void aws_run(void *arg)
{
	struct aws_job *j = arg;
	struct lp_ctrl_aws_creds creds = {j->ak, j->sk, j->st};
	j->ops->reconcile(j->ops->ctx, j->k->o, &creds, j->deleting, &j->res);
}

static void aws_job_free(struct aws_job *j)
{
	ctrl_res_unref(j->k);
	lp_free(j->key);
	lp_free(j->ak);
	lp_free(j->sk);
	lp_free(j->st);
	lp_free(j);
}

/* Nothing left to wait for: credentials resolved and target provisioned. */
static int aws_final(const struct lp_ctrl_aws_result *r)
{
	return r->creds.status == LP_COND_TRUE && r->prov.status == LP_COND_TRUE;
}

/* When to run the AWS step of an output again after result r. */
static uint64_t aws_retry_ms(const struct lp_ctrl_aws_result *r)
{
	if (r->in_progress) /* converging: as soon as the target may be ready */
		return r->requeue_after_ms ? r->requeue_after_ms : AWS_CONVERGE_MS;
	return aws_final(r) ? AWS_RECHECK_MS : AWS_RETRY_MS;
}

/* One Normal Event on the LogOutput per change the AWS step made. A setting
 * applied to a target this operator created and has not yet seen Provisioned
 * (a stream is created with AWS's default retention, then set) finishes the
 * creation: reason Provisioned, never DriftCorrected. */
static void aws_events(struct lp_ctrl *c, const char *key, const struct res_kept *k,
                       struct res_facts *f, const struct lp_ctrl_aws_result *r)
{
	char ns[256], msg[320];
	const char *name;

	ctrl_split_key(key, ns, sizeof(ns), &name);
	for (size_t i = 0; i < r->n_events && i < LP_CTRL_AWS_MAX_EVENTS; i++) {
		struct lp_kube_objref ref = {LP_API_GROUP_VERSION, "LogOutput", ns, name,
		                             ctrl_res_uid(k),      NULL};
		const char *ev = r->events[i];
		const char *reason = !strncmp(ev, "created", 7)   ? "Provisioned"
		                     : !strncmp(ev, "deleted", 7) ? "Deprovisioned"
		                                                  : "DriftCorrected";
		if (!strncmp(ev, "created", 7))
			f->aws_creating = 1;
		else if (f->aws_creating && !strcmp(reason, "DriftCorrected")) {
			/* "set retention of s back to 48h (was 24h)" becomes
			 * "set retention of s to 48h (finishing creation; was 24h)" */
			const char *back = strstr(ev, " back to ");
			const char *was = strstr(ev, " (was ");
			if (back && was && was > back)
				snprintf(
				    msg, sizeof(msg), "%.*s to %.*s (finishing creation; was %s",
				    (int)(back - ev), ev, (int)(was - back - 9), back + 9, was + 6);
			else
				snprintf(msg, sizeof(msg), "%s (finishing creation)", ev);
			ev = msg;
			reason = "Provisioned";
		}
		ctrl_logf(c, LP_LOG_INFO, "LogOutput", ns, name, "%s: %s", reason, ev);
		if (c->events && c->leading &&
		    lp_kube_event(c->events, &ref, "Normal", reason, ev) == LP_OK)
			c->stats.events++;
	}
}

static void aws_done(void *arg, int cancelled)
{
	struct aws_job *j = arg;
	struct lp_ctrl *c = j->c;
	void *kept = NULL;

	if (!cancelled && c && lp_kube_informer_get(c->res[RES_OUTPUT], j->key, &kept) && kept) {
		struct res_kept *k = kept;
		struct res_facts *f = ctrl_facts_of(k);
		if (f) {
			int was_down = f->aws && (f->aws->creds.status == LP_COND_FALSE ||
			                          f->aws->prov.status == LP_COND_FALSE);
			int is_down = j->res.creds.status == LP_COND_FALSE ||
			              j->res.prov.status == LP_COND_FALSE;
			f->aws_inflight = 0;
			if (was_down || is_down) /* the Ready of the pipelines routing here */
				ctrl_status_all(c);
			if (!f->aws)
				f->aws = lp_calloc(1, sizeof(*f->aws));
			if (f->aws) {
				*f->aws = j->res;
				f->aws_fp = j->fp;
				f->aws_checked_ms = ctrl_now_ms(c);
			}
			if (j->deleting) {
				f->cleanup_tried_ms = ctrl_now_ms(c);
				f->cleanup_done = j->res.cleanup_done != 0;
			}
			aws_events(c, j->key, k, f, &j->res);
			if (j->res.prov.status == LP_COND_TRUE)
				f->aws_creating = 0;
			ctrl_enqueue_res(c, RES_OUTPUT, j->key);
			if (j->deleting && j->res.cleanup_done && c->config_failures)
				(void)ctrl_outputs_after_failed_config(
				    c); /* the config key retries */
			if (j->deleting && j->res.cleanup_done)
				ctrl_enqueue(c, KEY_CONFIG); /* the finalizer can go */
			else if (!aws_final(&j->res) &&
			         lp_kube_wq_add_after(c->wq, KEY_CONFIG, aws_retry_ms(&j->res)) !=
			             LP_OK)
				ctrl_logf(c, LP_LOG_WARN, "LogOutput", NULL, j->key,
				          "cannot schedule a retry");
		}
	}
	aws_job_free(j);
}

/* Hands k's AWS step to the worker, unless one is in flight. Returns what
 * kept it from starting. */
static lp_err aws_submit(struct lp_ctrl *c, const char *key, struct res_kept *k, int deleting)
{
	struct res_facts *f = k->facts;
	struct aws_job *j;
	const struct lp_aws_credentials *cr = &k->o->aws.credentials;

	lp_err err;

	if (!c->worker || f->aws_inflight)
		return LP_OK;
	j = lp_calloc(1, sizeof(*j));
	if (!j)
		return LP_ERR_NOMEM;
	j->c = c;
	j->ops = c->o.aws;
	j->k = k;
	k->refs++;
	j->key = lp_strdup(key);
	j->deleting = deleting;
	j->fp = f->fingerprint;
	if (cr->secret_name) {
		j->ak =
		    lp_b64_decode(ctrl_secret_value(c, k->o->meta.ns, cr->secret_name,
		                                    cr->access_key_id_key ? cr->access_key_id_key
		                                                          : "AWS_ACCESS_KEY_ID"),
		                  LP_SECRET_VALUE_MAX, NULL);
		j->sk = lp_b64_decode(ctrl_secret_value(c, k->o->meta.ns, cr->secret_name,
		                                        cr->secret_access_key_key
		                                            ? cr->secret_access_key_key
		                                            : "AWS_SECRET_ACCESS_KEY"),
		                      LP_SECRET_VALUE_MAX, NULL);
		if (cr->session_token_key)
			j->st = lp_b64_decode(ctrl_secret_value(c, k->o->meta.ns, cr->secret_name,
			                                        cr->session_token_key),
			                      LP_SECRET_VALUE_MAX, NULL);
	}
	err = j->key ? lp_worker_submit(c->worker, aws_run, aws_done, j) : LP_ERR_NOMEM;
	if (err) {
		aws_job_free(j);
		return err;
	}
	f->aws_inflight = 1;
	return LP_OK;
}

static lp_err deleting_step(struct lp_ctrl *c, const char *key, struct res_kept *k, int applied);

static void ns_done(void *arg, struct lp_kube_resp *resp)
{
	struct call_ctx *x = arg;
	struct lp_ctrl *c = x->c;
	void *kept = NULL;
	json_t *ns = NULL;
	const char *phase;

	if (c && lp_kube_informer_get(c->res[RES_OUTPUT], x->key, &kept) && kept &&
	    ((struct res_kept *)kept)->facts) {
		struct res_kept *k = kept;
		k->facts->ns_inflight = 0;
		if (!resp->err)
			ns = json_loadb(lp_buf_str(&resp->body), resp->body.len, 0, NULL);
		phase = json_string_value(json_object_get(json_object_get(ns, "status"), "phase"));
		/* gone, or being deleted: its Secrets go with it */
		k->facts->ns_terminating =
		    resp->err == LP_ERR_NOTFOUND ||
		    json_object_get(json_object_get(ns, "metadata"), "deletionTimestamp") ||
		    (phase && !strcmp(phase, "Terminating"));
		if (resp->err && resp->err != LP_ERR_NOTFOUND)
			ctrl_logf(c, LP_LOG_WARN, "LogOutput", NULL, x->key, "namespace check: %s",
			          resp->message && *resp->message ? resp->message
			                                          : lp_strerror(resp->err));
		if (k->facts->ns_terminating && k->deleting && c->config_failures &&
		    deleting_step(c, x->key, k, 0) != LP_OK)
			ctrl_enqueue(c, KEY_CONFIG);
	}
	json_decref(ns);
	ctrl_call_free(x);
}

/* Starts a GET of the namespace of output key (at most every AWS_RETRY_MS);
 * ns_done records whether it is terminating. */
static lp_err ns_check(struct lp_ctrl *c, const char *key, struct res_kept *k)
{
	struct lp_kube_req req = {.method = "GET"};
	struct lp_buf path;
	struct call_ctx *x = NULL;
	char ns[256];
	const char *name;
	lp_err err;

	if (k->facts->ns_inflight ||
	    (k->facts->ns_checked_ms && ctrl_now_ms(c) - k->facts->ns_checked_ms < AWS_RETRY_MS))
		return LP_OK;
	ctrl_split_key(key, ns, sizeof(ns), &name);
	lp_buf_init(&path, 0);
	err = lp_kube_path(&path, &lp_kube_gvr_namespaces, NULL, ns, NULL);
	if (!err) {
		x = ctrl_call_new(c, CALL_FINALIZER);
		if (!x || !(x->key = lp_strdup(key)))
			err = LP_ERR_NOMEM;
	}
	if (!err) {
		req.path = lp_buf_str(&path);
		err = lp_kube_call_start(c->client, &req, ns_done, x, NULL);
	}
	if (err) {
		if (x)
			ctrl_call_free(x);
	} else {
		k->facts->ns_inflight = 1;
		k->facts->ns_checked_ms = ctrl_now_ms(c);
	}
	lp_buf_free(&path);
	return err;
}

/* What an output being deleted still needs before its finalizer goes. Its
 * AWS cleanup first (deletionPolicy Delete deletes the target; Retain, or a
 * target logplane did not provision, makes no AWS call). Then, after a
 * successful config application (applied 1), nothing. When applications fail
 * (a terminating control namespace refuses writes), the finalizer goes all
 * the same, except for an output whose Secrets are copied into the control
 * namespace while its own namespace is not terminating: the copies go with
 * the next application that succeeds. */
static lp_err deleting_step(struct lp_ctrl *c, const char *key, struct res_kept *k, int applied)
{
	int aws = lp_output_type_is_aws(k->o->type) && c->o.aws;
	size_t n_refs = 0;

	if (!has_finalizer(k))
		return LP_OK;
	if (aws && output_needs_finalizer(c, k, 0) && !k->facts->cleanup_done) {
		if (!k->facts->cleanup_tried_ms ||
		    ctrl_now_ms(c) - k->facts->cleanup_tried_ms >= AWS_RETRY_MS)
			return aws_submit(c, key, k, 1);
		return LP_OK;
	}
	ctrl_output_secret_refs(k->o, count_ref, &n_refs);
	if (!applied && !aws && output_needs_finalizer(c, k, n_refs) && !k->facts->ns_terminating)
		return ns_check(c, key, k);
	return finalizer_change(c, key, k, 0);
}

/* After a failed config application (or computation): the outputs being
 * deleted, as deleting_step says; the others wait for a success. Returns the
 * first step that could not start. */
lp_err ctrl_outputs_after_failed_config(struct lp_ctrl *c)
{
	struct collect out = {c, NULL, NULL, 0, 0, LP_OK};
	lp_err err;

	lp_kube_informer_foreach(c->res[RES_OUTPUT], ctrl_collect_fn, &out);
	err = out.err;
	for (size_t i = 0; i < out.n && !err; i++)
		if (out.v[i]->o && out.v[i]->deleting && ctrl_facts_of(out.v[i]))
			err = deleting_step(c, out.keys[i], out.v[i], 0);
	lp_free(out.v);
	lp_free(out.keys);
	return err;
}

/* After a successful config application: finalizers, AWS checks. Returns
 * the first step that could not start (the caller retries them all). */
lp_err ctrl_outputs_after_config(struct lp_ctrl *c)
{
	struct collect out = {c, NULL, NULL, 0, 0, LP_OK};
	lp_err err = LP_OK;

	lp_kube_informer_foreach(c->res[RES_OUTPUT], ctrl_collect_fn, &out);
	err = out.err;
	for (size_t i = 0; i < out.n && !err; i++) {
		struct res_kept *k = out.v[i];
		size_t n_refs = 0;
		int aws;
		if (!k->o || !k->facts)
			continue;
		ctrl_output_secret_refs(k->o, count_ref, &n_refs);
		aws = lp_output_type_is_aws(k->o->type) && c->o.aws;
		if (k->deleting) {
			err = deleting_step(c, out.keys[i], k, 1);
			continue;
		}
		/* an invalid output, or one the renderer refused, is never provisioned:
		 * no AssumeRole, no AWS call made for it */
		if (k->facts->n_problems || k->facts->config == LP_CONFIG_LEFT_OUT ||
		    k->facts->config == LP_CONFIG_OVER_LIMIT)
			continue;
		if (output_needs_finalizer(c, k, n_refs) && !has_finalizer(k))
			err = finalizer_change(c, out.keys[i], k, 1);
		if (!err && aws &&
		    (!k->facts->aws || k->facts->aws_fp != k->facts->fingerprint ||
		     ctrl_now_ms(c) - k->facts->aws_checked_ms >= aws_retry_ms(k->facts->aws)))
			err = aws_submit(c, out.keys[i], k, 0);
	}
	lp_free(out.v);
	lp_free(out.keys);
	return err;
}
