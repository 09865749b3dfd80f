/* Outputs shared from the control namespace, and S3 key placeholders, proven
 * on the rendered config (docs/security.md, docs/aws.md): every output
 * instance of a tenant's pipeline, the shared ones included, is offered a set
 * of tags from every namespace and every tag shape and must accept only tags of
 * the tenant's own namespace; every Secret a shared output reads is in the
 * control namespace; and each S3 key, expanded the way Fluent Bit 5.1.1's s3
 * output does (src/aws/flb_aws_util.c flb_get_s3_key: $TAG[n] is the n-th
 * '.'-separated part of the chunk's tag), names the record's namespace, pod,
 * container and pipeline in every tag shape. Matches are decided the way Fluent
 * Bit's router does: `match` a glob with '*', `match_regex` Onigmo (Ruby
 * syntax). */
#include "lp_test.h"
#include "../../pkg/api/api.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/render/bundle.h"
#include "../../pkg/render/render.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/mem.h"
#include <jansson.h>
#include <oniguruma.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTROL "logplane-system"

static char *path_of(const char *rel)
{
	const char *top = getenv("LP_TOP");
	struct lp_buf b;

	lp_buf_init(&b, 0);
	if (lp_buf_addf(&b, "%s/%s", top && *top ? top : ".", rel) != LP_OK)
		return NULL;
	return lp_buf_take(&b);
}

struct case_r {
	struct lp_render_bundle b;
	struct lp_rendered r;
	json_t *shipper, *aggregator;
};

static json_t *reparse(const struct lp_rendered_config *cfg)
{
	struct lp_yaml_docs d;
	json_t *j = NULL;

	if (!cfg->n_files)
		return NULL;
	if (lp_yaml_load_string(&d, cfg->files[0].data, strlen(cfg->files[0].data)) == LP_OK &&
	    d.n == 1) {
		j = d.v[0].root;
		d.v[0].root = NULL;
	}
	lp_yaml_docs_free(&d);
	return j;
}

static int load_case(struct case_r *k, const char *rel)
{
	char *in = path_of(rel);
	const char *paths[1] = {in};
	int ok;

	memset(k, 0, sizeof(*k));
	ok = in && lp_render_bundle_load(&k->b, paths, 1, NULL) == LP_OK &&
	     lp_render_bundle_render(&k->r, &k->b, NULL) == LP_OK;
	lp_free(in);
	if (!ok)
		return 0;
	k->shipper = reparse(&k->r.shipper);
	k->aggregator = k->r.has_aggregator ? reparse(&k->r.aggregator) : NULL;
	return k->shipper != NULL;
}

static void free_case(struct case_r *k)
{
	json_decref(k->shipper);
	json_decref(k->aggregator);
	lp_rendered_free(&k->r);
	lp_render_bundle_free(&k->b);
}

/* 12 hex chars of SHA-256("a/b"): the renderer's names for pipelines and outputs. */
static void short_hash(char out[13], const char *a, const char *b)
{
	unsigned char md[32];
	unsigned int n = 0;
	char buf[600];
	static const char hex[] = "0123456789abcdef";

	snprintf(buf, sizeof(buf), "%s/%s", a, b);
	EVP_Digest(buf, strlen(buf), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 6; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[12] = '\0';
}

/* Fluent Bit's glob: '*' matches any run of characters. */
static int glob(const char *p, const char *s)
{
	if (*p == '\0')
		return *s == '\0';
	if (*p == '*')
		return glob(p + 1, s) || (*s && glob(p, s + 1));
	return *s && *p == *s && glob(p + 1, s + 1);
}

static int regex_search(const char *re, const char *s)
{
	regex_t *rx = NULL;
	OnigErrorInfo einfo;
	const UChar *start = (const UChar *)s, *end = start + strlen(s);
	int r;

	if (onig_new(&rx, (const UChar *)re, (const UChar *)re + strlen(re), ONIG_OPTION_NONE,
	             ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &einfo) != ONIG_NORMAL) {
		lp_test_fail(__FILE__, __LINE__, "regex does not compile: %s", re);
		return 0;
	}
	r = onig_search(rx, start, end, start, end, NULL, ONIG_OPTION_NONE);
	onig_free(rx);
	return r >= 0;
}

/* 1 when output instance o (a JSON object of the config) takes tag. */
static int takes(json_t *o, const char *tag)
{
	const char *m = json_string_value(json_object_get(o, "match"));
	const char *re = json_string_value(json_object_get(o, "match_regex"));

	return (m && glob(m, tag)) || (re && regex_search(re, tag));
}

static json_t *outputs_of(json_t *cfg)
{
	return json_object_get(json_object_get(cfg, "pipeline"), "outputs");
}

/* The pipeline whose hash is h (12 chars at the start of s), or NULL. */
static const struct lp_pipeline *pipeline_of(const struct case_r *k, const char *s)
{
	for (size_t i = 0; i < k->b.n_pipelines; i++) {
		const struct lp_pipeline *p = k->b.pipelines[i];
		char h[13];
		short_hash(h, p->meta.ns, p->meta.name);
		if (strncmp(s, h, 12) == 0)
			return p;
	}
	return NULL;
}

/* Every tag shape of the shipper for namespace ns: the shared tail, the
 * kube-system tail, the journal, and each pipeline's own inputs and copies. */
static size_t probe_tags(const struct case_r *k, const char *ns, char tags[][160], size_t max)
{
	size_t n = 0;
	char h[13], oh[13];

#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (n < max)                                                                       \
			snprintf(tags[n++], 160, __VA_ARGS__);                                     \
	} while (0)
	ADD("kube.%s.web-1.api", ns);
	ADD("system.kube.%s.web-1.api", ns);
	ADD("system.node.journal");
	for (size_t i = 0; i < k->b.n_pipelines; i++) {
		short_hash(h, k->b.pipelines[i]->meta.ns, k->b.pipelines[i]->meta.name);
		ADD("p.%s.kube.%s.web-1.api", h, ns);
		ADD("a.%s.kube.%s.web-1.api", h, ns);
		ADD("p.%s.file.host.%s.web-1.api", h, ns);
		ADD("p.%s.http", h);
		ADD("a.%s.p.%s.kube.%s.web-1.api", h, h, ns);
		for (size_t j = 0; j < k->b.n_outputs; j++) {
			short_hash(oh, k->b.outputs[j]->meta.ns, k->b.outputs[j]->meta.name);
			ADD("o.%s.a.%s.kube.%s.web-1.api", oh, h, ns);
			ADD("o.%s.a.%s.p.%s.kube.%s.web-1.api", oh, h, h, ns);
		}
	}
#undef ADD
	return n;
}

/* The proof: each output instance lp_<h>_r<i> (or forward output to the
 * aggregator lp_<h>_fwd) of a tenant pipeline takes no
 * tag of another namespace, in any shape, and takes its own namespace's
 * container logs. Returns the number of violations (the first described in
 * why); *checked is the number of tenant instances looked at. */
static size_t prove_tenancy(const struct case_r *k, size_t *checked, char *why, size_t whysz)
{
	static const char *const others[] = {"team-a", "team-b", "team-c",     "team-ab",
	                                     "shop",   CONTROL,  "kube-system"};
	static char tags[4096][160];
	json_t *outs = outputs_of(k->shipper), *o;
	size_t i, bad = 0;

	*checked = 0;
	json_array_foreach(outs, i, o)
	{
		const char *alias = json_string_value(json_object_get(o, "alias"));
		const struct lp_pipeline *p;
		size_t n;
		int own = 0;
		if (!alias || strncmp(alias, "lp_", 3) != 0 || strlen(alias) < 15 ||
		    (strncmp(alias + 15, "_r", 2) != 0 && strcmp(alias + 15, "_fwd") != 0))
			continue;
		p = pipeline_of(k, alias + 3);
		if (!p && !bad++)
			snprintf(why, whysz, "%s: no pipeline has this hash", alias);
		if (!p || strcmp(p->meta.ns, CONTROL) == 0)
			continue;
		(*checked)++;
		for (size_t x = 0; x < LP_TEST_COUNT(others); x++) {
			if (!strcmp(others[x], p->meta.ns))
				continue;
			n = probe_tags(k, others[x], tags, LP_TEST_COUNT(tags));
			for (size_t t = 0; t < n; t++)
				if (takes(o, tags[t]) && !bad++)
					snprintf(why, whysz, "%s (pipeline %s/%s) takes %s", alias,
					         p->meta.ns, p->meta.name, tags[t]);
		}
		n = probe_tags(k, p->meta.ns, tags, LP_TEST_COUNT(tags));
		for (size_t t = 0; t < n; t++)
			own += takes(o, tags[t]);
		if (!own && !bad++)
			snprintf(why, whysz, "%s takes nothing of %s", alias, p->meta.ns);
	}
	return bad;
}

static void prove(const char *rel, size_t want_min)
{
	struct case_r k;
	char why[512] = "";
	size_t checked = 0, bad;

	LP_CHECK(load_case(&k, rel));
	bad = prove_tenancy(&k, &checked, why, sizeof(why));
	if (bad)
		lp_test_fail(__FILE__, __LINE__, "%s: %zu violation(s): %s", rel, bad, why);
	if (checked < want_min)
		lp_test_fail(__FILE__, __LINE__, "%s: %zu tenant instances, want >= %zu", rel,
		             checked, want_min);
	free_case(&k);
}

static void t_shared_tenancy(void)
{
	struct case_r k;
	json_t *outs, *o;
	size_t i, loki = 0;

	prove("tests/data/render/cases/shared-output.yaml", 3); /* team-a: 2, team-b: 1 */
	LP_CHECK(load_case(&k, "tests/data/render/cases/shared-output.yaml"));
	LP_CHECK_INT(k.r.n_problems, 0);
	outs = outputs_of(k.shipper);
	json_array_foreach(outs, i, o)
	{
		const char *host = json_string_value(json_object_get(o, "host"));
		loki += host && !strcmp(host, "loki.example.com");
	}
	LP_CHECK_INT(loki, 2); /* one instance per tenant route, none for team-c */
	/* the shared output's Secret is read in the control namespace only */
	LP_CHECK(k.r.n_env >= 2);
	for (size_t e = 0; e < k.r.n_env; e++) {
		LP_CHECK_STR(k.r.env[e].secret_ns, CONTROL);
		LP_CHECK_STR(k.r.env[e].secret_name, "loki-creds");
	}
	free_case(&k);

	/* the cases written before sharing still prove out */
	prove("tests/data/render/cases/tenancy-isolation.yaml", 2);
	prove("tests/data/render/cases/shape-two-tenants.yaml", 2);
	prove("tests/data/render/cases/shape-control-and-tenant.yaml", 1);
}

/* 1 when pipeline p routes to the LogOutput whose hash is oh. */
static int routes_to(const struct lp_pipeline *p, const char *oh)
{
	for (size_t i = 0; i < p->n_routes; i++) {
		char h[13];
		short_hash(h, p->routes[i].output_ns ? p->routes[i].output_ns : p->meta.ns,
		           p->routes[i].output_ref);
		if (!strncmp(h, oh, 12))
			return 1;
	}
	return 0;
}

/* The aggregator leg: every forward output on the node (lp_<h>_fwd /
 * lp_<h>_r<i>) sends each tag it takes as its `tag` with $TAG replaced, the
 * way out_forward's record accessor does; on the aggregator, every output
 * taking that tag must be one the pipeline routes to (lp_o_<oh>, or
 * lp_o_<oh>_<h> of that pipeline), and each tag of its own namespace must
 * reach at least one. Probed with the tags of every namespace. Returns the
 * number of violations; *sent the number of (forward, tag) pairs checked. */
static size_t prove_aggregator(const struct case_r *k, size_t *sent, char *why, size_t whysz)
{
	static const char *const nss[] = {"team-a", "team-b", "team-c",
	                                  "shop",   CONTROL,  "kube-system"};
	static char tags[4096][160];
	json_t *o, *a;
	size_t i, j, bad = 0;

	*sent = 0;
	json_array_foreach(outputs_of(k->shipper), i, o)
	{
		const char *alias = json_string_value(json_object_get(o, "alias"));
		const char *tag = json_string_value(json_object_get(o, "tag"));
		const struct lp_pipeline *p;
		const char *dollar;
		if (alias && !strcmp(alias, "lp_aggregator")) {
			/* the upgrade carry sends tags as they are: no live tag
			 * of any namespace may reach it (the node's inputs tag
			 * kube., system. and p.<h>.; a. and o. exist on the wire
			 * and in chunks of earlier versions only) */
			for (size_t x = 0; x < LP_TEST_COUNT(nss); x++) {
				size_t n = probe_tags(k, nss[x], tags, LP_TEST_COUNT(tags));
				for (size_t t = 0; t < n; t++)
					if (strncmp(tags[t], "a.", 2) &&
					    strncmp(tags[t], "o.", 2) && takes(o, tags[t]) &&
					    !bad++)
						snprintf(why, whysz, "%s takes the live tag %s",
						         alias, tags[t]);
				*sent += n;
			}
			continue;
		}
		if (!tag || !alias || strncmp(alias, "lp_", 3) != 0 ||
		    !(dollar = strstr(tag, "$TAG")))
			continue;
		p = pipeline_of(k, alias + 3);
		if (!p) {
			if (!bad++)
				snprintf(why, whysz, "%s: no pipeline", alias);
			continue;
		}
		for (size_t x = 0; x < LP_TEST_COUNT(nss); x++) {
			size_t n = probe_tags(k, nss[x], tags, LP_TEST_COUNT(tags));
			for (size_t t = 0; t < n; t++) {
				char out[400];
				size_t reached = 0;
				if (!takes(o, tags[t]))
					continue;
				snprintf(out, sizeof(out), "%.*s%s%s", (int)(dollar - tag), tag,
				         tags[t], dollar + 4);
				(*sent)++;
				json_array_foreach(outputs_of(k->aggregator), j, a)
				{
					const char *aa =
					    json_string_value(json_object_get(a, "alias"));
					int ok;
					if (!takes(a, out))
						continue;
					reached++;
					ok = aa && !strncmp(aa, "lp_o_", 5) && strlen(aa) >= 17 &&
					     routes_to(p, aa + 5);
					if (ok &&
					    strlen(aa) > 17) /* per pipeline: lp_o_<oh>_<ph> */
						ok = pipeline_of(k, aa + 18) == p;
					if (!ok && !bad++)
						snprintf(
						    why, whysz,
						    "%s (pipeline %s/%s) sends %s, taken by %s",
						    alias, p->meta.ns, p->meta.name, out,
						    aa ? aa : "-");
				}
				if (!reached && !bad++)
					snprintf(why, whysz,
					         "%s sends %s: no aggregator output takes it",
					         alias, out);
			}
		}
	}
	return bad;
}

/* Tenancy through the aggregator (aggregator-shapes: two tenants, a control
 * pipeline over all namespaces but one, host files and HTTP): on the node each
 * tenant forward output takes only its namespace's tags (the proof above);
 * on the aggregator each tag it sends reaches only its own routes' outputs. A
 * forward output whose tag names another pipeline is caught. */
static void t_aggregator_tenancy(void)
{
	struct case_r k;
	char why[512] = "";
	size_t sent = 0, bad;
	json_t *o;
	size_t i;

	prove("tests/data/render/cases/aggregator-shapes.yaml", 3); /* team-a: 2, team-b: 1 */
	LP_CHECK(load_case(&k, "tests/data/render/cases/aggregator-shapes.yaml"));
	LP_CHECK_INT(k.r.n_problems, 0);
	LP_CHECK(k.aggregator != NULL);
	bad = prove_aggregator(&k, &sent, why, sizeof(why));
	if (bad)
		lp_test_fail(__FILE__, __LINE__, "%zu violation(s): %s", bad, why);
	LP_CHECK(sent >= 10);
	/* can fail: team-a's forward output sending under team-b's pipeline hash */
	json_array_foreach(outputs_of(k.shipper), i, o)
	{
		const char *a = json_string_value(json_object_get(o, "alias"));
		char h[13], tag[64];
		if (!a || !json_object_get(o, "tag") || !strstr(a, "_fwd"))
			continue;
		short_hash(h, "team-a", "apps");
		if (strncmp(a + 3, h, 12) != 0)
			continue;
		short_hash(h, "team-b", "traces");
		snprintf(tag, sizeof(tag), "a.%s.$TAG", h);
		json_object_set_new(o, "tag", json_string(tag));
	}
	LP_CHECK(prove_aggregator(&k, &sent, why, sizeof(why)) > 0);
	LP_CHECK_HAS(why, "taken by lp_o_");
	free_case(&k);
}

/* The proof checks something: a tenant instance widened to kube.* (every
 * namespace) is caught. */
static void t_proof_can_fail(void)
{
	struct case_r k;
	char why[512] = "";
	size_t checked = 0;
	json_t *o;

	LP_CHECK(load_case(&k, "tests/data/render/cases/shared-output.yaml"));
	o = json_array_get(outputs_of(k.shipper), 0);
	LP_CHECK(o != NULL);
	if (o) {
		json_object_del(o, "match_regex");
		json_object_set_new(o, "match", json_string("kube.*"));
	}
	LP_CHECK(prove_tenancy(&k, &checked, why, sizeof(why)) > 0);
	LP_CHECK_HAS(why, "takes kube.");
	free_case(&k);
}

/* flb_get_s3_key's $TAG[n] (parts 0..9 split on '.'), then the result. */
static void expand_key(const char *fmt, const char *tag, char *out, size_t n)
{
	char parts[10][64];
	size_t np = 0, o = 0;
	const char *s = tag;

	while (*s && np < 10) {
		size_t l = strcspn(s, ".");
		snprintf(parts[np++], sizeof(parts[0]), "%.*s", (int)l, s);
		s += l + (s[l] == '.');
	}
	for (const char *f = fmt; *f && o + 1 < n;) {
		int idx;
		if (sscanf(f, "$TAG[%d]", &idx) == 1 && idx >= 0 && idx < (int)np) {
			o += (size_t)snprintf(out + o, n - o, "%s", parts[idx]);
			f = strchr(f, ']') + 1;
			continue;
		}
		out[o++] = *f++;
	}
	out[o < n ? o : n - 1] = '\0';
}

/* 1 when pipeline p can send tag to the aggregator: from its own tail
 * (buffered multiline) as [o.<oh>.]a.<h>.p.<h>.kube.*, else as
 * [o.<oh>.]a.<h>.kube.* (node tags: always). */
static int sends_shape(const struct lp_pipeline *p, const char *tag)
{
	int own = p->multiline.present &&
	          ((p->multiline.builtin & (LP_ML_JAVA | LP_ML_PYTHON | LP_ML_GO)) ||
	           p->multiline.n_rules > 0);

	if (tag[0] != 'a' && tag[0] != 'o')
		return 1;
	return own == (strstr(tag, ".p.") != NULL);
}

/* Each S3 instance of s3-key-shapes, offered a record of shop/web-1/api in its
 * own tag shape, writes /k/shop/web-1/api/<pipeline>/... */
static void check_keys(const struct case_r *k, json_t *cfg, size_t *seen)
{
	static char tags[4096][160];
	json_t *o;
	size_t i;

	json_array_foreach(outputs_of(cfg), i, o)
	{
		const char *key = json_string_value(json_object_get(o, "s3_key_format"));
		const char *alias = json_string_value(json_object_get(o, "alias"));
		const char *ph = alias && !strncmp(alias, "lp_o_", 5) ? alias + 18 : alias + 3;
		const struct lp_pipeline *p = pipeline_of(k, ph);
		size_t n = probe_tags(k, "shop", tags, LP_TEST_COUNT(tags)), hit = 0;
		char want[160], got[512];
		if (!key || strncmp(key, "/k/", 3) != 0)
			continue;
		LP_CHECK(p != NULL);
		if (!p)
			continue;
		LP_CHECK(strstr(key, "$TAG") != NULL);
		snprintf(want, sizeof(want), "/k/shop/web-1/api/%s/", p->meta.name);
		for (size_t t = 0; t < n; t++) {
			if (!takes(o, tags[t]) || !sends_shape(p, tags[t]))
				continue;
			hit++;
			expand_key(key, tags[t], got, sizeof(got));
			if (strncmp(got, want, strlen(want)) != 0)
				lp_test_fail(__FILE__, __LINE__, "%s: tag %s gives %s, want %s...",
				             alias, tags[t], got, want);
		}
		if (!hit)
			lp_test_fail(__FILE__, __LINE__, "%s takes no tag of shop", alias);
		(*seen)++;
	}
}

static void t_s3_key_shapes(void)
{
	struct case_r k;
	size_t seen = 0;

	LP_CHECK(load_case(&k, "tests/data/render/cases/s3-key-shapes.yaml"));
	LP_CHECK_INT(k.r.n_problems, 0);
	check_keys(&k, k.shipper, &seen);
	LP_CHECK_INT(seen, 2); /* shared tail, own tail */
	LP_CHECK(k.aggregator != NULL);
	if (k.aggregator)
		check_keys(&k, k.aggregator, &seen);
	LP_CHECK_INT(seen, 5); /* + a.<h>., o.<oh>.a.<h>. and o.<oh>.a.<h>.p.<h>. */
	/* no rendered key leaves a placeholder or the whole $TAG behind */
	LP_CHECK(strstr(k.r.shipper.files[0].data, "{") == NULL ||
	         strstr(k.r.shipper.files[0].data, "{namespace}") == NULL);
	LP_CHECK(strstr(k.r.shipper.files[0].data, "$TAG/") == NULL);
	free_case(&k);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"shared_tenancy", t_shared_tenancy},
	    {"proof_can_fail", t_proof_can_fail},
	    {"aggregator_tenancy", t_aggregator_tenancy},
	    {"s3_key_shapes", t_s3_key_shapes},
	};
	return lp_test_main("shared", tests, LP_TEST_COUNT(tests));
}
