/* pkg/render/render.c: lp_render() — sorting, reference resolution, problems,
 * environment variables for Secrets, content hashes, summaries. The text itself
 * is written by fluentbit.c and fluentd.c. */
#include "internal.h"
#include "../api/rules.h"
#include "../util/hex.h"
#include "../util/mem.h"
#include <openssl/crypto.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- small utilities ---------------- */

/* c->sha: fetched once per render (EVP_sha256() looks the algorithm up on
 * every use, a third of the cost of a short hash). */
static void sha256(const struct lp_rctx *c, unsigned char out[32], const void *data, size_t len)
{
	unsigned int n = 32;
	const EVP_MD *md = c->sha ? c->sha : EVP_sha256();
	int ok;

	/* a reused context: no allocation per hash (12,000 short hashes at 10,000
	 * pipelines) */
	if (c->sha_ctx)
		ok = EVP_DigestInit_ex(c->sha_ctx, md, NULL) &&
		     EVP_DigestUpdate(c->sha_ctx, data, len) &&
		     EVP_DigestFinal_ex(c->sha_ctx, out, &n);
	else
		ok = EVP_Digest(data, len, out, &n, md, NULL);
	if (!ok)
		memset(out, 0, 32);
}

lp_err lp_render_sha256(const struct lp_rctx *c, unsigned char out[32], const void *data,
                        size_t len)
{
	unsigned int n = 32;

	return EVP_Digest(data, len, out, &n, c->sha ? c->sha : EVP_sha256(), NULL) ? LP_OK
	                                                                            : LP_ERR_NOMEM;
}

void lp_render_short_hash(const struct lp_rctx *c, char out[13], const char *a, const char *b)
{
	unsigned char d[32];
	char stack[256];
	size_t la = strlen(a), lb = strlen(b);
	char *buf = la + lb + 1 <= sizeof(stack) ? stack : lp_malloc(la + lb + 1);

	if (!buf) {
		memset(d, 0, sizeof(d));
	} else {
		memcpy(buf, a, la);
		buf[la] = '/';
		memcpy(buf + la + 1, b, lb);
		sha256(c, d, buf, la + lb + 1);
		if (buf != stack)
			lp_free(buf);
	}
	lp_hex_encode(out, d, 6);
}

static lp_err grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return LP_OK;
	ncap = *cap ? *cap * 2 : 8;
	p = lp_realloc(*arr, ncap * elem);
	if (!p)
		return LP_ERR_NOMEM;
	memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return LP_OK;
}

lp_err lp_render_problem_add(struct lp_rctx *c, const char *kind, const char *ns, const char *name,
                             const char *field, const char *fmt, ...)
{
	struct lp_rendered *r = c->out;
	struct lp_render_problem *p;
	struct lp_buf msg;
	va_list ap;
	lp_err err;

	err = grow((void **)&r->problems, &c->cap_problems, r->n_problems, sizeof(*r->problems));
	if (err)
		return err;
	lp_buf_init(&msg, 0);
	va_start(ap, fmt);
	err = lp_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (err)
		return err;
	p = &r->problems[r->n_problems];
	p->kind = lp_strdup(kind);
	p->ns = lp_strdup(ns ? ns : "");
	p->name = lp_strdup(name ? name : "");
	p->field = lp_strdup(field ? field : "");
	p->message = lp_buf_take(&msg);
	r->n_problems++; /* counted even when partly filled, so free releases it */
	if (!p->kind || !p->ns || !p->name || !p->field || !p->message)
		return LP_ERR_NOMEM;
	return LP_OK;
}

lp_err lp_render_pipeline_too_large(struct lp_rctx *c, struct lp_pinfo *pi, unsigned limit)
{
	pi->ok = 0;
	return lp_render_problem_add(c, "LogPipeline", pi->p->meta.ns, pi->p->meta.name, "spec",
	                             LP_RENDER_TOO_LARGE_ALONE " than %u bytes", limit);
}

lp_err lp_render_output_too_large(struct lp_rctx *c, struct lp_oinfo *oi, unsigned limit)
{
	oi->ok = 0;
	return lp_render_problem_add(c, "LogOutput", oi->o->meta.ns, oi->o->meta.name, "spec",
	                             "rendered configuration of this output alone is larger "
	                             "than %u bytes: left out",
	                             limit);
}

lp_err lp_render_env_named(struct lp_rctx *c, const char *var, const char *ns, const char *name,
                           const char *key)
{
	struct lp_rendered *r = c->out;
	struct lp_render_env *e;
	lp_err err;

	for (size_t i = 0; i < r->n_env; i++)
		if (strcmp(r->env[i].var, var) == 0)
			return LP_OK;
	err = grow((void **)&r->env, &c->cap_env, r->n_env, sizeof(*r->env));
	if (err)
		return err;
	e = &r->env[r->n_env++];
	e->var = lp_strdup(var);
	e->secret_ns = lp_strdup(ns);
	e->secret_name = lp_strdup(name);
	e->secret_key = lp_strdup(key);
	if (!e->var || !e->secret_ns || !e->secret_name || !e->secret_key)
		return LP_ERR_NOMEM;
	return LP_OK;
}

lp_err lp_render_env_var(struct lp_rctx *c, const char *ns, const char *name, const char *key,
                         const char **var)
{
	struct lp_buf b;
	unsigned char d[32];
	char h[33], v[64];
	lp_err err;

	lp_buf_init(&b, 0);
	err = lp_buf_addf(&b, "%s%c%s%c%s", ns, 0, name, 0, key);
	if (err)
		return err;
	sha256(c, d, b.ptr, b.len);
	lp_buf_free(&b);
	lp_hex_encode(h, d, 8);
	for (char *p = h; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	snprintf(v, sizeof(v), "LP_SECRET_%s", h);
	err = lp_render_env_named(c, v, ns, name, key);
	if (err)
		return err;
	for (size_t i = 0; i < c->out->n_env; i++)
		if (strcmp(c->out->env[i].var, v) == 0)
			*var = c->out->env[i].var;
	return LP_OK;
}

lp_err lp_render_mount_add(struct lp_rctx *c, const char *ns, const char *name, const char *key,
                           const char **path)
{
	struct lp_rendered *r = c->out;
	struct lp_render_mount *m;
	struct lp_buf b;
	lp_err err;

	lp_buf_init(&b, 0);
	err = lp_buf_addf(&b, LP_RENDER_CA_DIR "/%s.%s/%s", ns, name, key);
	if (err)
		return err;
	for (size_t i = 0; i < r->n_mounts; i++)
		if (strcmp(r->mounts[i].path, lp_buf_str(&b)) == 0) {
			*path = r->mounts[i].path;
			lp_buf_free(&b);
			return LP_OK;
		}
	err = grow((void **)&r->mounts, &c->cap_mounts, r->n_mounts, sizeof(*r->mounts));
	if (err) {
		lp_buf_free(&b);
		return err;
	}
	m = &r->mounts[r->n_mounts++];
	m->path = lp_buf_take(&b);
	m->secret_ns = lp_strdup(ns);
	m->secret_name = lp_strdup(name);
	m->secret_key = lp_strdup(key);
	if (!m->path || !m->secret_ns || !m->secret_name || !m->secret_key)
		return LP_ERR_NOMEM;
	*path = m->path;
	return LP_OK;
}

lp_err lp_render_config_add(struct lp_rendered_config *cfg, const char *name, struct lp_buf *data)
{
	struct lp_render_file *f;
	size_t len = data->len;

	f = lp_realloc(cfg->files, (cfg->n_files + 1) * sizeof(*f));
	if (!f)
		return LP_ERR_NOMEM;
	cfg->files = f;
	f = &cfg->files[cfg->n_files];
	f->name = lp_strdup(name);
	f->data = lp_buf_take(data);
	f->len = len;
	cfg->n_files++;
	if (!f->name || !f->data)
		return LP_ERR_NOMEM;
	return LP_OK;
}

static lp_err config_hash(struct lp_rendered_config *cfg)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[32];
	unsigned int n = 32;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);

	cfg->total_bytes = 0;
	for (size_t i = 0; ok && i < cfg->n_files; i++) {
		ok = EVP_DigestUpdate(ctx, cfg->files[i].name, strlen(cfg->files[i].name) + 1) &&
		     EVP_DigestUpdate(ctx, cfg->files[i].data, cfg->files[i].len) &&
		     EVP_DigestUpdate(ctx, "", 1);
		cfg->total_bytes += cfg->files[i].len;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, d, &n);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return LP_ERR_NOMEM;
	lp_hex_encode(cfg->hash, d, 32);
	return LP_OK;
}

/* ---------------- sorting ---------------- */

static int cmp_pi(const void *a, const void *b)
{
	return lp_meta_cmp(&((const struct lp_pinfo *)a)->p->meta,
	                   &((const struct lp_pinfo *)b)->p->meta);
}

static int cmp_oi(const void *a, const void *b)
{
	return lp_meta_cmp(&((const struct lp_oinfo *)a)->o->meta,
	                   &((const struct lp_oinfo *)b)->o->meta);
}

static int cmp_env(const void *a, const void *b)
{
	return strcmp(((const struct lp_render_env *)a)->var,
	              ((const struct lp_render_env *)b)->var);
}

static int cmp_mount(const void *a, const void *b)
{
	return strcmp(((const struct lp_render_mount *)a)->path,
	              ((const struct lp_render_mount *)b)->path);
}

static int cmp_profile(const void *a, const void *b)
{
	return strcmp(((const struct lp_render_aws_profile *)a)->profile,
	              ((const struct lp_render_aws_profile *)b)->profile);
}

/* A DNS-1123 subdomain (metadata names and namespaces). */
static int dns_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '.'))
			return 0;
	return 1;
}

/* Adds (or finds) the AWS profile for the keys of Secret ns/a->secret_name;
 * *profile borrowed from c->out. The name hashes the Secret and its key names,
 * so two outputs share a profile exactly when they read the same keys. */
static lp_err aws_profile_add(struct lp_rctx *c, const char *ns, const struct lp_aws_credentials *a,
                              const char **profile)
{
	struct lp_rendered *r = c->out;
	struct lp_render_aws_profile *p;
	const char *akid = a->access_key_id_key ? a->access_key_id_key : "AWS_ACCESS_KEY_ID";
	const char *sak =
	    a->secret_access_key_key ? a->secret_access_key_key : "AWS_SECRET_ACCESS_KEY";
	char h[13], name[16];
	lp_err err;

	lp_buf_reset(&c->scratch);
	err = lp_buf_adds(&c->scratch, a->secret_name);
	if (!err)
		err = lp_buf_addc(&c->scratch, '/');
	if (!err)
		err = lp_buf_adds(&c->scratch, akid);
	if (!err)
		err = lp_buf_addc(&c->scratch, '/');
	if (!err)
		err = lp_buf_adds(&c->scratch, sak);
	if (!err)
		err = lp_buf_addc(&c->scratch, '/');
	if (!err && a->session_token_key)
		err = lp_buf_adds(&c->scratch, a->session_token_key);
	if (err)
		return err;
	lp_render_short_hash(c, h, ns, lp_buf_str(&c->scratch));
	memcpy(name, "lp-", 3);
	memcpy(name + 3, h, 13);
	for (size_t i = 0; i < r->n_aws_profiles; i++)
		if (strcmp(r->aws_profiles[i].profile, name) == 0) {
			*profile = r->aws_profiles[i].profile;
			return LP_OK;
		}
	err = grow((void **)&r->aws_profiles, &c->cap_profiles, r->n_aws_profiles,
	           sizeof(*r->aws_profiles));
	if (err)
		return err;
	p = &r->aws_profiles[r->n_aws_profiles++];
	p->profile = lp_strdup(name);
	p->secret_ns = lp_strdup(ns);
	p->secret_name = lp_strdup(a->secret_name);
	p->access_key_id_key = lp_strdup(akid);
	p->secret_access_key_key = lp_strdup(sak);
	p->session_token_key = a->session_token_key ? lp_strdup(a->session_token_key) : NULL;
	if (!p->profile || !p->secret_ns || !p->secret_name || !p->access_key_id_key ||
	    !p->secret_access_key_key || (a->session_token_key && !p->session_token_key))
		return LP_ERR_NOMEM;
	*profile = p->profile;
	return LP_OK;
}

/* A credentials-file value (len bytes of v): printable ASCII without blanks
 * and without the bytes that start a section ("[", "]") or a comment ("#",
 * ";"). */
static int aws_value_ok(const char *v, size_t len)
{
	const unsigned char *p = (const unsigned char *)v;

	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '[' || p[i] == ']' || p[i] == '#' ||
		    p[i] == ';')
			return 0;
	return 1;
}

lp_err lp_render_aws_credentials_file(const struct lp_rendered *r, lp_render_secret_lookup lookup,
                                      void *ctx, struct lp_buf *out)
{
	static const char *const names[3] = {"aws_access_key_id", "aws_secret_access_key",
	                                     "aws_session_token"};
	struct lp_buf t;
	lp_err err = LP_OK;

	if (!r || !lookup || !out)
		return LP_ERR_INVALID;
	lp_buf_init(&t, 0);
	for (size_t i = 0; !err && i < r->n_aws_profiles; i++) {
		const struct lp_render_aws_profile *p = &r->aws_profiles[i];
		const char *keys[3] = {p->access_key_id_key, p->secret_access_key_key,
		                       p->session_token_key};
		err = lp_buf_addc(&t, '[');
		if (!err)
			err = lp_buf_adds(&t, p->profile);
		if (!err)
			err = lp_buf_adds(&t, "]\n");
		for (size_t k = 0; !err && k < 3; k++) {
			const char *v;
			size_t len;
			if (!keys[k])
				continue;
			v = lookup(ctx, p->secret_ns, p->secret_name, keys[k]);
			len = v ? strlen(v) : 0;
			/* one trailing newline (a file made with echo) is not part of the
			 * value, as validation takes it (pkg/api/secretval.c) */
			if (len && v[len - 1] == '\n')
				len--;
			if (!v)
				err = LP_ERR_NOTFOUND;
			else if (!aws_value_ok(v, len))
				err = LP_ERR_PARSE;
			if (!err)
				err = lp_buf_adds(&t, names[k]);
			if (!err)
				err = lp_buf_adds(&t, " = ");
			if (!err)
				err = lp_buf_add(&t, v, len);
			if (!err)
				err = lp_buf_addc(&t, '\n');
		}
	}
	if (!err && t.len)
		err = lp_buf_add(out, t.ptr, t.len);
	if (t.ptr) /* it holds keys: wipe before release */
		OPENSSL_cleanse(t.ptr, t.cap);
	lp_buf_free(&t);
	return err;
}

/* ---------------- steps ---------------- */

static lp_err meta_ok(struct lp_rctx *c, const char *kind, const struct lp_meta *m, int *ok)
{
	*ok = 1;
	if (!dns_name(m->ns) || !dns_name(m->name)) {
		*ok = 0;
		return lp_render_problem_add(
		    c, kind, m->ns, m->name, "metadata",
		    "namespace and name must be DNS names (a-z, 0-9, '-', '.')");
	}
	return LP_OK;
}

static lp_err outputs_step(struct lp_rctx *c)
{
	lp_err err = LP_OK;
	int ok;

	for (size_t i = 0; !err && i < c->noi; i++) {
		struct lp_oinfo *oi = &c->oi[i];
		lp_render_short_hash(c, oi->h, oi->o->meta.ns ? oi->o->meta.ns : "",
		                     oi->o->meta.name ? oi->o->meta.name : "");
		err = meta_ok(c, "LogOutput", &oi->o->meta, &ok);
		if (err || !ok)
			continue;
		if (i > 0 && lp_meta_cmp(&c->oi[i - 1].o->meta, &oi->o->meta) == 0) {
			err =
			    lp_render_problem_add(c, "LogOutput", oi->o->meta.ns, oi->o->meta.name,
			                          "metadata.name", "duplicate LogOutput");
			continue;
		}
		err = lp_render_check_output(c, oi, &ok);
		if (err || !ok)
			continue;
		oi->ok = 1;
	}
	return err;
}

static long find_output(const struct lp_rctx *c, const char *ns, const char *name)
{
	size_t lo = 0, hi = c->noi;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct lp_meta *m = &c->oi[mid].o->meta;
		int r = strcmp(m->ns ? m->ns : "", ns);
		if (!r)
			r = strcmp(m->name ? m->name : "", name);
		if (r == 0)
			return (long)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static lp_err pipelines_step(struct lp_rctx *c)
{
	lp_err err = LP_OK;
	char field[64];
	char why[512];
	size_t *http_pi = NULL, n_http = 0;
	int ok;

	/* pipelines with an HTTP input, to find port clashes without a quadratic scan */
	http_pi = lp_calloc(c->npi ? c->npi : 1, sizeof(*http_pi));
	if (!http_pi)
		return LP_ERR_NOMEM;

	for (size_t i = 0; !err && i < c->npi; i++) {
		struct lp_pinfo *pi = &c->pi[i];
		const struct lp_pipeline *p = pi->p;
		size_t resolved = 0;

		lp_render_short_hash(c, pi->h, p->meta.ns ? p->meta.ns : "",
		                     p->meta.name ? p->meta.name : "");
		err = meta_ok(c, "LogPipeline", &p->meta, &ok);
		if (err || !ok)
			continue;
		if (i > 0 && lp_meta_cmp(&c->pi[i - 1].p->meta, &p->meta) == 0) {
			err = lp_render_problem_add(c, "LogPipeline", p->meta.ns, p->meta.name,
			                            "metadata.name", "duplicate LogPipeline");
			continue;
		}
		err = lp_render_check_pipeline(c, pi, &ok);
		if (err || !ok)
			continue;
		for (size_t j = 0; !err && p->http.enabled && j < n_http; j++) {
			const struct lp_pinfo *q = &c->pi[http_pi[j]];
			if (q->ok && (p->http.port ? p->http.port : 9880) ==
			                 (q->p->http.port ? q->p->http.port : 9880)) {
				err = lp_render_problem_add(
				    c, "LogPipeline", p->meta.ns, p->meta.name,
				    "spec.input.http.port",
				    "port %d is already used by LogPipeline %s/%s",
				    p->http.port ? p->http.port : 9880, q->p->meta.ns,
				    q->p->meta.name);
				ok = 0;
			}
		}
		if (err || !ok)
			continue;
		pi->routes = lp_calloc(p->n_routes, sizeof(*pi->routes));
		if (!pi->routes) {
			lp_free(http_pi);
			return LP_ERR_NOMEM;
		}
		for (size_t r = 0; !err && r < p->n_routes; r++) {
			const char *ons = lp_route_output_ns(p, &p->routes[r]);
			long o = p->routes[r].output_ref
			             ? find_output(c, ons, p->routes[r].output_ref)
			             : -1;
			int refused = 0;
			if (o >= 0 && c->oi[o].ok) /* shared with p, and its key fits p */
				refused = lp_route_problem(p, c->oi[o].o, c->control_ns, why,
				                           sizeof(why));
			if (o < 0 || !c->oi[o].ok || refused) /* the field only for a problem */
				lp_render_field_idx(field, sizeof(field), "spec.routes[", r,
				                    "].outputRef");
			if (refused) {
				err = lp_render_problem_add(c, "LogPipeline", p->meta.ns,
				                            p->meta.name, field, "%s", why);
			} else if (o < 0 && c->in->output_problem &&
			           c->in->output_problem(
			               c->in->output_problem_ctx, ons,
			               p->routes[r].output_ref ? p->routes[r].output_ref : "", why,
			               sizeof(why))) {
				err = lp_render_problem_add(
				    c, "LogPipeline", p->meta.ns, p->meta.name, field,
				    "LogOutput \"%s\" is invalid: %s",
				    p->routes[r].output_ref ? p->routes[r].output_ref : "", why);
			} else if (o < 0) {
				err = lp_render_problem_add(
				    c, "LogPipeline", p->meta.ns, p->meta.name, field,
				    "LogOutput \"%s\" not found in namespace \"%s\"",
				    p->routes[r].output_ref ? p->routes[r].output_ref : "", ons);
			} else if (!c->oi[o].ok) {
				err = lp_render_problem_add(
				    c, "LogPipeline", p->meta.ns, p->meta.name, field,
				    "LogOutput \"%s\" is invalid and was left out",
				    p->routes[r].output_ref);
			} else {
				pi->routes[r].ok = 1;
				pi->routes[r].out = (size_t)o;
				resolved++;
			}
		}
		if (err)
			continue;
		if (resolved == 0) {
			err = lp_render_problem_add(c, "LogPipeline", p->meta.ns, p->meta.name,
			                            "spec.routes",
			                            "no route leads to a usable LogOutput: "
			                            "pipeline left out");
			continue;
		}
		pi->ok = 1;
		if (p->http.enabled)
			http_pi[n_http++] = i;
		pi->agg = p->aggregator.enabled;
		if (pi->agg)
			c->any_agg = 1;
		/* the shared aggregator's engine: the control namespace's first
		 * pipeline through it decides (a tenant's pipeline never does) */
		if (pi->agg && !c->engine_chosen && p->meta.ns &&
		    !strcmp(p->meta.ns, c->control_ns)) {
			c->engine_chosen = 1;
			c->engine = p->aggregator.engine;
		}
		/* p.<h> on the node for every pipeline; a.<h> only on the wire to
		 * the aggregator (the forward outputs' tag, fb_outputs.c) */
		pi->prefix[0] = 'p';
		pi->prefix[1] = '.';
		memcpy(pi->prefix + 2, pi->h, sizeof(pi->h)); /* 12 hex chars and the NUL */
	}
	lp_free(http_pi);
	return err;
}

/* The variables of the Secret references of o's own type (a header value, a
 * webhook URL, a shared key): oi->header_vars[i] for header i, else
 * oi->secret_var. */
static lp_err type_secrets(struct lp_rctx *c, struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);
	struct lp_output_secret s;
	size_t n = 0;
	const char *v;
	lp_err err = LP_OK;

	if (d && d->via_hub)
		return LP_OK; /* the hub's Secrets (an alert's webhook): never the agents' */
	while (d && d->secret && d->secret(o, n, &s))
		n++;
	for (size_t i = 0; !err && i < n; i++) {
		d->secret(o, i, &s);
		if (!s.name)
			continue;
		err = lp_render_env_var(c, o->meta.ns, s.name, s.key ? s.key : s.default_key, &v);
		if (!err && s.header >= 0) {
			if (!oi->header_vars && !(oi->header_vars = lp_calloc(n, sizeof(char *))))
				return LP_ERR_NOMEM;
			oi->header_vars[s.header] = (char *)v;
		} else if (!err) {
			oi->secret_var = (char *)v;
		}
	}
	return err;
}

/* A used alert output, for the hub (once: outputs are visited once each). */
static lp_err alert_add(struct lp_rctx *c, const struct lp_output *o)
{
	const struct lp_out_alert *al = lp_output_alert(o);
	struct lp_rendered *r = c->out;
	struct lp_render_alert *a;
	lp_err err;

	if (!al)
		return LP_OK;
	err = grow((void **)&r->alerts, &c->cap_alerts, r->n_alerts, sizeof(*r->alerts));
	if (err)
		return err;
	a = &r->alerts[r->n_alerts++];
	memset(a, 0, sizeof(*a));
	a->ns = lp_strdup(o->meta.ns);
	a->name = lp_strdup(o->meta.name);
	a->secret_name = lp_strdup(al->slack_webhook.name);
	a->secret_key = lp_strdup(al->slack_webhook.key);
	a->window_seconds = al->window_seconds;
	a->max_per_minute = al->max_per_minute;
	if (!a->ns || !a->name || !a->secret_name || !a->secret_key)
		return LP_ERR_NOMEM;
	return LP_OK;
}

static int cmp_alert(const void *a, const void *b)
{
	const struct lp_render_alert *x = a, *y = b;
	int d = strcmp(x->ns, y->ns);

	return d ? d : strcmp(x->name, y->name);
}

/* The variables and mounts a used output's Secrets come in through. */
static lp_err output_secrets(struct lp_rctx *c, struct lp_oinfo *oi)
{
	const struct lp_output *o = oi->o;
	const struct lp_basic_auth *auth = lp_output_auth(o);
	const struct lp_tls *tls = lp_output_tls(o);
	const char *ns = o->meta.ns, *v;

	lp_err err = LP_OK;

	err = type_secrets(c, oi);
	if (!err &&
	    lp_output_type_via_hub(o->type)) { /* the hub's ingest token: never in a ConfigMap */
		err = lp_render_env_var(c, c->control_ns, c->lt_token_secret,
		                        LP_RENDER_HUB_TOKEN_KEY, &v);
		oi->secret_var = (char *)v;
	}
	if (!err)
		err = alert_add(c, o);
	if (!err && auth && auth->secret_name) {
		err = lp_render_env_var(c, ns, auth->secret_name,
		                        auth->username_key ? auth->username_key : "username", &v);
		oi->user_var = (char *)v;
		if (!err)
			err = lp_render_env_var(
			    c, ns, auth->secret_name,
			    auth->password_key ? auth->password_key : "password", &v);
		oi->pass_var = (char *)v;
	}
	if (!err && tls && tls->enabled && tls->ca_secret_name) {
		err = lp_render_mount_add(c, ns, tls->ca_secret_name, "ca.crt", &v);
		oi->ca_path = (char *)v;
	}
	/* a profile when a Fluent Bit section or a Fluentd plugin that reads the
	 * credentials file (kinesis, firehose, s3) uses it */
	if (!err && o->aws.credentials.secret_name && lp_output_signs_aws(o) &&
	    (oi->used_direct || c->engine != LP_ENGINE_FLUENTD || lp_render_fluentd_creds_file(o)))
		err = aws_profile_add(c, ns, &o->aws.credentials, &oi->aws_profile);
	if (!err && o->aws.credentials.secret_name && oi->used_agg &&
	    c->engine == LP_ENGINE_FLUENTD && lp_output_signs_aws(o) &&
	    !lp_render_fluentd_creds_file(o)) {
		/* Fluentd's cloudwatch_logs and opensearch <endpoint> read no
		 * credentials file: their keys come through variables only this
		 * output's section names */
		const struct lp_aws_credentials *a = &o->aws.credentials;
		err = lp_render_env_var(
		    c, ns, a->secret_name,
		    a->access_key_id_key ? a->access_key_id_key : "AWS_ACCESS_KEY_ID", &v);
		oi->aws_key_var = (char *)v;
		if (!err)
			err = lp_render_env_var(c, ns, a->secret_name,
			                        a->secret_access_key_key ? a->secret_access_key_key
			                                                 : "AWS_SECRET_ACCESS_KEY",
			                        &v);
		oi->aws_secret_var = (char *)v;
	}
	return err;
}

/* Usage flags, shared input facts, and env / mounts for used outputs. */
static lp_err usage_step(struct lp_rctx *c)
{
	uint64_t best = 0, b;
	lp_err err = LP_OK;

	c->app_mem_buf_limit = "5M";
	for (size_t i = 0; i < c->npi; i++) {
		struct lp_pinfo *pi = &c->pi[i];
		const struct lp_pipeline *p = pi->p;
		uint64_t pbest = 0;
		if (!pi->ok)
			continue;
		for (size_t r = 0; r < p->n_routes; r++) {
			struct lp_oinfo *oi;
			if (!pi->routes[r].ok)
				continue;
			oi = &c->oi[pi->routes[r].out];
			if (pi->agg)
				oi->used_agg = 1;
			else
				oi->used_direct = 1;
			if (p->routes[r].op == LP_ROUTE_ALL &&
			    !lp_output_type_via_hub(oi->o->type) &&
			    (oi->n_all_pi == 0 || oi->all_pi[oi->n_all_pi - 1] != i)) {
				lp_err gerr = grow((void **)&oi->all_pi, &oi->cap_all_pi,
				                   oi->n_all_pi, sizeof(*oi->all_pi));
				if (gerr)
					return gerr;
				oi->all_pi[oi->n_all_pi++] = i;
			}
			if (oi->o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE)
				pi->any_at_least_once = 1;
			if (oi->o->delivery.mem_buf_limit &&
			    lp_size_parse(oi->o->delivery.mem_buf_limit, &b) == LP_OK) {
				if (b > best && LP_APP_ON(p)) {
					best = b;
					c->app_mem_buf_limit = oi->o->delivery.mem_buf_limit;
				}
				if (b > pbest) {
					pbest = b;
					pi->mbl = oi->o->delivery.mem_buf_limit;
				}
			}
		}
		if (LP_OWN_APP_INPUT(pi)) {
			c->any_own_app = 1;
		} else if (LP_APP_ON(p)) {
			c->any_app = 1;
			c->app_fs |= pi->any_at_least_once;
		}
		if (p->system) {
			c->any_system = 1;
			c->system_fs |= pi->any_at_least_once;
		}
		if (((LP_APP_ON(p) && !LP_OWN_APP_INPUT(pi)) || p->system) &&
		    (p->kubernetes.enabled || p->app.n_pod_labels)) {
			c->any_kube = 1;
			c->any_kube_labels |= p->kubernetes.labels || p->app.n_pod_labels > 0;
			c->any_kube_annotations |= p->kubernetes.annotations;
		}
	}
	for (size_t i = 0; !err && i < c->noi; i++)
		if (c->oi[i].ok && (c->oi[i].used_direct || c->oi[i].used_agg))
			err = output_secrets(c, &c->oi[i]);
	if (!err && c->any_agg)
		err = lp_render_env_named(c, LP_RENDER_FWD_KEY_VAR, c->control_ns,
		                          LP_RENDER_FWD_SECRET, LP_RENDER_FWD_SECRET_KEY);
	return err;
}

#define ML_DELIVERY                                                                                \
	"each output's mode, except an open multiline group (held up to the multiline flush "      \
	"timeout) lost on an agent crash"

const char *lp_render_weaker_delivery(const struct lp_pipeline *p)
{
	return p && LP_ML_BUFFERED(p) ? ML_DELIVERY : NULL;
}

const char *lp_render_delivery_text(const struct lp_pinfo *pi)
{
	if (LP_ML_BUFFERED(pi->p))
		return "; delivery: " ML_DELIVERY;
	if (pi->agg)
		return "; delivery: each output's mode, no in-memory hop (to the aggregator with "
		       "acknowledgements)";
	return "; delivery: each output's mode, no in-memory hop";
}

static lp_err summary(struct lp_rctx *c, const struct lp_pinfo *pi, struct lp_render_summary *s)
{
	static const char *tr[] = {"",           "flatten",      "dropFields",
	                           "keepFields", "renameFields", "addFields",
	                           "grep",       "throttle",     "detectLevel"};
	const struct lp_pipeline *p = pi->p;
	struct lp_buf b;
	lp_err err;
	int n = 0;

	lp_buf_init(&b, 0);
	err = lp_buf_adds(&b, "inputs: ");
	if (!err && LP_APP_ON(p))
		err = lp_buf_adds(&b, n++ ? ", application" : "application");
	if (!err && p->system)
		err = lp_buf_adds(&b, n++ ? ", system" : "system");
	for (size_t i = 0; !err && i < p->n_files; i++)
		err = lp_buf_addf(&b, "%sfile(%s)", n++ ? ", " : "", p->files[i].name);
	if (!err && p->http.enabled)
		err = lp_buf_addf(&b, "%shttp(:%d)", n++ ? ", " : "",
		                  p->http.port ? p->http.port : 9880);
	n = 0;
	if (!err)
		err = lp_buf_adds(&b, "; filters: ");
	if (!err && p->multiline.present)
		err = lp_buf_adds(&b, n++ ? ", multiline" : "multiline");
	if (!err && (LP_APP_ON(p) || p->system) && p->kubernetes.enabled)
		err = lp_buf_adds(&b, n++ ? ", kubernetes" : "kubernetes");
	if (!err && p->parse.format != LP_PARSE_NONE)
		err = lp_buf_adds(&b, p->parse.format == LP_PARSE_JSON
		                          ? (n++ ? ", parse(json)" : "parse(json)")
		                      : p->parse.format == LP_PARSE_LOGFMT
		                          ? (n++ ? ", parse(logfmt)" : "parse(logfmt)")
		                          : (n++ ? ", parse(regex)" : "parse(regex)"));
	for (size_t i = 0; !err && i < p->n_transforms; i++) {
		unsigned k = (unsigned)p->transforms[i].kind;
		if (n++)
			err = lp_buf_adds(&b, ", ");
		if (!err)
			err = lp_buf_adds(&b, k < 9 ? tr[k] : "?");
	}
	if (!err && n == 0)
		err = lp_buf_adds(&b, "none");
	n = 0;
	if (!err)
		err = lp_buf_adds(&b, "; routes: ");
	for (size_t r = 0; !err && r < p->n_routes; r++) {
		const struct lp_route *rt = &p->routes[r];
		const char *type;
		if (!pi->routes[r].ok)
			continue;
		type = lp_output_type_name(c->oi[pi->routes[r].out].o->type);
		if (n++)
			err = lp_buf_adds(&b, ", ");
		if (!err && rt->output_ns && strcmp(rt->output_ns, p->meta.ns) != 0)
			err = lp_buf_addf(&b, "%s/", rt->output_ns);
		if (!err)
			err = lp_buf_adds(&b, rt->output_ref);
		if (!err)
			err = lp_buf_adds(&b, "(");
		if (!err)
			err = lp_buf_adds(&b, type ? type : "?");
		if (!err)
			err = lp_buf_adds(&b, ")");
		if (!err && rt->op != LP_ROUTE_ALL) {
			err = lp_buf_adds(&b, " if ");
			if (!err)
				err = lp_buf_adds(&b, rt->match_field);
		}
	}
	if (!err)
		err = lp_buf_adds(&b, pi->agg ? "; via aggregator" : "; via node");
	if (!err)
		err = lp_buf_adds(&b, lp_render_delivery_text(pi));
	if (err)
		return err;
	s->ns = lp_strdup(p->meta.ns);
	s->name = lp_strdup(p->meta.name);
	s->text = lp_buf_take(&b);
	return (s->ns && s->name && s->text) ? LP_OK : LP_ERR_NOMEM;
}

/* ---------------- entry point ---------------- */

lp_err lp_render(struct lp_rendered *out, const struct lp_render_input *in)
{
	struct lp_rctx c;
	lp_err err = LP_OK;

	if (!out || !in || (in->n_pipelines && !in->pipelines) || (in->n_outputs && !in->outputs))
		return LP_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.in = in;
	c.out = out;
	c.control_ns = in->control_ns ? in->control_ns : LP_DEFAULT_CONTROL_NAMESPACE;
	c.sha = EVP_MD_fetch(NULL, "SHA256", NULL); /* NULL: the implicit lookup */
	c.sha_ctx = EVP_MD_CTX_new();               /* NULL: one context per hash */
	lp_buf_init(&c.scratch, 0);
	lp_buf_init(&c.agg_host_buf, 0);
	lp_buf_init(&c.lt_host_buf, 0);
	if (in->aggregator_host) {
		c.agg_host = in->aggregator_host;
	} else {
		err = lp_buf_addf(&c.agg_host_buf, "logplane-aggregator.%s.svc", c.control_ns);
		c.agg_host = lp_buf_str(&c.agg_host_buf);
	}
	if (!err && in->livetail_host) {
		c.lt_host = in->livetail_host;
	} else if (!err) {
		err = lp_buf_addf(&c.lt_host_buf, "logplane-hub.%s.svc", c.control_ns);
		c.lt_host = lp_buf_str(&c.lt_host_buf);
	}
	c.lt_port = in->livetail_port > 0 ? in->livetail_port : 8081;
	c.lt_token_secret =
	    in->livetail_token_secret ? in->livetail_token_secret : LP_RENDER_HUB_TOKEN_SECRET;
	if (err)
		goto fail;

	c.noi = in->n_outputs;
	c.npi = in->n_pipelines;
	c.oi = lp_calloc(c.noi ? c.noi : 1, sizeof(*c.oi));
	c.pi = lp_calloc(c.npi ? c.npi : 1, sizeof(*c.pi));
	if (!c.oi || !c.pi) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < c.noi; i++)
		c.oi[i].o = in->outputs[i];
	for (size_t i = 0; i < c.npi; i++)
		c.pi[i].p = in->pipelines[i];
	if (c.noi)
		qsort(c.oi, c.noi, sizeof(*c.oi), cmp_oi);
	if (c.npi)
		qsort(c.pi, c.npi, sizeof(*c.pi), cmp_pi);

	err = outputs_step(&c);
	if (!err)
		err = pipelines_step(&c);
	if (!err)
		err = usage_step(&c);
	if (!err)
		err = lp_render_fb_shipper(&c);
	if (!err && c.any_agg) {
		out->has_aggregator = 1;
		out->aggregator_engine = c.engine;
		err = c.engine == LP_ENGINE_FLUENTD ? lp_render_fluentd_aggregator(&c)
		                                    : lp_render_fb_aggregator(&c);
	}
	if (!err)
		err = config_hash(&out->shipper);
	if (!err && out->has_aggregator)
		err = config_hash(&out->aggregator);
	if (!err) {
		size_t n = 0;
		for (size_t i = 0; !in->no_summaries && i < c.npi; i++)
			n += c.pi[i].ok;
		out->summaries = lp_calloc(n ? n : 1, sizeof(*out->summaries));
		if (!out->summaries)
			err = LP_ERR_NOMEM;
		for (size_t i = 0; !err && n && i < c.npi; i++)
			if (c.pi[i].ok)
				err = summary(&c, &c.pi[i], &out->summaries[out->n_summaries++]);
	}
	if (err)
		goto fail;
	if (out->n_env)
		qsort(out->env, out->n_env, sizeof(*out->env), cmp_env);
	if (out->n_mounts)
		qsort(out->mounts, out->n_mounts, sizeof(*out->mounts), cmp_mount);
	if (out->n_aws_profiles)
		qsort(out->aws_profiles, out->n_aws_profiles, sizeof(*out->aws_profiles),
		      cmp_profile);
	if (out->n_alerts)
		qsort(out->alerts, out->n_alerts, sizeof(*out->alerts), cmp_alert);
	goto done;
fail:
	lp_rendered_free(out);
	memset(out, 0, sizeof(*out));
done:
	for (size_t i = 0; c.oi && i < c.noi; i++) {
		lp_free(c.oi[i].endpoint_host);
		lp_free(c.oi[i].header_vars);
		lp_free(c.oi[i].all_pi);
	}
	for (size_t i = 0; c.pi && i < c.npi; i++)
		lp_free(c.pi[i].routes);
	for (size_t i = 0; i < c.n_lua; i++)
		lp_free(c.lua_ctor[i]);
	lp_free(c.lua_ctor);
	lp_free(c.oi);
	lp_free(c.pi);
	EVP_MD_free(c.sha);
	EVP_MD_CTX_free(c.sha_ctx);
	lp_buf_free(&c.scratch);
	lp_buf_free(&c.agg_host_buf);
	lp_buf_free(&c.lt_host_buf);
	return err;
}

struct lp_render_cache *lp_render_cache_new(void)
{
	return lp_calloc(1, sizeof(struct lp_render_cache));
}

void lp_render_cache_free(struct lp_render_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->n; i++)
		lp_free(cache->e[i].data);
	lp_free(cache->e);
	lp_free(cache);
}

static void config_free(struct lp_rendered_config *cfg)
{
	for (size_t i = 0; i < cfg->n_files; i++) {
		lp_free(cfg->files[i].name);
		lp_free(cfg->files[i].data);
	}
	lp_free(cfg->files);
}

void lp_rendered_free(struct lp_rendered *r)
{
	if (!r)
		return;
	config_free(&r->shipper);
	config_free(&r->aggregator);
	for (size_t i = 0; i < r->n_env; i++) {
		lp_free(r->env[i].var);
		lp_free(r->env[i].secret_ns);
		lp_free(r->env[i].secret_name);
		lp_free(r->env[i].secret_key);
	}
	lp_free(r->env);
	for (size_t i = 0; i < r->n_problems; i++) {
		lp_free(r->problems[i].kind);
		lp_free(r->problems[i].ns);
		lp_free(r->problems[i].name);
		lp_free(r->problems[i].field);
		lp_free(r->problems[i].message);
	}
	lp_free(r->problems);
	for (size_t i = 0; i < r->n_summaries; i++) {
		lp_free(r->summaries[i].ns);
		lp_free(r->summaries[i].name);
		lp_free(r->summaries[i].text);
	}
	lp_free(r->summaries);
	for (size_t i = 0; i < r->n_mounts; i++) {
		lp_free(r->mounts[i].path);
		lp_free(r->mounts[i].secret_ns);
		lp_free(r->mounts[i].secret_name);
		lp_free(r->mounts[i].secret_key);
	}
	lp_free(r->mounts);
	for (size_t i = 0; i < r->n_aws_profiles; i++) {
		lp_free(r->aws_profiles[i].profile);
		lp_free(r->aws_profiles[i].secret_ns);
		lp_free(r->aws_profiles[i].secret_name);
		lp_free(r->aws_profiles[i].access_key_id_key);
		lp_free(r->aws_profiles[i].secret_access_key_key);
		lp_free(r->aws_profiles[i].session_token_key);
	}
	lp_free(r->aws_profiles);
	for (size_t i = 0; i < r->n_alerts; i++) {
		lp_free(r->alerts[i].ns);
		lp_free(r->alerts[i].name);
		lp_free(r->alerts[i].secret_name);
		lp_free(r->alerts[i].secret_key);
	}
	lp_free(r->alerts);
	memset(r, 0, sizeof(*r));
}
