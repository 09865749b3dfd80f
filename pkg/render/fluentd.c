/* pkg/render/fluentd.c: the aggregator in Fluentd's own config syntax (the
 * alternative engine). Every user string is written single-quoted with \\ and
 * \' escaped (Fluentd evaluates #{...} only inside double quotes); secrets are
 * "#{ENV['VAR']}" with renderer-made variable names only. Strings with control
 * characters never get here: check.c leaves such resources out. */
#include "internal.h"
#include "../util/mem.h"
#include <jansson.h>
#include <string.h>

struct fd {
	struct lp_rctx *c;
	struct lp_buf *b;
	lp_err err;
};

static void put(struct fd *d, const char *s)
{
	if (!d->err)
		d->err = lp_buf_adds(d->b, s);
}

/* Appends s single-quoted; control characters become spaces (never newlines). */
static void q(struct fd *d, const char *s)
{
	put(d, "'");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && !d->err; p++) {
		if (*p == '\\' || *p == '\'') {
			d->err = lp_buf_addc(d->b, '\\');
			if (!d->err)
				d->err = lp_buf_addc(d->b, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			d->err = lp_buf_addc(d->b, ' ');
		} else {
			d->err = lp_buf_addc(d->b, (char)*p);
		}
	}
	put(d, "'");
}

static void kq(struct fd *d, const char *indent, const char *key, const char *value)
{
	put(d, indent);
	put(d, key);
	put(d, " ");
	q(d, value);
	put(d, "\n");
}

static void ki(struct fd *d, const char *indent, const char *key, long long v)
{
	if (!d->err)
		d->err = lp_buf_addf(d->b, "%s%s %lld\n", indent, key, v);
}

static void kenv(struct fd *d, const char *indent, const char *key, const char *var)
{
	if (!var || d->err)
		return;
	d->err = lp_buf_addf(d->b, "%s%s \"#{ENV['%s']}\"\n", indent, key, var);
}

/* Appends a JSON text (jansson) as a single-quoted value. */
static void kjson(struct fd *d, const char *indent, const char *key, json_t *j)
{
	char *txt;

	if (!j) {
		d->err = d->err ? d->err : LP_ERR_NOMEM;
		return;
	}
	txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!txt) {
		d->err = d->err ? d->err : LP_ERR_NOMEM;
		return;
	}
	kq(d, indent, key, txt);
	free(txt);
}

/* Appends the JSON encoding of s, escaped for a Fluentd double-quoted string. */
static void dq_json(struct fd *d, const char *s)
{
	json_t *j = json_string(s);
	char *txt = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	json_decref(j);
	if (!txt) {
		d->err = d->err ? d->err : LP_ERR_NOMEM;
		return;
	}
	for (const char *p = txt; *p && !d->err; p++) {
		if (*p == '\\' || *p == '"' || *p == '#')
			d->err = lp_buf_addc(d->b, '\\');
		if (!d->err)
			d->err = lp_buf_addc(d->b, *p);
	}
	free(txt);
}

static void url(struct fd *d, const char *indent, const char *key, int tls, const char *host,
                int port, const char *path)
{
	struct lp_buf u;

	lp_buf_init(&u, 0);
	if (lp_buf_addf(&u, "%s://%s:%d%s", tls ? "https" : "http", host, port, path ? path : "") ||
	    (kq(d, indent, key, lp_buf_str(&u)), 0))
		d->err = d->err ? d->err : LP_ERR_NOMEM;
	lp_buf_free(&u);
}

static void buffer(struct fd *d, const struct lp_oinfo *oi, const char *id)
{
	const struct lp_output *o = oi->o;
	int alo = o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE;
	int rl = o->delivery.retry_limit > 0 ? o->delivery.retry_limit : (alo ? 10 : 1);
	uint64_t limit = 1000000000ULL;

	if (o->delivery.buffer_limit && lp_size_parse(o->delivery.buffer_limit, &limit) != LP_OK)
		limit = 1000000000ULL; /* validated already: not reached */
	/* s3 cuts objects by time and tag (its path uses both) */
	put(d, o->type == LP_OUT_S3 ? "    <buffer tag,time>\n" : "    <buffer>\n");
	if (alo) {
		put(d, "      @type file\n");
		if (!d->err) /* one directory per <store>: Fluentd refuses shared buffer paths */
			d->err = lp_buf_addf(
			    d->b, "      path " LP_RENDER_STATE_DIR "/buffer/%s-%s\n", oi->h, id);
		ki(d, "      ", "total_limit_size", (long long)limit);
		put(d, "      overflow_action block\n");
	} else {
		put(d, "      @type memory\n");
		ki(d, "      ", "total_limit_size", 64 * 1024 * 1024);
		put(d, "      overflow_action drop_oldest_chunk\n");
	}
	if (o->type == LP_OUT_S3)
		put(d, "      timekey 300\n      timekey_wait 60\n");
	else
		put(d, "      flush_mode interval\n      flush_interval 1s\n");
	ki(d, "      ", "retry_max_times", rl);
	put(d, "    </buffer>\n");
}

static void auth(struct fd *d, const struct lp_oinfo *oi)
{
	kenv(d, "    ", "user", oi->user_var);
	kenv(d, "    ", "password", oi->pass_var);
}

/* The output's own AWS profile (kinesis, firehose and s3 plugins read a
 * <shared_credentials> section). */
static void shared_credentials(struct fd *d, const struct lp_oinfo *oi)
{
	if (!oi->aws_profile)
		return;
	put(d, "    <shared_credentials>\n");
	kq(d, "      ", "path", LP_RENDER_AWS_CREDENTIALS_PATH);
	kq(d, "      ", "profile_name", oi->aws_profile);
	put(d, "    </shared_credentials>\n");
}

/* The <store> body of an OpenSearch or Elasticsearch output. */
static void store_search(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_aws *a = &o->aws;
	const struct lp_out_search *s = &o->u.search;

	put(d,
	    o->type == LP_OUT_OPENSEARCH ? "    @type opensearch\n" : "    @type elasticsearch\n");
	kq(d, "    ", "host", s->host);
	ki(d, "    ", "port", s->port > 0 ? s->port : 9200);
	put(d, s->tls.enabled ? "    scheme https\n" : "    scheme http\n");
	if (s->tls.enabled && !s->tls.verify)
		put(d, "    ssl_verify false\n");
	if (oi->ca_path)
		kq(d, "    ", "ca_file", oi->ca_path);
	if (s->logstash_prefix) {
		put(d, "    logstash_format true\n");
		kq(d, "    ", "logstash_prefix", s->logstash_prefix);
	} else {
		kq(d, "    ", "index_name", s->index ? s->index : "logs");
	}
	auth(d, oi);
	if (o->type == LP_OUT_OPENSEARCH && s->aws_auth) {
		/* requests signed with SigV4 by the plugin (service "es") */
		put(d, "    <endpoint>\n");
		url(d, "      ", "url", s->tls.enabled, s->host, s->port > 0 ? s->port : 9200,
		    NULL);
		kq(d, "      ", "region", s->aws_region ? s->aws_region : a->region);
		kenv(d, "      ", "access_key_id", oi->aws_key_var);
		kenv(d, "      ", "secret_access_key", oi->aws_secret_var);
		if (a->credentials.role_arn) {
			kq(d, "      ", "assume_role_arn", a->credentials.role_arn);
			kq(d, "      ", "assume_role_session_name", "logplane");
		}
		put(d, "    </endpoint>\n");
	}
}

/* The <store> body of an http output. */
static void store_http(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_out_http *h = &o->u.http;
	put(d, "    @type http\n");
	url(d, "    ", "endpoint", h->tls.enabled, h->host,
	    h->port > 0 ? h->port : (h->tls.enabled ? 443 : 80), h->uri ? h->uri : "/");
	if (h->n_headers) {
		/* double-quoted so a Secret can come in through #{ENV[...]}; user text
		 * is JSON-encoded, then \\, \" and \# escaped for Fluentd */
		put(d, "    headers \"{");
		for (size_t i = 0; i < h->n_headers; i++) {
			if (i)
				put(d, ",");
			dq_json(d, h->headers[i].name);
			put(d, ":");
			if (oi->header_vars && oi->header_vars[i]) {
				if (!d->err)
					d->err = lp_buf_addf(d->b, "\\\"#{ENV['%s']}\\\"",
					                     oi->header_vars[i]);
			} else {
				dq_json(d, h->headers[i].value ? h->headers[i].value : "");
			}
		}
		put(d, "}\"\n");
	}
	put(d, "    <format>\n      @type json\n    </format>\n");
}

static void store_kinesis(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_aws *a = &o->aws;

	put(d, "    @type kinesis_streams\n");
	kq(d, "    ", "region", a->region);
	kq(d, "    ", "stream_name", o->u.kinesis.stream);
	if (a->endpoint)
		kq(d, "    ", "endpoint", a->endpoint);
	shared_credentials(d, oi);
}

static void store_firehose(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_aws *a = &o->aws;

	put(d, "    @type kinesis_firehose\n");
	kq(d, "    ", "region", a->region);
	kq(d, "    ", "delivery_stream_name", o->u.firehose.delivery_stream);
	if (a->endpoint)
		kq(d, "    ", "endpoint", a->endpoint);
	shared_credentials(d, oi);
}

static void store_s3(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_aws *a = &o->aws;

	put(d, "    @type s3\n");
	kq(d, "    ", "s3_region", a->region);
	kq(d, "    ", "s3_bucket", o->u.s3.bucket);
	if (a->endpoint) {
		kq(d, "    ", "s3_endpoint", a->endpoint);
		put(d, "    force_path_style true\n");
	}
	kq(d, "    ", "path", "logs/${tag}/%Y/%m/%d/");
	kq(d, "    ", "s3_object_key_format",
	   "%{path}%{time_slice}_%{uuid_flush}.%{file_extension}");
	kq(d, "    ", "store_as",
	   o->u.s3.compression && !strcmp(o->u.s3.compression, "none") ? "text" : "gzip");
	shared_credentials(d, oi);
}

static void store_cloudwatch(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_aws *a = &o->aws;

	put(d, "    @type cloudwatch_logs\n");
	kq(d, "    ", "region", a->region);
	kq(d, "    ", "log_group_name", o->u.cloudwatch.log_group);
	put(d, "    use_tag_as_stream true\n");
	kenv(d, "    ", "aws_key_id", oi->aws_key_var);
	kenv(d, "    ", "aws_sec_key", oi->aws_secret_var);
}

static void store_kafka(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	struct lp_buf b;

	lp_buf_init(&b, 0);
	for (size_t i = 0; i < o->u.kafka.brokers.n && !d->err; i++)
		d->err = lp_buf_addf(&b, "%s%s", i ? "," : "", o->u.kafka.brokers.v[i]);
	put(d, "    @type kafka2\n");
	kq(d, "    ", "brokers", lp_buf_str(&b));
	kq(d, "    ", "default_topic", o->u.kafka.topic);
	put(d, "    <format>\n      @type json\n    </format>\n");
	lp_buf_free(&b);
}

static void store_loki(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_out_loki *l = &o->u.loki;
	json_t *labels = json_object();

	put(d, "    @type loki\n");
	url(d, "    ", "url", l->tls.enabled, l->host, l->port > 0 ? l->port : 3100, NULL);
	if (l->tenant_id)
		kq(d, "    ", "tenant", l->tenant_id);
	for (size_t i = 0; labels && i < l->n_labels; i++)
		if (json_object_set_new(labels, l->labels[i].key, json_string(l->labels[i].value)))
			d->err = d->err ? d->err : LP_ERR_NOMEM;
	kjson(d, "    ", "extra_labels", labels);
	kenv(d, "    ", "username", oi->user_var);
	kenv(d, "    ", "password", oi->pass_var);
}

static void store_slack(struct fd *d, const struct lp_oinfo *oi)
{
	put(d, "    @type slack\n");
	kenv(d, "    ", "webhook_url", oi->secret_var);
}

static void store_forward(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_out_forward *fw = &oi->o->u.forward;

	put(d, "    @type forward\n");
	if (fw->tls.enabled)
		put(d, "    transport tls\n");
	if (oi->secret_var) {
		put(d, "    <security>\n      self_hostname logplane-aggregator\n");
		kenv(d, "      ", "shared_key", oi->secret_var);
		put(d, "    </security>\n");
	}
	put(d, "    <server>\n");
	kq(d, "      ", "host", fw->host);
	ki(d, "      ", "port", fw->port > 0 ? fw->port : 24224);
	put(d, "    </server>\n");
}

static void store_stdout(struct fd *d, const struct lp_oinfo *oi)
{
	(void)oi;
	put(d, "    @type stdout\n");
}

/* livetail (/ingest/...) and alert (/alert/...): to the hub */
static void store_hub(struct fd *d, const struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	struct lp_buf p;

	lp_buf_init(&p, 0);
	if (lp_buf_addf(&p, "/%s/%s/%s", lp_output_alert(o) ? "alert" : "ingest", o->meta.ns,
	                o->meta.name))
		d->err = d->err ? d->err : LP_ERR_NOMEM;
	put(d, "    @type http\n");
	url(d, "    ", "endpoint", 0, d->c->lt_host, d->c->lt_port, lp_buf_str(&p));
	if (oi->secret_var && !d->err) /* the hub's ingest token */
		d->err = lp_buf_addf(d->b,
		                     "    headers \"{\\\"Authorization\\\":\\\"Bearer "
		                     "#{ENV['%s']}\\\"}\"\n",
		                     oi->secret_var);
	put(d, "    <format>\n      @type json\n    </format>\n");
	lp_buf_free(&p);
}

/* The <store> body of each LogOutput type (its Fluentd plugin), and whether
 * that plugin reads the operator's AWS credentials file. */
static const struct {
	void (*store)(struct fd *d, const struct lp_oinfo *oi);
	int creds_file;
} fd_types[LP_OUT_TYPE_COUNT] = {
    [LP_OUT_KINESIS] = {store_kinesis, 1},
    [LP_OUT_FIREHOSE] = {store_firehose, 1},
    [LP_OUT_S3] = {store_s3, 1},
    [LP_OUT_CLOUDWATCH] = {store_cloudwatch, 0},
    [LP_OUT_OPENSEARCH] = {store_search, 0},
    [LP_OUT_ELASTICSEARCH] = {store_search, 0},
    [LP_OUT_KAFKA] = {store_kafka, 0},
    [LP_OUT_LOKI] = {store_loki, 0},
    [LP_OUT_HTTP] = {store_http, 0},
    [LP_OUT_SLACK] = {store_slack, 0},
    [LP_OUT_FORWARD] = {store_forward, 0},
    [LP_OUT_STDOUT] = {store_stdout, 0},
    [LP_OUT_LIVETAIL] = {store_hub, 0},
    [LP_OUT_ALERT] = {store_hub, 0},
};

int lp_render_fluentd_creds_file(const struct lp_output *o)
{
	return o && (int)o->type > LP_OUT_NONE && (int)o->type < LP_OUT_TYPE_COUNT &&
	       fd_types[o->type].creds_file;
}

static void store(struct fd *d, const struct lp_oinfo *oi, const char *id)
{
	const struct lp_output *o = oi->o;

	put(d, "  <store>\n");
	if ((int)o->type > LP_OUT_NONE && (int)o->type < LP_OUT_TYPE_COUNT &&
	    fd_types[o->type].store)
		fd_types[o->type].store(d, oi);
	buffer(d, oi, id);
	put(d, "  </store>\n");
}

/* One <match> of the aggregator: the copies for one LogOutput (pipeline 0) or
 * the whole records of one pipeline (pipeline 1); its text ends at end. */
struct fd_unit {
	size_t end;
	int pipeline;
	size_t idx; /* into c->oi or c->pi */
};

static lp_err unit_add(struct fd_unit **u, size_t *n, size_t *cap, size_t end, int pipeline,
                       size_t idx)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct fd_unit *nu = lp_realloc(*u, ncap * sizeof(*nu));
		if (!nu)
			return LP_ERR_NOMEM;
		*u = nu;
		*cap = ncap;
	}
	(*u)[*n].end = end;
	(*u)[*n].pipeline = pipeline;
	(*u)[*n].idx = idx;
	(*n)++;
	return LP_OK;
}

/* Adds text [from, to) of b as file name to cfg. */
static lp_err add_slice(struct lp_rendered_config *cfg, const char *name, const struct lp_buf *b,
                        size_t from, size_t to)
{
	struct lp_buf part;
	lp_err err;

	lp_buf_init(&part, 0);
	err = lp_buf_add(&part, b->ptr + from, to - from);
	if (!err)
		err = lp_render_config_add(cfg, name, &part);
	lp_buf_free(&part);
	return err;
}

/* A config over LP_RENDER_SPLIT_BYTES: fluent.conf keeps the header (text up to
 * head), one "@include part-NNN.conf" per part in order, then the catch-all
 * (text from tail); the <match> units between are packed into the parts in
 * order. Fluentd reads an included file in place, relative to the including
 * file, so the order of the <match> directives is kept. A unit larger than a
 * part alone is left out and reported. */
static lp_err split(struct lp_rctx *c, const struct lp_buf *b, size_t head, size_t tail,
                    const struct fd_unit *u, size_t n)
{
	struct lp_rendered_config *cfg = &c->out->aggregator;
	struct lp_buf entry, none;
	size_t i = 0, from = head;
	unsigned seq = 0;
	char name[32];
	lp_err err;

	lp_buf_init(&entry, 0);
	lp_buf_init(&none, 0);
	err = lp_buf_add(&entry, b->ptr, head);
	/* files[0] is the entry: reserve it, fill it last */
	if (!err)
		err = lp_render_config_add(cfg, "fluent.conf", &none);
	while (!err && i < n) {
		size_t start = i, ufrom = from;
		/* as many units as fit one part */
		while (i < n && u[i].end - ufrom <= LP_RENDER_SPLIT_BYTES)
			i++;
		if (i == start) { /* one unit alone is too large: leave it out */
			if (u[i].pipeline)
				err = lp_render_pipeline_too_large(c, &c->pi[u[i].idx],
				                                   LP_RENDER_SPLIT_BYTES);
			else
				err = lp_render_output_too_large(c, &c->oi[u[i].idx],
				                                 LP_RENDER_SPLIT_BYTES);
			from = u[i++].end;
			continue;
		}
		snprintf(name, sizeof(name), "part-%03u.conf", ++seq);
		err = add_slice(cfg, name, b, ufrom, u[i - 1].end);
		if (!err)
			err = lp_buf_addf(&entry, "@include %s\n", name);
		from = u[i - 1].end;
	}
	if (!err)
		err = lp_buf_add(&entry, b->ptr + tail, b->len - tail);
	if (!err) {
		lp_free(cfg->files[0].data);
		cfg->files[0].len = entry.len;
		cfg->files[0].data = lp_buf_take(&entry);
		if (!cfg->files[0].data)
			err = LP_ERR_NOMEM;
	}
	lp_buf_free(&entry);
	return err;
}

lp_err lp_render_fluentd_aggregator(struct lp_rctx *c)
{
	struct lp_buf b;
	struct fd d;
	struct fd_unit *u = NULL;
	size_t n = 0, cap = 0, head, tail;
	lp_err err;

	lp_buf_init(&b, 0);
	d.c = c;
	d.b = &b;
	d.err = LP_OK;
	put(&d, "# logplane aggregator (Fluentd). Generated: do not edit.\n"
	        "<system>\n  log_level info\n</system>\n"
	        "<source>\n  @type forward\n  bind 0.0.0.0\n");
	ki(&d, "  ", "port", LP_RENDER_FORWARD_PORT);
	put(&d, "  <security>\n    self_hostname logplane-aggregator\n");
	kenv(&d, "    ", "shared_key", LP_RENDER_FWD_KEY_VAR);
	put(&d, "  </security>\n</source>\n");
	head = b.len;
	/* route copies: one <match> per LogOutput */
	for (size_t i = 0; i < c->noi; i++) {
		const struct lp_oinfo *oi = &c->oi[i];
		if (!oi->ok || !oi->used_agg)
			continue;
		if (!d.err)
			d.err = lp_buf_addf(&b, "<match o.%s.**>\n  @type copy\n", oi->h);
		store(&d, oi, "copies");
		put(&d, "</match>\n");
		if (!d.err)
			d.err = unit_add(&u, &n, &cap, b.len, 0, i);
	}
	/* whole pipelines: one <match> per pipeline, a <store> per output */
	for (size_t i = 0; i < c->npi; i++) {
		const struct lp_pinfo *pi = &c->pi[i];
		int k = 0;
		if (!pi->ok || !pi->agg)
			continue;
		for (size_t r = 0; r < pi->p->n_routes; r++) {
			const struct lp_oinfo *oi;
			if (!pi->routes[r].ok || pi->p->routes[r].op != LP_ROUTE_ALL)
				continue;
			oi = &c->oi[pi->routes[r].out];
			if (lp_output_type_via_hub(oi->o->type))
				continue;
			if (k++ == 0 && !d.err)
				d.err = lp_buf_addf(&b, "<match a.%s.**>\n  @type copy\n", pi->h);
			store(&d, oi, pi->h);
		}
		if (k)
			put(&d, "</match>\n");
		if (k && !d.err)
			d.err = unit_add(&u, &n, &cap, b.len, 1, i);
	}
	tail = b.len;
	put(&d, "<match **>\n  @type null\n</match>\n");
	err = d.err;
	if (!err && b.len <= LP_RENDER_SPLIT_BYTES)
		err = lp_render_config_add(&c->out->aggregator, "fluent.conf", &b);
	else if (!err)
		err = split(c, &b, head, tail, u, n);
	lp_free(u);
	lp_buf_free(&b);
	return err;
}
