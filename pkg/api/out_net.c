/* pkg/api/out_net.c: the network output types (opensearch, elasticsearch,
 * kafka, loki, http, forward): each one's reader, free, rules, Secret
 * references, Fluent Bit keys and descriptor (see struct
 * lp_output_type_desc in api.h). */
#include "outtype.h"
#include "../util/mem.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------- readers ---------- */

/* Elasticsearch / OpenSearch index names: lower case, no leading '-', '_', '+'. */
static void check_index(struct lp_rd *r, const char *b, const char *key, const char *v)
{
	char path[LP_RD_PATH];

	if (!v)
		return;
	for (const char *p = v; *p; p++)
		if (*p >= 'A' && *p <= 'Z') {
			lp_rd_join(path, b, key);
			lp_rd_bad(r, path, "must be lower case");
			return;
		}
	if (v[0] == '-' || v[0] == '_' || v[0] == '.') {
		lp_rd_join(path, b, key);
		lp_rd_bad(r, path, "must not start with '-', '_' or '.'");
	}
}

static void rd_search(struct lp_rd *r, const json_t *o, const char *b, struct lp_output *out)
{
	static const char *const known[] = {"host",    "port", "index", "logstashPrefix",
	                                    "awsAuth", "tls",  "auth",  NULL};
	static const char *const es_known[] = {"host", "port", "index", "logstashPrefix",
	                                       "tls",  "auth", NULL};
	struct lp_out_search *s = &out->u.search;

	lp_rd_known(r, o, b, out->type == LP_OUT_OPENSEARCH ? known : es_known);
	lp_rd_str(r, o, b, "host", &s->host, LP_STR_HOST, 0, 1);
	s->port = 9200;
	lp_rd_int(r, o, b, "port", &s->port, 1, 65535, 0);
	lp_rd_str(r, o, b, "index", &s->index, LP_STR_TOKEN, 255, 0);
	lp_rd_str(r, o, b, "logstashPrefix", &s->logstash_prefix, LP_STR_TOKEN, 200, 0);
	check_index(r, b, "index", s->index);
	check_index(r, b, "logstashPrefix", s->logstash_prefix);
	if (s->index && s->logstash_prefix)
		lp_rd_bad(r, b, "set index or logstashPrefix, not both");
	lp_rd_default(r, &s->index, "logs");
	lp_rd_bool(r, o, b, "awsAuth", &s->aws_auth);
	lp_rd_tls(r, o, b, &s->tls, 1);
	lp_rd_auth(r, o, b, &s->auth);
	if (s->aws_auth && s->auth.secret_name)
		lp_rd_bad(r, b, "set awsAuth or auth, not both");
}

static void rd_kafka(struct lp_rd *r, const json_t *o, struct lp_out_kafka *k)
{
	static const char *const known[] = {"brokers", "topic", "format", NULL};
	static const char *const formats[] = {"json", "msgpack", "raw"};
	int fmt = 0;

	lp_rd_known(r, o, "spec.kafka", known);
	lp_rd_strlist(r, o, "spec.kafka", "brokers", &k->brokers, LP_STR_BROKER, 0, 1, 32, 1);
	lp_rd_str(r, o, "spec.kafka", "topic", &k->topic, LP_STR_TOKEN, 249, 1);
	lp_rd_enum(r, o, "spec.kafka", "format", formats, 3, &fmt, 0);
	k->format = lp_strdup(formats[fmt]);
	if (!k->format)
		r->err = LP_ERR_NOMEM;
}

static void rd_loki(struct lp_rd *r, const json_t *o, struct lp_out_loki *l)
{
	static const char *const known[] = {"host", "port", "labels", "tenantId",
	                                    "tls",  "auth", NULL};
	char path[LP_RD_PATH];

	lp_rd_known(r, o, "spec.loki", known);
	lp_rd_str(r, o, "spec.loki", "host", &l->host, LP_STR_HOST, 0, 1);
	l->port = 3100;
	lp_rd_int(r, o, "spec.loki", "port", &l->port, 1, 65535, 0);
	lp_rd_kvmap(r, o, "spec.loki", "labels", &l->labels, &l->n_labels, LP_STR_FIELD, 64,
	            LP_STR_TEXT, 256, 30);
	for (size_t i = 0; i < l->n_labels; i++)
		if (strchr(l->labels[i].key, '.') || strchr(l->labels[i].key, '-') ||
		    strchr(l->labels[i].key, '/')) {
			snprintf(path, sizeof(path), "spec.loki.labels.%s", l->labels[i].key);
			lp_rd_bad(r, path, "a Loki label name has only letters, digits and '_'");
		}
	lp_rd_str(r, o, "spec.loki", "tenantId", &l->tenant_id, LP_STR_TOKEN, 150, 0);
	lp_rd_tls(r, o, "spec.loki", &l->tls, 1);
	lp_rd_auth(r, o, "spec.loki", &l->auth);
}

static void rd_http(struct lp_rd *r, const json_t *o, struct lp_out_http *h)
{
	static const char *const known[] = {"host",    "port", "uri",  "format",
	                                    "headers", "tls",  "auth", NULL};
	static const char *const hknown[] = {"name", "value", "valueFrom", NULL};
	static const char *const vknown[] = {"secretKeyRef", NULL};
	static const char *const formats[] = {"json", "json_lines", "msgpack"};
	char path[LP_RD_PATH], vpath[LP_RD_PATH];
	const json_t *hs;
	int fmt = 0;

	lp_rd_known(r, o, "spec.http", known);
	lp_rd_str(r, o, "spec.http", "host", &h->host, LP_STR_HOST, 0, 1);
	lp_rd_tls(r, o, "spec.http", &h->tls, 1);
	h->port = h->tls.enabled ? 443 : 80;
	lp_rd_int(r, o, "spec.http", "port", &h->port, 1, 65535, 0);
	lp_rd_str(r, o, "spec.http", "uri", &h->uri, LP_STR_URI, 0, 0);
	lp_rd_default(r, &h->uri, "/");
	lp_rd_enum(r, o, "spec.http", "format", formats, 3, &fmt, 0);
	h->format = lp_strdup(formats[fmt]);
	if (!h->format)
		r->err = LP_ERR_NOMEM;
	lp_rd_auth(r, o, "spec.http", &h->auth);
	hs = lp_rd_get(r, o, "spec.http", "headers", LP_RD_ARR, 0);
	if (!hs)
		return;
	if (json_array_size(hs) > 32) {
		lp_rd_bad(r, "spec.http.headers", "must have at most 32 items");
		return;
	}
	h->headers = lp_calloc(json_array_size(hs) + 1, sizeof(*h->headers));
	if (!h->headers) {
		r->err = LP_ERR_NOMEM;
		return;
	}
	for (size_t i = 0; i < json_array_size(hs); i++) {
		const json_t *it = json_array_get(hs, i), *vf;
		struct lp_http_header *hd = &h->headers[h->n_headers++];
		lp_rd_index(path, "spec.http.headers", i);
		if (!json_is_object(it)) {
			lp_rd_bad(r, path, "must be an object");
			continue;
		}
		lp_rd_known(r, it, path, hknown);
		lp_rd_str(r, it, path, "name", &hd->name, LP_STR_HEADER_NAME, 0, 1);
		if (hd->name && (strcasecmp(hd->name, "Host") == 0 ||
		                 strcasecmp(hd->name, "Content-Length") == 0 ||
		                 strcasecmp(hd->name, "Transfer-Encoding") == 0)) {
			lp_rd_join(vpath, path, "name");
			lp_rd_bad(r, vpath, "header \"%s\" is set by the client itself", hd->name);
		}
		lp_rd_str(r, it, path, "value", &hd->value, LP_STR_TEXT, 4096, 0);
		vf = lp_rd_get(r, it, path, "valueFrom", LP_RD_OBJ, 0);
		if (vf) {
			lp_rd_join(vpath, path, "valueFrom");
			lp_rd_known(r, vf, vpath, vknown);
			lp_rd_secret_ref(r, vf, vpath, "secretKeyRef", &hd->value_from, 1);
		}
		if (json_object_get(it, "value") && vf)
			lp_rd_bad(r, path, "set value or valueFrom, not both");
		else if (!json_object_get(it, "value") && !vf)
			lp_rd_bad(r, path, "one of value or valueFrom is required");
	}
}

static void rd_forward(struct lp_rd *r, const json_t *o, struct lp_out_forward *f)
{
	static const char *const known[] = {"host", "port", "sharedKeySecretRef", "tls", NULL};

	lp_rd_known(r, o, "spec.forward", known);
	lp_rd_str(r, o, "spec.forward", "host", &f->host, LP_STR_HOST, 0, 1);
	f->port = 24224;
	lp_rd_int(r, o, "spec.forward", "port", &f->port, 1, 65535, 0);
	lp_rd_secret_ref(r, o, "spec.forward", "sharedKeySecretRef", &f->shared_key, 0);
	lp_rd_tls(r, o, "spec.forward", &f->tls, 0);
}

static void parse_search(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	if (o->type == LP_OUT_OPENSEARCH && o->aws.region) {
		o->u.search.aws_region = lp_strdup(o->aws.region);
		if (!o->u.search.aws_region)
			r->err = LP_ERR_NOMEM;
	}
	if (b)
		rd_search(r, b, path, o);
}

static void parse_kafka(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	(void)path;
	if (b)
		rd_kafka(r, b, &o->u.kafka);
}

static void parse_loki(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	(void)path;
	if (b)
		rd_loki(r, b, &o->u.loki);
}

static void parse_http(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	(void)path;
	if (b)
		rd_http(r, b, &o->u.http);
}

static void parse_forward(struct lp_rd *r, const json_t *b, const char *path, struct lp_output *o)
{
	(void)path;
	if (b)
		rd_forward(r, b, &o->u.forward);
}

/* ---------- free ---------- */

static void clear_search(struct lp_output *o)
{
	lp_free(o->u.search.host);
	lp_free(o->u.search.index);
	lp_free(o->u.search.logstash_prefix);
	lp_free(o->u.search.aws_region);
	lp_tls_clear(&o->u.search.tls);
	lp_auth_clear(&o->u.search.auth);
}

static void clear_kafka(struct lp_output *o)
{
	lp_strlist_clear(&o->u.kafka.brokers);
	lp_free(o->u.kafka.topic);
	lp_free(o->u.kafka.format);
}

static void clear_loki(struct lp_output *o)
{
	lp_free(o->u.loki.host);
	lp_kv_array_free(o->u.loki.labels, o->u.loki.n_labels);
	lp_free(o->u.loki.tenant_id);
	lp_tls_clear(&o->u.loki.tls);
	lp_auth_clear(&o->u.loki.auth);
}

static void clear_http(struct lp_output *o)
{
	for (size_t i = 0; i < o->u.http.n_headers; i++) {
		lp_free(o->u.http.headers[i].name);
		lp_free(o->u.http.headers[i].value);
		lp_secret_ref_clear(&o->u.http.headers[i].value_from);
	}
	lp_free(o->u.http.headers);
	lp_free(o->u.http.host);
	lp_free(o->u.http.uri);
	lp_free(o->u.http.format);
	lp_tls_clear(&o->u.http.tls);
	lp_auth_clear(&o->u.http.auth);
}

static void clear_forward(struct lp_output *o)
{
	lp_free(o->u.forward.host);
	lp_secret_ref_clear(&o->u.forward.shared_key);
	lp_tls_clear(&o->u.forward.tls);
}

/* ---------- rules ---------- */

static void check_search(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.search.host", o->u.search.host))
		lp_chk_token(k, "spec.search.host", o->u.search.host, NULL);
	lp_chk_token(k, "spec.search.index", o->u.search.index, NULL);
	lp_chk_token(k, "spec.search.logstashPrefix", o->u.search.logstash_prefix, NULL);
	lp_chk_token(k, "spec.search.awsRegion", o->u.search.aws_region, NULL);
	if (o->type == LP_OUT_OPENSEARCH && o->u.search.aws_auth) {
		lp_chk_token(k, "spec.aws.credentials.roleArn", o->aws.credentials.role_arn, NULL);
		lp_chk_token(k, "spec.aws.credentials.externalId", o->aws.credentials.external_id,
		             NULL);
	}
	lp_chk_tls(k, "spec.search.tls.caSecretName", &o->u.search.tls);
	lp_chk_auth(k, &o->u.search.auth);
}

static void check_kafka(struct lp_chk *k, const struct lp_output *o)
{
	if (o->u.kafka.brokers.n == 0)
		lp_chk_bad(k, "spec.kafka.brokers", "at least one broker is required");
	for (size_t i = 0; i < o->u.kafka.brokers.n; i++)
		lp_chk_token(k, "spec.kafka.brokers", o->u.kafka.brokers.v[i], ",");
	if (lp_chk_need(k, "spec.kafka.topic", o->u.kafka.topic))
		lp_chk_token(k, "spec.kafka.topic", o->u.kafka.topic, ",");
	lp_chk_token(k, "spec.kafka.format", o->u.kafka.format, NULL);
}

static void check_loki(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.loki.host", o->u.loki.host))
		lp_chk_token(k, "spec.loki.host", o->u.loki.host, NULL);
	for (size_t i = 0; i < o->u.loki.n_labels; i++) {
		const char *key = o->u.loki.labels[i].key;
		int good = key && *key && !isdigit((unsigned char)key[0]);
		for (const char *p = key; good && *p; p++)
			good = isalnum((unsigned char)*p) || *p == '_';
		if (!good)
			lp_chk_bad(k, "spec.loki.labels",
			           "label names must match [A-Za-z_][A-Za-z0-9_]*");
		lp_chk_token(k, "spec.loki.labels", o->u.loki.labels[i].value, ",=\"'$");
	}
	lp_chk_token(k, "spec.loki.tenantId", o->u.loki.tenant_id, NULL);
	lp_chk_tls(k, "spec.loki.tls.caSecretName", &o->u.loki.tls);
	lp_chk_auth(k, &o->u.loki.auth);
}

static void check_http(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.http.host", o->u.http.host))
		lp_chk_token(k, "spec.http.host", o->u.http.host, NULL);
	lp_chk_token(k, "spec.http.uri", o->u.http.uri, NULL);
	lp_chk_token(k, "spec.http.format", o->u.http.format, NULL);
	for (size_t i = 0; i < o->u.http.n_headers; i++) {
		const struct lp_http_header *h = &o->u.http.headers[i];
		if (lp_chk_need(k, "spec.http.headers[].name", h->name))
			lp_chk_token(k, "spec.http.headers[].name", h->name, ":");
		if (h->value_from.name) {
			lp_chk_token(k, "spec.http.headers[].valueFrom.name", h->value_from.name,
			             NULL);
			lp_chk_token(k, "spec.http.headers[].valueFrom.key", h->value_from.key,
			             NULL);
		} else if (h->value) {
			if (lp_chk_str(k, "spec.http.headers[].value", h->value))
				for (const unsigned char *p = (const unsigned char *)h->value; *p;
				     p++)
					if (*p < 0x20 || *p == 0x7f) {
						lp_chk_bad(k, "spec.http.headers[].value",
						           "value must not contain control "
						           "characters");
						break;
					}
		}
	}
	lp_chk_tls(k, "spec.http.tls.caSecretName", &o->u.http.tls);
	lp_chk_auth(k, &o->u.http.auth);
}

static void check_forward(struct lp_chk *k, const struct lp_output *o)
{
	if (lp_chk_need(k, "spec.forward.host", o->u.forward.host))
		lp_chk_token(k, "spec.forward.host", o->u.forward.host, NULL);
	lp_chk_token(k, "spec.forward.sharedKey.name", o->u.forward.shared_key.name, NULL);
	lp_chk_token(k, "spec.forward.sharedKey.key", o->u.forward.shared_key.key, NULL);
	lp_chk_tls(k, "spec.forward.tls.caSecretName", &o->u.forward.tls);
}

/* ---------- Secret references ---------- */

static int secret_http(const struct lp_output *o, size_t i, struct lp_output_secret *s)
{
	if (i >= o->u.http.n_headers)
		return 0;
	snprintf(s->field, sizeof(s->field), "spec.http.headers[%zu].valueFrom.secretKeyRef", i);
	s->name = o->u.http.headers[i].value_from.name;
	s->key = o->u.http.headers[i].value_from.key;
	s->default_key = "value";
	s->kind = LP_SECRET_HEADER;
	s->tls_for = "a header value from a Secret";
	s->header = (long)i;
	return 1;
}

static int secret_forward(const struct lp_output *o, size_t i, struct lp_output_secret *s)
{
	if (i > 0)
		return 0;
	return lp_out_secret_one(s, "spec.forward.sharedKeySecretRef", &o->u.forward.shared_key,
	                         "shared_key", LP_SECRET_SHARED_KEY);
}

/* ---------- Fluent Bit keys ---------- */

#define SEARCH_KEYS(sub)                                                                           \
	LP_KSTR("host", u.search.host, NULL, "spec." sub ".host", "host", NULL),                   \
	    LP_KINT("port", u.search.port, 9200, "spec." sub ".port", "port", NULL),               \
	    LP_KHOOK("index,logstash_format,logstash_prefix", LP_HOOK_SEARCH_INDEX,                \
	             "spec." sub ".index / logstashPrefix", "index_name / logstash_prefix",        \
	             "logstashPrefix: daily indices PREFIX-YYYY.MM.DD"),                           \
	    LP_KBOOL("suppress_type_name", 1, "spec." sub, NULL, "always on"),                     \
	    LP_KBOOL("replace_dots", 1, "spec." sub, NULL, "always on"),                           \
	    LP_KBOOL("trace_error", 1, "spec." sub, NULL, "always on")

static const struct lp_out_key opensearch_keys[] = {
    SEARCH_KEYS("opensearch"),
    LP_KHOOK("aws_auth,aws_region", LP_HOOK_SEARCH_AWS_AUTH, "spec.opensearch.awsAuth",
             "<endpoint> url, region",
             "region from spec.aws.region; Fluentd: keys from spec.aws.credentials, roleArn "
             "as assume_role_arn"),
    LP_KHOOK(NULL, LP_HOOK_AUTH, NULL, NULL, NULL),
    LP_KHOOK(NULL, LP_HOOK_TLS, NULL, NULL, NULL),
};

static const struct lp_out_key elasticsearch_keys[] = {
    SEARCH_KEYS("elasticsearch"),
    LP_KHOOK(NULL, LP_HOOK_AUTH, NULL, NULL, NULL),
    LP_KHOOK(NULL, LP_HOOK_TLS, NULL, NULL, NULL),
};

static const struct lp_out_key kafka_keys[] = {
    LP_KLIST("brokers", u.kafka.brokers, "spec.kafka.brokers", "brokers", NULL),
    LP_KSTR("topics", u.kafka.topic, NULL, "spec.kafka.topic", "default_topic", NULL),
    LP_KSTR("format", u.kafka.format, "json", "spec.kafka.format", "<format>", NULL),
};

static const struct lp_out_key loki_keys[] = {
    LP_KSTR("host", u.loki.host, NULL, "spec.loki.host", "url", NULL),
    LP_KINT("port", u.loki.port, 3100, "spec.loki.port", "url", NULL),
    LP_KHOOK("labels", LP_HOOK_LOKI_LABELS, "spec.loki.labels", "extra_labels",
             "job=logplane plus the static labels"),
    LP_KCONST("line_format", "json", "spec.loki", NULL, "always json"),
    LP_KSTR("tenant_id", u.loki.tenant_id, NULL, "spec.loki.tenantId", "tenant", NULL),
    LP_KHOOK(NULL, LP_HOOK_AUTH, NULL, NULL, NULL),
    LP_KHOOK(NULL, LP_HOOK_TLS, NULL, NULL, NULL),
};

static const struct lp_out_key http_keys[] = {
    LP_KSTR("host", u.http.host, NULL, "spec.http.host", "endpoint", NULL),
    LP_KHOOK("port", LP_HOOK_HTTP_PORT, "spec.http.port", "endpoint",
             "default 443 with TLS, 80 without"),
    LP_KSTR("uri", u.http.uri, "/", "spec.http.uri", "endpoint", NULL),
    LP_KSTR("format", u.http.format, "json", "spec.http.format", "<format>", NULL),
    LP_KHOOK("header", LP_HOOK_HTTP_HEADERS, "spec.http.headers[]", "headers",
             "valueFrom: ${LP_SECRET_...}"),
    LP_KHOOK(NULL, LP_HOOK_AUTH, NULL, NULL, NULL),
    LP_KHOOK(NULL, LP_HOOK_TLS, NULL, NULL, NULL),
};

static const struct lp_out_key forward_keys[] = {
    LP_KSTR("host", u.forward.host, NULL, "spec.forward.host", "<server>", NULL),
    LP_KINT("port", u.forward.port, 24224, "spec.forward.port", "<server>", NULL),
    LP_KHOOK("shared_key,self_hostname", LP_HOOK_FORWARD_SHARED_KEY,
             "spec.forward.sharedKeySecretRef", "<security> shared_key", "${LP_SECRET_...}"),
    LP_KHOOK("require_ack_response", LP_HOOK_FORWARD_ACK, "spec.delivery.mode", NULL,
             "on with atLeastOnce"),
    LP_KHOOK(NULL, LP_HOOK_TLS, NULL, NULL, NULL),
};

/* ---------- descriptors ---------- */

#define NET_DESC(nm, plugin, sub, auth_off, aws_auth_off)                                          \
	.name = nm, .fb_plugin = plugin, .tls = LP_OFF(u.sub.tls), .auth = auth_off,               \
	.host = LP_OFF(u.sub.host), .aws_auth = aws_auth_off, .target = -1, .provision = -1,       \
	.deletion = -1, .parse = parse_##sub, .clear = clear_##sub, .check = check_##sub

const struct lp_output_type_desc lp_otd_opensearch = {
    NET_DESC("opensearch", "opensearch", search, LP_OFF(u.search.auth), LP_OFF(u.search.aws_auth)),
    .keys = LP_KEYS(opensearch_keys)};
const struct lp_output_type_desc lp_otd_elasticsearch = {
    NET_DESC("elasticsearch", "es", search, LP_OFF(u.search.auth), -1),
    .keys = LP_KEYS(elasticsearch_keys)};
const struct lp_output_type_desc lp_otd_loki = {
    NET_DESC("loki", "loki", loki, LP_OFF(u.loki.auth), -1), .keys = LP_KEYS(loki_keys)};
const struct lp_output_type_desc lp_otd_http = {
    NET_DESC("http", "http", http, LP_OFF(u.http.auth), -1), .secret = secret_http,
    .keys = LP_KEYS(http_keys)};
const struct lp_output_type_desc lp_otd_forward = {NET_DESC("forward", "forward", forward, -1, -1),
                                                   .secret = secret_forward,
                                                   .keys = LP_KEYS(forward_keys)};
const struct lp_output_type_desc lp_otd_kafka = {.name = "kafka",
                                                 .fb_plugin = "kafka",
                                                 .fb_workers = 1,
                                                 .tls = -1,
                                                 .auth = -1,
                                                 .host = -1,
                                                 .aws_auth = -1,
                                                 .target = -1,
                                                 .provision = -1,
                                                 .deletion = -1,
                                                 .parse = parse_kafka,
                                                 .clear = clear_kafka,
                                                 .check = check_kafka,
                                                 .keys = LP_KEYS(kafka_keys)};
