/* pkg/render/fb_outputs.c: the outputs: one per LogOutput with its type's keys, delivery keys
 * (retries, buffer bounds), the shipper's forward outputs to the aggregator, and the discard
 * output.
 */
#include "fb.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

/* ---------------- outputs ---------------- */

static void tls_keys(struct fb *f, const struct lp_tls *t, const struct lp_oinfo *oi)
{
	lp_yamlw_kvb(&f->w, "tls", t->enabled);
	if (t->enabled) {
		lp_yamlw_kvb(&f->w, "tls.verify", t->verify);
		if (oi->ca_path)
			fb_kv(f, "tls.ca_file", oi->ca_path);
	}
}

static void env_ref(struct fb *f, const char *key, const char *var)
{
	if (!var)
		return;
	fb_cat(f, "${", var, "}", CAT_END);
	fb_kv(f, key, fb_ts(f));
}

static void aws_keys(struct fb *f, const struct lp_oinfo *oi, int url_endpoint)
{
	const struct lp_aws *a = &oi->o->aws;

	fb_kv(f, "region", a->region);
	if (a->endpoint) {
		if (url_endpoint) {
			fb_kv(f, "endpoint", a->endpoint);
		} else {
			fb_kv(f, "endpoint", oi->endpoint_host);
			lp_yamlw_kvi(&f->w, "port", oi->endpoint_port);
		}
	}
	if (a->credentials.role_arn)
		fb_kv(f, "role_arn", a->credentials.role_arn);
	if (a->credentials.external_id)
		fb_kv(f, "external_id", a->credentials.external_id);
	if (oi->aws_profile)
		fb_kv(f, "profile", oi->aws_profile);
}

static const char *buffer_limit(const struct fb *f, const struct lp_output *o)
{
	if (o->delivery.buffer_limit)
		return o->delivery.buffer_limit;
	if (!f->aggregator && f->c->in->default_buffer_limit)
		return f->c->in->default_buffer_limit;
	return "1G";
}

/* 1 when o's type bounds its own buffer (a store_dir_limit_size row). */
static int own_buffer_limit(const struct lp_output *o)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);

	for (size_t i = 0; d && i < d->n_keys; i++)
		if (d->keys[i].kind == LP_KEY_HOOK && d->keys[i].hook == LP_HOOK_S3_STORE_LIMIT)
			return 1;
	return 0;
}

static void delivery_keys(struct fb *f, const struct lp_output *o)
{
	int alo = o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE;
	int rl = o->delivery.retry_limit > 0 ? o->delivery.retry_limit : (alo ? 10 : 1);

	lp_yamlw_kvi(&f->w, "retry_limit", rl);
	/* s3 bounds its own buffer (store_dir_limit_size); Fluent Bit warns when
	 * storage.total_limit_size is set on it too */
	if (alo && !own_buffer_limit(o))
		fb_kv_size(f, "storage.total_limit_size", buffer_limit(f, o));
}

/* opensearch's SigV4 keys (awsAuth). */
static void search_aws_keys(struct fb *f, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_out_search *s = &o->u.search;

	if (!lp_output_signs_aws(o))
		return;
	lp_yamlw_kvb(&f->w, "aws_auth", 1);
	fb_kv(f, "aws_region", s->aws_region ? s->aws_region : o->aws.region);
	if (o->aws.credentials.role_arn)
		fb_kv(f, "aws_role_arn", o->aws.credentials.role_arn);
	if (o->aws.credentials.external_id)
		fb_kv(f, "aws_external_id", o->aws.credentials.external_id);
	if (oi->aws_profile)
		fb_kv(f, "aws_profile", oi->aws_profile);
}

/* http's header list, a value from a Secret as its variable. */
static void http_headers(struct fb *f, const struct lp_oinfo *oi)
{
	const struct lp_out_http *h = &oi->o->u.http;

	if (!h->n_headers)
		return;
	lp_yamlw_str(&f->w, "header");
	lp_yamlw_seq(&f->w);
	for (size_t i = 0; i < h->n_headers; i++) {
		if (oi->header_vars && oi->header_vars[i])
			fb_addf(f, fb_t0(f), "%s ${%s}", h->headers[i].name, oi->header_vars[i]);
		else
			fb_addf(f, fb_t0(f), "%s %s", h->headers[i].name,
			        h->headers[i].value ? h->headers[i].value : "");
		lp_yamlw_str(&f->w, fb_ts(f));
	}
	lp_yamlw_seq_end(&f->w);
}

/* The key(s) of a hook row: what an output type's key table cannot say by
 * itself. These are the per-type render functions (pkg/api/out_*.c name
 * the hooks in their tables). */
static void hook_key(struct fb *f, const struct lp_oinfo *oi, const struct lp_out_key *k,
                     int agg_side, const struct lp_pinfo *pi, int depth)
{
	const struct lp_output *o = oi->o;
	const char *ph = pi ? pi->h : NULL;
	const struct lp_tls *tls = lp_output_tls(o);

	switch (k->hook) {
	case LP_HOOK_AWS:
	case LP_HOOK_AWS_URL:
		aws_keys(f, oi, k->hook == LP_HOOK_AWS_URL);
		break;
	case LP_HOOK_AUTH:
		env_ref(f, "http_user", oi->user_var);
		env_ref(f, "http_passwd", oi->pass_var);
		break;
	case LP_HOOK_TLS:
		if (tls)
			tls_keys(f, tls, oi);
		break;
	case LP_HOOK_SECRET:
		env_ref(f, k->fb_key, oi->secret_var);
		break;
	case LP_HOOK_S3_COMPRESSION:
		if (!o->u.s3.compression || strcmp(o->u.s3.compression, "gzip") == 0)
			fb_kv(f, "compression", "gzip");
		break;
	case LP_HOOK_S3_STORE_DIR:
		/* one local buffer per output instance (per pipeline on the node) */
		fb_addf(f, fb_t0(f), "%s/s3/%s%s%s",
		        agg_side ? LP_RENDER_STATE_DIR "/aggregator" : LP_RENDER_STATE_DIR, oi->h,
		        ph ? "-" : "", ph ? ph : "");
		fb_kv(f, "store_dir", fb_ts(f));
		break;
	case LP_HOOK_S3_STORE_LIMIT:
		fb_kv_size(f, "store_dir_limit_size", buffer_limit(f, o));
		break;
	case LP_HOOK_SEARCH_INDEX:
		if (o->u.search.logstash_prefix) {
			lp_yamlw_kvb(&f->w, "logstash_format", 1);
			fb_kv(f, "logstash_prefix", o->u.search.logstash_prefix);
		} else {
			fb_kv(f, "index", o->u.search.index ? o->u.search.index : "logs");
		}
		break;
	case LP_HOOK_SEARCH_AWS_AUTH:
		search_aws_keys(f, oi);
		break;
	case LP_HOOK_LOKI_LABELS: {
		struct lp_buf *b = fb_t0(f);
		fb_adds(f, b, "job=logplane");
		for (size_t i = 0; i < o->u.loki.n_labels; i++)
			fb_addf(f, b, ", %s=%s", o->u.loki.labels[i].key,
			        o->u.loki.labels[i].value);
		fb_kv(f, "labels", fb_ts(f));
		break;
	}
	case LP_HOOK_HTTP_PORT:
		lp_yamlw_kvi(&f->w, "port",
		             o->u.http.port > 0 ? o->u.http.port
		                                : (o->u.http.tls.enabled ? 443 : 80));
		break;
	case LP_HOOK_HTTP_HEADERS:
		http_headers(f, oi);
		break;
	case LP_HOOK_FORWARD_SHARED_KEY:
		if (oi->secret_var) {
			env_ref(f, "shared_key", oi->secret_var);
			fb_kv(f, "self_hostname",
			      agg_side ? "logplane-aggregator" : "logplane-shipper");
		}
		break;
	case LP_HOOK_FORWARD_ACK:
		lp_yamlw_kvb(&f->w, "require_ack_response",
		             o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE);
		break;
	case LP_HOOK_S3_KEY:
		if (pi) /* always: such an output is rendered per pipeline */
			fb_s3_key(f, oi, pi, depth);
		break;
	case LP_HOOK_LIVETAIL:
	case LP_HOOK_ALERT:
		/* `http`, not `websocket`: 5.1.1's websocket output keeps its
		 * handshake flag per output, not per connection, so after a hub
		 * restart (or on a second pooled connection, or with keep-alive
		 * off) it writes frames without an upgrade, counts them sent, and
		 * the records are lost; each POST stands alone and a refused one is
		 * retried (docs/livetail.md) */
		fb_kv(f, "host", f->c->lt_host);
		lp_yamlw_kvi(&f->w, "port", f->c->lt_port);
		fb_addf(f, fb_t0(f), "/%s/%s/%s", k->hook == LP_HOOK_ALERT ? "alert" : "ingest",
		        o->meta.ns, o->meta.name);
		fb_kv(f, "uri", fb_ts(f));
		fb_addf(f, fb_t0(f), "Authorization Bearer ${%s}", oi->secret_var);
		fb_kv(f, "header", fb_ts(f));
		break;
	}
}

/* One row of a key table. */
static void table_key(struct fb *f, const struct lp_output *o, const struct lp_out_key *k)
{
	const void *m = lp_output_member(o, k->off);
	const char *s;
	int n;

	switch (k->kind) {
	case LP_KEY_STR:
	case LP_KEY_QSTR:
	case LP_KEY_SIZE:
		s = m ? *(const char *const *)m : NULL;
		if (!(s = s ? s : k->def))
			break;
		if (k->kind == LP_KEY_QSTR)
			lp_yamlw_kvq(&f->w, k->fb_key, s);
		else if (k->kind == LP_KEY_SIZE)
			fb_kv_size(f, k->fb_key, s);
		else
			fb_kv(f, k->fb_key, s);
		break;
	case LP_KEY_INT:
		n = m ? *(const int *)m : 0;
		lp_yamlw_kvi(&f->w, k->fb_key, n > 0 ? n : k->idef);
		break;
	case LP_KEY_BOOL:
		n = m ? *(const int *)m : k->idef;
		lp_yamlw_kvb(&f->w, k->fb_key, n);
		break;
	case LP_KEY_LIST: {
		const struct lp_strlist *l = m;
		struct lp_buf *b = fb_t0(f);
		for (size_t j = 0; l && j < l->n; j++)
			fb_addf(f, b, "%s%s", j ? "," : "", l->v[j]);
		fb_kv(f, k->fb_key, fb_ts(f));
		break;
	}
	case LP_KEY_CONST:
		fb_kv(f, k->fb_key, k->def);
		break;
	case LP_KEY_HOOK:
		break;
	}
}

/* The keys of o's own type, row by row from its descriptor's key table
 * (pkg/api/out_*.c), in the table's order. pi: the one pipeline this instance
 * serves, whose tags carry depth parts before the source tag (fb_s3_key);
 * NULL for an aggregator output its pipelines share. */
static void type_keys(struct fb *f, const struct lp_oinfo *oi, int agg_side,
                      const struct lp_pinfo *pi, int depth)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(oi->o->type);

	for (size_t i = 0; d && i < d->n_keys; i++) {
		if (d->keys[i].kind == LP_KEY_HOOK)
			hook_key(f, oi, &d->keys[i], agg_side, pi, depth);
		else
			table_key(f, oi->o, &d->keys[i]);
	}
}

/* The Fluent Bit output plugin of o's type. */
static const char *plugin_name(const struct lp_output *o)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);
	return d ? d->fb_plugin : NULL;
}

static void output(struct fb *f, const struct lp_oinfo *oi, int agg_side)
{
	const struct lp_output *o = oi->o;

	fb_plugin(f, plugin_name(o));
	fb_cat(f, "lp_o_", oi->h, CAT_END);
	fb_kv(f, "alias", fb_ts(f));
	fb_output_match(f, oi, agg_side);
	type_keys(f, oi, agg_side, NULL, 0);
	delivery_keys(f, o);
	fb_plugin_end(f);
}

/* Without workers an output's flush runs as a coroutine on the engine thread
 * (Fluent Bit's src/flb_output.c flb_output_task_flush): one pipe per instance
 * instead of a thread with its own event loop, scheduler, timers and channels
 * (about ten descriptors). The descriptor says which plugins need a worker. */
int fb_route_workers(enum lp_output_type t)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(t);
	return d ? d->fb_workers : 1;
}

/* 1 when o's keys name the pipeline (s3: its key format and store_dir). */
static int keys_per_pipeline(const struct lp_output *o)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);

	for (size_t i = 0; d && i < d->n_keys; i++)
		if (d->keys[i].kind == LP_KEY_HOOK &&
		    (d->keys[i].hook == LP_HOOK_S3_KEY || d->keys[i].hook == LP_HOOK_S3_STORE_DIR))
			return 1;
	return 0;
}

/* The type and delivery keys of a pipeline route's output instance: the same
 * text for every pipeline routing to oi (unless they name the pipeline), so
 * written once and copied for the next routes to oi (lp_yamlw_replay). */
static void route_keys(struct fb *f, const struct lp_oinfo *oi, const struct lp_pinfo *pi)
{
	size_t slot = (size_t)(oi - f->c->oi) % (sizeof(f->okeys) / sizeof(f->okeys[0]));
	int shared = !keys_per_pipeline(oi->o);

	if (shared && f->okeys[slot].oi == oi && lp_yamlw_replay(&f->w, &f->okeys[slot].m))
		return;
	if (shared)
		lp_yamlw_mark_begin(&f->w, &f->okeys[slot].m);
	type_keys(f, oi, 0, pi, LP_OWN_APP_INPUT(pi) ? 2 : 0);
	delivery_keys(f, oi->o);
	if (shared) {
		lp_yamlw_mark_end(&f->w, &f->okeys[slot].m);
		f->okeys[slot].oi = f->err ? NULL : oi;
	}
}

/* 1 when route i of pi is rendered (its output too). */
static int route_ok(const struct fb *f, const struct lp_pinfo *pi, size_t i)
{
	return pi->routes[i].ok && f->c->oi[pi->routes[i].out].ok;
}

/* 1 when route i of pi (via the aggregator) needs its own forward output:
 * a match, or a livetail/alert output (limited per output on the aggregator);
 * else its records travel as a.<h>.<source tag> with the pipeline's others. */
static int agg_route_own(const struct fb *f, const struct lp_pinfo *pi, size_t i)
{
	return pi->p->routes[i].op != LP_ROUTE_ALL ||
	       lp_output_type_via_hub(f->c->oi[pi->routes[i].out].o->type);
}

/* The keys every node forward output to the aggregator shares: where, the
 * shared key, acknowledged chunks, gzip; a disk bound when any of what it
 * carries is atLeastOnce (alo). */
static void agg_forward_keys(struct fb *f, int alo)
{
	const struct lp_rctx *c = f->c;

	fb_kv(f, "host", c->agg_host);
	lp_yamlw_kvi(&f->w, "port", LP_RENDER_FORWARD_PORT);
	fb_kv(f, "shared_key", "${" LP_RENDER_FWD_KEY_VAR "}");
	fb_kv(f, "self_hostname", "logplane-shipper");
	lp_yamlw_kvb(&f->w, "require_ack_response", 1);
	fb_kv(f, "compress", "gzip");
	lp_yamlw_kvi(&f->w, "retry_limit", 20);
	if (alo)
		fb_kv(f, "storage.total_limit_size", "1G");
}

/* A forward output of pipeline pi to the aggregator: it matches the source
 * tags pi selects (fb_pipeline_match, as a pipeline on the node does), runs
 * pi's work as processors, and sends each chunk under the tag
 * [o.<oh>.]a.<h>.<source tag> (out_forward's `tag` is a record accessor,
 * plugins/out_forward/forward.c fc->ra_tag; with only $TAG in it it is
 * static, flb_ra_is_static(), so compress is allowed and records go in
 * Forward mode, one tag per chunk). The aggregator routes on that tag as
 * before. require_ack_response: a chunk is released on the node only when
 * the aggregator answered its ack, which its in_forward sends after the
 * records are appended to its filesystem chunk (docs/delivery.md). route:
 * the route it serves, or FB_NO_ROUTE for the routes without a match. */
static void agg_forward(struct fb *f, const struct lp_pinfo *pi, size_t route)
{
	struct lp_rctx *c = f->c;
	char alias[40];

	fb_plugin(f, "forward");
	if (route == FB_NO_ROUTE)
		snprintf(alias, sizeof(alias), "_fwd");
	else
		lp_render_field_idx(alias, sizeof(alias), "_r", route, "");
	fb_kv(f, "alias", fb_cat(f, "lp_", pi->h, alias, CAT_END));
	fb_pipeline_match(f, pi);
	lp_yamlw_kvi(&f->w, "workers", fb_route_workers(LP_OUT_FORWARD));
	if (route == FB_NO_ROUTE)
		fb_cat(f, "a.", pi->h, ".$TAG", CAT_END);
	else
		fb_cat(f, "o.", c->oi[pi->routes[route].out].h, ".a.", pi->h, ".$TAG", CAT_END);
	fb_kv(f, "tag", fb_ts(f));
	agg_forward_keys(f, pi->any_at_least_once);
	fb_pipeline_processors(f, pi, route);
	fb_plugin_end(f);
}

/* The forward outputs of a pipeline via the aggregator: one for its routes
 * without a match (when it has any), one per other route. */
static void agg_forwards(struct fb *f, const struct lp_pinfo *pi)
{
	int all = 0;

	for (size_t i = 0; i < pi->p->n_routes; i++)
		all |= route_ok(f, pi, i) && !agg_route_own(f, pi, i);
	if (all)
		agg_forward(f, pi, FB_NO_ROUTE);
	for (size_t i = 0; i < pi->p->n_routes; i++)
		if (route_ok(f, pi, i) && agg_route_own(f, pi, i))
			agg_forward(f, pi, i);
}

/* The output instances of a pipeline on the node, one per resolved route:
 * each matches the source tags the pipeline selects (fb_pipeline_match), so a
 * record reaches it without a copy, and runs the pipeline's work as its
 * processors (Fluent Bit runs an output's processors when it flushes a
 * chunk to it: include/fluent-bit/flb_output.h flb_output_flush_create()).
 * Workers as fb_route_workers says: threads and descriptors grow by one
 * instance per route, never per record. Via the aggregator: agg_forwards. */
void fb_pipeline_outputs(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	char alias[40];

	if (pi->agg) {
		agg_forwards(f, pi);
		return;
	}
	for (size_t i = 0; i < p->n_routes; i++) {
		const struct lp_oinfo *oi;
		if (!route_ok(f, pi, i))
			continue;
		oi = &f->c->oi[pi->routes[i].out];
		fb_plugin(f, plugin_name(oi->o));
		lp_render_field_idx(alias, sizeof(alias), "_r", i, "");
		fb_kv(f, "alias", fb_cat(f, "lp_", pi->h, alias, CAT_END));
		fb_pipeline_match(f, pi);
		lp_yamlw_kvi(&f->w, "workers", fb_route_workers(oi->o->type));
		route_keys(f, oi, pi);
		fb_pipeline_processors(f, pi, i);
		fb_plugin_end(f);
	}
}

/* 1 when o's keys depend on the pipeline (an LP_HOOK_S3_KEY row): on the
 * aggregator too it is one instance per pipeline. */
static int per_pipeline(const struct lp_output *o)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);

	for (size_t i = 0; d && i < d->n_keys; i++)
		if (d->keys[i].kind == LP_KEY_HOOK && d->keys[i].hook == LP_HOOK_S3_KEY)
			return 1;
	return 0;
}

/* An output rendered per pipeline on the aggregator (s3): one instance for
 * each pipeline that routes to it, so each writes keys in its own pipeline's
 * terms to its own store_dir. A route without a match brings that pipeline's
 * records as a.<ph>.<node tag>, a route with one as o.<oh>.a.<ph>.<node tag>
 * (the node's forward outputs' tags); the node tag is the source tag, or
 * p.<ph>.kube.* from its own tail. */
static void aggregator_outputs_per_pipeline(struct fb *f, const struct lp_oinfo *oi)
{
	struct lp_rctx *c = f->c;

	for (size_t i = 0; i < c->npi; i++) {
		const struct lp_pinfo *pi = &c->pi[i];
		for (size_t r = 0; pi->ok && pi->agg && r < pi->p->n_routes; r++) {
			int all = pi->p->routes[r].op == LP_ROUTE_ALL;
			if (!pi->routes[r].ok || &c->oi[pi->routes[r].out] != oi)
				continue;
			fb_plugin(f, plugin_name(oi->o));
			fb_kv(f, "alias", fb_cat(f, "lp_o_", oi->h, "_", pi->h, CAT_END));
			if (all)
				fb_addf(f, fb_t0(f), "^a\\.%s\\.", pi->h);
			else
				fb_addf(f, fb_t0(f), "^o\\.%s\\.a\\.%s\\.", oi->h, pi->h);
			fb_kv(f, "match_regex", fb_ts(f));
			/* records of its own tail arrive as a.<h>.p.<h>.kube.* */
			type_keys(f, oi, 1, pi, (all ? 2 : 4) + (LP_OWN_APP_INPUT(pi) ? 2 : 0));
			delivery_keys(f, oi->o);
			fb_plugin_end(f);
		}
	}
}

/* Earlier versions copied a pipeline's records via the aggregator on the node
 * (rewrite_tag) under [o.<oh>.]a.<h>.<source tag> and sent those tags to
 * the aggregator. Chunks still held under them when a node is upgraded (the
 * aggregator unreachable at that moment) come back through
 * in_storage_backlog, which routes a chunk by its tag and keeps one no output
 * matches on disk, unsent (plugins/in_storage_backlog/sb.c). This output
 * carries them to the aggregator under their own tag, which it still routes.
 * No live record has such a tag (the node's inputs tag kube., system., p.<h>.
 * and lp_metrics), so it sees only that backlog: one idle instance, no
 * worker, no per-record cost. */
static void upgrade_carry_output(struct fb *f)
{
	const struct lp_rctx *c = f->c;
	int alo = 0;

	if (!c->any_agg)
		return;
	for (size_t i = 0; i < c->npi; i++)
		alo |= c->pi[i].ok && c->pi[i].agg && c->pi[i].any_at_least_once;
	fb_plugin(f, "forward");
	fb_kv(f, "alias", FB_UPGRADE_CARRY);
	fb_kv(f, "match_regex", FB_UPGRADE_CARRY_MATCH);
	lp_yamlw_kvi(&f->w, "workers", fb_route_workers(LP_OUT_FORWARD));
	agg_forward_keys(f, alo);
	fb_plugin_end(f);
}

/* The outputs [from, to) of c->oi used on this side. With tail, on the
 * shipper, the discard output after them, and on both sides the metrics
 * exporter last. With track, each output's bytes are added to its est_bytes
 * (dry run). */
void fb_outputs(struct fb *f, size_t from, size_t to, int tail, int track)
{
	struct lp_rctx *c = f->c;
	int any = 0;

	for (size_t i = from; i < to; i++) {
		struct lp_oinfo *oi = &c->oi[i];
		size_t mark;
		/* on the node every output instance belongs to a pipeline
		 * (fb_pipeline_outputs) */
		if (!oi->ok || !f->aggregator || !oi->used_agg)
			continue;
		mark = track ? lp_yamlw_size(&f->w) : 0;
		if (per_pipeline(oi->o))
			aggregator_outputs_per_pipeline(f, oi);
		else
			output(f, oi, f->aggregator);
		if (track)
			oi->est_bytes += lp_yamlw_size(&f->w) - mark;
	}
	if (!tail)
		return;
	if (f->aggregator) {
		fb_metrics_output(f);
		return;
	}
	for (size_t i = 0; i < c->npi && !any; i++)
		any = c->pi[i].ok;
	upgrade_carry_output(f);
	if (any) {
		/* Every chunk of a source has a route even when no pipeline selects
		 * its tag (the shared tail reads every namespace): Fluent Bit then
		 * releases it at once instead of logging a routeless task for it.
		 * This is one more route beside the pipelines' own outputs, never
		 * instead of them: a record's routes depend on its tag alone (no
		 * rewrite_tag copy on the node for pipelines on the node), so a full
		 * buffer pauses the input and never diverts a record here. */
		fb_item(f);
		lp_yamlw_map(&f->w);
		lp_yamlw_kvq(&f->w, "name", "null"); /* quoted: plain null is YAML's null */
		fb_kv(f, "alias", "lp_discard");
		fb_kv(f, "match_regex", "^(?:kube|system|p)\\.");
		lp_yamlw_kvi(&f->w, "workers", 0); /* out_null defaults to 1 thread */
		fb_plugin_end(f);
	}
	fb_metrics_output(f);
}
