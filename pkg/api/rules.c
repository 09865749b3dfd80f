/* pkg/api/rules.c: the rules a rendered config depends on, decided once (see
 * rules.h). They used to be the renderer's own second opinion; now validation
 * runs them (lp_output_validate / lp_pipeline_validate), so `logplane
 * validate`, the admission webhook, the operator's Valid condition and the
 * renderer give one verdict: a string that could break out of a Fluent Bit
 * value (a ${VAR} reference, a separator inside a space- or comma-separated
 * value, invalid UTF-8) is a problem naming the field. */
#include "outtype.h"
#include "../util/mem.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STR (64u * 1024u)

#define APP_ON(p) ((p)->has_app && (p)->app.enabled)

void lp_chk_bad(struct lp_chk *k, const char *field, const char *msg)
{
	k->ok = 0;
	if (k->err)
		return;
	k->err = lp_problems_add(k->probs, field, "%s", msg);
}

int lp_utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p;
		size_t n;
		unsigned cp;

		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

static int part_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '@' || ch == '/'))
			return 0;
	}
	return 1;
}

int lp_field_path_ok(const char *path)
{
	const char *p = path, *dot;

	if (!path || !*path || strlen(path) > 256)
		return 0;
	for (;;) {
		dot = strchr(p, '.');
		if (!part_ok(p, dot ? (size_t)(dot - p) : strlen(p)))
			return 0;
		if (!dot)
			return 1;
		p = dot + 1;
	}
}

int lp_fb_duration(const char *s, double *seconds)
{
	char *end;
	unsigned long long v;
	double mul;

	if (!s || !isdigit((unsigned char)s[0]))
		return 0;
	v = strtoull(s, &end, 10);
	if (v > 1000000000ULL)
		return 0;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mul = 1;
	else if (strcmp(end, "ms") == 0)
		mul = 0.001;
	else if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (strcmp(end, "d") == 0)
		mul = 86400;
	else
		return 0;
	*seconds = (double)v * mul;
	return 1;
}

/* pre + i + post into out[n] */
static void field_idx(char *out, size_t n, const char *pre, size_t i, const char *post)
{
	snprintf(out, n, "%s%zu%s", pre, i, post);
}

/* Generic string rule for every user string: UTF-8, bounded, no ${ (Fluent Bit
 * would expand it from the environment, which holds credentials). */
int lp_chk_str(struct lp_chk *k, const char *field, const char *s)
{
	if (!s)
		return 1;
	if (strlen(s) > MAX_STR) {
		lp_chk_bad(k, field, "value is longer than 65536 bytes");
		return 0;
	}
	if (!lp_utf8_ok(s)) {
		lp_chk_bad(k, field, "value is not valid UTF-8");
		return 0;
	}
	if (strstr(s, "${")) {
		lp_chk_bad(k, field,
		           "value must not contain \"${\" (Fluent Bit would expand it from the "
		           "environment)");
		return 0;
	}
	return 1;
}

/* For values that stay one token: no whitespace or control characters. */
int lp_chk_token(struct lp_chk *k, const char *field, const char *s, const char *extra_forbidden)
{
	if (!lp_chk_str(k, field, s) || !s)
		return !!k->ok;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || (extra_forbidden && strchr(extra_forbidden, *p))) {
			char msg[160];
			snprintf(msg, sizeof(msg),
			         "value must not contain whitespace, control characters%s%s",
			         extra_forbidden ? " or any of " : "",
			         extra_forbidden ? extra_forbidden : "");
			lp_chk_bad(k, field, msg);
			return 0;
		}
	}
	return 1;
}

int lp_chk_need(struct lp_chk *k, const char *field, const char *s)
{
	if (s && *s)
		return 1;
	lp_chk_bad(k, field, "required value is missing");
	return 0;
}

static void field_path(struct lp_chk *k, const char *field, const char *path)
{
	if (!path)
		return;
	if (!lp_chk_str(k, field, path))
		return;
	if (!lp_field_path_ok(path))
		lp_chk_bad(
		    k, field,
		    "must be a record key path: parts of letters, digits, '_', '-', '@', '/' "
		    "joined by '.'");
}

void lp_chk_tls(struct lp_chk *k, const char *field, const struct lp_tls *t)
{
	if (t->ca_secret_name)
		lp_chk_token(k, field, t->ca_secret_name, NULL);
}

void lp_chk_auth(struct lp_chk *k, const struct lp_basic_auth *a)
{
	if (!a->secret_name)
		return;
	lp_chk_token(k, "spec.auth.secretRef.name", a->secret_name, NULL);
	lp_chk_token(k, "spec.auth.secretRef.usernameKey", a->username_key, NULL);
	lp_chk_token(k, "spec.auth.secretRef.passwordKey", a->password_key, NULL);
}

int lp_url_host_port(const char *url, char **host, int *port)
{
	const char *p = url, *h, *e;
	int def = 443;
	long v = 0;

	if (strncmp(p, "https://", 8) == 0) {
		p += 8;
	} else if (strncmp(p, "http://", 7) == 0) {
		p += 7;
		def = 80;
	}
	h = p;
	if (*h == '[') { /* IPv6 literal */
		e = strchr(h, ']');
		if (!e)
			return 0;
		e++;
	} else {
		e = h + strcspn(h, ":/");
	}
	if (e == h)
		return 0;
	if (*e == ':') {
		char *end;
		v = strtol(e + 1, &end, 10);
		if (end == e + 1 || v < 1 || v > 65535 || (*end && *end != '/'))
			return 0;
	} else if (*e && *e != '/') {
		return 0;
	}
	*host = lp_strndup(h, (size_t)(e - h));
	if (!*host)
		return -1;
	*port = v ? (int)v : def;
	return 1;
}

static void delivery_check(struct lp_chk *k, const struct lp_delivery *d)
{
	uint64_t b;

	if (d->buffer_limit && (!lp_chk_str(k, "spec.delivery.bufferLimit", d->buffer_limit) ||
	                        lp_size_parse(d->buffer_limit, &b) != LP_OK))
		lp_chk_bad(k, "spec.delivery.bufferLimit",
		           "must be a size such as 512M, 1G or 1Gi");
	if (d->mem_buf_limit && (!lp_chk_str(k, "spec.delivery.memBufLimit", d->mem_buf_limit) ||
	                         lp_size_parse(d->mem_buf_limit, &b) != LP_OK))
		lp_chk_bad(k, "spec.delivery.memBufLimit", "must be a size such as 5M or 64Mi");
	if (d->retry_limit < 0 || d->retry_limit > 100)
		lp_chk_bad(k, "spec.delivery.retryLimit", "must be between 1 and 100");
}

lp_err lp_output_rules(const struct lp_output *o, struct lp_problems *probs)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);
	struct lp_chk k = {probs, 1, LP_OK};

	delivery_check(&k, &o->delivery);
	if (!d) {
		lp_chk_bad(&k, "spec.type", "unknown output type");
		return k.err ? k.err : LP_ERR_INVALID;
	}
	if (d->aws) {
		if (lp_chk_need(&k, "spec.aws.region", o->aws.region))
			lp_chk_token(&k, "spec.aws.region", o->aws.region, NULL);
		lp_chk_token(&k, "spec.aws.credentials.roleArn", o->aws.credentials.role_arn, NULL);
		lp_chk_token(&k, "spec.aws.credentials.externalId", o->aws.credentials.external_id,
		             NULL);
		lp_chk_token(&k, "spec.aws.credentials.secretRef.name",
		             o->aws.credentials.secret_name, NULL);
		lp_chk_token(&k, "spec.aws.credentials.secretRef.accessKeyIdKey",
		             o->aws.credentials.access_key_id_key, NULL);
		lp_chk_token(&k, "spec.aws.credentials.secretRef.secretAccessKeyKey",
		             o->aws.credentials.secret_access_key_key, NULL);
		lp_chk_token(&k, "spec.aws.credentials.secretRef.sessionTokenKey",
		             o->aws.credentials.session_token_key, NULL);
		if (o->aws.endpoint &&
		    lp_chk_token(&k, "spec.aws.endpoint", o->aws.endpoint, NULL) &&
		    !d->aws_url_endpoint) {
			char *host = NULL;
			int port = 0;
			int r = lp_url_host_port(o->aws.endpoint, &host, &port);
			lp_free(host);
			if (r < 0)
				return LP_ERR_NOMEM;
			if (r == 0)
				lp_chk_bad(&k, "spec.aws.endpoint",
				           "must be a URL like https://host:port");
		}
	}
	d->check(&k, o);
	return k.err ? k.err : (k.ok ? LP_OK : LP_ERR_INVALID);
}

static void strlist_tokens(struct lp_chk *k, const char *field, const struct lp_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		lp_chk_token(k, field, l->v[i], NULL);
}

/* The checks of p's transforms. */
static void transforms_check(struct lp_chk *k, const struct lp_pipeline *p)
{
	char field[96];
	double secs;

	for (size_t i = 0; i < p->n_transforms; i++) {
		const struct lp_transform *t = &p->transforms[i];
		field_idx(field, sizeof(field), "spec.transforms[", i, "]");
		switch (t->kind) {
		case LP_TR_FLATTEN:
			lp_chk_str(k, field, t->u.flatten.separator);
			break;
		case LP_TR_DROP_FIELDS:
		case LP_TR_KEEP_FIELDS:
			if (t->u.fields.n == 0)
				lp_chk_bad(k, field, "list at least one field");
			strlist_tokens(k, field, &t->u.fields);
			break;
		case LP_TR_RENAME_FIELDS:
			for (size_t j = 0; j < t->u.rename.n; j++) {
				lp_chk_token(k, field, t->u.rename.pairs[j].key, NULL);
				lp_chk_token(k, field, t->u.rename.pairs[j].value, NULL);
			}
			break;
		case LP_TR_ADD_FIELDS:
			for (size_t j = 0; j < t->u.add.n; j++) {
				lp_chk_token(k, field, t->u.add.pairs[j].key, NULL);
				lp_chk_str(k, field, t->u.add.pairs[j].value);
			}
			break;
		case LP_TR_GREP:
			if (t->u.grep.n_include + t->u.grep.n_exclude == 0)
				lp_chk_bad(k, field, "give include or exclude rules");
			for (size_t j = 0; j < t->u.grep.n_include; j++) {
				field_path(k, field, t->u.grep.include[j].key);
				lp_chk_str(k, field, t->u.grep.include[j].regex);
			}
			for (size_t j = 0; j < t->u.grep.n_exclude; j++) {
				field_path(k, field, t->u.grep.exclude[j].key);
				lp_chk_str(k, field, t->u.grep.exclude[j].regex);
			}
			break;
		case LP_TR_THROTTLE:
			if (t->u.throttle.rate < 1)
				lp_chk_bad(k, field, "throttle.rate must be at least 1");
			if (t->u.throttle.window < 0)
				lp_chk_bad(k, field, "throttle.window must be positive");
			if (t->u.throttle.interval &&
			    !lp_fb_duration(t->u.throttle.interval, &secs))
				lp_chk_bad(k, field,
				           "throttle.interval must be a duration such as 1s or 1m");
			break;
		case LP_TR_DETECT_LEVEL:
			if (t->u.detect_level.source_key)
				lp_chk_token(k, field, t->u.detect_level.source_key, NULL);
			if (t->u.detect_level.target_key)
				lp_chk_token(k, field, t->u.detect_level.target_key, NULL);
			break;
		default:
			lp_chk_bad(k, field, "unknown transform");
			break;
		}
	}
}

lp_err lp_pipeline_rules(const struct lp_pipeline *p, const char *control_ns,
                         struct lp_problems *probs)
{
	struct lp_chk k = {probs, 1, LP_OK};
	int control =
	    p->meta.ns &&
	    strcmp(p->meta.ns, control_ns ? control_ns : LP_DEFAULT_CONTROL_NAMESPACE) == 0;
	char field[96];

	if (!APP_ON(p) && !p->system && p->n_files == 0 && !p->http.enabled)
		lp_chk_bad(&k, "spec.input", "no input: set application, system, files or http");
	if (APP_ON(p)) {
		/* outside the control namespace a pipeline reads its own namespace only:
		 * the agents select it by that namespace and nothing else */
		for (size_t i = 0; !control && i < p->app.ns_include.n; i++)
			if (strcmp(p->app.ns_include.v[i], p->meta.ns) != 0) {
				field_idx(field, sizeof(field),
				          "spec.input.application.namespaces.include[", i, "]");
				lp_chk_bad(
				    &k, field,
				    "a pipeline outside the control namespace reads only its own "
				    "namespace");
			}
		if (!control && p->app.ns_exclude.n > 0)
			lp_chk_bad(&k, "spec.input.application.namespaces.exclude",
			           "a pipeline outside the control namespace reads only its own "
			           "namespace: "
			           "there is nothing to exclude");
		strlist_tokens(&k, "spec.input.application.namespaces.include", &p->app.ns_include);
		strlist_tokens(&k, "spec.input.application.namespaces.exclude", &p->app.ns_exclude);
		strlist_tokens(&k, "spec.input.application.containers.include",
		               &p->app.container_include);
		strlist_tokens(&k, "spec.input.application.containers.exclude",
		               &p->app.container_exclude);
		for (size_t i = 0; i < p->app.n_pod_labels; i++) {
			const char *key = p->app.pod_labels[i].key;
			int good = key && *key && strlen(key) <= 317;
			for (const char *q = key; good && *q; q++)
				good = isalnum((unsigned char)*q) || strchr("._/-", *q);
			if (!good)
				lp_chk_bad(&k, "spec.input.application.podLabels",
				           "label keys are letters, digits, '.', '_', '/', '-'");
			lp_chk_str(&k, "spec.input.application.podLabels",
			           p->app.pod_labels[i].value);
		}
	}
	if (p->system && !control)
		lp_chk_bad(&k, "spec.input.system",
		           "only pipelines in the control namespace may read system logs");
	for (size_t i = 0; i < p->n_files; i++) {
		const struct lp_in_file *f = &p->files[i];
		field_idx(field, sizeof(field), "spec.input.files[", i, "].name");
		if (lp_chk_need(&k, field, f->name)) {
			int good = 1;
			for (const char *q = f->name; *q; q++)
				good &= islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
				        *q == '-';
			if (!good || strlen(f->name) > 63)
				lp_chk_bad(&k, field,
				           "must be a DNS label (a-z, 0-9, '-', at most 63)");
		}
		field_idx(field, sizeof(field), "spec.input.files[", i, "].path");
		if (lp_chk_need(&k, field, f->path) && lp_chk_token(&k, field, f->path, ",")) {
			if (f->path[0] != '/')
				lp_chk_bad(&k, field, "must be an absolute path");
			else if (strncmp(f->path, "/var/log/containers/", 20) == 0 ||
			         strncmp(f->path, "/var/log/pods/", 14) == 0)
				lp_chk_bad(&k, field,
				           "container logs are read by input.application");
		}
		field_idx(field, sizeof(field), "spec.input.files[", i, "].metadataRegex");
		if (f->metadata_regex && lp_chk_str(&k, field, f->metadata_regex) &&
		    (!strstr(f->metadata_regex, "(?<namespace_name>") ||
		     !strstr(f->metadata_regex, "(?<pod_name>") ||
		     !strstr(f->metadata_regex, "(?<container_name>")))
			lp_chk_bad(&k, field,
			           "needs the named groups namespace_name, pod_name and "
			           "container_name");
	}
	if (p->http.enabled &&
	    (p->http.port < 0 || p->http.port > 65535 || p->http.port == LP_AGENT_HTTP_PORT ||
	     p->http.port == LP_AGENT_METRICS_PORT))
		lp_chk_bad(&k, "spec.input.http.port",
		           "must be a free port between 1 and 65535 (not 2020 or 2021: the agents' "
		           "health and metrics ports)");
	if (p->multiline.present) {
		int start = 0;
		for (size_t i = 0; i < p->multiline.n_rules; i++) {
			const struct lp_ml_rule *r = &p->multiline.rules[i];
			field_idx(field, sizeof(field), "spec.multiline.rules[", i, "]");
			lp_chk_token(&k, field, r->state, NULL);
			lp_chk_token(&k, field, r->next_state, NULL);
			if (lp_chk_need(&k, field, r->regex))
				lp_chk_str(&k, field, r->regex);
			if (r->state && strcmp(r->state, "start_state") == 0)
				start = 1;
		}
		if (p->multiline.n_rules > 0 && !start)
			lp_chk_bad(&k, "spec.multiline.rules",
			           "a rule with state start_state is required");
		if (!p->multiline.builtin && p->multiline.n_rules == 0)
			lp_chk_bad(&k, "spec.multiline", "name built-in parsers or give rules");
	}
	if (p->parse.format != LP_PARSE_NONE) {
		field_path(&k, "spec.parse.key", p->parse.key);
		if (p->parse.key && strchr(p->parse.key, '.'))
			lp_chk_bad(&k, "spec.parse.key", "must be a top-level key");
		if (p->parse.format == LP_PARSE_REGEX &&
		    lp_chk_need(&k, "spec.parse.regex", p->parse.regex))
			lp_chk_str(&k, "spec.parse.regex", p->parse.regex);
		lp_chk_token(&k, "spec.parse.timeKey", p->parse.time_key, NULL);
		lp_chk_str(&k, "spec.parse.timeFormat", p->parse.time_format);
	}
	transforms_check(&k, p);
	if (p->n_routes == 0)
		lp_chk_bad(&k, "spec.routes", "at least one route is required");
	for (size_t i = 0; i < p->n_routes; i++) {
		const struct lp_route *r = &p->routes[i];
		const char *cns = control_ns ? control_ns : LP_DEFAULT_CONTROL_NAMESPACE;
		if (r->output_ns && p->meta.ns && strcmp(r->output_ns, p->meta.ns) != 0 &&
		    strcmp(r->output_ns, cns) != 0) {
			field_idx(field, sizeof(field), "spec.routes[", i, "].outputNamespace");
			lp_chk_bad(
			    &k, field,
			    "a route names a LogOutput of its own namespace, or one the control "
			    "namespace shares (outputNamespace: the control namespace); no other "
			    "namespace shares outputs");
		}
		field_idx(field, sizeof(field), "spec.routes[", i, "].match");
		if (r->op != LP_ROUTE_ALL) {
			if (lp_chk_need(&k, field, r->match_field))
				field_path(&k, field, r->match_field);
			if (r->op == LP_ROUTE_IN) {
				if (r->match_in.n == 0)
					lp_chk_bad(&k, field, "match.in lists no value");
				for (size_t j = 0; j < r->match_in.n; j++)
					lp_chk_str(&k, field, r->match_in.v[j]);
			} else if (lp_chk_need(&k, field, r->match_regex)) {
				lp_chk_str(&k, field, r->match_regex);
			}
		}
	}
	return k.err ? k.err : (k.ok ? LP_OK : LP_ERR_INVALID);
}

/* ---------- shared outputs and S3 key placeholders ---------- */

const char *lp_route_output_ns(const struct lp_pipeline *p, const struct lp_route *r)
{
	if (r && r->output_ns)
		return r->output_ns;
	return p && p->meta.ns ? p->meta.ns : "default";
}

int lp_output_shared_with(const struct lp_output *o, const char *ns)
{
	for (size_t i = 0; o && ns && i < o->shared_with.n; i++)
		if (o->shared_with.v[i] && strcmp(o->shared_with.v[i], ns) == 0)
			return 1;
	return 0;
}

int lp_pipeline_app_only(const struct lp_pipeline *p)
{
	return APP_ON(p) && !p->system && p->n_files == 0 && !p->http.enabled;
}

const char *lp_s3_key_format(const struct lp_output *o, const struct lp_pipeline *p)
{
	if (o->u.s3.key_format)
		return o->u.s3.key_format;
	return lp_pipeline_app_only(p) ? LP_S3_KEY_DEFAULT_APP : LP_S3_KEY_DEFAULT_OTHER;
}

int lp_s3_key_check(const char *key, char *why, size_t n)
{
	static const char *const names[] = {"{namespace}", "{pod}", "{container}", "{pipeline}"};

	if (strstr(key, "$TAG")) {
		snprintf(why, n,
		         "$TAG is the agents' internal routing tag (its parts shift with the "
		         "pipeline's shape): use {namespace}, {pod}, {container} or {pipeline}");
		return 0;
	}
	for (const char *q = strchr(key, '{'); q; q = strchr(q + 1, '{')) {
		size_t k = 0;
		while (k < sizeof(names) / sizeof(names[0]) &&
		       strncmp(q, names[k], strlen(names[k])))
			k++;
		if (k == sizeof(names) / sizeof(names[0])) {
			snprintf(
			    why, n,
			    "unknown placeholder at \"%.24s\": the placeholders are {namespace}, "
			    "{pod}, {container} and {pipeline}",
			    q);
			return 0;
		}
	}
	for (const char *q = strchr(key, '}'); q; q = strchr(q + 1, '}')) {
		int closes = 0;
		for (size_t k = 0; !closes && k < sizeof(names) / sizeof(names[0]); k++) {
			size_t len = strlen(names[k]);
			closes =
			    (size_t)(q - key) + 1 >= len && !strncmp(q + 1 - len, names[k], len);
		}
		if (!closes) {
			snprintf(why, n, "a '}' outside a placeholder");
			return 0;
		}
	}
	if (!strstr(key, "$UUID") && !strstr(key, "$INDEX")) {
		snprintf(why, n, "must contain $UUID or $INDEX, or objects overwrite each other");
		return 0;
	}
	return 1;
}

/* The source of p that carries no namespace, pod and container in its tag. */
static const char *untagged_source(const struct lp_pipeline *p)
{
	if (p->system)
		return "spec.input.system (the node journal has no pod)";
	if (p->n_files)
		return "spec.input.files";
	if (p->http.enabled)
		return "spec.input.http";
	return "spec.input (no application logs)";
}

int lp_route_problem(const struct lp_pipeline *p, const struct lp_output *o, const char *control_ns,
                     char *why, size_t n)
{
	const char *cns = control_ns ? control_ns : LP_DEFAULT_CONTROL_NAMESPACE;
	const char *ons = o->meta.ns ? o->meta.ns : "default";
	const char *pns = p->meta.ns ? p->meta.ns : "default";
	static const char *const k8s[] = {"{namespace}", "{pod}", "{container}"};

	if (strcmp(ons, pns) != 0 && (strcmp(ons, cns) != 0 || !lp_output_shared_with(o, pns))) {
		snprintf(
		    why, n,
		    "no LogOutput \"%s\" in namespace \"%s\" is shared with namespace \"%s\" "
		    "(a LogOutput of the control namespace lists the namespaces that may route "
		    "to it in spec.sharedWith.namespaces)",
		    o->meta.name ? o->meta.name : "", ons, pns);
		return 1;
	}
	if (o->type == LP_OUT_S3 && o->u.s3.key_format && !lp_pipeline_app_only(p))
		for (size_t k = 0; k < sizeof(k8s) / sizeof(k8s[0]); k++)
			if (strstr(o->u.s3.key_format, k8s[k])) {
				snprintf(
				    why, n,
				    "LogOutput %s/%s: spec.s3.keyFormat uses %s, which only "
				    "application logs carry, and this pipeline also reads %s: "
				    "use {pipeline}, or route only a pipeline of application logs "
				    "there",
				    ons, o->meta.name ? o->meta.name : "", k8s[k],
				    untagged_source(p));
				return 1;
			}
	return 0;
}

lp_err lp_output_share_rules(const struct lp_output *o, const char *control_ns,
                             struct lp_problems *probs)
{
	const char *cns = control_ns ? control_ns : LP_DEFAULT_CONTROL_NAMESPACE;

	if (o->shared_with.n == 0 || (o->meta.ns && strcmp(o->meta.ns, cns) == 0))
		return LP_OK;
	if (lp_problems_add(probs, "spec.sharedWith",
	                    "only a LogOutput in the control namespace \"%s\" may be shared with "
	                    "other namespaces (its Secrets stay there)",
	                    cns) != LP_OK)
		return LP_ERR_NOMEM;
	return LP_ERR_INVALID;
}
