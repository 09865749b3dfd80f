/* pkg/reconcile/ctrl_status.c: the per-resource status keys: conditions
 * from the facts of the last config computation, written through /status
 * only when they differ from what is there. */
#include "ctrl_int.h"
#include <stdio.h>
#include <string.h>
#include "../kube/apply.h"
#include "../kube/gvr.h"
#include "../util/clock.h"
#include "../util/hex.h"
#include "../util/mem.h"

/* ---------- status keys ---------- */

static void status_done(void *arg, struct lp_kube_resp *resp)
{
	struct call_ctx *x = arg;
	struct lp_ctrl *c = x->c;

	if (c) {
		enum res_kind kind = x->key[0] == 'p' ? RES_PIPELINE : RES_OUTPUT;
		void *kept = NULL;
		if (c->o.metrics)
			c->o.metrics->reconcile(c->o.metrics->ctx, ctrl_res_kind_name[kind],
			                        resp->err ? "error" : "success",
			                        (double)(lp_clock_mono_ms() - x->started_ms) /
			                            1000.0);
		if (!resp->err) {
			c->stats.status_writes++;
			c->status_writes_untrimmed++;
			if (lp_kube_informer_get(c->res[kind], x->key + 2, &kept) && kept) {
				struct res_kept *k = kept;
				k->written_set = (unsigned char)lp_hex_decode(k->written, x->digest,
				                                              sizeof(k->written));
			}
		} else if (resp->err != LP_ERR_NOTFOUND) {
			ctrl_logf(c, LP_LOG_WARN, ctrl_res_kind_name[kind], NULL, x->key + 2,
			          "status write failed: %s",
			          resp->message && *resp->message ? resp->message
			                                          : lp_strerror(resp->err));
		}
		lp_kube_wq_done(c->wq, x->key, resp->err == LP_ERR_NOTFOUND ? LP_OK : resp->err);
		c->last_status_write_ms = ctrl_now_ms(c);
		if (c->status_writes_untrimmed >= TRIM_AFTER_STATUS_WRITES)
			ctrl_idle_queue(c, KEY_TRIM, &c->trim_queued, TRIM_IDLE_MS);
	}
	ctrl_call_free(x);
}

static void agents_facts(struct lp_ctrl *c, const struct res_facts *f, int *agents, char *msg,
                         size_t msgsz)
{
	const struct lp_rollout *ds = ctrl_rollout_of(c, LP_OWNED_DAEMONSET, LP_SHIPPER_NAME);
	const struct lp_rollout *sts = ctrl_rollout_of(c, LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME);

	if (c->rolled_serial && c->rolled_serial >= f->serial_in) {
		/* stable text: a later rollout of other changes must not rewrite it */
		*agents = 1;
		snprintf(msg, msgsz, "DaemonSet %s/%s%s runs this spec", c->control_ns,
		         LP_SHIPPER_NAME,
		         c->want_aggregator ? " and StatefulSet " LP_AGGREGATOR_NAME : "");
		return;
	}
	if (!ds) {
		*agents = -1;
		snprintf(msg, msgsz, "waiting for DaemonSet %s/%s", c->control_ns, LP_SHIPPER_NAME);
		return;
	}
	*agents = 0;
	if (ds->done && strcmp(ds->config_hash, c->cur_hash) != 0)
		snprintf(msg, msgsz, "DaemonSet %s/%s: waiting for pods with configuration %.12s",
		         c->control_ns, LP_SHIPPER_NAME, c->cur_hash);
	else if (!ds->done)
		snprintf(msg, msgsz, "%s", ds->message);
	else if (c->want_aggregator)
		snprintf(msg, msgsz, "%s", sts ? sts->message : "waiting for the aggregator");
	else
		snprintf(msg, msgsz, "%s", ds->message);
}

/* status.target of an AWS output: empty strings left out. NULL on no memory. */
static json_t *target_new(const struct lp_ctrl_aws_result *r)
{
	json_t *t = json_pack("{s:s, s:s, s:b}", "type", r->target.type, "name", r->target.name,
	                      "provisioned", r->target.provisioned);
	int bad = 0;

	if (!t)
		return NULL;
	if (r->target.arn[0])
		bad |= json_object_set_new(t, "arn", json_string(r->target.arn));
	if (r->target.region[0])
		bad |= json_object_set_new(t, "region", json_string(r->target.region));
	if (r->target.state[0])
		bad |= json_object_set_new(t, "state", json_string(r->target.state));
	if (bad) {
		json_decref(t);
		return NULL;
	}
	return t;
}

/* What a pipeline's route to LogOutput okey ("ns/name") comes to, from the
 * output's side: status (True: nothing known against it), reason, and why in
 * the words of the output's own conditions ("Valid=False Invalid: ..."). */
struct route_state {
	enum lp_cond_status status;
	const char *reason;
	char why[1200];
};

static void route_state_of(struct lp_ctrl *c, const char *okey, struct route_state *rs)
{
	void *okept = NULL;
	const struct res_kept *ok;
	const struct res_facts *of;
	const struct res_problems *op;
	const struct lp_ctrl_aws_result *r;
	const struct lp_cond_report *bad;

	rs->status = LP_COND_FALSE;
	rs->why[0] = '\0';
	if (!lp_kube_informer_get(c->res[RES_OUTPUT], okey, &okept) || !okept) {
		rs->reason = "NotFound";
		snprintf(rs->why, sizeof(rs->why), "not found");
		return;
	}
	ok = okept;
	of = ok->facts;
	op = ctrl_problems(of);
	if (ok->deleting) {
		rs->reason = "Deleting";
		snprintf(rs->why, sizeof(rs->why), "being deleted");
	} else if (!of || of->generation != ok->generation) {
		rs->status = LP_COND_UNKNOWN;
		rs->reason = "Pending";
		snprintf(rs->why, sizeof(rs->why), "not checked yet");
	} else if (of->n_problems) {
		rs->reason = "OutputInvalid";
		snprintf(rs->why, sizeof(rs->why), "Valid=False Invalid: %s%s%s%s",
		         op->problem_field && *op->problem_field ? op->problem_field : "",
		         op->problem_field && *op->problem_field ? ": " : "",
		         op->problem_message ? op->problem_message : "invalid",
		         of->n_problems > 1 ? " (and more problems)" : "");
	} else if (of->config == LP_CONFIG_LEFT_OUT || of->config == LP_CONFIG_ROLLED_BACK) {
		rs->reason =
		    of->config == LP_CONFIG_LEFT_OUT ? "OutputLeftOut" : "OutputRolledBack";
		snprintf(rs->why, sizeof(rs->why), "ConfigGenerated=False %s: %s%s%s",
		         of->config == LP_CONFIG_LEFT_OUT ? "RenderFailed" : "RolledBack",
		         op->render_field && *op->render_field ? op->render_field : "",
		         op->render_field && *op->render_field ? ": " : "",
		         op->render_message ? op->render_message : "left out");
	} else if (of->config == LP_CONFIG_OVER_LIMIT) {
		rs->reason = "OutputLimitExceeded";
		snprintf(rs->why, sizeof(rs->why), "ConfigGenerated=False LimitExceeded: %s",
		         op->render_message ? op->render_message : "left out");
	} else if ((r = of->aws) && of->aws_fp == of->fingerprint &&
	           (bad = r->creds.status == LP_COND_FALSE  ? &r->creds
	                  : r->prov.status == LP_COND_FALSE ? &r->prov
	                                                    : NULL)) {
		rs->reason = bad->reason;
		snprintf(rs->why, sizeof(rs->why), "%s=False %s: %s",
		         bad == &r->creds ? "CredentialsResolved" : "Provisioned", bad->reason,
		         bad->message);
	} else {
		/* an AWS step not done yet, or converging, is not held against it */
		rs->status = LP_COND_TRUE;
		rs->reason = "Routed";
	}
}

/* status.outputs of pipeline p (in namespace ns, conditions conds): one entry
 * per LogOutput it routes to, in route order, with whether records reach it
 * ("True": in the configuration the agents run, and the output reports no
 * problem) and why not. Also counts the outputs that are down into sf (the
 * first named) before the conditions are computed: call with outputs NULL
 * for that. */
static lp_err route_states(struct lp_ctrl *c, const char *ns, const struct lp_pipeline *p,
                           const struct lp_status_conds *conds, struct lp_status_facts *sf,
                           char *down, size_t downsz, char *why, size_t whysz, json_t *outputs)
{
	const struct lp_cond *ready = conds ? lp_status_find(conds, "Ready") : NULL;
	char okey[512];

	for (size_t i = 0; i < p->n_routes; i++) {
		const char *ref = p->routes[i].output_ref;
		struct route_state rs;
		int seen_before = 0;
		const char *reason, *msg;
		enum lp_cond_status st;

		for (size_t j = 0; ref && j < i && !seen_before; j++)
			seen_before = p->routes[j].output_ref &&
			              !strcmp(p->routes[j].output_ref, ref) &&
			              !strcmp(lp_route_output_ns(p, &p->routes[j]),
			                      lp_route_output_ns(p, &p->routes[i]));
		if (!ref || seen_before)
			continue;
		snprintf(okey, sizeof(okey), "%s/%s",
		         p->routes[i].output_ns ? p->routes[i].output_ns : ns, ref);
		route_state_of(c, okey, &rs);
		if (!outputs) {
			if (rs.status == LP_COND_FALSE && !sf->n_outputs_down++) {
				snprintf(down, downsz, "%s", okey);
				snprintf(why, whysz, "%s", rs.why);
				sf->output_down = down;
				sf->output_down_why = why;
			}
			continue;
		}
		st = rs.status;
		reason = rs.reason;
		msg = rs.why;
		if (st == LP_COND_TRUE && ready && ready->status != LP_COND_TRUE &&
		    strcmp(ready->reason, "OutputNotReady")) {
			/* the output is fine; this pipeline is not running (yet) */
			st = sf->config == LP_CONFIG_APPLIED ? LP_COND_UNKNOWN : LP_COND_FALSE;
			reason = "PipelineNotReady";
			msg = "this LogPipeline is not Ready (see its Ready condition)";
		} else if (st == LP_COND_TRUE) {
			msg = "in the configuration the Fluent Bit pods run; the LogOutput reports "
			      "no "
			      "problem";
		}
		/* a shared output of the control namespace as namespace/name */
		if (json_array_append_new(outputs,
		                          json_pack("{s:s, s:s, s:s, s:s}", "name",
		                                    strcmp(okey, ref) && p->routes[i].output_ns &&
		                                            strcmp(p->routes[i].output_ns, ns)
		                                        ? okey
		                                        : ref,
		                                    "delivered", lp_cond_status_name(st), "reason",
		                                    reason, "message", msg)))
			return LP_ERR_NOMEM;
	}
	return LP_OK;
}

/* status.pipelines: an array of the '\n'-separated names in feeders. NULL
 * on no memory. */
static json_t *feeders_new(const char *feeders)
{
	json_t *list = json_array();

	for (const char *p = feeders, *e; list && p; p = *e ? e + 1 : NULL) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (json_array_append_new(list, json_stringn(p, (size_t)(e - p)))) {
			json_decref(list);
			list = NULL;
		}
	}
	return list;
}

/* The status fields besides the conditions (lp_status_extra_keys) of the
 * resource k (kind, facts f) into extra. */
static lp_err extras_fill(struct lp_ctrl *c, enum res_kind kind, const char *ns,
                          const struct res_kept *k, const struct res_facts *f,
                          const struct lp_status_conds *conds, struct lp_status_facts *sf,
                          json_t *extra)
{
	const struct res_problems *pr = ctrl_problems(f);
	int bad = 0;

	if (pr->problems && pr->problem_count) {
		bad |= json_object_set(extra, "problems", pr->problems);
		bad |= json_object_set_new(extra, "problemCount",
		                           json_integer((json_int_t)pr->problem_count));
	}
	if (kind == RES_PIPELINE && k->p) {
		json_t *outs = json_array();
		if (!outs || json_object_set_new(extra, "outputs", outs))
			return LP_ERR_NOMEM;
		if (route_states(c, ns, k->p, conds, sf, NULL, 0, NULL, 0, outs))
			return LP_ERR_NOMEM;
		if (f->config == LP_CONFIG_APPLIED && f->has_config_hash) {
			char hex[65];
			lp_hex_encode(hex, f->config_hash, sizeof(f->config_hash));
			bad |= json_object_set_new(extra, "configHash", json_string(hex));
		}
	}
	if (kind == RES_OUTPUT && !f->n_problems) {
		bad |= json_object_set_new(extra, "pipelineCount",
		                           json_integer((json_int_t)f->n_feeders));
		if (f->feeders)
			bad |= json_object_set_new(extra, "pipelines", feeders_new(f->feeders));
	}
	return bad ? LP_ERR_NOMEM : LP_OK;
}

/* 1 when digest (hex) is the one of the status we last wrote to k. */
static int written_is(const struct res_kept *k, const char *digest)
{
	unsigned char bin[sizeof(k->written)];

	return k->written_set && lp_hex_decode(bin, digest, sizeof(bin)) &&
	       !memcmp(bin, k->written, sizeof(bin));
}

void ctrl_handle_status(struct lp_ctrl *c, const char *wqkey)
{
	enum res_kind kind = wqkey[0] == 'p' ? RES_PIPELINE : RES_OUTPUT;
	const char *key = wqkey + 2;
	void *kept = NULL;
	struct res_kept *k;
	struct res_facts *f;
	struct lp_status_facts sf = {0};
	struct lp_status_conds conds;
	struct lp_cond extra[2];
	char agents_msg[512], cfg_msg[300], ns[256], digest[65], tdigest[17], now[21];
	char down[512], down_why[1200];
	const char *name;
	json_t *st = NULL, *target = NULL, *fields = NULL;
	struct call_ctx *x = NULL;
	lp_err err;

	if (!c->leading || c->shutting_down || !lp_kube_informer_get(c->res[kind], key, &kept) ||
	    !kept) {
		lp_kube_wq_done(c->wq, wqkey, LP_OK);
		return;
	}
	k = kept;
	f = k->facts;
	if (!f || f->generation != k->generation || k->deleting) {
		lp_kube_wq_done(c->wq, wqkey, LP_OK); /* the config key will come back */
		return;
	}
	ctrl_split_key(key, ns, sizeof(ns), &name);
	sf.generation = k->generation;
	sf.n_problems = f->n_problems;
	sf.problem_field = ctrl_problems(f)->problem_field;
	sf.problem_message = ctrl_problems(f)->problem_message;
	sf.config = f->config;
	sf.render_field = ctrl_problems(f)->render_field;
	sf.render_message = ctrl_problems(f)->render_message;
	snprintf(cfg_msg, sizeof(cfg_msg), "%s",
	         f->config == LP_CONFIG_FAILED ? c->config_error : "");
	if (f->config == LP_CONFIG_APPLIED)
		/* (content-named parts: the name would change with every config) */
		snprintf(cfg_msg, sizeof(cfg_msg), "included in ConfigMaps %s/%s-*", c->control_ns,
		         LP_SHIPPER_CONFIG_NAME);
	if (f->config == LP_CONFIG_APPLIED && kind == RES_PIPELINE && k->p &&
	    lp_render_weaker_delivery(k->p)) {
		/* the delivery where the shape gives less than the outputs' modes */
		size_t l = strlen(cfg_msg);
		snprintf(cfg_msg + l, sizeof(cfg_msg) - l, "; delivery: %s",
		         lp_render_weaker_delivery(k->p));
	}
	sf.config_message = cfg_msg;
	agents_facts(c, f, &sf.agents, agents_msg, sizeof(agents_msg));
	sf.unused = f->unused;
	if (f->unused) {
		snprintf(cfg_msg, sizeof(cfg_msg),
		         "not referenced by any valid LogPipeline: nothing to render");
		snprintf(agents_msg, sizeof(agents_msg),
		         "no Fluent Bit pod sends to it until a LogPipeline routes to it");
		sf.agents = 1;
	}
	sf.agents_message = agents_msg;
	if (kind == RES_OUTPUT && k->o && lp_output_type_is_aws(k->o->type) && c->o.aws &&
	    !f->n_problems) {
		if (f->aws) {
			extra[0] = (struct lp_cond){"CredentialsResolved", f->aws->creds.status,
			                            f->aws->creds.reason, f->aws->creds.message};
			extra[1] = (struct lp_cond){"Provisioned", f->aws->prov.status,
			                            f->aws->prov.reason, f->aws->prov.message};
		} else {
			extra[0] = (struct lp_cond){"CredentialsResolved", LP_COND_UNKNOWN,
			                            "Pending", "credentials not checked yet"};
			extra[1] = (struct lp_cond){"Provisioned", LP_COND_UNKNOWN, "Pending",
			                            "AWS resources not checked yet"};
		}
		sf.extra = extra;
		sf.n_extra = 2;
	}
	if (kind == RES_PIPELINE && k->p && !f->n_problems)
		(void)route_states(c, ns, k->p, NULL, &sf, down, sizeof(down), down_why,
		                   sizeof(down_why), NULL);
	lp_status_conditions(&conds, &sf);
	lp_status_digest(digest, k->generation, conds.c, conds.n);
	fields = json_object();
	if (!fields || extras_fill(c, kind, ns, k, f, &conds, &sf, fields)) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	if (kind == RES_OUTPUT && f->aws && f->aws->target.known && !f->n_problems) {
		target = target_new(f->aws);
		if (!target || json_object_set(fields, "target", target)) {
			err = LP_ERR_NOMEM;
			goto fail;
		}
	}
	lp_status_extra_digest(tdigest, fields);
	if (tdigest[0]) { /* what we write covers the other fields too */
		char both[100];
		snprintf(both, sizeof(both), "%.64s/%s", digest, tdigest);
		lp_sha256_hex(digest, both, strlen(both));
	}
	if (written_is(k, digest) ||
	    (!lp_status_differs(&k->seen, k->generation, conds.c, conds.n) &&
	     !strcmp(tdigest, k->seen.extra_digest))) {
		json_decref(target);
		json_decref(fields);
		lp_kube_wq_done(c->wq, wqkey, LP_OK);
		return;
	}
	lp_clock_rfc3339(now);
	st = lp_status_new(&k->seen, k->generation, conds.c, conds.n, now);
	for (size_t i = 0; st && lp_status_extra_keys[i]; i++) {
		const char *key_i = lp_status_extra_keys[i];
		json_t *v = json_object_get(fields, key_i);
		/* a merge patch: null removes what was there */
		if ((v || k->seen.extra_digest[0]) &&
		    json_object_set_new(st, key_i, v ? json_incref(v) : json_null())) {
			json_decref(st);
			st = NULL;
		}
	}
	x = ctrl_call_new(c, CALL_STATUS);
	if (!st || !x || !(x->key = lp_strdup(wqkey))) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	memcpy(x->digest, digest, sizeof(digest));
	x->started_ms = lp_clock_mono_ms();
	err = lp_kube_status_patch(
	    c->client, kind == RES_PIPELINE ? &lp_kube_gvr_logpipelines : &lp_kube_gvr_logoutputs,
	    ns, name, st, status_done, x);
	if (err)
		goto fail;
	json_decref(st);
	json_decref(target);
	json_decref(fields);
	return;
fail:
	if (x)
		ctrl_call_free(x);
	json_decref(st);
	json_decref(target);
	json_decref(fields);
	lp_kube_wq_done(c->wq, wqkey, err);
}
