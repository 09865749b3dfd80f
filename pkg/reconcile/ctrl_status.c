/* pkg/reconcile/ctrl_status.c: the per-resource status keys: conditions
 * from the facts of the last config computation, written through /status
 * only when they differ from what is there. */
#include "ctrl_int.h"
#include <stdio.h>
#include <string.h>
#include "../kube/apply.h"
#include "../kube/gvr.h"
#include "../util/clock.h"
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
			if (lp_kube_informer_get(c->res[kind], x->key + 2, &kept) && kept)
				memcpy(((struct res_kept *)kept)->written, x->digest, 32);
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

/* The outputs pipeline p (in namespace ns) routes to whose AWS step found a
 * problem (CredentialsResolved or Provisioned False): how many, the first one
 * and why, into sf. A check not done yet, or still converging, is not counted. */
static void outputs_down(struct lp_ctrl *c, const char *ns, const struct lp_pipeline *p,
                         struct lp_status_facts *sf, char *down, size_t downsz, char *why,
                         size_t whysz)
{
	char okey[512];

	for (size_t i = 0; i < p->n_routes; i++) {
		const char *ref = p->routes[i].output_ref;
		void *okept = NULL;
		const struct res_kept *ok;
		const struct lp_ctrl_aws_result *r;
		const struct lp_cond_report *bad;
		int seen_before = 0;

		if (!ref)
			continue;
		for (size_t j = 0; j < i && !seen_before; j++)
			seen_before =
			    p->routes[j].output_ref && !strcmp(p->routes[j].output_ref, ref);
		snprintf(okey, sizeof(okey), "%s/%s", ns, ref);
		if (seen_before || !lp_kube_informer_get(c->res[RES_OUTPUT], okey, &okept) ||
		    !okept)
			continue;
		ok = okept;
		if (!ok->facts || ok->facts->n_problems || ok->deleting || !(r = ok->facts->aws) ||
		    ok->facts->aws_fp != ok->facts->fingerprint)
			continue;
		bad = r->creds.status == LP_COND_FALSE  ? &r->creds
		      : r->prov.status == LP_COND_FALSE ? &r->prov
		                                        : NULL;
		if (!bad)
			continue;
		if (!sf->n_outputs_down++) {
			snprintf(down, downsz, "%s", okey);
			snprintf(why, whysz, "%s=False %s: %s",
			         bad == &r->creds ? "CredentialsResolved" : "Provisioned",
			         bad->reason, bad->message);
			sf->output_down = down;
			sf->output_down_why = why;
		}
	}
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
	json_t *st = NULL, *target = NULL;
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
	sf.problem_field = f->problem_field;
	sf.problem_message = f->problem_message;
	sf.config = f->config;
	sf.render_field = f->render_field;
	sf.render_message = f->render_message;
	snprintf(cfg_msg, sizeof(cfg_msg), "%s",
	         f->config == LP_CONFIG_FAILED ? c->config_error : "");
	if (f->config == LP_CONFIG_APPLIED)
		/* (content-named parts: the name would change with every config) */
		snprintf(cfg_msg, sizeof(cfg_msg), "included in ConfigMaps %s/%s-*", c->control_ns,
		         LP_SHIPPER_CONFIG_NAME);
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
		outputs_down(c, ns, k->p, &sf, down, sizeof(down), down_why, sizeof(down_why));
	lp_status_conditions(&conds, &sf);
	lp_status_digest(digest, k->generation, conds.c, conds.n);
	if (kind == RES_OUTPUT && f->aws && f->aws->target.known && !f->n_problems) {
		target = target_new(f->aws);
		if (!target) {
			err = LP_ERR_NOMEM;
			goto fail;
		}
	}
	lp_status_target_digest(tdigest, target);
	if (tdigest[0]) { /* what we write covers the target too */
		char both[100];
		snprintf(both, sizeof(both), "%.64s/%s", digest, tdigest);
		lp_sha256_hex(digest, both, strlen(both));
	}
	if (!strncmp(digest, k->written, 32) ||
	    (!lp_status_differs(&k->seen, k->generation, conds.c, conds.n) &&
	     !strcmp(tdigest, k->seen.target_digest))) {
		json_decref(target);
		lp_kube_wq_done(c->wq, wqkey, LP_OK);
		return;
	}
	lp_clock_rfc3339(now);
	st = lp_status_new(&k->seen, k->generation, conds.c, conds.n, now);
	if (st && (target ? json_object_set(st, "target", target)
	                  : (k->seen.target_digest[0] &&
	                     json_object_set_new(st, "target", json_null())))) {
		json_decref(st);
		st = NULL;
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
	return;
fail:
	if (x)
		ctrl_call_free(x);
	json_decref(st);
	json_decref(target);
	lp_kube_wq_done(c->wq, wqkey, err);
}
