/* Cross-object rules: references resolve, tenancy, Secrets exist. */
#include "reader.h"
#include "rules.h"
#include "secretval.h"
#include "../util/mem.h"
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *control_ns(const struct lp_world *w)
{
	return (w && w->control_ns) ? w->control_ns : LP_DEFAULT_CONTROL_NAMESPACE;
}

static int in_control(const struct lp_meta *m, const struct lp_world *w)
{
	return m->ns && strcmp(m->ns, control_ns(w)) == 0;
}

/* Namespace, then name; NULL sorts as "". */
static int cmp_ns_name(const char *ans, const char *aname, const char *bns, const char *bname)
{
	int c = strcmp(ans ? ans : "", bns ? bns : "");
	return c ? c : strcmp(aname ? aname : "", bname ? bname : "");
}

static int cmp_outputs(const void *a, const void *b)
{
	const struct lp_output *x = *(const struct lp_output *const *)a;
	const struct lp_output *y = *(const struct lp_output *const *)b;

	if (!x || !y)
		return (x != NULL) - (y != NULL); /* NULL first */
	return cmp_ns_name(x->meta.ns, x->meta.name, y->meta.ns, y->meta.name);
}

void lp_outputs_sort(const struct lp_output **outputs, size_t n)
{
	if (outputs && n > 1)
		qsort(outputs, n, sizeof(*outputs), cmp_outputs);
}

static const struct lp_output *find_output(const struct lp_world *w, const char *ns,
                                           const char *name)
{
	if (w && w->outputs_sorted) {
		size_t lo = 0, hi = w->n_outputs;
		while (lo < hi) { /* first index not sorting before ns/name */
			size_t mid = lo + (hi - lo) / 2;
			const struct lp_output *o = w->outputs[mid];
			if (!o || cmp_ns_name(o->meta.ns, o->meta.name, ns, name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < w->n_outputs && w->outputs[lo] && w->outputs[lo]->meta.ns &&
		    w->outputs[lo]->meta.name &&
		    !cmp_ns_name(w->outputs[lo]->meta.ns, w->outputs[lo]->meta.name, ns, name))
			return w->outputs[lo];
		return NULL;
	}
	for (size_t i = 0; w && i < w->n_outputs; i++) {
		const struct lp_output *o = w->outputs[i];
		if (o && o->meta.name && o->meta.ns && strcmp(o->meta.name, name) == 0 &&
		    strcmp(o->meta.ns, ns) == 0)
			return o;
	}
	return NULL;
}

/* strcmp that treats two NULLs as equal */
static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* 1 when a sorts after b by namespace, then name. */
static int sorts_after(const struct lp_meta *a, const struct lp_meta *b)
{
	int c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "");
	if (c == 0)
		c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
	return c > 0;
}

static int same_object(const struct lp_meta *a, const struct lp_meta *b)
{
	return !sorts_after(a, b) && !sorts_after(b, a);
}

/* A reference to an object that may not exist yet: a warning when the world
 * collects those (admission), else a problem. */
static void ref_bad(struct lp_rd *r, const struct lp_world *w, const char *path, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
static void ref_bad(struct lp_rd *r, const struct lp_world *w, const char *path, const char *fmt,
                    ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!w || !w->ref_warnings) {
		lp_rd_bad(r, path, "%s", msg);
		return;
	}
	if (lp_problems_add(w->ref_warnings, path, "%s", msg) != LP_OK)
		r->err = LP_ERR_NOMEM;
}

lp_err lp_pipeline_validate(const struct lp_pipeline *p, const struct lp_world *w,
                            struct lp_problems *probs)
{
	struct lp_rd r = {probs, LP_OK, 0};
	const char *cns = control_ns(w);
	const char *ns;
	char path[LP_RD_PATH];

	if (!p || !probs)
		return LP_ERR_INVALID;
	ns = p->meta.ns ? p->meta.ns : "default";
	if (!in_control(&p->meta, w)) {
		static const struct {
			unsigned bit;
			const char *field;
		} agg[] = {{LP_AGG_SET_ENGINE, "spec.aggregator.engine"},
		           {LP_AGG_SET_REPLICAS, "spec.aggregator.replicas"},
		           {LP_AGG_SET_STORAGE, "spec.aggregator.storageSize"}};
		for (size_t i = 0; i < sizeof(agg) / sizeof(agg[0]); i++)
			if (p->aggregator.set & agg[i].bit)
				lp_rd_bad(
				    &r, agg[i].field,
				    "the aggregator is shared: only pipelines in the control "
				    "namespace \"%s\" (or the chart's values) set it; a pipeline "
				    "elsewhere may only ship through it (spec.aggregator.enabled)",
				    cns);
		if (p->system)
			lp_rd_bad(&r, "spec.input.system",
			          "only pipelines in the control namespace \"%s\" may read system "
			          "logs",
			          cns);
		if (p->n_files)
			lp_rd_bad(
			    &r, "spec.input.files",
			    "only pipelines in the control namespace \"%s\" may read host files",
			    cns);
		if (p->http.enabled)
			lp_rd_bad(&r, "spec.input.http",
			          "only pipelines in the control namespace \"%s\" may open an HTTP "
			          "input",
			          cns);
		for (size_t i = 0; i < p->app.ns_include.n; i++)
			if (strcmp(p->app.ns_include.v[i], ns) != 0) {
				lp_rd_index(path, "spec.input.application.namespaces.include", i);
				lp_rd_bad(
				    &r, path,
				    "a pipeline in namespace \"%s\" reads only its own namespace "
				    "(\"%s\" is not allowed)",
				    ns, p->app.ns_include.v[i]);
			}
	}
	for (size_t i = 0; p->http.enabled && w && i < w->n_pipelines; i++) {
		const struct lp_pipeline *q = w->pipelines[i];
		if (!q || q == p || !q->http.enabled || q->http.port != p->http.port ||
		    same_object(&q->meta, &p->meta) || !sorts_after(&p->meta, &q->meta))
			continue;
		lp_rd_bad(&r, "spec.input.http.port",
		          "port %d is already used by LogPipeline %s/%s", p->http.port,
		          q->meta.ns ? q->meta.ns : "", q->meta.name ? q->meta.name : "");
		break;
	}
	for (size_t i = 0; i < p->n_routes; i++) {
		const char *ref = p->routes[i].output_ref;
		const char *ons = lp_route_output_ns(p, &p->routes[i]);
		const struct lp_output *o;
		char why[512];
		if (!ref || (strcmp(ons, ns) != 0 && strcmp(ons, cns) != 0))
			continue; /* lp_pipeline_rules names spec.routes[i].outputNamespace */
		snprintf(path, sizeof(path), "spec.routes[%zu].outputRef", i);
		o = find_output(w, ons, ref);
		if (!o && strcmp(ons, ns) != 0)
			/* another namespace's output: missing or not shared read the
			 * same, so a tenant learns nothing of what is not shared with it */
			ref_bad(&r, w, path,
			        "no LogOutput \"%s\" in namespace \"%s\" is shared with namespace "
			        "\"%s\" (a LogOutput of the control namespace lists the namespaces "
			        "that may route to it in spec.sharedWith.namespaces)",
			        ref, ons, ns);
		else if (!o)
			ref_bad(&r, w, path, "LogOutput \"%s\" not found in namespace \"%s\"", ref,
			        ons);
		else if (lp_route_problem(p, o, cns, why, sizeof(why)) && strcmp(ons, ns) != 0)
			ref_bad(&r, w, path, "%s", why); /* it may be shared later */
		else if (lp_route_problem(p, o, cns, why, sizeof(why)))
			lp_rd_bad(&r, path, "%s", why);
	}
	if (r.err != LP_OK)
		return r.err;
	if (r.added)
		return LP_ERR_INVALID;
	/* what the renderer relies on: the same rules it applies (one verdict) */
	return lp_pipeline_rules(p, cns, probs);
}

/* A Secret reference: it exists, opted in to logplane, has key, and (use >= 0)
 * its value suits the place it goes. */
static void secret_use(struct lp_rd *r, const struct lp_world *w, const char *ns, const char *path,
                       const char *name, const char *key, int use)
{
	char *v;
	size_t len = 0;
	const char *why;

	if (!name || !w || !w->secret_has_key)
		return;
	if (!w->secret_has_key(w->secret_ctx, ns, name, NULL)) {
		ref_bad(r, w, path, "Secret \"%s\" not found in namespace \"%s\"", name, ns);
		return;
	}
	if (w->secret_allowed && !w->secret_allowed(w->secret_ctx, ns, name)) {
		lp_rd_bad(
		    r, path,
		    "Secret \"%s\"%s%s%s in namespace \"%s\" has not opted in to logplane: "
		    "logplane reads a Secret only when it has the label %s=%s (added by someone "
		    "who may change Secrets); nothing of it is used until then",
		    name, key ? " (key \"" : "", key ? key : "", key ? "\")" : "", ns,
		    LP_SECRET_OPT_IN_LABEL, LP_SECRET_OPT_IN_VALUE);
		return;
	}
	if (key && !w->secret_has_key(w->secret_ctx, ns, name, key)) {
		ref_bad(r, w, path, "Secret \"%s\" in namespace \"%s\" has no key \"%s\"", name, ns,
		        key);
		return;
	}
	if (use < 0 || !key || !w->secret_value)
		return;
	v = w->secret_value(w->secret_ctx, ns, name, key, &len);
	if (!v) { /* the key is there: no memory to read it, not a bad value */
		r->err = LP_ERR_NOMEM;
		return;
	}
	why = lp_secret_value_problem((enum lp_secret_use)use, v, len);
	if (v) {
		OPENSSL_cleanse(v, len);
		lp_free(v);
	}
	if (why)
		lp_rd_bad(r, path,
		          "Secret \"%s\" key \"%s\" %s (it is used as %s); the output is left "
		          "out until it is fixed",
		          name, key, why, lp_secret_use_name((enum lp_secret_use)use));
}

static void basic_auth(struct lp_rd *r, const struct lp_world *w, const char *ns, const char *base,
                       const struct lp_basic_auth *a)
{
	char path[LP_RD_PATH];

	snprintf(path, sizeof(path), "%s.auth.secretRef", base);
	secret_use(r, w, ns, path, a->secret_name, a->username_key, LP_SECRET_USERNAME);
	secret_use(r, w, ns, path, a->secret_name, a->password_key, LP_SECRET_PASSWORD);
}

static void tls_ca(struct lp_rd *r, const struct lp_world *w, const char *ns, const char *base,
                   const struct lp_tls *t)
{
	char path[LP_RD_PATH];

	snprintf(path, sizeof(path), "%s.tls.caSecretRef", base);
	secret_use(r, w, ns, path, t->ca_secret_name, "ca.crt", LP_SECRET_CA_PEM);
}

/* 1 when host[0..n) is a loopback address: localhost, 127.0.0.0/8, ::1. */
static int loopback(const char *host, size_t n)
{
	if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    (n == 3 && !memcmp(host, "::1", 3)) || (n == 5 && !memcmp(host, "[::1]", 5)))
		return 1;
	if (n < 9 || strncmp(host, "127.", 4) != 0)
		return 0;
	for (size_t i = 4; i < n; i++)
		if (!(host[i] == '.' || (host[i] >= '0' && host[i] <= '9')))
			return 0;
	return 1;
}

/* The host of an http(s) URL: *n bytes at the returned pointer. */
static const char *url_host(const char *url, size_t *n)
{
	const char *h = strstr(url, "://"), *e;

	h = h ? h + 3 : url;
	if (*h == '[') {
		e = strchr(h, ']');
		e = e ? e + 1 : h + strlen(h);
	} else {
		e = h + strcspn(h, ":/?#");
	}
	*n = (size_t)(e - h);
	return h;
}

/* A destination that carries credentials (what says which) must be reached
 * over TLS: plain only to loopback, or anywhere with allow_plain_http. */
static void need_tls(struct lp_rd *r, const struct lp_world *w, const char *field, const char *host,
                     int tls, const char *what)
{
	size_t n = host ? strlen(host) : 0;

	if (tls || !host || (w && w->allow_plain_http))
		return;
	if (strncmp(host, "http://", 7) == 0 || strstr(host, "://") == NULL) {
		const char *h = strstr(host, "://") ? url_host(host, &n) : host;
		if (loopback(h, n))
			return;
	}
	lp_rd_bad(r, field,
	          "must use TLS (https): this destination receives %s, which plain http would "
	          "send in cleartext; plain http is allowed only to a loopback address, or to any "
	          "host when the operator runs with --allow-plain-http",
	          what);
}

/* The AWS resource an output provisions (NULL when none), for clash checks. */
static const char *provisioned(const struct lp_output *o, const char **what)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);

	if (!d || !d->aws_what)
		return NULL;
	*what = d->aws_what;
	return lp_output_provision(o) ? lp_output_aws_target(o) : NULL;
}

static void provision_clash(struct lp_rd *r, const struct lp_output *o, const struct lp_world *w)
{
	const char *what = "", *mine = provisioned(o, &what);
	char field[LP_RD_PATH];

	if (!mine)
		return;
	snprintf(field, sizeof(field), "spec.%s.provision", lp_output_type_name(o->type));
	for (size_t i = 0; w && i < w->n_outputs; i++) {
		const struct lp_output *q = w->outputs[i];
		const char *qwhat = "", *theirs;
		if (!q || q == o || q->type != o->type || same_object(&q->meta, &o->meta) ||
		    !sorts_after(&o->meta, &q->meta))
			continue;
		theirs = provisioned(q, &qwhat);
		if (!theirs || strcmp(theirs, mine) != 0)
			continue;
		if (!str_eq(o->aws.region, q->aws.region) ||
		    !str_eq(o->aws.endpoint, q->aws.endpoint))
			continue; /* another region or endpoint: not the same resource */
		lp_rd_bad(r, field, "%s \"%s\" is already provisioned by LogOutput %s/%s", what,
		          mine, q->meta.ns ? q->meta.ns : "", q->meta.name ? q->meta.name : "");
		return;
	}
}

/* The Secrets of o's own type: auth, TLS CA and the type's own references,
 * and TLS wherever they would travel. */
static void type_secrets(struct lp_rd *r, const struct lp_output *o, const struct lp_world *w,
                         const char *ns)
{
	const struct lp_output_type_desc *d = lp_output_type_desc(o->type);
	const struct lp_basic_auth *auth = lp_output_auth(o);
	const struct lp_tls *tls = lp_output_tls(o);
	const char *host = lp_output_host(o);
	struct lp_output_secret s;
	char base[64], tpath[LP_RD_PATH];

	if (!d)
		return;
	snprintf(base, sizeof(base), "spec.%s", d->name);
	snprintf(tpath, sizeof(tpath), "%s.tls.enabled", base);
	if (auth)
		basic_auth(r, w, ns, base, auth);
	if (tls)
		tls_ca(r, w, ns, base, tls);
	if (auth && auth->secret_name)
		need_tls(r, w, tpath, host, tls && tls->enabled, "the password of auth.secretRef");
	else if (d->aws_auth >= 0 && lp_output_signs_aws(o))
		need_tls(r, w, tpath, host, tls && tls->enabled,
		         "AWS-signed requests (access key id, session token)");
	for (size_t i = 0; d->secret && d->secret(o, i, &s); i++) {
		secret_use(r, w, ns, s.field, s.name, s.key, s.kind);
		if (s.name && s.tls_for)
			need_tls(r, w, tpath, host, tls && tls->enabled, s.tls_for);
	}
}

lp_err lp_output_validate(const struct lp_output *o, const struct lp_world *w,
                          struct lp_problems *probs)
{
	struct lp_rd r = {probs, LP_OK, 0};
	const char *cns = control_ns(w);
	const struct lp_aws_credentials *c;
	const char *ns;

	if (!o || !probs)
		return LP_ERR_INVALID;
	ns = o->meta.ns ? o->meta.ns : "default";
	c = &o->aws.credentials;
	/* the operator's own AWS identity is not lent to tenants */
	if (!in_control(&o->meta, w) && !c->secret_name && lp_output_signs_aws(o))
		lp_rd_bad(&r, "spec.aws.credentials.secretRef",
		          "required for AWS outputs outside the control namespace \"%s\" (the "
		          "operator's own AWS identity is only used there)",
		          cns);
	secret_use(&r, w, ns, "spec.aws.credentials.secretRef", c->secret_name,
	           c->access_key_id_key, LP_SECRET_AWS_KEY_ID);
	secret_use(&r, w, ns, "spec.aws.credentials.secretRef", c->secret_name,
	           c->secret_access_key_key, LP_SECRET_AWS_SECRET);
	secret_use(&r, w, ns, "spec.aws.credentials.secretRef", c->secret_name,
	           c->session_token_key, LP_SECRET_AWS_TOKEN);
	provision_clash(&r, o, w);
	switch (lp_output_share_rules(o, cns, probs)) {
	case LP_OK:
		break;
	case LP_ERR_INVALID:
		r.added++;
		break;
	default:
		return LP_ERR_NOMEM;
	}
	if (o->aws.endpoint && lp_output_type_is_aws(o->type))
		need_tls(&r, w, "spec.aws.endpoint", o->aws.endpoint,
		         strncmp(o->aws.endpoint, "https://", 8) == 0,
		         "AWS-signed requests (access key id, session token)");
	type_secrets(&r, o, w, ns);
	if (r.err != LP_OK)
		return r.err;
	if (r.added)
		return LP_ERR_INVALID;
	/* what the renderer relies on: the same rules it applies (one verdict) */
	return lp_output_rules(o, probs);
}
