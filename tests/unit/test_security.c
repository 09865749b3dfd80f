/* Tenant isolation and node-wide outage checks (docs/security.md): regexes that
 * backtrack super-linearly are refused in every position, and every user
 * string Fluent Bit re-parses at start (modify add/set values compiled as
 * regexes, rewrite_tag rules split into tokens, grep rules, parser and
 * multiline regexes) renders into something the agent accepts. The agent's
 * parsing is modelled here after Fluent Bit 5.1.1 (flb_slist_split_tokens and
 * Onigmo's Ruby syntax). */
#include "lp_test.h"
#include "../../pkg/api/api.h"
#include "../../pkg/api/check.h"
#include "../../pkg/api/secretval.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/render/bundle.h"
#include "../../pkg/render/render.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/mem.h"
#include <jansson.h>
#include <oniguruma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P_HDR "{apiVersion: logplane.io/v1alpha1, kind: LogPipeline, "
#define CTRL  "metadata: {name: p1, namespace: logplane-system}, "
#define ROUTE "routes: [{outputRef: main}]"

static json_t *load1(const char *yaml)
{
	struct lp_yaml_docs d;
	json_t *j = NULL;

	if (lp_yaml_load_string(&d, yaml, strlen(yaml)) == LP_OK && d.n == 1) {
		j = d.v[0].root;
		d.v[0].root = NULL;
	}
	lp_yaml_docs_free(&d);
	return j;
}

/* ---------- 5. super-linear regexes ---------- */

/* The (a+)+$ family: exponential backtracking in Onigmo (COOKBOOK §14). */
static const char *const redos_bad[] = {
    "(a+)+$",       "(a*)*$",        "(a|a)*$",        "(a|aa)+$",
    "(\\w+\\s?)+$", "^(\\d+)*\\.$",  "(x+x+)+y",       "^(([a-z])+.)+[A-Z]([a-z])+$",
    "(a|a?)+$",     "([a-zA-Z]+)*$", "(\\w|\\d)+$",    "^(\\s*\\w+\\s*)+:$",
    "(.*a){20}",    "^err: (a+)+b",  "(\\d+\\.?)+\\D", "x(?i)(a+)+y",
};

/* Regexes users write (examples/, the docs): accepted. */
static const char *const redos_good[] = {
    "^(?<time>\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\.\\d{3})\\s+(?<level>[A-Z]+)\\s+"
    "\\[(?<thread>[^\\]]+)\\]\\s+(?<logger>\\S+)\\s+-\\s+(?<message>[\\s\\S]*)$",
    "(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)_"
    "(?<namespace_name>[^_]+)_(?<container_name>.+)-(?<container_id>[a-z0-9]{64})\\.log$",
    "^(?<remote>[^ ]+) \\[(?<ts>[^\\]]+)\\] \"(?<method>\\S+) (?<path>[^\"]*)\" (?<code>\\d{3})$",
    "^(error|warn)$",
    "GET /(healthz|readyz|livez)",
    "(a++)+$",
    "(?>a+)+$",
    "(\\s+\\w+)*$",
    "^([a-z0-9]+\\.)*[a-z]+$",
    "^\\[\\d{4}-\\d{2}-\\d{2} [\\d:]+\\]",
};

static void t_redos_check(void)
{
	char why[512];

	for (size_t i = 0; i < LP_TEST_COUNT(redos_bad); i++) {
		why[0] = 0;
		if (lp_regex_check(redos_bad[i], NULL, why, sizeof(why)) != LP_ERR_INVALID) {
			lp_test_fail(__FILE__, __LINE__, "%s accepted", redos_bad[i]);
			continue;
		}
		LP_CHECK_HAS(why, "backtrack");
		LP_CHECK_HAS(why, "-byte input \""); /* an example input */
	}
	for (size_t i = 0; i < LP_TEST_COUNT(redos_good); i++) {
		lp_err e = lp_regex_check(redos_good[i], NULL, why, sizeof(why));
		if (e != LP_OK)
			lp_test_fail(__FILE__, __LINE__, "%s refused: %s", redos_good[i], why);
	}
}

/* The example input in the message really is slow: more than 100x the steps
 * of an input of the same length that is not built from the pattern. */
static void t_redos_example_is_slow(void)
{
	char why[512];
	const char *q, *e;
	OnigRegex reg;
	OnigErrorInfo ei;
	OnigMatchParam *mp = onig_new_match_param();
	const char *pat = "(\\w+\\s?)+$";
	char in[256];
	size_t n;
	int r;

	LP_CHECK(mp != NULL);
	LP_CHECK_INT(lp_regex_check(pat, NULL, why, sizeof(why)), LP_ERR_INVALID);
	q = strstr(why, "input \"");
	LP_CHECK(q != NULL);
	if (!q || !mp)
		goto out;
	q += 7;
	e = strchr(q, '"');
	LP_CHECK(e != NULL && (size_t)(e - q) < sizeof(in));
	if (!e)
		goto out;
	n = (size_t)(e - q);
	memcpy(in, q, n);
	in[n] = 0;
	LP_CHECK_INT(onig_new(&reg, (const OnigUChar *)pat, (const OnigUChar *)pat + strlen(pat),
	                      ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &ei),
	             ONIG_NORMAL);
	onig_initialize_match_param(mp);
	onig_set_retry_limit_in_search_of_match_param(mp, 10000000);
	r = onig_search_with_param(reg, (const OnigUChar *)in, (const OnigUChar *)in + n,
	                           (const OnigUChar *)in, (const OnigUChar *)in + n, NULL,
	                           ONIG_OPTION_NONE, mp);
	/* more than 10 million steps for about 50 bytes */
	LP_CHECK(r == ONIGERR_RETRY_LIMIT_IN_SEARCH_OVER || r == ONIGERR_RETRY_LIMIT_IN_MATCH_OVER);
	onig_free(reg);
out:
	if (mp)
		onig_free_match_param(mp);
}

/* Every regex position of a LogPipeline refuses the family, naming the field. */
static void t_redos_every_field(void)
{
	static const struct {
		const char *pre, *post; /* the regex goes between, single-quoted YAML */
		const char *field;
	} pos[] = {
	    {P_HDR CTRL "spec: {transforms: [{grep: {include: [{key: log, regex: '",
	     "'}]}}], " ROUTE "}}", "spec.transforms[0].grep.include[0].regex"},
	    {P_HDR CTRL "spec: {transforms: [{grep: {exclude: [{key: log, regex: '",
	     "'}]}}], " ROUTE "}}", "spec.transforms[0].grep.exclude[0].regex"},
	    {P_HDR CTRL "spec: {parse: {format: regex, regex: '", "(?<m>)'}, " ROUTE "}}",
	     "spec.parse.regex"},
	    {P_HDR CTRL "spec: {multiline: {rules: [{state: start_state, regex: '",
	     "', nextState: start_state}]}, " ROUTE "}}", "spec.multiline.rules[0].regex"},
	    {P_HDR CTRL "spec: {routes: [{outputRef: main, match: {field: level, regex: '",
	     "'}}]}}", "spec.routes[0].match.regex"},
	    {P_HDR CTRL "spec: {input: {files: [{name: app, path: /var/log/app/*.log, "
	                "metadataRegex: '",
	     "(?<namespace_name>)'}]}, " ROUTE "}}", "spec.input.files[0].metadataRegex"},
	};
	const char *const some[] = {"(a+)+$", "(a|aa)+$", "(\\w+\\s?)+$", "^(\\d+)*\\.$"};

	for (size_t i = 0; i < LP_TEST_COUNT(pos); i++) {
		for (size_t k = 0; k < LP_TEST_COUNT(some); k++) {
			struct lp_problems pr = {NULL, 0};
			struct lp_pipeline *p = NULL;
			char yaml[1024];
			json_t *j;
			int found = 0;

			snprintf(yaml, sizeof(yaml), "%s%s%s", pos[i].pre, some[k], pos[i].post);
			j = load1(yaml);
			LP_CHECK(j != NULL);
			if (!j)
				continue;
			if (lp_pipeline_parse(&p, j, &pr) != LP_ERR_INVALID)
				printf("# accepted: %s\n", yaml);
			for (size_t m = 0; m < pr.n; m++)
				if (strcmp(pr.v[m].field, pos[i].field) == 0 &&
				    strstr(pr.v[m].message, "backtrack") &&
				    strstr(pr.v[m].message, "input \""))
					found = 1;
			if (!found)
				lp_test_fail(__FILE__, __LINE__,
				             "%s in %s: no problem naming the field", some[k],
				             pos[i].field);
			lp_pipeline_free(p);
			lp_problems_free(&pr);
			json_decref(j);
		}
	}
}

/* ---------- 5. strings Fluent Bit re-parses ---------- */

/* Fluent Bit's flb_slist_split_tokens (5.1.1): space-separated tokens, a token
 * starting with '"' runs to the next unescaped '"'; with max_split > 0 the
 * rest after max_split tokens is one more entry. Returns the count. */
static int fb_tokens(const char *str, int max_split, char out[][512], int cap)
{
	const char *p = str;
	int n = 0;

	while (p && n < cap) {
		const char *start;
		int quoted = 0;
		size_t len;
		while (*p == ' ')
			p++;
		start = p;
		if (*p == '"') {
			quoted = 1;
			start = ++p;
			for (;;) {
				while (*p && *p != '"')
					p++;
				if (!*p || p[-1] != '\\')
					break;
				p++;
			}
		} else {
			while (*p && *p != ' ')
				p++;
		}
		len = (size_t)(p - start);
		if (len >= 512)
			len = 511;
		if (*p) {
			memcpy(out[n], start, len);
			out[n][len] = 0;
			p++;
			while (*p == ' ')
				p++;
		} else {
			if (p == start)
				break;
			memcpy(out[n], start, len);
			out[n][len] = 0;
			p = NULL;
		}
		(void)quoted;
		n++;
		if (!p)
			break;
		if (max_split > 0 && n >= max_split) {
			while (*p == ' ')
				p++;
			if (*p && n < cap) {
				snprintf(out[n], 512, "%s", p);
				n++;
			}
			break;
		}
	}
	return n;
}

/* 1 when Onigmo (as Oniguruma, Ruby syntax) compiles s. */
static int compiles(const char *s)
{
	OnigRegex reg;
	OnigErrorInfo ei;
	int r = onig_new(&reg, (const OnigUChar *)s, (const OnigUChar *)s + strlen(s),
	                 ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &ei);
	if (r == ONIG_NORMAL)
		onig_free(reg);
	return r == ONIG_NORMAL;
}

struct fbcheck {
	int modify_values; /* modify add/set entries checked */
	int rewrite_rules;
	int grep_rules;
	int regexes;
};

static void check_strings(const json_t *v, const char *what,
                          int (*fn)(const char *, struct fbcheck *), struct fbcheck *c)
{
	size_t i;
	const json_t *it;

	if (json_is_string(v)) {
		if (!fn(json_string_value(v), c))
			lp_test_fail(__FILE__, __LINE__, "%s \"%s\" breaks Fluent Bit at start",
			             what, json_string_value(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, it) check_strings(it, what, fn, c);
	}
}

static int modify_ok(const char *s, struct fbcheck *c)
{
	char tok[4][512];
	int n = fb_tokens(s, 2, tok, 4);
	c->modify_values++;
	return n == 2 && compiles(tok[1]); /* key, value: the value is compiled */
}

static int rewrite_ok(const char *s, struct fbcheck *c)
{
	char tok[6][512];
	int n = fb_tokens(s, 4, tok, 6);
	c->rewrite_rules++;
	return n == 4 && compiles(tok[1]);
}

static int grep_ok(const char *s, struct fbcheck *c)
{
	const char *sp = strchr(s, ' ');
	c->grep_rules++;
	return sp && compiles(sp + 1);
}

static int regex_ok(const char *s, struct fbcheck *c)
{
	c->regexes++;
	return compiles(s);
}

/* Walks a rendered Fluent Bit YAML document: every filter and parser. */
static void check_fb(const json_t *v, struct fbcheck *c)
{
	const char *k;
	const json_t *it;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, it) check_fb(it, c);
		return;
	}
	if (!json_is_object(v))
		return;
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		if (name && strcmp(name, "modify") == 0) {
			check_strings(json_object_get(v, "add"), "modify add", modify_ok, c);
			check_strings(json_object_get(v, "set"), "modify set", modify_ok, c);
		} else if (name && strcmp(name, "rewrite_tag") == 0) {
			check_strings(json_object_get(v, "rule"), "rewrite_tag rule", rewrite_ok,
			              c);
		} else if (name && strcmp(name, "grep") == 0) {
			check_strings(json_object_get(v, "regex"), "grep regex", grep_ok, c);
			check_strings(json_object_get(v, "exclude"), "grep exclude", grep_ok, c);
		}
		if (json_is_string(json_object_get(v, "regex")) &&
		    !(name && strcmp(name, "grep") == 0)) {
			const char *re = json_string_value(json_object_get(v, "regex"));
			char buf[4096];
			size_t n = strlen(re);
			/* multiline rules carry "/regex/" */
			if (n >= 2 && re[0] == '/' && re[n - 1] == '/' && n - 2 < sizeof(buf)) {
				memcpy(buf, re + 1, n - 2);
				buf[n - 2] = 0;
				re = buf;
			}
			if (!regex_ok(re, c))
				lp_test_fail(__FILE__, __LINE__, "regex \"%s\" does not compile",
				             re);
		}
		if (json_is_string(json_object_get(v, "tag_regex")))
			check_strings(json_object_get(v, "tag_regex"), "tag_regex", regex_ok, c);
	}
	json_object_foreach((json_t *)v, k, it) check_fb(it, c);
}

/* The hostile corpus: values that validate but that Fluent Bit 5.1.1 parses its
 * own way (COOKBOOK §15), and the same shapes in regex positions. */
static const char *const corpus_values[] = {
    "*gold", "+1",       "?x",       "(gold", "gold)", "a{2,1}", "[x",     "x|",  "\\\\",     "$",
    "^",     "\\\"gold", "gold\\\"", "a b",   " lead", "'q",     "x\\\\y", "{1}", "ok-value",
};
static const char *const corpus_regexes[] = {
    "\\\"gold", "\\\"", "\\\" x", "'gold", "a b", "^\\\"(x|y)\\\"$", "x\\\\ y", "\\\\\\\"",
};

static lp_err write_corpus(FILE *f)
{
	fprintf(f, "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: main, "
	           "namespace: logplane-system}\nspec: {type: stdout}\n");
	for (size_t i = 0; i < LP_TEST_COUNT(corpus_values); i++) {
		for (int ow = 0; ow < 2; ow++)
			fprintf(f,
			        "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\n"
			        "metadata: {name: add-%zu-%d, namespace: logplane-system}\n"
			        "spec:\n  transforms:\n  - addFields: [{key: k, value: \"%s\"}]\n"
			        "    overwrite: %s\n  routes: [{outputRef: main}]\n",
			        i, ow, corpus_values[i], ow ? "true" : "false");
	}
	for (size_t i = 0; i < LP_TEST_COUNT(corpus_regexes); i++) {
		const char *re = corpus_regexes[i];
		fprintf(f,
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\n"
		        "metadata: {name: re-%zu, namespace: logplane-system}\n"
		        "spec:\n"
		        "  input: {files: [{name: f%zu, path: /var/log/x%zu/*.log, metadataRegex: "
		        "\"(?<namespace_name>[a-z]+)_(?<pod_name>[a-z]+)_(?<container_name>[a-z]+)%"
		        "s\"}]}\n"
		        "  parse: {format: regex, regex: \"(?<m>x)%s\"}\n"
		        "  multiline: {rules: [{state: start_state, regex: \"%s\", nextState: "
		        "start_state}]}\n"
		        "  transforms:\n  - grep: {include: [{key: log, regex: \"%s\"}], exclude: "
		        "[{key: msg, regex: \"%s\"}]}\n"
		        "  routes: [{outputRef: main, match: {field: level, regex: \"%s\"}}]\n",
		        i, i, i, re, re, re, re, re, re);
	}
	return ferror(f) ? LP_ERR_IO : LP_OK;
}

static void t_hostile_corpus_render(void)
{
	char path[] = "/tmp/lp-sec-corpusXXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	const char *paths[1] = {path};
	struct lp_render_bundle b;
	struct lp_rendered r;
	struct fbcheck c = {0};
	size_t rendered_pipelines;

	LP_CHECK(f != NULL);
	if (!f)
		return;
	LP_CHECK_INT(write_corpus(f), LP_OK);
	fclose(f);
	memset(&r, 0, sizeof(r));
	LP_CHECK_INT(lp_render_bundle_load(&b, paths, 1, NULL), LP_OK);
	LP_CHECK_INT(lp_render_bundle_render(&r, &b, NULL), LP_OK);
	/* anything refused names a field */
	for (size_t i = 0; i < r.n_problems; i++) {
		printf("# left out: %s/%s %s: %s\n", r.problems[i].ns, r.problems[i].name,
		       r.problems[i].field ? r.problems[i].field : "", r.problems[i].message);
		if (!r.problems[i].field || !*r.problems[i].field)
			lp_test_fail(__FILE__, __LINE__, "%s/%s left out without a field: %s",
			             r.problems[i].ns, r.problems[i].name, r.problems[i].message);
	}
	rendered_pipelines = b.n_pipelines;
	for (size_t i = 0; i < b.n_pipelines; i++)
		if (!b.pipeline_ok[i])
			rendered_pipelines--;
	/* most of the corpus is valid input and must render, not be refused */
	LP_CHECK(rendered_pipelines >= b.n_pipelines - 4);
	for (size_t i = 0; i < r.shipper.n_files; i++) {
		const struct lp_render_file *rf = &r.shipper.files[i];
		struct lp_yaml_docs d;
		if (!strstr(rf->name, ".yaml"))
			continue;
		if (lp_yaml_load_string(&d, rf->data, rf->len) != LP_OK || d.n != 1) {
			lp_test_fail(__FILE__, __LINE__, "%s does not parse", rf->name);
		} else {
			check_fb(d.v[0].root, &c);
		}
		lp_yaml_docs_free(&d);
	}
	printf("# %zu files, modify %d rewrite %d grep %d regex %d\n", r.shipper.n_files,
	       c.modify_values, c.rewrite_rules, c.grep_rules, c.regexes);
	/* every position was exercised */
	LP_CHECK(c.modify_values >= 2); /* the plain values; the rest goes through Lua */
	/* grep include, exclude, and each route's match (a grep in front of the
	 * route's output; a rewrite_tag rule, when one is rendered, is checked too) */
	LP_CHECK(c.grep_rules >= 3 * (int)LP_TEST_COUNT(corpus_regexes));
	LP_CHECK(c.regexes >= 2 * (int)LP_TEST_COUNT(corpus_regexes));
	lp_rendered_free(&r);
	lp_render_bundle_free(&b);
	unlink(path);
}

/* ---------- 1. plain http only to loopback (or behind an operator flag) ---------- */

/* Parses and validates one object; returns the problems (caller frees). */
static void check_one(const char *yaml, const struct lp_world *w, struct lp_problems *pr)
{
	json_t *j = load1(yaml);
	const char *kind = j ? json_string_value(json_object_get(j, "kind")) : NULL;

	LP_CHECK(j != NULL);
	if (!j)
		return;
	if (kind && strcmp(kind, "LogOutput") == 0) {
		struct lp_output *o = NULL;
		if (lp_output_parse(&o, j, pr) == LP_OK && o &&
		    lp_output_validate(o, w, pr) == LP_ERR_NOMEM)
			lp_test_fail(__FILE__, __LINE__, "no memory");
		lp_output_free(o);
	} else {
		struct lp_pipeline *p = NULL;
		if (lp_pipeline_parse(&p, j, pr) == LP_OK && p &&
		    lp_pipeline_validate(p, w, pr) == LP_ERR_NOMEM)
			lp_test_fail(__FILE__, __LINE__, "no memory");
		lp_pipeline_free(p);
	}
	json_decref(j);
}

static int has_problem(const struct lp_problems *pr, const char *field, const char *msg)
{
	for (size_t i = 0; i < pr->n; i++)
		if (strcmp(pr->v[i].field, field) == 0 && (!msg || strstr(pr->v[i].message, msg)))
			return 1;
	return 0;
}

#define O_HDR "{apiVersion: logplane.io/v1alpha1, kind: LogOutput, "
#define OTEAM "metadata: {name: o1, namespace: team-a}, "
#define KIN   "spec: {type: kinesis, kinesis: {stream: s}, aws: {region: us-east-1, "
#define CREDS "credentials: {secretRef: {name: aws}}"

static void t_plain_http_refused(void)
{
	static const struct {
		const char *yaml;
		const char *field; /* NULL: accepted */
	} cases[] = {
	    {O_HDR OTEAM KIN "endpoint: 'http://collector.example.com:4567', " CREDS "}}}",
	     "spec.aws.endpoint"},
	    {O_HDR OTEAM KIN "endpoint: 'http://10.0.0.7', " CREDS "}}}", "spec.aws.endpoint"},
	    {O_HDR OTEAM KIN "endpoint: 'http://127.0.0.1:4567', " CREDS "}}}", NULL},
	    {O_HDR OTEAM KIN "endpoint: 'http://localhost:4567', " CREDS "}}}", NULL},
	    {O_HDR OTEAM KIN "endpoint: 'http://[::1]:4567', " CREDS "}}}", NULL},
	    {O_HDR OTEAM KIN "endpoint: 'https://collector.example.com', " CREDS "}}}", NULL},
	    {O_HDR OTEAM "spec: {type: http, http: {host: evil.example.com, tls: {enabled: false}, "
	                 "headers: [{name: X-Key, valueFrom: {secretKeyRef: {name: db, key: "
	                 "password}}}]}}}",
	     "spec.http.tls.enabled"},
	    {O_HDR OTEAM "spec: {type: http, http: {host: evil.example.com, tls: {enabled: false}, "
	                 "auth: {secretRef: {name: db}}}}}",
	     "spec.http.tls.enabled"},
	    {O_HDR OTEAM "spec: {type: loki, loki: {host: loki.example.com, tls: {enabled: false}, "
	                 "auth: {secretRef: {name: db}}}}}",
	     "spec.loki.tls.enabled"},
	    {O_HDR OTEAM "spec: {type: elasticsearch, elasticsearch: {host: es.example.com, tls: "
	                 "{enabled: false}, auth: {secretRef: {name: db}}}}}",
	     "spec.elasticsearch.tls.enabled"},
	    {O_HDR OTEAM "spec: {type: elasticsearch, elasticsearch: {host: 127.0.0.1, tls: "
	                 "{enabled: false}, auth: {secretRef: {name: db}}}}}",
	     NULL},
	    /* no credentials: plain http stays allowed */
	    {O_HDR OTEAM
	     "spec: {type: http, http: {host: evil.example.com, tls: {enabled: false}}}}",
	     NULL},
	};
	struct lp_world w = {0};

	for (int allow = 0; allow < 2; allow++) {
		w.allow_plain_http = allow;
		for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
			struct lp_problems pr = {NULL, 0};
			check_one(cases[i].yaml, &w, &pr);
			if (cases[i].field && !allow &&
			    !has_problem(&pr, cases[i].field, "must use TLS (https)"))
				lp_test_fail(__FILE__, __LINE__, "case %zu: no problem on %s", i,
				             cases[i].field);
			if ((!cases[i].field || allow) && pr.n)
				lp_test_fail(__FILE__, __LINE__, "case %zu (allow=%d): %s: %s", i,
				             allow, pr.v[0].field, pr.v[0].message);
			lp_problems_free(&pr);
		}
	}
}

/* ---------- 4. the shared aggregator is the control namespace's ---------- */

static void t_aggregator_tenant(void)
{
	struct lp_world w = {0};
	struct lp_problems pr = {NULL, 0};
	static const char *const fields[] = {"spec.aggregator.engine", "spec.aggregator.replicas",
	                                     "spec.aggregator.storageSize"};

	check_one(P_HDR "metadata: {name: p, namespace: aaa-tenant}, spec: {aggregator: {engine: "
	                "fluentbit, replicas: 20, storageSize: 64Ti}, routes: [{outputRef: o}]}}",
	          &w, &pr);
	for (size_t i = 0; i < LP_TEST_COUNT(fields); i++)
		if (!has_problem(&pr, fields[i], "the aggregator is shared"))
			lp_test_fail(__FILE__, __LINE__, "no problem on %s", fields[i]);
	lp_problems_free(&pr);
	/* a tenant may ship through it */
	check_one(P_HDR "metadata: {name: p, namespace: aaa-tenant}, spec: {aggregator: {enabled: "
	                "true}, routes: [{outputRef: o}]}}",
	          &w, &pr);
	LP_CHECK(!has_problem(&pr, "spec.aggregator.engine", NULL));
	LP_CHECK(!has_problem(&pr, "spec.aggregator", NULL));
	lp_problems_free(&pr);
	/* the control namespace sets it */
	check_one(P_HDR CTRL
	          "spec: {aggregator: {engine: fluentd, replicas: 3, storageSize: 20Gi}, "
	          "routes: [{outputRef: o}]}}",
	          &w, &pr);
	LP_CHECK(!has_problem(&pr, "spec.aggregator.engine", NULL));
	LP_CHECK(!has_problem(&pr, "spec.aggregator.replicas", NULL));
	lp_problems_free(&pr);
}

/* A tenant named to sort first does not decide the engine. */
static void t_aggregator_engine_render(void)
{
	char path[] = "/tmp/lp-sec-aggXXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	const char *paths[1] = {path};
	struct lp_render_bundle b;
	struct lp_rendered r;

	LP_CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: o, "
	           "namespace: aaa-tenant}\nspec: {type: stdout}\n---\n"
	           "apiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: {name: a, "
	           "namespace: aaa-tenant}\nspec: {aggregator: {enabled: true}, routes: "
	           "[{outputRef: o}]}\n---\n"
	           "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: o, "
	           "namespace: logplane-system}\nspec: {type: stdout}\n---\n"
	           "apiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: {name: p, "
	           "namespace: logplane-system}\nspec: {aggregator: {engine: fluentd}, routes: "
	           "[{outputRef: o}]}\n");
	fclose(f);
	memset(&r, 0, sizeof(r));
	LP_CHECK_INT(lp_render_bundle_load(&b, paths, 1, NULL), LP_OK);
	LP_CHECK_INT(lp_render_bundle_render(&r, &b, NULL), LP_OK);
	LP_CHECK_INT(r.n_problems, 0);
	LP_CHECK(r.has_aggregator);
	LP_CHECK_INT(r.aggregator_engine, LP_ENGINE_FLUENTD);
	lp_rendered_free(&r);
	lp_render_bundle_free(&b);
	unlink(path);
}

/* ---------- 2, 5. Secret values checked for where they go ---------- */

static void t_secret_values(void)
{
	static const char pem[] =
	    "-----BEGIN CERTIFICATE-----\n"
	    "MIIBszCCAVmgAwIBAgIUZ0MMi3pH2v0dG9d2e1W8bE4l5XcwCgYIKoZIzj0EAwIw\n"
	    "-----END CERTIFICATE-----\n";
	static const char good_pem[] = /* a self-signed P-256 certificate, CN=x */
	    "-----BEGIN CERTIFICATE-----\n"
	    "MIIBbTCCAROgAwIBAgIUJz97mBj051b7U7Mi2c/yaip13jgwCgYIKoZIzj0EAwIw\n"
	    "DDEKMAgGA1UEAwwBeDAeFw0yNjEyMDMxMDE5MDdaFw0zNjExMzAxMDE5MDdaMAwx\n"
	    "CjAIBgNVBAMMAXgwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARPydGGb8YkHXsy\n"
	    "62WFpWNb5aQKWs5k3659lgg2DmYSNHDigBu9+pGa0C5OHI+Jy/jcRV8h5q+C2+PM\n"
	    "sTGTGhp8o1MwUTAdBgNVHQ4EFgQUQZjxXYzaQVvTL+dHjtAjQ9mbAAgwHwYDVR0j\n"
	    "BBgwFoAUQZjxXYzaQVvTL+dHjtAjQ9mbAAgwDwYDVR0TAQH/BAUwAwEB/zAKBggq\n"
	    "hkjOPQQDAgNIADBFAiEAqBm4H+A5WMCoikzjBRZ2b8qtyy/GpJLraJUO9lQLFPcC\n"
	    "IF6XVvmad+ZiTX8V0T0bGS7LW/Gzjoekaw+K86TFhlFf\n"
	    "-----END CERTIFICATE-----\n";
	static const struct {
		enum lp_secret_use use;
		const char *v;
		const char *why; /* NULL: accepted */
	} cases[] = {
	    {LP_SECRET_AWS_KEY_ID, "AKIAIOSFODNN7EXAMPLE", NULL},
	    {LP_SECRET_AWS_KEY_ID, "AKIA\r\nX-Injected: 1", "line break"},
	    {LP_SECRET_AWS_KEY_ID, "db-password!", "letters and digits"},
	    {LP_SECRET_AWS_SECRET, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", NULL},
	    {LP_SECRET_AWS_SECRET, "a b", "space"},
	    {LP_SECRET_AWS_TOKEN, "tok\x01en", "control character"},
	    {LP_SECRET_HEADER, "Bearer abc", NULL},
	    {LP_SECRET_HEADER, "abc\r\nHost: evil", "line break"},
	    {LP_SECRET_USERNAME, "us:er", "':'"},
	    {LP_SECRET_PASSWORD, "", "empty"},
	    {LP_SECRET_SHARED_KEY, "\n", "empty"},
	    {LP_SECRET_HTTPS_URL, "https://hooks.example.com/services/T0/B0/x\n", NULL},
	    {LP_SECRET_HTTPS_URL, "hooks.example.com/services/T0", "https://"},
	    {LP_SECRET_HTTPS_URL, "http://hooks.example.com/x", "https://"},
	    {LP_SECRET_CA_PEM, "not a certificate", "PEM certificate"},
	    {LP_SECRET_CA_PEM, pem, "PEM certificate"}, /* truncated body: OpenSSL refuses it */
	    {LP_SECRET_CA_PEM, good_pem, NULL},
	};

	for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
		const char *why =
		    lp_secret_value_problem(cases[i].use, cases[i].v, strlen(cases[i].v));
		if (!cases[i].why && why)
			lp_test_fail(__FILE__, __LINE__, "case %zu refused: %s", i, why);
		else if (cases[i].why && (!why || !strstr(why, cases[i].why)))
			lp_test_fail(__FILE__, __LINE__, "case %zu: %s, want \"%s\"", i,
			             why ? why : "accepted", cases[i].why);
	}
	LP_CHECK(lp_secret_value_problem(LP_SECRET_HEADER, NULL, 0) != NULL);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"redos_check", t_redos_check},
	    {"redos_example_is_slow", t_redos_example_is_slow},
	    {"redos_every_field", t_redos_every_field},
	    {"hostile_corpus_render", t_hostile_corpus_render},
	    {"plain_http_refused", t_plain_http_refused},
	    {"aggregator_tenant", t_aggregator_tenant},
	    {"aggregator_engine_render", t_aggregator_engine_render},
	    {"secret_values", t_secret_values},
	};
	return lp_test_main("security", tests, LP_TEST_COUNT(tests));
}
