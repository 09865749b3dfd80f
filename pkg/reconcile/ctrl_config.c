/* pkg/reconcile/ctrl_config.c: the "config" key: one config computation in
 * numbered steps (validate, render and build, per-resource facts, diff into a
 * run of writes), its debounce, and what follows the run (applied or failed). */
#include "ctrl_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../kube/events.h"
#include "../util/buf.h"
#include "../util/clock.h"
#include "../util/hash.h"
#include "../util/hex.h"
#include "../util/mem.h"

struct res_facts *ctrl_facts_of(struct res_kept *k)
{
	if (!k->facts) {
		k->facts = lp_calloc(1, sizeof(*k->facts));
		if (k->facts)
			k->facts->generation = -1;
	}
	return k->facts;
}

const struct res_problems *ctrl_problems(const struct res_facts *f)
{
	static const struct res_problems none;

	return f && f->pr ? f->pr : &none;
}

struct res_problems *ctrl_problems_of(struct res_facts *f)
{
	if (!f->pr)
		f->pr = lp_calloc(1, sizeof(*f->pr));
	return f->pr;
}

static int set_str(char **dst, const char *src)
{
	char *n = NULL;
	if (*dst && src && !strcmp(*dst, src))
		return 0;
	if (src && !(n = lp_strdup(src)))
		return -1;
	lp_free(*dst);
	*dst = n;
	return 0;
}

/* A Warning Event (and log line) about k's problems. LP_ERR_NOMEM when it
 * could not be sent for want of memory: the caller then keeps the state that
 * makes it send the Event again; other errors of the Event are not the
 * config's (Events are best effort). */
static lp_err problems_event(struct lp_ctrl *c, struct res_kept *k, const char *ns,
                             const char *name, const char *reason, const char *field,
                             const char *message)
{
	struct lp_kube_objref ref = {
	    LP_API_GROUP_VERSION, ctrl_res_kind_name[k->kind], ns, name, ctrl_res_uid(k), NULL};
	char msg[1024];
	lp_err err;

	if (field && *field)
		snprintf(msg, sizeof(msg), "%s: %s", field, message ? message : "");
	else
		snprintf(msg, sizeof(msg), "%s", message ? message : "");
	ctrl_logf(c, LP_LOG_WARN, ctrl_res_kind_name[k->kind], ns, name, "%s: %s", reason, msg);
	if (!c->events || !c->leading)
		return LP_OK;
	err = lp_kube_event(c->events, &ref, "Warning", reason, msg);
	if (err == LP_OK)
		c->stats.events++;
	return err == LP_ERR_NOMEM ? err : LP_OK;
}

static const struct lp_render_problem *
render_problem_for(const struct lp_rendered *r, const char *kind, const char *ns, const char *name)
{
	for (size_t i = 0; i < r->n_problems; i++) {
		const struct lp_render_problem *p = &r->problems[i];
		if (p->kind && p->ns && p->name && !strcmp(p->kind, kind) && !strcmp(p->ns, ns) &&
		    !strcmp(p->name, name))
			return p;
	}
	return NULL;
}

/* 1 when field is "spec.routes[N].outputRef": a route whose LogOutput the
 * renderer could not use (the pipeline still runs when another route can). */
static int is_route_ref(const char *field)
{
	const char *p = field && !strncmp(field, "spec.routes[", 12) ? field + 12 : NULL;

	if (!p || *p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return !strcmp(p, "].outputRef");
}

/* A JSON string of at most max bytes of s (cut at a UTF-8 character). */
static json_t *string_upto(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return json_stringn(s ? s : "", n);
}

/* Appends {field, message} to list when it holds fewer than
 * LP_STATUS_MAX_LISTED (cut to the CRD's maxLength); hashes both into *fp. */
static lp_err problem_list_add(json_t *list, uint64_t *fp, const char *field, const char *message)
{
	*fp = lp_hash_str(*fp, field);
	*fp = lp_hash_str(*fp, message);
	if (json_array_size(list) >= LP_STATUS_MAX_LISTED)
		return LP_OK;
	return json_array_append_new(list,
	                             json_pack("{s:o, s:o}", "field", string_upto(field, 1024),
	                                       "message", string_upto(message, 4096)))
	           ? LP_ERR_NOMEM
	           : LP_OK;
}

/* f's problems list becomes list (stolen; none when count is 0) of count
 * problems. LP_ERR_NOMEM (list freed) when f had none and no room for them. */
static lp_err problems_set(struct res_facts *f, json_t *list, size_t count)
{
	struct res_problems *pr = count ? ctrl_problems_of(f) : f->pr;

	if (pr) {
		json_decref(pr->problems);
		pr->problems = count ? list : NULL;
		pr->problem_count = count;
	}
	if (!count || !pr)
		json_decref(list);
	return count && !pr ? LP_ERR_NOMEM : LP_OK;
}

/* The "namespace/name" of every output a valid pipeline routes to (a pipeline
 * references outputs of its own namespace), sorted. */
static lp_err used_outputs(struct lp_strlist *out, const struct lp_pipeline **pls, size_t n)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < n; i++)
		total += pls[i]->n_routes;
	out->v = lp_calloc(total + 1, sizeof(*out->v));
	if (!out->v)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < pls[i]->n_routes; j++) {
			struct lp_buf b;
			const char *ref = pls[i]->routes[j].output_ref;
			if (!ref || !pls[i]->meta.ns)
				continue;
			lp_buf_init(&b, 0);
			if (lp_buf_addf(&b, "%s/%s", lp_route_output_ns(pls[i], &pls[i]->routes[j]),
			                ref))
				return LP_ERR_NOMEM;
			out->v[k] = lp_buf_take(&b);
			if (!out->v[k])
				return LP_ERR_NOMEM;
			out->n = ++k;
		}
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), ctrl_cmp_strp);
	return LP_OK;
}

static int strlist_has(const struct lp_strlist *l, const char *s)
{
	return l->n && bsearch(&s, l->v, l->n, sizeof(*l->v), ctrl_cmp_strp) != NULL;
}

/* One config computation's working set: what config_compute() and its steps
 * share. Owned by handle_config(); calc_free() releases it. */
struct calc {
	struct lp_ctrl *c;
	struct collect pl, out; /* the LogPipeline and LogOutput caches */
	const struct lp_output **all_outs, **ok_outs;
	const struct lp_pipeline **ok_pls;
	size_t n_all_outs, n_ok_outs, n_ok_pls;
	struct lp_world world;
	struct lp_rendered rendered;
	int have_rendered;
	struct lp_strlist used; /* outputs some valid pipeline routes to */
	struct run *r;          /* the writes, until config_compute() starts them */
};

static void calc_init(struct calc *cc, struct lp_ctrl *c)
{
	memset(cc, 0, sizeof(*cc));
	cc->c = c;
	cc->pl.c = c;
	cc->out.c = c;
}

static void calc_free(struct calc *cc)
{
	if (cc->r)
		ctrl_run_free(cc->r);
	if (cc->have_rendered)
		lp_rendered_free(&cc->rendered);
	for (size_t i = 0; i < cc->used.n; i++)
		lp_free(cc->used.v[i]);
	lp_free(cc->used.v);
	lp_free(cc->all_outs);
	lp_free(cc->ok_outs);
	lp_free(cc->ok_pls);
	lp_free(cc->pl.v);
	lp_free(cc->pl.keys);
	lp_free(cc->out.v);
	lp_free(cc->out.keys);
}

/* Collects both caches into cc->pl and cc->out. */
static lp_err calc_collect(struct calc *cc)
{
	lp_kube_informer_foreach(cc->c->res[RES_PIPELINE], ctrl_collect_fn, &cc->pl);
	lp_kube_informer_foreach(cc->c->res[RES_OUTPUT], ctrl_collect_fn, &cc->out);
	return cc->pl.err ? cc->pl.err : cc->out.err;
}

/* Step 1 for one resource: its problems (parse, then validation) into its
 * facts, an InvalidSpec Event when they changed; a valid one joins
 * cc->ok_outs or cc->ok_pls. vprobs is scratch space. */
static lp_err validate_one(struct calc *cc, struct res_kept *k, const char *key,
                           struct lp_problems *vprobs)
{
	struct lp_ctrl *c = cc->c;
	struct res_facts *f = ctrl_facts_of(k);
	const struct lp_problems *probs = &k->parse_probs;
	char ns[256];
	const char *name;
	uint64_t pfp = 0;
	lp_err verr;

	if (!f)
		return LP_ERR_NOMEM;
	ctrl_split_key(key, ns, sizeof(ns), &name);
	lp_problems_free(vprobs);
	if (k->parse_probs.n == 0 && !k->deleting) {
		if (k->kind == RES_OUTPUT)
			verr = lp_output_validate(k->o, &cc->world, vprobs);
		else
			verr = lp_pipeline_validate(k->p, &cc->world, vprobs);
		if (verr && verr != LP_ERR_INVALID)
			return verr;
		probs = vprobs;
	}
	if (f->generation != k->generation)
		f->in_config = 0;
	f->generation = k->generation;
	f->n_problems = k->deleting ? 0 : (uint32_t)probs->n;
	if (probs->n && !k->deleting) {
		struct res_problems *pr = ctrl_problems_of(f);
		json_t *list = pr ? json_array() : NULL;
		if (!list || set_str(&pr->problem_field, probs->v[0].field) ||
		    set_str(&pr->problem_message, probs->v[0].message)) {
			json_decref(list);
			return LP_ERR_NOMEM;
		}
		for (size_t j = 0; j < probs->n; j++) {
			if (problem_list_add(list, &pfp, probs->v[j].field, probs->v[j].message)) {
				json_decref(list);
				return LP_ERR_NOMEM;
			}
		}
		if (problems_set(f, list, probs->n))
			return LP_ERR_NOMEM;
	} else {
		(void)problems_set(f, NULL, 0);
	}
	/* an Event for each problem listed (the recorder de-duplicates them) */
	for (size_t j = 0; pfp && pfp != ctrl_problems(f)->problems_fp && j < probs->n &&
	                   j < LP_STATUS_MAX_LISTED;
	     j++)
		if (problems_event(c, k, ns, name, "InvalidSpec", probs->v[j].field,
		                   probs->v[j].message))
			return LP_ERR_NOMEM;
	if (f->pr) /* (pfp is 0 without problems: none to store then) */
		f->pr->problems_fp = pfp;
	/* ctrl_limits_apply() says again when it still is (config stays
	 * LP_CONFIG_OVER_LIMIT until then: one Event per going over) */
	f->over_limit = 0;
	if (probs->n || k->deleting) {
		f->in_config = 0;
		return LP_OK;
	}
	if (f->bad) { /* rollout guard: left out until it changes */
		lp_err ferr = LP_OK;
		uint64_t fp = ctrl_res_fingerprint(c, k, ns, &ferr);
		if (ferr)
			return ferr;
		if (fp == f->bad_fp) {
			f->config = LP_CONFIG_ROLLED_BACK;
			f->in_config = 0;
			/* the version that ran before, when there is one */
			if (f->good_k && k->kind == RES_OUTPUT && f->good_k->o)
				cc->ok_outs[cc->n_ok_outs++] = f->good_k->o;
			else if (f->good_k && k->kind == RES_PIPELINE && f->good_k->p)
				cc->ok_pls[cc->n_ok_pls++] = f->good_k->p;
			return LP_OK;
		}
		f->bad = 0;
		f->config = LP_CONFIG_PENDING;
	}
	if (k->kind == RES_OUTPUT)
		cc->ok_outs[cc->n_ok_outs++] = k->o;
	else
		cc->ok_pls[cc->n_ok_pls++] = k->p;
	return LP_OK;
}

/* lp_render_input.output_problem: the first problem of LogOutput ns/name
 * when it is known and was left out as invalid (its facts are set by step 1,
 * which runs before the render). */
static int output_problem(void *ctx, const char *ns, const char *name, char *buf, size_t n)
{
	struct lp_ctrl *c = ctx;
	struct res_kept *k = NULL;
	struct res_facts *f;
	const struct res_problems *pr;
	char key[512];
	int len = snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");

	if (len < 0 || (size_t)len >= sizeof(key) ||
	    !lp_kube_informer_get(c->res[RES_OUTPUT], key, (void **)&k) || !k || k->deleting)
		return 0;
	f = k->facts;
	pr = ctrl_problems(f);
	if (f && (f->over_limit || f->bad) && pr->render_message) {
		snprintf(buf, n, "%s", pr->render_message);
		return 1;
	}
	if (!f || !f->n_problems || !pr->problem_message)
		return 0;
	if (pr->problem_field && *pr->problem_field)
		snprintf(buf, n, "%s: %s", pr->problem_field, pr->problem_message);
	else
		snprintf(buf, n, "%s", pr->problem_message);
	return 1;
}

/* Step 1: validates every output, then every pipeline (against the outputs). */
static lp_err calc_validate(struct calc *cc)
{
	struct lp_problems vprobs = {0};
	lp_err err = LP_OK;

	cc->all_outs = lp_calloc(cc->out.n + 1, sizeof(*cc->all_outs));
	cc->ok_outs = lp_calloc(cc->out.n + 1, sizeof(*cc->ok_outs));
	cc->ok_pls = lp_calloc(cc->pl.n + 1, sizeof(*cc->ok_pls));
	if (!cc->all_outs || !cc->ok_outs || !cc->ok_pls)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < cc->out.n; i++)
		if (cc->out.v[i]->o && !cc->out.v[i]->deleting)
			cc->all_outs[cc->n_all_outs++] = cc->out.v[i]->o;
	lp_outputs_sort(cc->all_outs, cc->n_all_outs);
	cc->world.control_ns = cc->c->control_ns;
	cc->world.outputs = cc->all_outs;
	cc->world.n_outputs = cc->n_all_outs;
	cc->world.outputs_sorted = 1;
	cc->world.secret_has_key = ctrl_secret_has_key;
	cc->world.secret_ctx = cc->c;
	cc->world.secret_allowed = ctrl_secret_allowed;
	cc->world.secret_value = ctrl_secret_value_new;
	cc->world.allow_plain_http = cc->c->o.allow_plain_http;
	cc->c->secret_nomem = 0;
	for (int pass = 0; pass < 2 && !err; pass++) {
		struct collect *col = pass == 0 ? &cc->out : &cc->pl;
		for (size_t i = 0; i < col->n && !err; i++)
			err = validate_one(cc, col->v[i], col->keys[i], &vprobs);
	}
	lp_problems_free(&vprobs);
	if (!err && cc->c->secret_nomem)
		err = LP_ERR_NOMEM; /* a verdict taken without a value: again */
	return err;
}

/* Step 2: renders the valid resources (nothing at all without a pipeline:
 * then every owned object goes) and builds the desired objects into a new
 * run, cc->r; a new config hash bumps the serial. */
static lp_err calc_render_build(struct calc *cc)
{
	struct lp_ctrl *c = cc->c;
	struct lp_render_input rin = {0};
	struct lp_desired_input din = {0};
	lp_err err;

	err = used_outputs(&cc->used, cc->ok_pls, cc->n_ok_pls);
	if (err)
		return err;
	rin.control_ns = c->control_ns;
	rin.livetail_host = c->o.hub_host;
	rin.livetail_token_secret = c->o.hub_token_secret;
	rin.default_buffer_limit = c->o.agents ? c->o.agents->fluent_bit.total_limit_size : NULL;
	rin.pipelines = cc->ok_pls;
	rin.n_pipelines = cc->n_ok_pls;
	rin.outputs = cc->ok_outs;
	rin.n_outputs = cc->n_ok_outs;
	rin.cache = c->render_cache;
	rin.output_problem = output_problem;
	rin.output_problem_ctx = c;
	rin.no_summaries = 1; /* nothing here reads them */
	if (cc->n_ok_pls) {
		err = lp_render(&cc->rendered, &rin);
		if (err)
			return err;
		cc->have_rendered = 1;
	}
	if (cc->n_ok_pls) { /* 2b. the bytes bound per namespace */
		int dropped = 0;
		err = ctrl_limits_bytes(c, &cc->rendered, cc->ok_pls, &cc->n_ok_pls, cc->ok_outs,
		                        cc->n_ok_outs, &dropped);
		if (err)
			return err;
		if (dropped) {
			lp_rendered_free(&cc->rendered);
			cc->have_rendered = 0;
			for (size_t i = 0; i < cc->used.n; i++)
				lp_free(cc->used.v[i]);
			lp_free(cc->used.v);
			memset(&cc->used, 0, sizeof(cc->used));
			err = used_outputs(&cc->used, cc->ok_pls, cc->n_ok_pls);
			if (err)
				return err;
			rin.n_pipelines = cc->n_ok_pls;
		}
		if (dropped && cc->n_ok_pls) {
			err = lp_render(&cc->rendered, &rin);
			if (err)
				return err;
			cc->have_rendered = 1;
		}
	}
	if (c->o.metrics)
		c->o.metrics->rendered_bytes(c->o.metrics->ctx, cc->rendered.shipper.total_bytes);
	cc->r = lp_calloc(1, sizeof(*cc->r));
	if (!cc->r)
		return LP_ERR_NOMEM;
	cc->r->c = c;
	din.control_ns = c->control_ns;
	din.fluentbit_image = c->fb_image;
	din.aggregator_image = c->agg_image;
	din.nofile_image = c->nofile_image;
	din.rendered = &cc->rendered;
	din.pipelines = cc->ok_pls;
	din.n_pipelines = cc->n_ok_pls;
	din.secret_value = ctrl_secret_value;
	din.secret_ctx = c;
	din.agents = c->o.agents;
	din.hub_alerts_name = c->o.hub_alerts_secret;
	if (cc->n_ok_pls) {
		err = lp_desired_build(&cc->r->d, &din);
		if (err)
			return err;
	}
	if (cc->r->d.n_creds_too_large)
		ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL,
		          "%zu credentials left out: each alone is larger than a Secret holds "
		          "(%u bytes)",
		          cc->r->d.n_creds_too_large, LP_CREDENTIALS_MAX_BYTES);
	if (strcmp(c->cur_hash, cc->r->d.config_hash) != 0) {
		memcpy(c->cur_hash, cc->r->d.config_hash, sizeof(c->cur_hash));
		c->serial++;
		ctrl_logf(c, LP_LOG_INFO, NULL, NULL, NULL,
		          "configuration %.12s: %zu pipelines, %zu outputs, %zu bytes", c->cur_hash,
		          cc->n_ok_pls, cc->n_ok_outs, cc->rendered.shipper.total_bytes);
	}
	c->want_aggregator = cc->rendered.has_aggregator;
	return LP_OK;
}

/* The renderer's problems of valid resource k: *left_out 1 when it left k
 * out (for a pipeline, a problem other than a route whose LogOutput it could
 * not use: with another usable route the pipeline runs, and Ready names the
 * output). Listed in f->problems when left out; a Warning Event each when they
 * changed (RenderFailed, or OutputNotReady for a route). */
static lp_err render_problems(struct calc *cc, struct res_kept *k, const char *key, int *left_out)
{
	const struct lp_rendered *r = &cc->rendered;
	const char *kind = ctrl_res_kind_name[k->kind], *name;
	struct res_facts *f = k->facts;
	/* there is one (the caller found it): room for its fingerprint */
	struct res_problems *pr = ctrl_problems_of(f);
	json_t *list = pr ? json_array() : NULL;
	uint64_t fp = 0;
	size_t count = 0;
	char ns[256];
	lp_err err = list ? LP_OK : LP_ERR_NOMEM;

	ctrl_split_key(key, ns, sizeof(ns), &name);
	*left_out = 0;
	for (size_t i = 0; !err && i < r->n_problems; i++) {
		const struct lp_render_problem *p = &r->problems[i];
		if (!p->kind || !p->ns || !p->name || strcmp(p->kind, kind) || strcmp(p->ns, ns) ||
		    strcmp(p->name, name))
			continue;
		if (k->kind == RES_OUTPUT || !is_route_ref(p->field))
			*left_out = 1;
		count++;
		err = problem_list_add(list, &fp, p->field, p->message);
	}
	for (size_t i = 0; !err && fp != pr->render_fp && i < r->n_problems; i++) {
		const struct lp_render_problem *p = &r->problems[i];
		if (!p->kind || !p->ns || !p->name || strcmp(p->kind, kind) || strcmp(p->ns, ns) ||
		    strcmp(p->name, name))
			continue;
		err = problems_event(cc->c, k, ns, name,
		                     *left_out ? "RenderFailed" : "OutputNotReady", p->field,
		                     p->message);
	}
	if (err) {
		json_decref(list);
		return err;
	}
	if (!*left_out)
		json_decref(list);
	err = problems_set(f, *left_out ? list : NULL, *left_out ? count : 0);
	if (!err)
		pr->render_fp = fp;
	return err;
}

/* Step 3 for one valid resource: unused (an output nothing routes to), left
 * out by the renderer (RenderFailed Event when that changed), or in the
 * config (pending until this config is written; a new fingerprint of
 * generation and referenced Secret values starts it anew). */
static lp_err facts_one(struct calc *cc, struct res_kept *k, const char *key)
{
	struct lp_ctrl *c = cc->c;
	struct res_facts *f = k->facts;
	const struct lp_render_problem *rp;
	struct ref_walk rw = {c, NULL, LP_OK, 0, 0};
	char ns[256];
	const char *name;
	int left_out = 0;

	if (!f || f->n_problems || k->deleting || f->bad || f->over_limit)
		return LP_OK;
	ctrl_split_key(key, ns, sizeof(ns), &name);
	if (k->kind == RES_OUTPUT && !strlist_has(&cc->used, key)) {
		f->unused = 1;
		f->in_config = 0;
		f->config = LP_CONFIG_APPLIED;
		return LP_OK;
	}
	if (f->unused) {
		f->unused = 0;
		f->config = LP_CONFIG_PENDING;
	}
	rp = render_problem_for(&cc->rendered, ctrl_res_kind_name[k->kind], ns, name);
	if (rp) {
		lp_err err = render_problems(cc, k, key, &left_out);
		if (err)
			return err;
	} else if (ctrl_problems(f)->render_fp) {
		f->pr->render_fp = 0;
		(void)problems_set(f, NULL, 0);
	}
	if (rp && left_out) {
		struct res_problems *pr = ctrl_problems_of(f);
		if (!pr || set_str(&pr->render_field, rp->field) ||
		    set_str(&pr->render_message, rp->message))
			return LP_ERR_NOMEM;
		f->config = LP_CONFIG_LEFT_OUT;
		f->in_config = 0;
		return LP_OK;
	}
	rw.fp = ctrl_res_fingerprint(c, k, ns, &rw.err);
	if (rw.err)
		return rw.err;
	if (!f->in_config || rw.fp != f->fingerprint) {
		/* in the config with this generation already: a Secret value changed */
		f->secret_changed = f->in_config && f->generation == k->generation;
		f->serial_in = c->serial;
		f->fingerprint = rw.fp;
		f->in_config = 1;
		f->config = LP_CONFIG_PENDING; /* until this config is written */
	}
	if (f->config != LP_CONFIG_APPLIED && f->config != LP_CONFIG_FAILED)
		f->config = LP_CONFIG_PENDING;
	return LP_OK;
}

struct feed { /* a valid pipeline routes to output "ns/ref" */
	const char *ns, *ref;
	const struct lp_pipeline *p;
};

static int feed_cmp(const void *a, const void *b)
{
	const struct feed *x = a, *y = b;
	int d = strcmp(x->ns, y->ns);

	if (!d)
		d = strcmp(x->ref, y->ref);
	if (!d)
		d = strcmp(x->p->meta.ns, y->p->meta.ns);
	return d ? d : strcmp(x->p->meta.name, y->p->meta.name);
}

/* The name output "ns/ref" lists for feed x: "name", or "namespace/name"
 * from another namespace (a shared output of the control namespace). */
static const char *feeder_name(const struct feed *out, const struct feed *x, char *buf,
                               size_t bufsz)
{
	const struct lp_pipeline *p = x->p;

	if (!strcmp(p->meta.ns, out->ns))
		return p->meta.name;
	snprintf(buf, bufsz, "%s/%s", p->meta.ns, p->meta.name);
	return buf;
}

/* Sets the feeders of output "ns/ref" from its run of feeds v[0..n): the
 * names listed joined with '\n' in one allocation, kept when unchanged. */
static lp_err feeders_set(struct calc *cc, const struct feed *v, size_t n)
{
	char key[512], name[512];
	struct res_kept *k = NULL;
	size_t m = n < LP_STATUS_MAX_LISTED ? n : LP_STATUS_MAX_LISTED, len = 0;
	const char *old, *nm;
	char *list, *w;
	int same = 1;

	snprintf(key, sizeof(key), "%s/%s", v->ns, v->ref);
	if (!lp_kube_informer_get(cc->c->res[RES_OUTPUT], key, (void **)&k) || !k || !k->facts)
		return LP_OK;
	k->facts->n_feeders = (uint32_t)n;
	old = k->facts->feeders;
	for (size_t i = 0; i < m; i++) {
		size_t l;
		nm = feeder_name(v, v + i, name, sizeof(name));
		l = strlen(nm);
		same = same && old && !strncmp(old + len, nm, l) &&
		       old[len + l] == (i + 1 < m ? '\n' : '\0');
		len += l + 1;
	}
	if (same)
		return LP_OK;
	list = lp_malloc(len);
	if (!list)
		return LP_ERR_NOMEM;
	for (size_t i = 0, off = 0; i < m; i++) {
		nm = feeder_name(v, v + i, name, sizeof(name));
		w = list + off;
		memcpy(w, nm, strlen(nm));
		off += strlen(nm);
		list[off++] = i + 1 < m ? '\n' : '\0';
	}
	lp_free(k->facts->feeders);
	k->facts->feeders = list;
	return LP_OK;
}

/* status.pipelines of every output: the valid pipelines routing to it (each
 * once), sorted, the first LP_STATUS_MAX_LISTED listed, all counted. An
 * output's list is only replaced when it changed. */
static lp_err calc_feeders(struct calc *cc)
{
	struct feed *v;
	size_t n = 0, total = 0;
	lp_err err = LP_OK;

	for (size_t i = 0; i < cc->out.n; i++)
		if (cc->out.v[i]->facts)
			cc->out.v[i]->facts->n_feeders = 0; /* until a run of feeds says */
	for (size_t i = 0; i < cc->n_ok_pls; i++)
		total += cc->ok_pls[i]->n_routes;
	v = lp_calloc(total + 1, sizeof(*v));
	if (!v)
		return LP_ERR_NOMEM;
	for (size_t i = 0; i < cc->n_ok_pls; i++) {
		const struct lp_pipeline *p = cc->ok_pls[i];
		for (size_t j = 0; p->meta.ns && p->meta.name && j < p->n_routes; j++) {
			const char *ons = lp_route_output_ns(p, &p->routes[j]);
			int dup = !p->routes[j].output_ref;
			for (size_t q = 0; q < j && !dup; q++)
				dup = p->routes[q].output_ref &&
				      !strcmp(p->routes[q].output_ref, p->routes[j].output_ref) &&
				      !strcmp(lp_route_output_ns(p, &p->routes[q]), ons);
			if (!dup) /* a shared output lists the tenants' pipelines too */
				v[n++] = (struct feed){ons, p->routes[j].output_ref, p};
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), feed_cmp);
	for (size_t i = 0, j; i < n && !err; i = j) {
		for (j = i + 1; j < n && !strcmp(v[j].ns, v[i].ns) && !strcmp(v[j].ref, v[i].ref);)
			j++;
		err = feeders_set(cc, v + i, j - i);
	}
	lp_free(v);
	for (size_t i = 0; i < cc->out.n && !err; i++) {
		struct res_facts *f = cc->out.v[i]->facts;
		if (f && !f->n_feeders) {
			lp_free(f->feeders);
			f->feeders = NULL;
		}
	}
	return err;
}

/* Step 3: per-resource facts, outputs first; then who feeds each output. */
static lp_err calc_facts(struct calc *cc)
{
	lp_err err = LP_OK;

	for (int pass = 0; pass < 2 && !err; pass++) {
		struct collect *col = pass == 0 ? &cc->out : &cc->pl;
		for (size_t i = 0; i < col->n && !err; i++)
			err = facts_one(cc, col->v[i], col->keys[i]);
	}
	return err ? err : calc_feeders(cc);
}

/* Step 4: what differs from what is there, in order: applies of the desired
 * objects whose hash differs (a workload's starts a rollout Event), then
 * deletes of owned objects no longer desired. */
static lp_err calc_diff(struct calc *cc)
{
	struct lp_ctrl *c = cc->c;
	struct run *r = cc->r;
	lp_err err;

	for (size_t i = 0; i < r->d.n; i++) {
		const struct lp_desired_obj *d = &r->d.v[i];
		const char *hash = NULL, *rv = NULL;
		int has = ctrl_observed(c, d->kind, d->name, &hash, &rv);
		if (has && hash && !strcmp(hash, d->hash))
			continue;
		err = ctrl_run_add_op(r, d->kind, d->name, d->hash, rv, 0, d->obj);
		if (err)
			return err;
		if (d->kind == LP_OWNED_DAEMONSET || d->kind == LP_OWNED_STATEFULSET)
			ctrl_rollout_event(c, d->kind, d->name, r->d.config_hash);
	}
	return ctrl_run_add_deletes(c, r);
}

/* The config computation over the collected caches (the Secret watches
 * already cover what they reference): validate, render and build, facts,
 * diff. On success the run of writes (maybe empty) is c->run, for the caller
 * to start. Any failure returns its error, with no run. */
static lp_err config_compute(struct calc *cc)
{
	struct lp_ctrl *c = cc->c;
	lp_err err;

	err = calc_validate(cc); /* 1. */
	if (!err)                /* 1b. per-namespace bounds */
		err = ctrl_limits_apply(c, cc->ok_pls, &cc->n_ok_pls, cc->ok_outs, &cc->n_ok_outs);
	if (!err) /* 1c. shares of the hub's alert targets and the AWS credentials file */
		err = ctrl_shares_apply(c, cc->ok_pls, cc->n_ok_pls, cc->ok_outs, &cc->n_ok_outs);
	if (!err)
		err = calc_render_build(cc); /* 2. */
	if (!err)
		err = calc_facts(cc); /* 3. */
	if (!err)
		err = calc_diff(cc); /* 4. */
	if (err)
		return err;
	c->stats.pipelines = cc->pl.n;
	c->stats.outputs = cc->out.n;
	c->run = cc->r;
	cc->r = NULL;
	return LP_OK;
}

static int mark_applied(void *arg, const char *key, void *kept)
{
	struct lp_ctrl *c = arg;
	struct res_kept *k = kept;
	struct res_facts *f = k ? k->facts : NULL;
	int adopted, was_applied;

	if (!f || !f->in_config || f->generation != k->generation)
		return 0;
	was_applied = f->config == LP_CONFIG_APPLIED;
	f->config = LP_CONFIG_APPLIED;
	if (k->kind != RES_PIPELINE) /* (an output's facts hold its feeders there) */
		return 0;
	/* status.configHash: the configuration that first carried this version;
	 * a later one that changes only other resources does not rewrite it. The
	 * first application after a start keeps the observed one when the status
	 * already described this generation as applied. */
	adopted = !f->has_config_hash && k->seen.observed_generation == k->generation &&
	          lp_status_seen_get(&k->seen, "ConfigGenerated") == LP_COND_TRUE &&
	          k->seen.has_config_hash;
	if (adopted)
		memcpy(f->config_hash, k->seen.config_hash, sizeof(f->config_hash));
	else if (!was_applied || !f->has_config_hash)
		f->has_config_hash = (unsigned char)lp_hex_decode(f->config_hash, c->cur_hash,
		                                                  sizeof(f->config_hash));
	f->has_config_hash |= (unsigned char)adopted;
	return 0;
}

/* Every valid resource that is (or would be) in the configuration. */
static int mark_failed(void *arg, const char *key, void *kept)
{
	struct res_kept *k = kept;
	struct res_facts *f = k ? k->facts : NULL;
	(void)arg;
	if (f && f->generation == k->generation && !f->n_problems && !k->deleting && !f->unused &&
	    f->config != LP_CONFIG_LEFT_OUT && f->config != LP_CONFIG_OVER_LIMIT)
		f->config = LP_CONFIG_FAILED;
	return 0;
}

/* After CONFIG_FAILED_AFTER failures in a row, statuses say why. */
static void config_failed(struct lp_ctrl *c, const char *why)
{
	c->config_failures++;
	c->stats.config_errors++;
	snprintf(c->config_error, sizeof(c->config_error), "%s", why);
	/* an application may never succeed (a terminating namespace): outputs
	 * being deleted do not wait for one */
	if (c->leading && ctrl_outputs_after_failed_config(c) != LP_OK)
		ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL,
		          "finalizer step after a failed configuration not started (retrying)");
	if (c->config_failures >= CONFIG_FAILED_AFTER) {
		for (int i = 0; i < 2; i++)
			lp_kube_informer_foreach(c->res[i], mark_failed, NULL);
		ctrl_enqueue(c, KEY_STATUS_ALL);
	}
}

void ctrl_config_finished(struct lp_ctrl *c, struct run *r)
{
	lp_err err = r->err, after = LP_OK;

	c->run = NULL;
	if (!err && c->leading) {
		c->config_failures = 0;
		c->config_error[0] = '\0';
		for (int i = 0; i < 2; i++)
			lp_kube_informer_foreach(c->res[i], mark_applied, c);
		c->stats.config_runs++;
		if (r->writes)
			ctrl_logf(c, LP_LOG_INFO, NULL, NULL, NULL,
			          "configuration %.12s applied (%zu writes)", c->cur_hash,
			          r->writes);
		after = ctrl_outputs_after_config(c);
		if (after)
			ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL,
			          "finalizer or AWS step not started: %s (retrying)",
			          lp_strerror(after));
		ctrl_update_rolled(c);
		ctrl_rollout_watch(c);
	} else if (err) {
		config_failed(c, r->errmsg);
		ctrl_status_all(c); /* the new generations, pending while we retry */
	}
	if (c->o.metrics)
		c->o.metrics->reconcile(c->o.metrics->ctx, "config", err ? "error" : "success",
		                        (double)(lp_clock_mono_ms() - r->started_ms) / 1000.0);
	ctrl_run_free(r);
	/* a rebuild allocates a few MiB for a moment (rendered text, JSON) */
	ctrl_trim_heap(c);
	c->last_config_ms = ctrl_now_ms(c);
	if (c->render_cache)
		ctrl_idle_queue(c, KEY_CACHE_DROP, &c->cache_drop_queued, RENDER_CACHE_IDLE_MS);
	lp_kube_wq_done(c->wq, KEY_CONFIG, err ? err : after); /* an error: again, backing off */
}

/* CPU time of the process (the render's second thread included), in ms. */
static double cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ctrl_handle_config(struct lp_ctrl *c)
{
	struct calc cc;
	uint64_t wait, t0;
	double c0;
	int unsynced = 0;
	lp_err err;

	if (!c->leading || c->shutting_down || !lp_ctrl_synced(c)) {
		lp_kube_wq_done(c->wq, KEY_CONFIG, LP_OK);
		return;
	}
	/* a lone change at once; a burst once it is quiet, but not forever */
	wait = lp_debounce_wait(&c->deb, ctrl_now_ms(c));
	if (wait) {
		if (lp_kube_wq_add_after(c->wq, KEY_CONFIG, wait))
			ctrl_logf(c, LP_LOG_WARN, NULL, NULL, NULL,
			          "cannot requeue the config key");
		lp_kube_wq_done(c->wq, KEY_CONFIG, LP_OK);
		return;
	}
	lp_debounce_ran(&c->deb);
	t0 = lp_clock_mono_ms();
	c0 = cpu_ms();
	calc_init(&cc, c);
	err = calc_collect(&cc);
	/* the Secrets outputs reference: watch exactly those, and compute once
	 * all of them are synced (their on_synced queues us again) */
	if (!err)
		err = ctrl_secrets_sync(c, &cc.out, &unsynced);
	if (!err && !unsynced)
		err = config_compute(&cc);
	if (!err && !unsynced && c->run)
		c->run->started_ms = t0; /* the duration covers computing and applying */
	calc_free(&cc);
	ctrl_logf(c, LP_LOG_DEBUG, NULL, NULL, NULL,
	          "configuration computed in %llu ms (%.0f ms CPU), %zu writes",
	          (unsigned long long)(lp_clock_mono_ms() - t0), cpu_ms() - c0,
	          c->run ? c->run->n_ops : 0);
	if (err) {
		char why[200];
		snprintf(why, sizeof(why), "could not build it: %s", lp_strerror(err));
		ctrl_logf(c, LP_LOG_ERROR, NULL, NULL, NULL, "%s", why);
		config_failed(c, why);
		lp_kube_wq_done(c->wq, KEY_CONFIG, err);
		return;
	}
	if (unsynced) {
		lp_kube_wq_done(c->wq, KEY_CONFIG, LP_OK);
		return;
	}
	ctrl_run_next(c->run); /* its end queues the status checks (ctrl_update_rolled) */
}
