/* pkg/render/fb_outputs.c: the outputs: one per LogOutput with its type's keys, delivery keys
 * (retries, buffer bounds), the shipper's forward output to the aggregator, and the discard output.
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

static void delivery_keys(struct fb *f, const struct lp_output *o)
{
	int alo = o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE;
	int rl = o->delivery.retry_limit > 0 ? o->delivery.retry_limit : (alo ? 10 : 1);

	lp_yamlw_kvi(&f->w, "retry_limit", rl);
	/* s3 bounds its own buffer (store_dir_limit_size); Fluent Bit warns when
	 * storage.total_limit_size is set on it too */
	if (alo && o->type != LP_OUT_S3)
		fb_kv_size(f, "storage.total_limit_size", buffer_limit(f, o));
}

/* opensearch / es keys. */
static void search_keys(struct fb *f, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_out_search *s = &o->u.search;
	fb_kv(f, "host", s->host);
	lp_yamlw_kvi(&f->w, "port", s->port > 0 ? s->port : 9200);
	if (s->logstash_prefix) {
		lp_yamlw_kvb(&f->w, "logstash_format", 1);
		fb_kv(f, "logstash_prefix", s->logstash_prefix);
	} else {
		fb_kv(f, "index", s->index ? s->index : "logs");
	}
	lp_yamlw_kvb(&f->w, "suppress_type_name", 1);
	lp_yamlw_kvb(&f->w, "replace_dots", 1);
	lp_yamlw_kvb(&f->w, "trace_error", 1);
	if (o->type == LP_OUT_OPENSEARCH && s->aws_auth) {
		lp_yamlw_kvb(&f->w, "aws_auth", 1);
		fb_kv(f, "aws_region", s->aws_region ? s->aws_region : o->aws.region);
		if (o->aws.credentials.role_arn)
			fb_kv(f, "aws_role_arn", o->aws.credentials.role_arn);
		if (o->aws.credentials.external_id)
			fb_kv(f, "aws_external_id", o->aws.credentials.external_id);
		if (oi->aws_profile)
			fb_kv(f, "aws_profile", oi->aws_profile);
	}
	env_ref(f, "http_user", oi->user_var);
	env_ref(f, "http_passwd", oi->pass_var);
	tls_keys(f, &s->tls, oi);
}

/* The keys of o's own type (its typed sub-object). */
static void type_keys(struct fb *f, const struct lp_oinfo *oi, int agg_side, const char *ph)
{
	const struct lp_output *o = oi->o;

	switch (o->type) {
	case LP_OUT_KINESIS:
		aws_keys(f, oi, 0);
		fb_kv(f, "stream", o->u.kinesis.stream);
		if (o->u.kinesis.time_key)
			fb_kv(f, "time_key", o->u.kinesis.time_key);
		break;
	case LP_OUT_FIREHOSE:
		aws_keys(f, oi, 0);
		fb_kv(f, "delivery_stream", o->u.firehose.delivery_stream);
		if (o->u.firehose.time_key)
			fb_kv(f, "time_key", o->u.firehose.time_key);
		break;
	case LP_OUT_S3: {
		const struct lp_out_s3 *s = &o->u.s3;
		aws_keys(f, oi, 1);
		fb_kv(f, "bucket", s->bucket);
		lp_yamlw_kvq(&f->w, "s3_key_format",
		             s->key_format ? s->key_format : "/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID.gz");
		fb_kv_size(f, "total_file_size", s->total_file_size ? s->total_file_size : "100M");
		fb_kv(f, "upload_timeout", s->upload_timeout ? s->upload_timeout : "10m");
		if (!s->compression || strcmp(s->compression, "gzip") == 0)
			fb_kv(f, "compression", "gzip");
		lp_yamlw_kvb(&f->w, "use_put_object", 1);
		/* one local buffer per output instance (per pipeline on the node) */
		fb_addf(f, fb_t0(f), "%s/s3/%s%s%s",
		        agg_side ? LP_RENDER_STATE_DIR "/aggregator" : LP_RENDER_STATE_DIR, oi->h,
		        ph ? "-" : "", ph ? ph : "");
		fb_kv(f, "store_dir", fb_ts(f));
		fb_kv_size(f, "store_dir_limit_size", buffer_limit(f, o));
		if (s->storage_class)
			fb_kv(f, "storage_class", s->storage_class);
		break;
	}
	case LP_OUT_CLOUDWATCH:
		aws_keys(f, oi, 0);
		fb_kv(f, "log_group_name", o->u.cloudwatch.log_group);
		fb_kv(f, "log_stream_prefix",
		      o->u.cloudwatch.log_stream_prefix ? o->u.cloudwatch.log_stream_prefix
		                                        : "fluent-bit-");
		lp_yamlw_kvb(&f->w, "auto_create_group", 0);
		break;
	case LP_OUT_OPENSEARCH:
	case LP_OUT_ELASTICSEARCH:
		search_keys(f, oi);
		break;
	case LP_OUT_KAFKA: {
		struct lp_buf *b = fb_t0(f);
		for (size_t i = 0; i < o->u.kafka.brokers.n; i++)
			fb_addf(f, b, "%s%s", i ? "," : "", o->u.kafka.brokers.v[i]);
		fb_kv(f, "brokers", fb_ts(f));
		fb_kv(f, "topics", o->u.kafka.topic);
		fb_kv(f, "format", o->u.kafka.format ? o->u.kafka.format : "json");
		break;
	}
	case LP_OUT_LOKI: {
		const struct lp_out_loki *l = &o->u.loki;
		struct lp_buf *b = fb_t0(f);
		fb_kv(f, "host", l->host);
		lp_yamlw_kvi(&f->w, "port", l->port > 0 ? l->port : 3100);
		fb_adds(f, b, "job=logplane");
		for (size_t i = 0; i < l->n_labels; i++)
			fb_addf(f, b, ", %s=%s", l->labels[i].key, l->labels[i].value);
		fb_kv(f, "labels", fb_ts(f));
		fb_kv(f, "line_format", "json");
		if (l->tenant_id)
			fb_kv(f, "tenant_id", l->tenant_id);
		env_ref(f, "http_user", oi->user_var);
		env_ref(f, "http_passwd", oi->pass_var);
		tls_keys(f, &l->tls, oi);
		break;
	}
	case LP_OUT_HTTP: {
		const struct lp_out_http *h = &o->u.http;
		fb_kv(f, "host", h->host);
		lp_yamlw_kvi(&f->w, "port", h->port > 0 ? h->port : (h->tls.enabled ? 443 : 80));
		fb_kv(f, "uri", h->uri ? h->uri : "/");
		fb_kv(f, "format", h->format ? h->format : "json");
		if (h->n_headers) {
			lp_yamlw_str(&f->w, "header");
			lp_yamlw_seq(&f->w);
			for (size_t i = 0; i < h->n_headers; i++) {
				if (oi->header_vars && oi->header_vars[i])
					fb_addf(f, fb_t0(f), "%s ${%s}", h->headers[i].name,
					        oi->header_vars[i]);
				else
					fb_addf(f, fb_t0(f), "%s %s", h->headers[i].name,
					        h->headers[i].value ? h->headers[i].value : "");
				lp_yamlw_str(&f->w, fb_ts(f));
			}
			lp_yamlw_seq_end(&f->w);
		}
		env_ref(f, "http_user", oi->user_var);
		env_ref(f, "http_passwd", oi->pass_var);
		tls_keys(f, &h->tls, oi);
		break;
	}
	case LP_OUT_SLACK:
		env_ref(f, "webhook", oi->secret_var);
		break;
	case LP_OUT_FORWARD: {
		const struct lp_out_forward *fw = &o->u.forward;
		fb_kv(f, "host", fw->host);
		lp_yamlw_kvi(&f->w, "port", fw->port > 0 ? fw->port : 24224);
		if (oi->secret_var) {
			env_ref(f, "shared_key", oi->secret_var);
			fb_kv(f, "self_hostname",
			      agg_side ? "logplane-aggregator" : "logplane-shipper");
		}
		lp_yamlw_kvb(&f->w, "require_ack_response",
		             o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE);
		tls_keys(f, &fw->tls, oi);
		break;
	}
	case LP_OUT_STDOUT:
		fb_kv(f, "format", o->u.std_out.format ? o->u.std_out.format : "json_lines");
		break;
	case LP_OUT_LIVETAIL:
		fb_kv(f, "host", f->c->lt_host);
		lp_yamlw_kvi(&f->w, "port", f->c->lt_port);
		fb_addf(f, fb_t0(f), "/ingest/%s/%s", o->meta.ns, o->meta.name);
		fb_kv(f, "uri", fb_ts(f));
		fb_kv(f, "format", "json");
		break;
	default:
		break;
	}
}

/* The Fluent Bit output plugin of each LogOutput type. */
static const char *plugin_names[LP_OUT_TYPE_COUNT] = {
    [LP_OUT_KINESIS] = "kinesis_streams",
    [LP_OUT_FIREHOSE] = "kinesis_firehose",
    [LP_OUT_S3] = "s3",
    [LP_OUT_CLOUDWATCH] = "cloudwatch_logs",
    [LP_OUT_OPENSEARCH] = "opensearch",
    [LP_OUT_ELASTICSEARCH] = "es",
    [LP_OUT_KAFKA] = "kafka",
    [LP_OUT_LOKI] = "loki",
    [LP_OUT_HTTP] = "http",
    [LP_OUT_SLACK] = "slack",
    [LP_OUT_FORWARD] = "forward",
    [LP_OUT_STDOUT] = "stdout",
    [LP_OUT_LIVETAIL] = "websocket",
};

static void output(struct fb *f, const struct lp_oinfo *oi, int agg_side)
{
	const struct lp_output *o = oi->o;

	fb_plugin(f, plugin_names[o->type]);
	fb_cat(f, "lp_o_", oi->h, CAT_END);
	fb_kv(f, "alias", fb_ts(f));
	fb_output_match(f, oi, agg_side);
	type_keys(f, oi, agg_side, NULL);
	delivery_keys(f, o);
	fb_plugin_end(f);
}

/* The output instances of a pipeline on the node, one per resolved route:
 * each matches the source tags the pipeline selects (fb_pipeline_match), so a
 * record reaches it without a copy, and runs the pipeline's work as its
 * processors (Fluent Bit runs an output's processors when it flushes a
 * chunk to it: include/fluent-bit/flb_output.h flb_output_flush_create()).
 * One worker thread each: threads and descriptors grow by one instance per
 * route, never per record. */
void fb_pipeline_outputs(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	char alias[40];

	if (pi->agg)
		return;
	for (size_t i = 0; i < p->n_routes; i++) {
		const struct lp_oinfo *oi;
		if (!pi->routes[i].ok || !f->c->oi[pi->routes[i].out].ok)
			continue;
		oi = &f->c->oi[pi->routes[i].out];
		fb_plugin(f, plugin_names[oi->o->type]);
		lp_render_field_idx(alias, sizeof(alias), "_r", i, "");
		fb_kv(f, "alias", fb_cat(f, "lp_", pi->h, alias, CAT_END));
		fb_pipeline_match(f, pi);
		lp_yamlw_kvi(&f->w, "workers", 1);
		type_keys(f, oi, 0, pi->h);
		delivery_keys(f, oi->o);
		fb_pipeline_processors(f, pi, i);
		fb_plugin_end(f);
	}
}

static void aggregator_forward_output(struct fb *f)
{
	struct lp_rctx *c = f->c;
	int alo = 0;

	for (size_t i = 0; i < c->npi; i++)
		if (c->pi[i].ok && c->pi[i].agg && c->pi[i].any_at_least_once)
			alo = 1;
	fb_plugin(f, "forward");
	fb_kv(f, "alias", "lp_aggregator");
	fb_kv(f, "match_regex", "^(?:o\\.[0-9a-f]{12}\\.)?a\\.");
	fb_kv(f, "host", c->agg_host);
	lp_yamlw_kvi(&f->w, "port", LP_RENDER_FORWARD_PORT);
	fb_kv(f, "shared_key", "${" LP_RENDER_FWD_KEY_VAR "}");
	fb_kv(f, "self_hostname", "logplane-shipper");
	lp_yamlw_kvb(&f->w, "require_ack_response", 1);
	fb_kv(f, "compress", "gzip");
	lp_yamlw_kvi(&f->w, "retry_limit", 20);
	if (alo)
		fb_kv(f, "storage.total_limit_size", "1G");
	fb_plugin_end(f);
}

/* The outputs [from, to) of c->oi used on this side. With tail, on the
 * shipper, the forward output to the aggregator and the discard output after
 * them. With track, each output's bytes are added to its est_bytes (dry run). */
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
		output(f, oi, f->aggregator);
		if (track)
			oi->est_bytes += lp_yamlw_size(&f->w) - mark;
	}
	if (!tail || f->aggregator)
		return;
	if (c->any_agg)
		aggregator_forward_output(f);
	for (size_t i = 0; i < c->npi && !any; i++)
		any = c->pi[i].ok;
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
		fb_kv(f, "match_regex", "^(?:kube|system|p|a)\\.");
		fb_plugin_end(f);
	}
	any = 0;
	for (size_t i = 0; i < c->npi && !any; i++)
		any = c->pi[i].ok && !c->pi[i].agg && c->pi[i].p->n_metrics > 0;
	if (any) {
		/* one exporter for every pipeline's spec.metrics (docs/metrics.md) */
		fb_plugin(f, "prometheus_exporter");
		fb_kv(f, "alias", "lp_metrics");
		fb_kv(f, "match", LP_RENDER_METRICS_TAG);
		fb_kv(f, "host", "0.0.0.0");
		lp_yamlw_kvi(&f->w, "port", LP_RENDER_METRICS_PORT);
		fb_plugin_end(f);
	}
}

/* The aggregator's one input: forward from the shippers. */
