/* Renderer tests: schema check of every emitted key against the trimmed
 * Fluent Bit 5.1.1 property table, golden files (tests/data/render/cases and
 * examples/, UPDATE_GOLDEN=1 rewrites them), tag and tenancy invariants,
 * determinism, environment coverage, splitting, and the injection corpus. */
#include "lp_test.h"
#include "../../pkg/api/api.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/render/bundle.h"
#include "../../pkg/render/fields.h"
#include "../../pkg/render/render.h"
#include "../../pkg/render/internal.h" /* the cache's entry count */
#include "../../pkg/util/buf.h"
#include "../../pkg/util/mem.h"
#include <ctype.h>
#include <dirent.h>
#include <fnmatch.h>
#include <jansson.h>
#include <oniguruma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *top(void)
{
	const char *t = getenv("LP_TOP");
	return t && *t ? t : ".";
}

static char *path_of(const char *rel)
{
	struct lp_buf b;

	lp_buf_init(&b, 0);
	if (lp_buf_addf(&b, "%s/%s", top(), rel))
		return NULL;
	return lp_buf_take(&b);
}

/* ------------------------------------------------------------------ */
/* the 5.1.1 property schema                                           */

static json_t *schema; /* loaded once: {"inputs": {name: {key: 1}}, ...} */

static json_t *schema_get(void)
{
	json_t *src, *plugins, *p;
	char *file;
	size_t i;

	if (schema)
		return schema;
	file = path_of("tests/data/fluent-bit-5.1.1-props.json");
	src = file ? json_load_file(file, 0, NULL) : NULL;
	lp_free(file);
	if (!src)
		return NULL;
	schema = json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}, s:{}, s:{}}", "input", "filter",
	                   "output", "service", "parser", "multiline_parser", "output_core");
	plugins = json_object_get(src, "plugins");
	json_array_foreach(plugins, i, p)
	{
		json_t *set = json_object(), *prop;
		size_t j;
		const char *kind = json_string_value(json_object_get(p, "kind"));
		json_array_foreach(json_object_get(p, "properties"), j, prop)
		{
			char low[128];
			const char *n = json_string_value(json_object_get(prop, "name"));
			size_t k;
			for (k = 0; n[k] && k < sizeof(low) - 1; k++)
				low[k] = (char)tolower((unsigned char)n[k]);
			low[k] = '\0';
			json_object_set_new(set, low, json_true());
		}
		json_object_set_new(set, "name", json_true());
		json_object_set_new(json_object_get(schema, kind),
		                    json_string_value(json_object_get(p, "name")), set);
	}
	{
		const char *lists[] = {"service", "parser", "multiline_parser"};
		for (size_t l = 0; l < 3; l++) {
			json_t *v;
			json_array_foreach(json_object_get(src, lists[l]), i, v)
			    json_object_set_new(json_object_get(schema, lists[l]),
			                        json_string_value(v), json_true());
		}
		json_array_foreach(json_object_get(src, "output_core"), i, p)
		    json_object_set_new(json_object_get(schema, "output_core"),
		                        json_string_value(json_object_get(p, "name")), json_true());
	}
	json_decref(src);
	return schema;
}

static int schema_has(const char *kind, const char *plugin, const char *key)
{
	json_t *s = schema_get(), *set;
	char low[128];
	size_t k;

	for (k = 0; key[k] && k < sizeof(low) - 1; k++)
		low[k] = (char)tolower((unsigned char)key[k]);
	low[k] = '\0';
	if (!s)
		return 0;
	if (!plugin)
		return json_object_get(json_object_get(s, kind), low) != NULL;
	set = json_object_get(json_object_get(s, kind), plugin);
	if (!set)
		return 0;
	if (json_object_get(set, low))
		return 1;
	return strcmp(kind, "output") == 0 &&
	       json_object_get(json_object_get(s, "output_core"), low);
}

/* ------------------------------------------------------------------ */
/* rendered YAML checks                                                */

/* Parses one rendered Fluent Bit YAML file; NULL (and a failure) when it does not parse. */
static json_t *reparse(const struct lp_render_file *f)
{
	struct lp_yaml_docs docs = {0};
	json_t *root = NULL;

	if (lp_yaml_load_string(&docs, f->data, f->len) != LP_OK || docs.n != 1) {
		lp_test_fail(__FILE__, __LINE__, "%s does not parse back: %s", f->name,
		             docs.error ? docs.error : "not one document");
	} else {
		root = json_incref(docs.v[0].root);
	}
	lp_yaml_docs_free(&docs);
	return root;
}

static int is_hex12(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Filters may only match: the shared sources, one namespace of them, route
 * copies o.<h>.*, or their own pipeline prefix [pa].<h>.* . */
static int match_allowed(const char *m)
{
	if (!strcmp(m, "kube.*") || !strcmp(m, "system.kube.*") || !strcmp(m, "system.*"))
		return 1;
	if (!strncmp(m, "kube.", 5)) {
		const char *ns = m + 5, *dot = strchr(ns, '.');
		return dot && !strcmp(dot, ".*") && dot > ns;
	}
	if ((m[0] == 'o' || m[0] == 'p' || m[0] == 'a') && m[1] == '.' && strlen(m) >= 16 &&
	    is_hex12(m + 2) && m[14] == '.')
		return m[strlen(m) - 1] == '*';
	return 0;
}

struct check_ctx {
	json_t *aliases, *emitters;
	const struct lp_rendered *r;
};

static void check_plugin(struct check_ctx *cx, const char *kind, const char *file, json_t *e)
{
	const char *name = json_string_value(json_object_get(e, "name")), *key;
	json_t *v;

	if (!name) {
		lp_test_fail(__FILE__, __LINE__, "%s: a %s without name", file, kind);
		return;
	}
	if (!strcmp(kind, "input") || !strcmp(kind, "filter") || !strcmp(kind, "output"))
		if (!schema_has(kind, name, "name"))
			lp_test_fail(__FILE__, __LINE__, "%s: unknown %s plugin %s", file, kind,
			             name);
	json_object_foreach(e, key, v)
	{
		int ok = (!strcmp(kind, "parser") || !strcmp(kind, "multiline_parser"))
		             ? schema_has(kind, NULL, key)
		             : schema_has(kind, name, key);
		if ((!strcmp(kind, "input") || !strcmp(kind, "output")) &&
		    !strcmp(key, "processors")) {
			/* YAML-only section: filters run as processors, per signal */
			json_t *sig;
			const char *sk;
			json_object_foreach(v, sk, sig)
			{
				size_t i;
				json_t *pe;
				if (strcmp(sk, "logs") != 0)
					lp_test_fail(__FILE__, __LINE__, "%s: processors.%s", file,
					             sk);
				json_array_foreach(sig, i, pe)
				{
					const char *pk;
					json_t *pv;
					const char *pn =
					    json_string_value(json_object_get(pe, "name"));
					json_object_foreach(
					    pe, pk, pv) if (!pn || !schema_has("filter", pn, pk) ||
					                    !strcmp(pk, "match") ||
					                    !strcmp(pk, "match_regex"))
					    lp_test_fail(__FILE__, __LINE__,
					                 "%s: processor %s key %s", file,
					                 pn ? pn : "?", pk);
				}
			}
			continue;
		}
		if (!ok)
			lp_test_fail(__FILE__, __LINE__,
			             "%s: %s %s: key \"%s\" is not in the 5.1.1 schema", file, kind,
			             name, key);
		if (json_is_string(v) && strstr(json_string_value(v), "${")) {
			const char *p = json_string_value(v);
			while ((p = strstr(p, "${")) != NULL) {
				const char *end = strchr(p, '}');
				char var[128];
				size_t n = end ? (size_t)(end - p - 2) : 0;
				int found = 0;
				if (!end || n >= sizeof(var)) {
					lp_test_fail(__FILE__, __LINE__, "%s: bad ${ in %s", file,
					             key);
					break;
				}
				memcpy(var, p + 2, n);
				var[n] = '\0';
				found = !strcmp(var, "NODE_IP") || !strcmp(var, "NODE_NAME");
				for (size_t i = 0; !found && i < cx->r->n_env; i++)
					found = !strcmp(cx->r->env[i].var, var);
				if (!found)
					lp_test_fail(__FILE__, __LINE__, "%s: ${%s} is not in env",
					             file, var);
				p = end;
			}
		}
	}
	if (!strcmp(kind, "filter") || !strcmp(kind, "output")) {
		const char *m = json_string_value(json_object_get(e, "match"));
		const char *mr = json_string_value(json_object_get(e, "match_regex"));
		if (!m && !mr)
			lp_test_fail(__FILE__, __LINE__, "%s: %s %s without match", file, kind,
			             name);
		if (!strcmp(kind, "filter") && m && !match_allowed(m))
			lp_test_fail(__FILE__, __LINE__, "%s: filter %s matches \"%s\"", file, name,
			             m);
		if (!strcmp(kind, "filter") && mr && strncmp(mr, "^kube\\.", 7) != 0)
			lp_test_fail(__FILE__, __LINE__, "%s: filter %s match_regex \"%s\"", file,
			             name, mr);
	}
	if (!strcmp(kind, "filter") && !strcmp(name, "grep") && !json_object_get(e, "logical_op"))
		lp_test_fail(__FILE__, __LINE__, "%s: grep without logical_op", file);
	if (!strcmp(kind, "filter") && !strcmp(name, "rewrite_tag")) {
		json_t *rules = json_object_get(e, "rule"), *one;
		size_t i;
		const char *em = json_string_value(json_object_get(e, "emitter_name"));
		if (json_is_string(rules)) {
			rules = json_pack("[O]", rules);
		} else {
			json_incref(rules);
		}
		json_array_foreach(rules, i, one)
		{
			const char *s = json_string_value(one);
			int fields = 0, in = 0;
			for (const char *p = s; p && *p; p++) {
				if (*p != ' ' && !in)
					fields++;
				in = *p != ' ';
			}
			if (fields != 4 || strcmp(s + strlen(s) - 5, " true") != 0)
				lp_test_fail(__FILE__, __LINE__, "%s: rewrite_tag rule \"%s\"",
				             file, s);
		}
		json_decref(rules);
		if (!em)
			lp_test_fail(__FILE__, __LINE__, "%s: rewrite_tag without emitter_name",
			             file);
		else if (json_object_get(cx->emitters, em))
			lp_test_fail(__FILE__, __LINE__, "%s: emitter_name %s used twice", file,
			             em);
		else
			json_object_set_new(cx->emitters, em, json_true());
	}
	if ((v = json_object_get(e, "alias")) != NULL) {
		if (json_object_get(cx->aliases, json_string_value(v)))
			lp_test_fail(__FILE__, __LINE__, "%s: alias %s used twice", file,
			             json_string_value(v));
		json_object_set_new(cx->aliases, json_string_value(v), json_true());
	}
}

static void check_list(struct check_ctx *cx, const char *kind, const char *file, json_t *list)
{
	size_t i;
	json_t *e;

	if (!list)
		return;
	if (!json_is_array(list)) {
		lp_test_fail(__FILE__, __LINE__, "%s: %s is not a list", file, kind);
		return;
	}
	json_array_foreach(list, i, e) check_plugin(cx, kind, file, e);
}

/* Checks every Fluent Bit file of a rendered config; returns the number of plugin entries. */
static size_t check_fb_config(const struct lp_rendered *r, const struct lp_rendered_config *c)
{
	struct check_ctx cx = {json_object(), json_object(), r};
	size_t n = 0;

	for (size_t f = 0; f < c->n_files; f++) {
		json_t *root, *v;
		const char *key;
		size_t l = strlen(c->files[f].name);
		if (l < 5 || strcmp(c->files[f].name + l - 5, ".yaml") != 0)
			continue; /* logplane.lua */
		root = reparse(&c->files[f]);
		if (!root)
			continue;
		if (c->files[f].len > LP_RENDER_SPLIT_BYTES)
			lp_test_fail(__FILE__, __LINE__, "%s is %zu bytes", c->files[f].name,
			             c->files[f].len);
		json_object_foreach(root, key, v)
		{
			if (!strcmp(key, "service")) {
				const char *sk;
				json_t *sv;
				json_object_foreach(v, sk, sv) if (!schema_has("service", NULL, sk))
				    lp_test_fail(__FILE__, __LINE__, "service key %s unknown", sk);
			} else if (!strcmp(key, "parsers")) {
				check_list(&cx, "parser", c->files[f].name, v);
			} else if (!strcmp(key, "multiline_parsers")) {
				check_list(&cx, "multiline_parser", c->files[f].name, v);
			} else if (!strcmp(key, "pipeline")) {
				check_list(&cx, "input", c->files[f].name,
				           json_object_get(v, "inputs"));
				check_list(&cx, "filter", c->files[f].name,
				           json_object_get(v, "filters"));
				check_list(&cx, "output", c->files[f].name,
				           json_object_get(v, "outputs"));
				n += json_array_size(json_object_get(v, "inputs")) +
				     json_array_size(json_object_get(v, "filters")) +
				     json_array_size(json_object_get(v, "outputs"));
			} else if (!strcmp(key, "includes")) {
				size_t i;
				json_t *inc;
				json_array_foreach(v, i, inc)
				{
					int found = 0;
					for (size_t g = 0; g < c->n_files; g++)
						found |= !strcmp(c->files[g].name,
						                 json_string_value(inc));
					if (!found)
						lp_test_fail(__FILE__, __LINE__,
						             "include %s not rendered",
						             json_string_value(inc));
				}
			} else {
				lp_test_fail(__FILE__, __LINE__, "%s: unknown top-level key %s",
				             c->files[f].name, key);
			}
		}
		json_decref(root);
	}
	json_decref(cx.aliases);
	json_decref(cx.emitters);
	return n;
}

static void check_rendered(const struct lp_rendered *r)
{
	check_fb_config(r, &r->shipper);
	if (r->has_aggregator && r->aggregator_engine == LP_ENGINE_FLUENTBIT)
		check_fb_config(r, &r->aggregator);
	for (size_t i = 1; i < r->n_env; i++)
		if (strcmp(r->env[i - 1].var, r->env[i].var) >= 0)
			lp_test_fail(__FILE__, __LINE__, "env not sorted/unique at %s",
			             r->env[i].var);
	for (size_t i = 0; i < r->n_env; i++) {
		int used = 0;
		/* AWS keys go through per-output profiles, never the process env */
		if (!strncmp(r->env[i].var, "AWS_", 4))
			lp_test_fail(__FILE__, __LINE__, "env %s: AWS keys in the environment",
			             r->env[i].var);
		for (size_t f = 0; !used && f < r->shipper.n_files; f++)
			used = strstr(r->shipper.files[f].data, r->env[i].var) != NULL;
		for (size_t f = 0; !used && f < r->aggregator.n_files; f++)
			used = strstr(r->aggregator.files[f].data, r->env[i].var) != NULL;
		if (!used)
			lp_test_fail(__FILE__, __LINE__, "env %s is not used by any file",
			             r->env[i].var);
	}
	for (size_t i = 0; i < r->n_aws_profiles; i++) {
		const char *pr = r->aws_profiles[i].profile;
		int used = 0;
		if (strncmp(pr, "lp-", 3) || !is_hex12(pr + 3))
			lp_test_fail(__FILE__, __LINE__, "profile name \"%s\"", pr);
		if (i > 0 && strcmp(r->aws_profiles[i - 1].profile, pr) >= 0)
			lp_test_fail(__FILE__, __LINE__, "profiles not sorted/unique at %s", pr);
		for (size_t f = 0; !used && f < r->shipper.n_files; f++)
			used = strstr(r->shipper.files[f].data, pr) != NULL;
		for (size_t f = 0; !used && f < r->aggregator.n_files; f++)
			used = strstr(r->aggregator.files[f].data, pr) != NULL;
		if (!used)
			lp_test_fail(__FILE__, __LINE__, "profile %s is not used by any file", pr);
	}
	if (strlen(r->shipper.hash) != 64)
		lp_test_fail(__FILE__, __LINE__, "shipper hash \"%s\"", r->shipper.hash);
}

/* ------------------------------------------------------------------ */
/* golden files                                                        */

static lp_err golden_text(struct lp_buf *b, const struct lp_rendered *r)
{
	const struct lp_rendered_config *cfgs[2] = {&r->shipper, &r->aggregator};
	const char *labels[2] = {"shipper", "aggregator"};
	lp_err err = LP_OK;

	for (int c = 0; c < 2 && !err; c++) {
		for (size_t i = 0; !err && i < cfgs[c]->n_files; i++) {
			const struct lp_render_file *f = &cfgs[c]->files[i];
			if (f->len > 64 * 1024) {
				err = lp_buf_addf(b, "== %s/%s: %zu bytes (content not kept)\n",
				                  labels[c], f->name, f->len);
				continue;
			}
			err = lp_buf_addf(b, "== %s/%s\n", labels[c], f->name);
			if (!err)
				err = lp_buf_add(b, f->data, f->len);
		}
	}
	if (!err)
		err = lp_buf_adds(b, "== env\n");
	for (size_t i = 0; !err && i < r->n_env; i++)
		err = lp_buf_addf(b, "%s <- %s/%s[%s]\n", r->env[i].var, r->env[i].secret_ns,
		                  r->env[i].secret_name, r->env[i].secret_key);
	if (!err)
		err = lp_buf_adds(b, "== mounts\n");
	for (size_t i = 0; !err && i < r->n_mounts; i++)
		err = lp_buf_addf(b, "%s <- %s/%s[%s]\n", r->mounts[i].path, r->mounts[i].secret_ns,
		                  r->mounts[i].secret_name, r->mounts[i].secret_key);
	if (!err)
		err = lp_buf_adds(b, "== aws profiles\n");
	for (size_t i = 0; !err && i < r->n_aws_profiles; i++) {
		const struct lp_render_aws_profile *p = &r->aws_profiles[i];
		err = lp_buf_addf(b, "%s <- %s/%s[%s,%s%s%s]\n", p->profile, p->secret_ns,
		                  p->secret_name, p->access_key_id_key, p->secret_access_key_key,
		                  p->session_token_key ? "," : "",
		                  p->session_token_key ? p->session_token_key : "");
	}
	if (!err && r->n_alerts) /* only where there are: the other golden files stay */
		err = lp_buf_adds(b, "== hub alert targets\n");
	for (size_t i = 0; !err && i < r->n_alerts; i++)
		err = lp_buf_addf(b, "%s/%s <- %s/%s[%s] window %ds, %d/min\n", r->alerts[i].ns,
		                  r->alerts[i].name, r->alerts[i].ns, r->alerts[i].secret_name,
		                  r->alerts[i].secret_key, r->alerts[i].window_seconds,
		                  r->alerts[i].max_per_minute);
	if (!err)
		err = lp_buf_adds(b, "== summaries\n");
	for (size_t i = 0; !err && i < r->n_summaries; i++)
		err = lp_buf_addf(b, "%s/%s: %s\n", r->summaries[i].ns, r->summaries[i].name,
		                  r->summaries[i].text);
	if (!err)
		err = lp_buf_adds(b, "== problems\n");
	for (size_t i = 0; !err && i < r->n_problems; i++)
		err =
		    lp_buf_addf(b, "%s %s/%s %s: %s\n", r->problems[i].kind, r->problems[i].ns,
		                r->problems[i].name, r->problems[i].field, r->problems[i].message);
	if (!err)
		err = lp_buf_addf(b, "== hash %s %s\n", r->shipper.hash,
		                  r->has_aggregator ? r->aggregator.hash : "-");
	return err;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct lp_buf b;
	char chunk[65536];
	size_t n;

	if (!f)
		return NULL;
	lp_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (lp_buf_add(&b, chunk, n))
			break;
	fclose(f);
	*len = b.len;
	return lp_buf_take(&b);
}

/* Renders input (relative path), checks it, compares with golden (relative path). */
static void golden_case(const char *input, const char *golden, size_t *n_problems)
{
	char *in = path_of(input), *gold = path_of(golden), *want = NULL;
	const char *paths[1] = {in};
	struct lp_render_bundle b;
	struct lp_rendered r;
	struct lp_buf got;
	size_t wlen = 0;

	memset(&r, 0, sizeof(r));
	lp_buf_init(&got, 0);
	LP_CHECK_INT(lp_render_bundle_load(&b, paths, 1, NULL), LP_OK);
	LP_CHECK_INT(lp_render_bundle_render(&r, &b, NULL), LP_OK);
	lp_render_bundle_free(&b);
	check_rendered(&r);
	if (n_problems)
		*n_problems = r.n_problems;
	LP_CHECK_INT(golden_text(&got, &r), LP_OK);
	if (getenv("UPDATE_GOLDEN") && *getenv("UPDATE_GOLDEN") == '1') {
		FILE *f = fopen(gold, "wb");
		LP_CHECK(f != NULL);
		if (f) {
			fwrite(got.ptr, 1, got.len, f);
			fclose(f);
		}
	} else {
		want = read_all(gold, &wlen);
		if (!want) {
			lp_test_fail(__FILE__, __LINE__,
			             "no golden file %s (run with UPDATE_GOLDEN=1)", golden);
		} else if (wlen != got.len || memcmp(want, got.ptr, wlen) != 0) {
			size_t i = 0, line = 1;
			while (i < wlen && i < got.len && want[i] == got.ptr[i])
				line += want[i++] == '\n';
			lp_test_fail(__FILE__, __LINE__,
			             "%s differs from %s at line %zu (UPDATE_GOLDEN=1 rewrites)",
			             input, golden, line);
		}
	}
	lp_free(want);
	lp_buf_free(&got);
	lp_rendered_free(&r);
	lp_free(in);
	lp_free(gold);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted *.yaml names in a directory (relative to the top). */
static size_t list_yaml(const char *dir, char ***out)
{
	char *d = path_of(dir);
	DIR *dh = d ? opendir(d) : NULL;
	struct dirent *e;
	char **v = NULL;
	size_t n = 0;

	while (dh && (e = readdir(dh)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
			continue;
		v = lp_realloc(v, (n + 1) * sizeof(*v));
		v[n++] = lp_strdup(e->d_name);
	}
	if (dh)
		closedir(dh);
	lp_free(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*out = v;
	return n;
}

static void t_golden_cases(void)
{
	char **names = NULL;
	size_t n = list_yaml("tests/data/render/cases", &names);

	LP_CHECK(n >= 25);
	for (size_t i = 0; i < n; i++) {
		struct lp_buf in, gold;
		size_t probs = 0;
		lp_buf_init(&in, 0);
		lp_buf_init(&gold, 0);
		LP_CHECK_INT(lp_buf_addf(&in, "tests/data/render/cases/%s", names[i]), LP_OK);
		LP_CHECK_INT(lp_buf_addf(&gold, "tests/data/render/golden/%.*s.txt",
		                         (int)(strlen(names[i]) - 5), names[i]),
		             LP_OK);
		golden_case(lp_buf_str(&in), lp_buf_str(&gold), &probs);
		/* only the invalid-* cases may leave something out */
		if (strncmp(names[i], "invalid", 7) != 0 && probs)
			lp_test_fail(__FILE__, __LINE__, "%s: %zu problem(s)", names[i], probs);
		if (strncmp(names[i], "invalid", 7) == 0 && !probs)
			lp_test_fail(__FILE__, __LINE__, "%s: nothing was left out", names[i]);
		lp_buf_free(&in);
		lp_buf_free(&gold);
		lp_free(names[i]);
	}
	lp_free(names);
}

static void t_golden_examples(void)
{
	char **names = NULL;
	size_t n = list_yaml("examples", &names);

	LP_CHECK(n >= 1);
	for (size_t i = 0; i < n; i++) {
		struct lp_buf in, gold;
		size_t probs = 0;
		lp_buf_init(&in, 0);
		lp_buf_init(&gold, 0);
		LP_CHECK_INT(lp_buf_addf(&in, "examples/%s", names[i]), LP_OK);
		LP_CHECK_INT(lp_buf_addf(&gold, "tests/data/render/golden/example-%.*s.txt",
		                         (int)(strlen(names[i]) - 5), names[i]),
		             LP_OK);
		golden_case(lp_buf_str(&in), lp_buf_str(&gold), &probs);
		if (probs)
			lp_test_fail(__FILE__, __LINE__, "example %s: %zu problem(s)", names[i],
			             probs);
		lp_buf_free(&in);
		lp_buf_free(&gold);
		lp_free(names[i]);
	}
	lp_free(names);
}

/* ------------------------------------------------------------------ */
/* focused behaviour                                                   */

static int render_path(struct lp_rendered *r, const char *rel)
{
	char *in = path_of(rel);
	const char *paths[1] = {in};
	struct lp_render_bundle b;
	int ok;

	memset(r, 0, sizeof(*r));
	ok = lp_render_bundle_load(&b, paths, 1, NULL) == LP_OK;
	ok = ok && lp_render_bundle_render(r, &b, NULL) == LP_OK;
	if (ok || b.n_pipelines || b.n_outputs)
		lp_render_bundle_free(&b);
	lp_free(in);
	return ok;
}

static const char *shipper_text(const struct lp_rendered *r)
{
	return r->shipper.n_files ? r->shipper.files[0].data : "";
}

static void t_tenancy(void)
{
	struct lp_rendered r;

	LP_CHECK(render_path(&r, "tests/data/render/cases/tenancy-isolation.yaml"));
	/* a namespaced pipeline's output selects only its own namespace, on the
	 * source tags: no copy of any record */
	LP_CHECK_HAS(shipper_text(&r), "match: kube.team-a.*");
	LP_CHECK_HAS(shipper_text(&r), "match_regex: ^kube\\.team-b\\..+\\.(?:api|worker)$");
	LP_CHECK_INT(r.n_summaries, 3);
	LP_CHECK(strstr(shipper_text(&r), "rewrite_tag") == NULL);
	LP_CHECK(strstr(shipper_text(&r), "emitter") == NULL);
	lp_rendered_free(&r);
}

/* The shipper config of a case as JSON (NULL and a failure when it does not
 * render into one file). */
static json_t *shipper_json(struct lp_rendered *r, const char *rel)
{
	if (!render_path(r, rel))
		return NULL;
	LP_CHECK_INT(r->n_problems, 0);
	if (r->shipper.n_files < 1)
		return NULL;
	return reparse(&r->shipper.files[0]);
}

static json_t *section(json_t *cfg, const char *key)
{
	return json_object_get(json_object_get(cfg, "pipeline"), key);
}

/* The item of list whose key has value v (NULL when none). */
static json_t *item_with(json_t *list, const char *key, const char *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		const char *s = json_string_value(json_object_get(e, key));
		if (s && !strcmp(s, v))
			return e;
	}
	return NULL;
}

/* The names of the logs processors of a plugin, joined by ",". */
static void proc_names(json_t *plugin, char *out, size_t n)
{
	json_t *l = json_object_get(json_object_get(plugin, "processors"), "logs"), *e;
	size_t i;

	out[0] = '\0';
	json_array_foreach(l, i, e)
	{
		size_t len = strlen(out);
		snprintf(out + len, n - len, "%s%s", len ? "," : "",
		         json_string_value(json_object_get(e, "name")));
	}
}

/* One node forward output to the aggregator: its tag names the pipeline of
 * its alias (lp_<h>_fwd: a.<h>.$TAG; lp_<h>_r<i>: o.<oh>.a.<h>.$TAG), its
 * chunks are released only on the aggregator's ack, compressed (a tag of
 * only $TAG is static in out_forward), no worker thread. */
static void check_agg_forward(json_t *o, const char *rel)
{
	const char *alias = json_string_value(json_object_get(o, "alias"));
	const char *tag = json_string_value(json_object_get(o, "tag"));
	const char *h;
	char want[64];

	if (!alias || !tag || strlen(alias) < 17 || strncmp(alias, "lp_", 3) != 0) {
		lp_test_fail(__FILE__, __LINE__, "%s: forward output %s / tag %s", rel,
		             alias ? alias : "-", tag ? tag : "-");
		return;
	}
	h = alias + 3;
	if (!strcmp(alias + 15, "_fwd")) {
		snprintf(want, sizeof(want), "a.%.12s.$TAG", h);
		LP_CHECK_STR(tag, want);
	} else {
		LP_CHECK(!strncmp(alias + 15, "_r", 2));
		LP_CHECK(strlen(tag) == 2 + 12 + 3 + 12 + 5 && !strncmp(tag, "o.", 2) &&
		         is_hex12(tag + 2));
		snprintf(want, sizeof(want), ".a.%.12s.$TAG", h);
		LP_CHECK(strlen(tag) > 14 && !strcmp(tag + 14, want));
	}
	LP_CHECK(json_object_get(o, "match") || json_object_get(o, "match_regex"));
	LP_CHECK(json_is_true(json_object_get(o, "require_ack_response")));
	LP_CHECK_STR(json_string_value(json_object_get(o, "compress")), "gzip");
	LP_CHECK(json_object_get(o, "workers") != NULL);
	LP_CHECK_INT(json_integer_value(json_object_get(o, "workers")), 0);
	LP_CHECK_STR(json_string_value(json_object_get(o, "shared_key")),
	             "${LP_FORWARD_SHARED_KEY}");
}

/* The aggregator shapes: a pipeline via the aggregator copies nothing on the
 * node either (no rewrite_tag, no emitter but a multiline processor's idle
 * one): its routes are forward outputs on its source tags, its work their
 * processors; the aggregator has no copy either and acks only what it has
 * appended to its chunks (one listener worker, not threaded). */
static void t_aggregator_shapes(void)
{
	static const char *const cases[] = {
	    "aggregator-fluentbit",        "aggregator-fluentd",
	    "aggregator-fluentd-livetail", "aggregator-fluentd-opensearch-aws",
	    "aggregator-shapes",           "s3-key-shapes"};
	struct lp_rendered r;
	json_t *cfg, *o, *e;
	char names[256];
	size_t i, n_fwd;

	for (size_t k = 0; k < LP_TEST_COUNT(cases); k++) {
		char rel[128];
		size_t fwd = 0, ml = 0, em = 0, carry = 0;
		const char *t;
		snprintf(rel, sizeof(rel), "tests/data/render/cases/%s.yaml", cases[k]);
		cfg = shipper_json(&r, rel);
		LP_CHECK(cfg != NULL);
		t = shipper_text(&r);
		if (strstr(t, "rewrite_tag"))
			lp_test_fail(__FILE__, __LINE__, "%s: rewrite_tag on the node", rel);
		for (const char *q = t; (q = strstr(q, "emitter_name:")); q++)
			em++;
		json_array_foreach(section(cfg, "inputs"), i, e)
		{
			proc_names(e, names, sizeof(names));
			ml += strstr(names, "multiline") != NULL;
		}
		LP_CHECK_INT(em, ml);
		json_array_foreach(section(cfg, "filters"), i, e)
		    LP_CHECK_STR(json_string_value(json_object_get(e, "name")), "kubernetes");
		json_array_foreach(section(cfg, "outputs"), i, e)
		{
			const char *n = json_string_value(json_object_get(e, "name"));
			const char *al = json_string_value(json_object_get(e, "alias"));
			if (n && !strcmp(n, "forward") && json_object_get(e, "host") &&
			    !strncmp(json_string_value(json_object_get(e, "host")),
			             "logplane-aggregator.", 20)) {
				if (al && !strcmp(al, "lp_aggregator")) {
					carry++;
					continue;
				}
				fwd++;
				check_agg_forward(e, rel);
			}
		}
		LP_CHECK(fwd > 0);
		/* the upgrade carry: the old copy tags as they are, nothing else
		 * (that no live tag reaches it: shared:aggregator_tenancy) */
		LP_CHECK_INT(carry, 1);
		o = item_with(section(cfg, "outputs"), "alias", "lp_aggregator");
		if (o) {
			LP_CHECK_STR(json_string_value(json_object_get(o, "match_regex")),
			             "^(?:o\\.[0-9a-f]{12}\\.)?a\\.");
			LP_CHECK(json_object_get(o, "match") == NULL);
			LP_CHECK(json_object_get(o, "tag") == NULL);
			LP_CHECK(json_object_get(o, "processors") == NULL);
			LP_CHECK(json_is_true(json_object_get(o, "require_ack_response")));
			LP_CHECK_INT(json_integer_value(json_object_get(o, "workers")), 0);
		}
		json_decref(cfg);
		LP_CHECK(r.has_aggregator);
		if (r.has_aggregator && r.aggregator_engine == LP_ENGINE_FLUENTBIT &&
		    r.aggregator.n_files) {
			json_t *agg = reparse(&r.aggregator.files[0]);
			LP_CHECK(strstr(r.aggregator.files[0].data, "rewrite_tag") == NULL);
			LP_CHECK(strstr(r.aggregator.files[0].data, "emitter") == NULL);
			o = item_with(section(agg, "inputs"), "alias", "lp_forward");
			LP_CHECK(o != NULL);
			LP_CHECK_INT(json_integer_value(json_object_get(o, "workers")), 1);
			LP_CHECK(json_is_false(json_object_get(o, "threaded")));
			LP_CHECK_STR(json_string_value(json_object_get(o, "storage.type")),
			             "filesystem");
			json_decref(agg);
		}
		lp_rendered_free(&r);
	}

	/* aggregator-shapes: five forward outputs, each on its pipeline's tags */
	cfg = shipper_json(&r, "tests/data/render/cases/aggregator-shapes.yaml");
	o = item_with(section(cfg, "outputs"), "match", "kube.team-a.*");
	LP_CHECK(o != NULL);
	proc_names(o, names, sizeof(names));
	LP_CHECK_STR(names, "grep,parser"); /* pod labels, parse: every route */
	LP_CHECK_HAS(json_string_value(json_object_get(o, "alias")), "_fwd");
	/* the route with a match: the same selection, the match as a last grep */
	json_array_foreach(section(cfg, "outputs"), i, e)
	{
		const char *m = json_string_value(json_object_get(e, "match"));
		const char *a = json_string_value(json_object_get(e, "alias"));
		if (e == o || !m || strcmp(m, "kube.team-a.*"))
			continue;
		LP_CHECK_HAS(a, "_r1");
		proc_names(e, names, sizeof(names));
		LP_CHECK_STR(names, "grep,parser,grep");
	}
	/* buffered multiline: its own tail (tag p.<h>.kube.*) and a forward on it */
	e = NULL;
	json_array_foreach(section(cfg, "inputs"), i, o)
	{
		const char *p = json_string_value(json_object_get(o, "path"));
		if (p && strstr(p, "_team-b_"))
			e = o;
	}
	LP_CHECK(e != NULL);
	if (e) {
		char m[64];
		const char *tag = json_string_value(json_object_get(e, "tag"));
		LP_CHECK(tag && !strncmp(tag, "p.", 2) && strlen(tag) > 14);
		snprintf(m, sizeof(m), "%.15skube.team-b.*", tag ? tag : "");
		o = item_with(section(cfg, "outputs"), "match", m);
		LP_CHECK(o != NULL);
		LP_CHECK_STR(json_string_value(json_object_get(o, "name")), "forward");
	}
	/* the control pipeline over all namespaces but team-b */
	LP_CHECK(item_with(section(cfg, "outputs"), "match_regex",
	                   "^kube\\.(?!(?:team-b)\\.)[^.]+\\..+\\.[^.]+$") != NULL);
	n_fwd = 0;
	json_array_foreach(section(cfg, "outputs"), i, e) n_fwd +=
	    json_object_get(e, "tag") != NULL &&
	    !strcmp(json_string_value(json_object_get(e, "name")), "forward");
	LP_CHECK_INT(n_fwd, 5); /* everything, hosts r0, apps fwd + r1, traces */
	LP_CHECK_INT(r.shipper_outputs, json_array_size(section(cfg, "outputs")));
	LP_CHECK_INT(r.shipper_threads, 0);
	for (i = 0; i < r.n_summaries; i++)
		LP_CHECK(strstr(r.summaries[i].text, "rewrite_tag") == NULL);
	json_decref(cfg);
	lp_rendered_free(&r);
}

/* The data-path shapes (issue: nothing lost, a record's cost independent of
 * the pipeline count): no rewrite_tag copy, no emitter on the node, only the
 * shared kubernetes filter(s) in the global filter list, each pipeline's work
 * as processors of its own outputs (or inputs). */
static void t_shapes(void)
{
	struct lp_rendered r;
	json_t *cfg, *o, *in;
	char names[256];
	const char *cases[] = {"shape-two-tenants", "shape-control-and-tenant",
	                       "shape-multiline-buffered", "shape-host-files-no-kube"};

	for (size_t k = 0; k < 4; k++) {
		char rel[128];
		size_t i;
		json_t *e;
		snprintf(rel, sizeof(rel), "tests/data/render/cases/%s.yaml", cases[k]);
		cfg = shipper_json(&r, rel);
		LP_CHECK(cfg != NULL);
		LP_CHECK(strstr(shipper_text(&r), "rewrite_tag") == NULL);
		LP_CHECK(strstr(shipper_text(&r), "emitter_name: lp_") == NULL ||
		         k == 2); /* the idle emitter of a multiline processor */
		json_array_foreach(section(cfg, "filters"), i, e)
		{
			LP_CHECK_STR(json_string_value(json_object_get(e, "name")), "kubernetes");
			/* the kubelet's pod list is larger than the 32K default */
			LP_CHECK(json_object_get(e, "buffer_size") != NULL);
			LP_CHECK_INT(json_integer_value(json_object_get(e, "buffer_size")), 0);
		}
		json_decref(cfg);
		lp_rendered_free(&r);
	}

	/* two tenants: each output matches its namespace's source tags and runs
	 * only its pipeline's work */
	cfg = shipper_json(&r, "tests/data/render/cases/shape-two-tenants.yaml");
	o = item_with(section(cfg, "outputs"), "match", "kube.shop.*");
	LP_CHECK(o && !strcmp(json_string_value(json_object_get(o, "name")), "http"));
	proc_names(o, names, sizeof(names));
	LP_CHECK_STR(names, "parser,lua");
	/* http and loki do only non-blocking I/O: their flushes run on the
	 * engine's loop, no thread per route; out_null defaults to a thread */
	LP_CHECK_INT(json_integer_value(json_object_get(o, "workers")), 0);
	o = item_with(section(cfg, "outputs"), "match", "kube.pay.*");
	proc_names(o, names, sizeof(names));
	LP_CHECK_STR(names, "grep");
	LP_CHECK_INT(json_integer_value(json_object_get(o, "workers")), 0);
	o = item_with(section(cfg, "outputs"), "alias", "lp_discard");
	LP_CHECK(o && json_integer_value(json_object_get(o, "workers")) == 0);
	LP_CHECK_INT(r.shipper_threads, 0);
	LP_CHECK_INT(json_array_size(section(cfg, "inputs")), 2); /* tail, agent metrics */
	json_decref(cfg);
	lp_rendered_free(&r);

	/* the control pipeline over all namespaces and system logs beside a
	 * tenant: both outputs take a shop record from the same chunk */
	cfg = shipper_json(&r, "tests/data/render/cases/shape-control-and-tenant.yaml");
	o = item_with(section(cfg, "outputs"), "name", "s3");
	LP_CHECK_STR(json_string_value(json_object_get(o, "match_regex")),
	             "^(?:kube\\.[^.]+\\..+\\.[^.]+$|system\\.)");
	LP_CHECK(o && !json_object_get(o, "storage.total_limit_size") &&
	         json_object_get(o, "store_dir_limit_size"));
	/* s3 uploads block (async mode off in out_s3): it keeps its worker */
	LP_CHECK_INT(json_integer_value(json_object_get(o, "workers")), 1);
	LP_CHECK_INT(r.shipper_threads, 1);
	o = item_with(section(cfg, "outputs"), "match", "kube.shop.*");
	proc_names(o, names, sizeof(names));
	LP_CHECK_STR(names, "parser,grep");
	LP_CHECK_HAS(shipper_text(&r), "- $level ^(?:error|fatal)$");
	json_decref(cfg);
	lp_rendered_free(&r);

	/* buffered multiline: its own tail of its namespace, multiline and
	 * kubernetes as that input's processors; the other tenant on the shared tail */
	cfg = shipper_json(&r, "tests/data/render/cases/shape-multiline-buffered.yaml");
	in = item_with(section(cfg, "inputs"), "path", "/var/log/containers/*_shop_*.log");
	LP_CHECK(in != NULL);
	proc_names(in, names, sizeof(names));
	LP_CHECK_STR(names, "multiline,kubernetes");
	LP_CHECK(item_with(section(cfg, "inputs"), "alias", "lp_app") != NULL);
	LP_CHECK(item_with(section(cfg, "outputs"), "match", "kube.pay.*") != NULL);
	for (size_t i = 0; i < r.n_summaries; i++)
		if (!strcmp(r.summaries[i].ns, "shop"))
			LP_CHECK_HAS(r.summaries[i].text,
			             "delivery: each output's mode, except an open multiline");
	LP_CHECK_HAS(shipper_text(&r), "flush_ms: 500");
	json_decref(cfg);
	lp_rendered_free(&r);

	/* host files without the kubernetes filter: the regex groups become
	 * fields (parser on the path), no kubernetes anywhere */
	cfg = shipper_json(&r, "tests/data/render/cases/shape-host-files-no-kube.yaml");
	in = item_with(section(cfg, "inputs"), "name", "tail");
	LP_CHECK_STR(json_string_value(json_object_get(in, "path_key")), "_lp_path");
	proc_names(in, names, sizeof(names));
	LP_CHECK_STR(names, "parser");
	LP_CHECK(strstr(shipper_text(&r), "kubernetes") == NULL);
	o = item_with(json_object_get(cfg, "parsers"), "format", "regex");
	LP_CHECK(o && strstr(json_string_value(json_object_get(o, "regex")),
	                     "(?<namespace_name>[^_/]+)_(?<pod_name>"));
	json_decref(cfg);
	lp_rendered_free(&r);
}

/* Does an output's match / match_regex select tag? match as Fluent Bit's
 * wildcard (fnmatch), match_regex searched with Oniguruma (Ruby syntax, as
 * Fluent Bit's onigmo). */
static int output_selects(json_t *o, const char *tag)
{
	const char *m = json_string_value(json_object_get(o, "match"));
	const char *rx = json_string_value(json_object_get(o, "match_regex"));
	int hit = m && fnmatch(m, tag, 0) == 0;
	OnigRegex reg = NULL;
	OnigErrorInfo einfo;

	if (!rx)
		return hit;
	if (onig_new(&reg, (const OnigUChar *)rx, (const OnigUChar *)rx + strlen(rx),
	             ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY,
	             &einfo) != ONIG_NORMAL) {
		lp_test_fail(__FILE__, __LINE__, "match_regex %s does not compile", rx);
		return hit;
	}
	{
		const OnigUChar *t = (const OnigUChar *)tag, *te = t + strlen(tag);
		hit |= onig_search(reg, t, te, t, te, NULL, ONIG_OPTION_NONE) >= 0;
	}
	onig_free(reg);
	return hit;
}

/* Both agents: the built-in HTTP server off (its once-a-second metrics merge
 * is quadratic in the output instances), their own metrics through one
 * fluentbit_metrics input into the one prometheus_exporter on 2021, which
 * nothing else receives. */
static void check_agent_metrics(const struct lp_rendered_config *c, const char *what)
{
	json_t *cfg = c->n_files ? reparse(&c->files[0]) : NULL, *o, *e;
	const char *text = c->n_files ? c->files[0].data : "";
	size_t i, n_in = 0, n_sel = 0;

	LP_CHECK(cfg != NULL);
	if (!cfg)
		return;
	if (!strstr(text, "\n  http_server: off\n") || strstr(text, "http_port") ||
	    strstr(text, "health_check") || strstr(text, "hc_"))
		lp_test_fail(__FILE__, __LINE__, "%s: service still has the HTTP server", what);
	LP_CHECK_HAS(text, "\n  hot_reload: on\n");
	LP_CHECK_HAS(text, "\n  storage.metrics: on\n");
	json_array_foreach(section(cfg, "inputs"), i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		if (!name || strcmp(name, "fluentbit_metrics") != 0)
			continue;
		n_in++;
		LP_CHECK_STR(json_string_value(json_object_get(e, "tag")), "lp_metrics");
		LP_CHECK_INT(json_integer_value(json_object_get(e, "scrape_interval")), 30);
		LP_CHECK(json_object_get(e, "scrape_on_start") != NULL);
	}
	if (n_in != 1)
		lp_test_fail(__FILE__, __LINE__, "%s: %zu fluentbit_metrics inputs", what, n_in);
	o = item_with(section(cfg, "outputs"), "name", "prometheus_exporter");
	LP_CHECK(o && json_integer_value(json_object_get(o, "port")) == 2021);
	LP_CHECK_STR(o ? json_string_value(json_object_get(o, "match")) : "", "lp_metrics");
	json_array_foreach(section(cfg, "outputs"), i, e) n_sel += output_selects(e, "lp_metrics");
	if (n_sel != 1)
		lp_test_fail(__FILE__, __LINE__, "%s: %zu outputs take lp_metrics", what, n_sel);
	json_decref(cfg);
}

static void t_agent_metrics(void)
{
	struct lp_rendered r;
	const char *cases[] = {"shape-two-tenants", "shape-control-and-tenant",
	                       "metrics-log-to-metrics", "out-livetail", "aggregator-fluentbit"};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char rel[128];
		snprintf(rel, sizeof(rel), "tests/data/render/cases/%s.yaml", cases[k]);
		if (!render_path(&r, rel)) {
			lp_test_fail(__FILE__, __LINE__, "%s does not render", rel);
			continue;
		}
		check_agent_metrics(&r.shipper, cases[k]);
		if (r.has_aggregator)
			check_agent_metrics(&r.aggregator, cases[k]);
		LP_CHECK(r.has_aggregator == (k == 4));
		lp_rendered_free(&r);
	}
	/* the checker itself: a catch-all output would take the metrics too */
	{
		json_t *o = json_pack("{s:s}", "match", "*");
		json_t *rx = json_pack("{s:s}", "match_regex", "^(?:kube|system|p|a)\\.");
		LP_CHECK(output_selects(o, "lp_metrics"));
		LP_CHECK(!output_selects(rx, "lp_metrics") && output_selects(rx, "kube.a.b.c"));
		json_decref(o);
		json_decref(rx);
	}
}

static void t_multiline_first(void)
{
	struct lp_rendered r;
	const char *s, *ml, *parser;

	LP_CHECK(render_path(&r, "tests/data/render/cases/ml-java.yaml"));
	s = shipper_text(&r);
	ml = strstr(s, "- name: multiline");
	parser = strstr(s, "- name: parser");
	LP_CHECK(ml && parser && ml < parser);
	LP_CHECK_HAS(s, "buffer: on");
	lp_rendered_free(&r);
}

static void t_deterministic(void)
{
	char *in = path_of("tests/data/render/injection-base.yaml");
	const char *paths[1] = {in};
	struct lp_render_bundle b;
	struct lp_rendered r1, r2;
	struct lp_render_input ri;
	const struct lp_pipeline *pl[8];
	const struct lp_output *ol[32];

	LP_CHECK_INT(lp_render_bundle_load(&b, paths, 1, NULL), LP_OK);
	LP_CHECK(b.n_pipelines <= 8 && b.n_outputs <= 32);
	memset(&ri, 0, sizeof(ri));
	for (size_t i = 0; i < b.n_pipelines; i++)
		pl[i] = b.pipelines[i];
	for (size_t i = 0; i < b.n_outputs; i++)
		ol[i] = b.outputs[i];
	ri.pipelines = pl;
	ri.n_pipelines = b.n_pipelines;
	ri.outputs = ol;
	ri.n_outputs = b.n_outputs;
	LP_CHECK_INT(lp_render(&r1, &ri), LP_OK);
	for (size_t i = 0; i < b.n_pipelines; i++)
		pl[i] = b.pipelines[b.n_pipelines - 1 - i];
	for (size_t i = 0; i < b.n_outputs; i++)
		ol[i] = b.outputs[b.n_outputs - 1 - i];
	LP_CHECK_INT(lp_render(&r2, &ri), LP_OK);
	LP_CHECK_STR(r1.shipper.hash, r2.shipper.hash);
	LP_CHECK_STR(r1.aggregator.hash, r2.aggregator.hash);
	LP_CHECK(r1.shipper.n_files == r2.shipper.n_files &&
	         r1.shipper.files[0].len == r2.shipper.files[0].len);
	LP_CHECK_INT(r1.n_env, r2.n_env);
	lp_rendered_free(&r1);
	lp_rendered_free(&r2);
	lp_render_bundle_free(&b);
	lp_free(in);
}

static void t_secrets_not_in_text(void)
{
	struct lp_rendered r;

	LP_CHECK(render_path(&r, "tests/data/render/cases/out-http.yaml"));
	LP_CHECK_INT(r.n_env, 1);
	LP_CHECK_STR(r.env[0].secret_name, "ingest-token");
	LP_CHECK_STR(r.env[0].secret_key, "token");
	LP_CHECK_HAS(shipper_text(&r), "Authorization ${LP_SECRET_");
	lp_rendered_free(&r);
	LP_CHECK(render_path(&r, "tests/data/render/cases/out-kinesis.yaml"));
	LP_CHECK_INT(r.n_env, 0);
	LP_CHECK_INT(r.n_aws_profiles, 1);
	LP_CHECK_HAS(shipper_text(&r), "profile: lp-");
	LP_CHECK_HAS(shipper_text(&r), "endpoint: kinesis.local\n");
	LP_CHECK_HAS(shipper_text(&r), "port: 4567\n");
	lp_rendered_free(&r);
}

/* The text of the output section whose name line is `name: <name>` and whose
 * alias contains `alias`; "" when not found. Borrowed from a static buffer. */
static const char *out_section(const char *text, const char *alias)
{
	static char sec[4096];
	const char *a = strstr(text, alias), *start, *end;

	sec[0] = '\0';
	if (!a)
		return sec;
	for (start = a; start > text && strncmp(start, "- name: ", 8); start--)
		;
	end = strstr(a, "- name: ");
	if (!end)
		end = text + strlen(text);
	if ((size_t)(end - start) < sizeof(sec)) {
		memcpy(sec, start, (size_t)(end - start));
		sec[end - start] = '\0';
	}
	return sec;
}

static const struct lp_render_aws_profile *profile_of(const struct lp_rendered *r, const char *ns,
                                                      const char *secret)
{
	for (size_t i = 0; i < r->n_aws_profiles; i++)
		if (!strcmp(r->aws_profiles[i].secret_ns, ns) &&
		    !strcmp(r->aws_profiles[i].secret_name, secret))
			return &r->aws_profiles[i];
	return NULL;
}

static void t_aws_profiles(void)
{
	struct lp_rendered r;
	const struct lp_render_aws_profile *a, *b;
	const char *s;
	char want[64];

	LP_CHECK(render_path(&r, "tests/data/render/cases/aws-profiles.yaml"));
	LP_CHECK_INT(r.n_problems, 0);
	/* two tenants, two Secrets: two profiles; a Secret used twice: one */
	LP_CHECK_INT(r.n_aws_profiles, 2);
	a = profile_of(&r, "team-a", "a-keys");
	b = profile_of(&r, "team-b", "b-keys");
	LP_CHECK(a && b);
	if (!a || !b) {
		lp_rendered_free(&r);
		return;
	}
	LP_CHECK(strcmp(a->profile, b->profile) != 0);
	LP_CHECK_STR(a->access_key_id_key, "AWS_ACCESS_KEY_ID");
	LP_CHECK_STR(a->secret_access_key_key, "AWS_SECRET_ACCESS_KEY");
	LP_CHECK(a->session_token_key == NULL);
	LP_CHECK_STR(b->access_key_id_key, "id");
	LP_CHECK_STR(b->secret_access_key_key, "secret");
	LP_CHECK_STR(b->session_token_key, "token");
	/* no AWS key in the process environment */
	for (size_t i = 0; i < r.n_env; i++)
		LP_CHECK(strncmp(r.env[i].var, "AWS_", 4) != 0);
	s = shipper_text(&r);
	LP_CHECK(strstr(s, "AWS_ACCESS_KEY_ID") == NULL);
	snprintf(want, sizeof(want), "profile: %s\n", a->profile);
	LP_CHECK_HAS(out_section(s, "stream: team-a-logs"), want);
	LP_CHECK_HAS(out_section(s, "bucket: team-a-archive"), want);
	snprintf(want, sizeof(want), "profile: %s\n", b->profile);
	LP_CHECK_HAS(out_section(s, "delivery_stream: team-b-logs"), want);
	snprintf(want, sizeof(want), "aws_profile: %s\n", b->profile);
	LP_CHECK_HAS(out_section(s, "host: search.example.com"), want);
	/* the platform's outputs keep the default chain and their role */
	LP_CHECK(out_section(s, "log_group_name: platform")[0] != '\0');
	LP_CHECK(strstr(out_section(s, "log_group_name: platform"), "profile") == NULL);
	LP_CHECK(strstr(out_section(s, "bucket: platform-audit"), "profile") == NULL);
	LP_CHECK_HAS(out_section(s, "bucket: platform-audit"),
	             "role_arn: arn:aws:iam::123456789012:role/audit-writer\n");
	LP_CHECK_HAS(out_section(s, "bucket: platform-audit"), "external_id: logplane\n");
	lp_rendered_free(&r);
}

static void t_aws_credentials_file(void)
{
	struct lp_test_secret ok[] = {
	    {"team-a", "a-keys", "AWS_ACCESS_KEY_ID", "AKIAAAAAAAAAAAAAAAAA"},
	    {"team-a", "a-keys", "AWS_SECRET_ACCESS_KEY", "a/secret+KEY="},
	    {"team-b", "b-keys", "id", "AKIABBBBBBBBBBBBBBBB"},
	    {"team-b", "b-keys", "secret", "b-secret"},
	    {"team-b", "b-keys", "token", "b-token=="},
	    {NULL, NULL, NULL, NULL},
	};
	static const char *const bad[] = {"x\n[lp-000000000000]",
	                                  "x\rother",
	                                  "[default]",
	                                  "a]b",
	                                  "a b",
	                                  "#x",
	                                  "v;c",
	                                  "",
	                                  "\x80\x81"};
	struct lp_rendered r;
	struct lp_buf out;
	const struct lp_render_aws_profile *a, *b;
	char want[256];
	size_t total;

	LP_CHECK(render_path(&r, "tests/data/render/cases/aws-profiles.yaml"));
	a = profile_of(&r, "team-a", "a-keys");
	b = profile_of(&r, "team-b", "b-keys");
	LP_CHECK(a && b);
	if (!a || !b) {
		lp_rendered_free(&r);
		return;
	}
	lp_buf_init(&out, 0);
	LP_CHECK_INT(lp_render_aws_credentials_file(&r, lp_test_secret_lookup, ok, &out), LP_OK);
	snprintf(want, sizeof(want),
	         "[%s]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\n"
	         "aws_secret_access_key = a/secret+KEY=\n",
	         a->profile);
	LP_CHECK_HAS(lp_buf_str(&out), want);
	total = strlen(want);
	snprintf(want, sizeof(want),
	         "[%s]\naws_access_key_id = AKIABBBBBBBBBBBBBBBB\n"
	         "aws_secret_access_key = b-secret\naws_session_token = b-token==\n",
	         b->profile);
	LP_CHECK_HAS(lp_buf_str(&out), want);
	total += strlen(want);
	/* nothing else: exactly the two profiles */
	LP_CHECK_INT((long)out.len, (long)total);
	/* a value that could open another profile or a comment is refused, and
	 * nothing is appended */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t before = out.len;
		ok[3].value = bad[i];
		LP_CHECK_INT(lp_render_aws_credentials_file(&r, lp_test_secret_lookup, ok, &out),
		             LP_ERR_PARSE);
		LP_CHECK_INT((long)out.len, (long)before);
	}
	/* one trailing newline (a Secret made from a file written by echo) is
	 * not part of the value, as validation takes it: the profile is written */
	{
		struct lp_buf nl;
		lp_buf_init(&nl, 0);
		ok[3].value = "b-secret\n";
		LP_CHECK_INT(lp_render_aws_credentials_file(&r, lp_test_secret_lookup, ok, &nl),
		             LP_OK);
		LP_CHECK_HAS(lp_buf_str(&nl),
		             "aws_secret_access_key = b-secret\naws_session_token");
		LP_CHECK_INT((long)nl.len, (long)total);
		ok[3].value = "b-secret\n\n"; /* a second one is a line break in the value */
		LP_CHECK_INT(lp_render_aws_credentials_file(&r, lp_test_secret_lookup, ok, &nl),
		             LP_ERR_PARSE);
		lp_buf_free(&nl);
	}
	ok[3].value = "b-secret";
	/* a missing key */
	ok[4].key = "other";
	LP_CHECK_INT(lp_render_aws_credentials_file(&r, lp_test_secret_lookup, ok, &out),
	             LP_ERR_NOTFOUND);
	LP_CHECK_INT(lp_render_aws_credentials_file(NULL, lp_test_secret_lookup, ok, &out),
	             LP_ERR_INVALID);
	LP_CHECK_INT(lp_render_aws_credentials_file(&r, NULL, ok, &out), LP_ERR_INVALID);
	LP_CHECK_INT(lp_render_aws_credentials_file(&r, lp_test_secret_lookup, ok, NULL),
	             LP_ERR_INVALID);
	lp_buf_free(&out);
	lp_rendered_free(&r);
}

static int same_config(const struct lp_rendered_config *a, const struct lp_rendered_config *b)
{
	if (a->n_files != b->n_files || strcmp(a->hash, b->hash))
		return 0;
	for (size_t i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i].name, b->files[i].name) ||
		    a->files[i].len != b->files[i].len ||
		    memcmp(a->files[i].data, b->files[i].data, a->files[i].len))
			return 0;
	return 1;
}

/* A new temporary YAML file (template tmpl, "...XXXXXX") open for writing;
 * NULL (a failed check) when it cannot be made. */
static FILE *tmp_yaml(char *tmpl)
{
	int fd = mkstemp(tmpl);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	LP_CHECK(f != NULL);
	return f;
}

/* The render cache: a split config rendered through it is byte-identical to
 * one rendered without it, before and after a pipeline changes; the cache
 * keeps the parts of the last render only. */
static void t_cache(void)
{
	char tmpl[] = "/tmp/lp-render-cache-XXXXXX";
	FILE *f = tmp_yaml(tmpl);
	const char *paths[1] = {tmpl};
	struct lp_render_bundle b;
	struct lp_render_input in;
	struct lp_rendered cold, warm;
	struct lp_render_cache *cache = lp_render_cache_new();
	const struct lp_pipeline **pl = NULL;
	const struct lp_output **ol = NULL;
	struct lp_pipeline *chg;
	char *orig;
	size_t n = 2400;

	LP_CHECK(f != NULL && cache != NULL);
	if (!f || !cache) {
		lp_render_cache_free(cache);
		return;
	}
	fprintf(f, "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: out, "
	           "namespace: logplane-system}\nspec: {type: stdout}\n");
	for (size_t i = 0; i < n; i++) /* several shared Lua variants, met in a mixed order */
		fprintf(f,
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: "
		        "{name: p%04zu, namespace: logplane-system}\nspec:\n  input: {application: "
		        "{namespaces: {include: [ns%zu]}}}\n  transforms:\n"
		        "    - flatten: {separator: \"%c\"}\n"
		        "    - throttle: {rate: %zu, perPod: true}\n"
		        "    - detectLevel: {}\n  routes:\n    - {outputRef: out}\n",
		        i, i, "._-:"[(i * 7) % 4], 10 + (i * 13) % 5);
	fclose(f);
	LP_CHECK_INT(lp_render_bundle_load(&b, paths, 1, NULL), LP_OK);
	unlink(tmpl);
	LP_CHECK_INT(b.n_problems, 0);
	pl = lp_calloc(b.n_pipelines, sizeof(*pl));
	ol = lp_calloc(b.n_outputs, sizeof(*ol));
	LP_CHECK(pl && ol && b.n_pipelines == n);
	if (!pl || !ol || b.n_pipelines != n)
		goto out;
	for (size_t i = 0; i < b.n_pipelines; i++)
		pl[i] = b.pipelines[i];
	for (size_t i = 0; i < b.n_outputs; i++)
		ol[i] = b.outputs[i];
	memset(&in, 0, sizeof(in));
	in.pipelines = pl;
	in.n_pipelines = b.n_pipelines;
	in.outputs = ol;
	in.n_outputs = b.n_outputs;
	LP_CHECK_INT(lp_render(&cold, &in), LP_OK);
	LP_CHECK(cold.shipper.n_files >= 4);
	LP_CHECK_HAS(cold.shipper.files[cold.shipper.n_files - 1].data, "lp_fn_9 = ");
	in.cache = cache;
	for (int round = 0; round < 2; round++) { /* fills, then reuses */
		LP_CHECK_INT(lp_render(&warm, &in), LP_OK);
		LP_CHECK(same_config(&cold.shipper, &warm.shipper));
		LP_CHECK_INT(cache->n, cold.shipper.n_files - 2); /* not entry, not Lua */
		lp_rendered_free(&warm);
	}
	lp_rendered_free(&cold);
	/* one pipeline changes: the cache must not hand back its old part */
	chg = (struct lp_pipeline *)pl[n / 2];
	orig = chg->transforms[0].u.flatten.separator;
	chg->transforms[0].u.flatten.separator = "+";
	in.cache = NULL;
	LP_CHECK_INT(lp_render(&cold, &in), LP_OK);
	in.cache = cache;
	LP_CHECK_INT(lp_render(&warm, &in), LP_OK);
	LP_CHECK(same_config(&cold.shipper, &warm.shipper));
	LP_CHECK_HAS(warm.shipper.files[warm.shipper.n_files - 1].data,
	             "lp_make_flatten(\"\\043\")");
	LP_CHECK_INT(cache->n, cold.shipper.n_files - 2);
	lp_rendered_free(&warm);
	lp_rendered_free(&cold);
	chg->transforms[0].u.flatten.separator = orig;
out:
	lp_free(pl);
	lp_free(ol);
	lp_render_bundle_free(&b);
	lp_render_cache_free(cache);
}

static void t_invalid_left_out(void)
{
	struct lp_rendered r;
	int dangling = 0, broken = 0, tenant = 0;

	LP_CHECK(render_path(&r, "tests/data/render/cases/invalid-left-out.yaml"));
	LP_CHECK_INT(r.n_summaries, 1);
	LP_CHECK_STR(r.summaries[0].name, "good");
	for (size_t i = 0; i < r.n_problems; i++) {
		dangling |= !strcmp(r.problems[i].name, "dangling") &&
		            strstr(r.problems[i].field, "outputRef") != NULL;
		broken |= !strcmp(r.problems[i].name, "broken") &&
		          !strcmp(r.problems[i].kind, "LogOutput");
		tenant |= !strcmp(r.problems[i].name, "bad-tenant");
	}
	LP_CHECK(dangling && broken && tenant);
	LP_CHECK(strstr(shipper_text(&r), "dangling") == NULL);
	lp_rendered_free(&r);
}

static void t_schema_lookup(void)
{
	/* the checker itself: real keys pass, typos do not */
	LP_CHECK(schema_has("output", "kinesis_streams", "stream"));
	LP_CHECK(!schema_has("output", "kinesis_streams", "streams"));
	LP_CHECK(schema_has("output", "kinesis_streams", "port")); /* engine key, cookbook §10 */
	LP_CHECK(schema_has("filter", "modify", "rename"));        /* Rename in the schema */
	LP_CHECK(!schema_has("filter", "throttle", "key"));
	LP_CHECK(!schema_has("input", "tail", "match"));
	LP_CHECK(schema_has("service", NULL, "hot_reload"));
	LP_CHECK(!schema_has("service", NULL, "hotreload"));
	LP_CHECK(!schema_has("output", "no_such_plugin", "name"));
	LP_CHECK(match_allowed("p.0123456789ab.*"));
	LP_CHECK(!match_allowed("*"));
	LP_CHECK(!match_allowed("p.*"));
}

static void t_null_args(void)
{
	struct lp_rendered r;
	struct lp_render_input in;

	memset(&in, 0, sizeof(in));
	LP_CHECK_INT(lp_render(NULL, &in), LP_ERR_INVALID);
	LP_CHECK_INT(lp_render(&r, NULL), LP_ERR_INVALID);
	in.n_pipelines = 1;
	LP_CHECK_INT(lp_render(&r, &in), LP_ERR_INVALID);
	in.n_pipelines = 0;
	LP_CHECK_INT(lp_render(&r, &in), LP_OK); /* nothing: service and the agent's metrics */
	LP_CHECK_INT(r.shipper.n_files, 1);
	LP_CHECK_HAS(shipper_text(&r), "http_server: off");
	LP_CHECK_HAS(shipper_text(&r), "name: fluentbit_metrics");
	LP_CHECK_HAS(shipper_text(&r), "name: prometheus_exporter");
	lp_rendered_free(&r);
	lp_rendered_free(NULL);
}

static void t_fields_table(void)
{
	size_t n = lp_render_fields_count();
	struct lp_render_field *f = lp_calloc(n + 1, sizeof(*f));
	struct lp_rendered r;
	struct lp_buf all, md;

	LP_CHECK(f != NULL);
	for (size_t i = 0; f && i < n; i++)
		LP_CHECK(lp_render_field_at(i, &f[i]));
	LP_CHECK(f && !lp_render_field_at(n, &f[n]));
	/* every output type's key table gives rows: its plugin appears */
	for (int t = LP_OUT_NONE + 1; f && t < LP_OUT_TYPE_COUNT; t++) {
		const struct lp_output_type_desc *d = lp_output_type_desc((enum lp_output_type)t);
		int seen = 0;
		for (size_t i = 0; i < n; i++)
			seen |= f[i].fb_plugin && !strcmp(f[i].fb_plugin, d->fb_plugin);
		if (!seen)
			lp_test_fail(__FILE__, __LINE__, "fields table: no row for type %s",
			             d->name);
	}

	/* every Fluent Bit key the table names exists in 5.1.1 and appears in some rendered config
	 */
	lp_buf_init(&all, 0);
	{
		char **names = NULL;
		size_t nn = list_yaml("tests/data/render/cases", &names);
		for (size_t i = 0; i < nn; i++) {
			struct lp_buf p;
			lp_buf_init(&p, 0);
			LP_CHECK_INT(lp_buf_addf(&p, "tests/data/render/cases/%s", names[i]),
			             LP_OK);
			if (render_path(&r, lp_buf_str(&p))) {
				for (size_t k = 0; k < r.shipper.n_files; k++)
					LP_CHECK_INT(lp_buf_add(&all, r.shipper.files[k].data,
					                        r.shipper.files[k].len),
					             LP_OK);
				for (size_t k = 0; k < r.aggregator.n_files; k++)
					LP_CHECK_INT(lp_buf_add(&all, r.aggregator.files[k].data,
					                        r.aggregator.files[k].len),
					             LP_OK);
				lp_rendered_free(&r);
			}
			lp_buf_free(&p);
			lp_free(names[i]);
		}
		lp_free(names);
	}
	for (size_t i = 0; i < n; i++) {
		const char *kind = NULL;
		char keys[512], *save = NULL, *k;
		if (!f[i].fb_plugin || !f[i].fb_keys)
			continue;
		if (!strcmp(f[i].fb_plugin, "service"))
			kind = "service";
		else if (!strcmp(f[i].fb_plugin, "parser") ||
		         !strcmp(f[i].fb_plugin, "multiline_parser"))
			kind = f[i].fb_plugin;
		else if (f[i].kind && !strcmp(f[i].kind, "LogOutput") &&
		         schema_has("output", f[i].fb_plugin, "name"))
			kind = "output";
		else if (schema_has("input", f[i].fb_plugin, "name") &&
		         (strstr(f[i].field, "input") || strstr(f[i].field, "delivery")))
			kind = "input";
		else if (schema_has("filter", f[i].fb_plugin, "name"))
			kind = "filter";
		else
			kind = "output";
		snprintf(keys, sizeof(keys), "%s", f[i].fb_keys);
		for (k = strtok_r(keys, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
			struct lp_buf needle;
			int ok = (!strcmp(kind, "service") || !strcmp(kind, "parser") ||
			          !strcmp(kind, "multiline_parser"))
			             ? schema_has(kind, NULL, k)
			             : schema_has(kind, f[i].fb_plugin, k);
			/* a plugin of the same name in another kind (tail is only an input) */
			if (!ok && !schema_has(kind, f[i].fb_plugin, "name"))
				ok = schema_has("input", f[i].fb_plugin, k) ||
				     schema_has("filter", f[i].fb_plugin, k) ||
				     schema_has("output", f[i].fb_plugin, k);
			if (!ok && !strcmp(f[i].fb_plugin, "parser"))
				ok = schema_has("filter", "parser", k);
			if (!ok)
				lp_test_fail(__FILE__, __LINE__,
				             "fields table: %s %s: %s not in schema", f[i].field,
				             f[i].fb_plugin, k);
			lp_buf_init(&needle, 0);
			LP_CHECK_INT(lp_buf_addf(&needle, "%s:", k), LP_OK);
			if (!strstr(lp_buf_str(&all), lp_buf_str(&needle)))
				lp_test_fail(__FILE__, __LINE__,
				             "fields table: %s key %s never rendered", f[i].field,
				             k);
			lp_buf_free(&needle);
		}
	}
	lp_buf_init(&md, 0);
	LP_CHECK_INT(lp_render_fields_markdown(&md), LP_OK);
	LP_CHECK_HAS(lp_buf_str(&md),
	             "| LogOutput | spec.s3.totalFileSize | s3 | total_file_size |");
	/* docs/fields.md is the generated table, kept in step */
	{
		char *doc = path_of("docs/fields.md");
		size_t dl = 0;
		char *have = read_all(doc, &dl);
		if (!have || dl != md.len || memcmp(have, md.ptr, dl) != 0)
			lp_test_fail(__FILE__, __LINE__,
			             "docs/fields.md is stale: logplane render --fields-table > "
			             "docs/fields.md");
		lp_free(have);
		lp_free(doc);
	}
	lp_buf_free(&md);
	lp_buf_free(&all);
	lp_free(f);
}

/* ------------------------------------------------------------------ */
/* splitting                                                           */

static void t_split(void)
{
	char tmpl[] = "/tmp/lp-render-split-XXXXXX";
	FILE *f = tmp_yaml(tmpl);
	const char *paths[1] = {tmpl};
	struct lp_render_bundle b;
	struct lp_rendered r;
	json_t *entry;
	size_t n = 4000, plugins = 0, outs = 0, greps = 0;

	if (!f)
		return;
	fprintf(
	    f,
	    "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: out, namespace: "
	    "logplane-system}\nspec: {type: stdout}\n");
	for (size_t i = 0; i < n; i++)
		fprintf(
		    f,
		    "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: {name: "
		    "p%04zu, "
		    "namespace: logplane-system}\nspec:\n  input: {application: {namespaces: "
		    "{include: "
		    "[ns%zu]}}}\n  parse: {format: json}\n  transforms:\n    - detectLevel: {}\n"
		    "    - flatten: {}\n  routes:\n    - {outputRef: out, match: {field: level, "
		    "in: [error]}}\n",
		    i, i);
	fclose(f);
	memset(&r, 0, sizeof(r));
	LP_CHECK_INT(lp_render_bundle_load(&b, paths, 1, NULL), LP_OK);
	LP_CHECK_INT(lp_render_bundle_render(&r, &b, NULL), LP_OK);
	lp_render_bundle_free(&b);
	unlink(tmpl);
	LP_CHECK_INT(r.n_problems, 0);
	LP_CHECK(r.shipper.total_bytes > LP_RENDER_SPLIT_BYTES);
	LP_CHECK(r.shipper.n_files >= 3);
	LP_CHECK_STR(r.shipper.files[0].name, "fluent-bit.yaml");
	entry = r.shipper.n_files ? reparse(&r.shipper.files[0]) : NULL;
	/* every file but the entry and logplane.lua is included */
	LP_CHECK(entry &&
	         json_array_size(json_object_get(entry, "includes")) == r.shipper.n_files - 2);
	LP_CHECK_STR(r.shipper.files[r.shipper.n_files - 1].name, "logplane.lua");
	LP_CHECK(entry && json_object_get(entry, "service") && !json_object_get(entry, "pipeline"));
	json_decref(entry);
	plugins = check_fb_config(&r, &r.shipper);
	for (size_t i = 0; i < r.shipper.n_files; i++) {
		const char *p = r.shipper.files[i].data;
		LP_CHECK(r.shipper.files[i].len <= LP_RENDER_SPLIT_BYTES);
		while ((p = strstr(p, "_r0\n")) != NULL) {
			outs++;
			p++;
		}
		for (p = r.shipper.files[i].data; (p = strstr(p, "- name: grep\n")) != NULL; p++)
			greps++;
	}
	/* every pipeline is there once: its output, its route's match as a processor */
	LP_CHECK_INT(outs, n);
	LP_CHECK_INT(greps, n);
	LP_CHECK(plugins > n);
	lp_rendered_free(&r);
}

/* Loads the documents written to f (temporary file tmpl, removed) into b. */
static int load_tmp(struct lp_render_bundle *b, char *tmpl, FILE *f)
{
	const char *paths[1] = {tmpl};
	lp_err err;

	fclose(f);
	err = lp_render_bundle_load(b, paths, 1, NULL);
	unlink(tmpl);
	LP_CHECK_INT(err, LP_OK);
	return err == LP_OK;
}

static size_t count_in(const struct lp_rendered_config *c, const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_files; i++)
		for (const char *p = c->files[i].data; (p = strstr(p, needle)) != NULL; p++)
			n++;
	return n;
}

/* A split Fluent Bit config: the entry holds the service and an includes list
 * naming every other file but logplane.lua, in order; no file is too large. */
static void check_fb_split(const struct lp_rendered_config *c)
{
	json_t *entry = c->n_files ? reparse(&c->files[0]) : NULL, *inc;
	size_t k = 0;

	LP_CHECK(c->n_files >= 3);
	LP_CHECK_STR(c->n_files ? c->files[0].name : "", "fluent-bit.yaml");
	LP_CHECK(entry && json_object_get(entry, "service") && !json_object_get(entry, "pipeline"));
	inc = entry ? json_object_get(entry, "includes") : NULL;
	for (size_t i = 1; i < c->n_files; i++) {
		char want[32];
		LP_CHECK(c->files[i].len <= LP_RENDER_SPLIT_BYTES);
		if (!strcmp(c->files[i].name, "logplane.lua"))
			continue;
		snprintf(want, sizeof(want), "part-%03zu.yaml", k);
		LP_CHECK_STR(c->files[i].name, want);
		LP_CHECK_STR(json_string_value(json_array_get(inc, k)), c->files[i].name);
		k++;
	}
	LP_CHECK_INT(json_array_size(inc), k);
	json_decref(entry);
}

/* scale-10k: 10,000 pipelines and 10,000 outputs in 1,000 namespaces render
 * with every pipeline and output in, outputs packed into parts. */
static void t_split_outputs(void)
{
	char tmpl[] = "/tmp/lp-render-outs-XXXXXX";
	FILE *f = tmp_yaml(tmpl);
	struct lp_render_bundle b;
	struct lp_rendered r;
	size_t n_ns = 1000, per_ns = 10, n = 10000;

	if (!f)
		return;
	for (size_t j = 0; j < n_ns; j++)
		for (size_t k = 0; k < per_ns; k++)
			fprintf(f,
			        "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: "
			        "{name: out-%zu, namespace: scale-%zu}\nspec: {type: http, http: "
			        "{host: logs-%zu-%zu.example.com, uri: /in}}\n",
			        k, j, j, k);
	for (size_t i = 0; i < n; i++)
		fprintf(f,
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: "
		        "{name: p-%05zu, namespace: scale-%zu}\nspec:\n  input: {application: "
		        "{}}\n  parse: {format: json}\n  transforms:\n    - addFields: [{key: "
		        "mark, value: m0-%05zu}]\n  routes:\n    - {outputRef: out-%zu}\n",
		        i, i % n_ns, i, (i / n_ns) % per_ns);
	memset(&r, 0, sizeof(r));
	if (!load_tmp(&b, tmpl, f))
		return;
	LP_CHECK_INT(lp_render_bundle_render(&r, &b, NULL), LP_OK);
	lp_render_bundle_free(&b);
	LP_CHECK_INT(r.n_problems, 0);
	LP_CHECK_INT(r.n_summaries, n);
	check_fb_split(&r.shipper);
	/* every pipeline's output instance once (one route each), spread over
	 * several parts; no shared instance per LogOutput on the node */
	LP_CHECK_INT(count_in(&r.shipper, "_r0\n"), n);
	LP_CHECK_INT(count_in(&r.shipper, "alias: lp_o_"), 0);
	LP_CHECK(r.shipper.n_files > 3 && strstr(r.shipper.files[2].data, "_r0\n") &&
	         strstr(r.shipper.files[3].data, "_r0\n"));
	LP_CHECK(check_fb_config(&r, &r.shipper) >= n);
	lp_rendered_free(&r);
}

/* The aggregator of many outputs is split too: Fluent Bit with includes,
 * Fluentd with @include lines in the order of its <match> directives. */
static void t_split_aggregator(void)
{
	const char *engines[] = {"fluentbit", "fluentd"};
	size_t n = 4000;

	for (int e = 0; e < 2; e++) {
		char tmpl[] = "/tmp/lp-render-agg-XXXXXX";
		FILE *f = tmp_yaml(tmpl);
		struct lp_render_bundle b;
		struct lp_rendered r;
		const struct lp_rendered_config *c = &r.aggregator;

		if (!f)
			return;
		/* the engine is the control namespace's to choose; tenants ship through */
		fprintf(f,
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: "
		        "{name: out, namespace: logplane-system}\nspec: {type: stdout}\n"
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: "
		        "{name: p, namespace: logplane-system}\nspec:\n  input: {application: "
		        "{}}\n  aggregator: {enabled: true, engine: %s}\n  routes:\n    - "
		        "{outputRef: out}\n",
		        engines[e]);
		for (size_t i = 0; i < n; i++)
			fprintf(
			    f,
			    "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: "
			    "{name: out-%zu, namespace: team-%zu}\nspec: {type: http, http: "
			    "{host: logs-%zu.example.com, uri: /ingest/v1/logs}}\n"
			    "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: "
			    "{name: p-%zu, namespace: team-%zu}\nspec:\n  input: {application: "
			    "{}}\n  aggregator: {enabled: true}\n  routes:\n    - "
			    "{outputRef: out-%zu}\n    - {outputRef: out-%zu, match: {field: "
			    "level, in: [error]}}\n",
			    i, i / 10, i, i, i / 10, i, i ^ 1);
		memset(&r, 0, sizeof(r));
		if (!load_tmp(&b, tmpl, f))
			return;
		LP_CHECK_INT(lp_render_bundle_render(&r, &b, NULL), LP_OK);
		lp_render_bundle_free(&b);
		LP_CHECK_INT(r.n_problems, 0);
		LP_CHECK(r.has_aggregator);
		LP_CHECK(c->total_bytes > LP_RENDER_SPLIT_BYTES);
		if (e == 0) {
			check_fb_split(c);
			LP_CHECK_INT(count_in(c, "alias: lp_o_"), n + 1);
			LP_CHECK_INT(count_in(c, "alias: lp_forward"), 1);
			check_fb_config(&r, c);
		} else {
			const char *p = c->n_files ? c->files[0].data : "";
			LP_CHECK(c->n_files >= 3);
			LP_CHECK_STR(c->n_files ? c->files[0].name : "", "fluent.conf");
			for (size_t i = 1; i < c->n_files; i++) {
				char want[64];
				LP_CHECK(c->files[i].len <= LP_RENDER_SPLIT_BYTES);
				snprintf(want, sizeof(want), "part-%03zu.conf", i);
				LP_CHECK_STR(c->files[i].name, want);
				snprintf(want, sizeof(want), "\n@include part-%03zu.conf\n", i);
				p = strstr(p, want);
				LP_CHECK(p != NULL); /* listed, in order */
				if (!p)
					break;
			}
			/* the catch-all comes after every included part, and only there */
			LP_CHECK(p && strstr(p, "<match **>"));
			LP_CHECK_INT(count_in(c, "<match **>"), 1);
			LP_CHECK_INT(count_in(c, "<match o."), n + 1);
			LP_CHECK_INT(count_in(c, "<match a."), n + 1);
			LP_CHECK(strstr(c->files[0].data, "<source>") != NULL);
		}
		lp_rendered_free(&r);
	}
}

/* An output whose own configuration is larger than a part is left out with
 * the pipeline routing there (on the node its instance is part of that
 * pipeline), reported; everything else still renders. */
static void t_split_output_too_large(void)
{
	char tmpl[] = "/tmp/lp-render-big-XXXXXX";
	FILE *f = tmp_yaml(tmpl);
	struct lp_render_bundle b;
	struct lp_rendered r;
	struct lp_output *big = NULL;
	size_t vlen = 60 * 1024;

	if (!f)
		return;
	fprintf(f, "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: big, "
	           "namespace: team-a}\nspec:\n  type: http\n  http:\n    host: big.example.com\n"
	           "    headers:\n");
	for (int h = 0; h < 16; h++)
		fprintf(f, "      - {name: X-H%d, value: v}\n", h);
	fprintf(f, "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: "
	           "small, namespace: team-a}\nspec: {type: http, http: {host: "
	           "small.example.com}}\n");
	for (int i = 0; i < 2; i++)
		fprintf(f,
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: "
		        "{name: p%d, namespace: team-a}\nspec:\n  input: {application: {}}\n  "
		        "routes:\n    - {outputRef: %s}\n",
		        i, i ? "small" : "big");
	memset(&r, 0, sizeof(r));
	if (!load_tmp(&b, tmpl, f))
		return;
	for (size_t i = 0; i < b.n_outputs; i++)
		if (!strcmp(b.outputs[i]->meta.name, "big"))
			big = b.outputs[i];
	LP_CHECK(big && big->u.http.n_headers == 16);
	/* 16 values of 60 KiB: more than a part can hold (the API would refuse
	 * them; the renderer must still cope) */
	for (size_t h = 0; big && h < big->u.http.n_headers; h++) {
		char *v = lp_malloc(vlen + 1);
		LP_CHECK(v != NULL);
		if (!v)
			break;
		memset(v, 'x', vlen);
		v[vlen] = '\0';
		lp_free(big->u.http.headers[h].value);
		big->u.http.headers[h].value = v;
	}
	LP_CHECK_INT(lp_render_bundle_render(&r, &b, NULL), LP_OK);
	lp_render_bundle_free(&b);
	LP_CHECK_INT(r.n_problems, 1);
	if (r.n_problems == 1) {
		/* on the node an output instance belongs to the pipeline routing
		 * there: the pipeline is left out */
		LP_CHECK_STR(r.problems[0].kind, "LogPipeline");
		LP_CHECK_STR(r.problems[0].name, "p0");
		LP_CHECK_STR(r.problems[0].field, "spec");
		LP_CHECK_HAS(r.problems[0].message, "alone is larger than");
	}
	LP_CHECK_INT(r.n_summaries, 1);
	LP_CHECK_INT(count_in(&r.shipper, "big.example.com"), 0);
	LP_CHECK_INT(count_in(&r.shipper, "small.example.com"), 1);
	for (size_t i = 0; i < r.shipper.n_files; i++)
		LP_CHECK(r.shipper.files[i].len <= LP_RENDER_SPLIT_BYTES);
	check_fb_config(&r, &r.shipper);
	lp_rendered_free(&r);
}

/* ------------------------------------------------------------------ */
/* injection corpus                                                    */

struct leaf {
	size_t doc;
	char path[256]; /* "spec/opensearch/host", array index as number */
};

static void leaves(json_t *v, size_t doc, const char *path, struct leaf **out, size_t *n)
{
	const char *key;
	json_t *c;
	size_t i;
	char p[256];

	if (json_is_string(v)) {
		if (!strncmp(path, "apiVersion", 10) || !strncmp(path, "kind", 4) ||
		    !strcmp(path, "spec/type"))
			return;
		*out = lp_realloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n].doc = doc;
		snprintf((*out)[*n].path, sizeof((*out)[*n].path), "%s", path);
		(*n)++;
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, c)
		{
			snprintf(p, sizeof(p), "%s%s%s", path, *path ? "/" : "", key);
			leaves(c, doc, p, out, n);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c)
		{
			snprintf(p, sizeof(p), "%s%s%zu", path, *path ? "/" : "", i);
			leaves(c, doc, p, out, n);
		}
	}
}

/* Sets the string at path inside root to value (len bytes, may hold a NUL). */
static int set_leaf(json_t *root, const char *path, const char *value, size_t len)
{
	char buf[256], *save = NULL, *tok, *next;
	json_t *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	tok = strtok_r(buf, "/", &save);
	while (tok) {
		next = strtok_r(NULL, "/", &save);
		if (!next) {
			json_t *s = json_stringn_nocheck(value, len);
			if (json_is_array(cur))
				return json_array_set_new(cur, (size_t)atol(tok), s) == 0;
			return json_object_set_new(cur, tok, s) == 0;
		}
		cur = json_is_array(cur) ? json_array_get(cur, (size_t)atol(tok))
		                         : json_object_get(cur, tok);
		tok = next;
	}
	return 0;
}

/* Structure of a render: every Fluent Bit entry's section, plugin name and
 * keys; Fluentd's first word per line. Value text is left out on purpose. */
static lp_err signature(struct lp_buf *sig, const struct lp_rendered *r)
{
	const struct lp_rendered_config *cfgs[2] = {&r->shipper, &r->aggregator};
	lp_err err = LP_OK;

	for (int c = 0; c < 2 && !err; c++) {
		for (size_t i = 0; !err && i < cfgs[c]->n_files; i++) {
			const struct lp_render_file *f = &cfgs[c]->files[i];
			size_t l = strlen(f->name);
			if (l > 4 && !strcmp(f->name + l - 4, ".lua")) {
				size_t lines = 0;
				for (size_t k = 0; k < f->len; k++)
					lines += f->data[k] == '\n';
				err = lp_buf_addf(sig, "lua %zu lines\n", lines);
				continue;
			}
			if (l > 5 && !strcmp(f->name + l - 5, ".conf")) {
				const char *p = f->data;
				while (*p && !err) {
					size_t w = strcspn(p, " \n");
					err = lp_buf_add(sig, p, w);
					if (!err)
						err = lp_buf_addc(sig, '\n');
					p = strchr(p, '\n');
					p = p ? p + 1 : p + strlen(p);
				}
				continue;
			}
			{
				json_t *root = reparse(f), *pl;
				const char *sec[] = {"inputs", "filters", "outputs"};
				const char *key;
				json_t *v;
				if (!root)
					return LP_ERR_PARSE;
				json_object_foreach(root, key, v) err =
				    err ? err : lp_buf_addf(sig, "top %s\n", key);
				pl = json_object_get(root, "pipeline");
				for (int s = 0; s < 3 && !err; s++) {
					size_t k;
					json_t *e;
					json_array_foreach(json_object_get(pl, sec[s]), k, e)
					{
						const char *ek;
						json_t *ev;
						err = err ? err
						          : lp_buf_addf(
						                sig, "%s %s:", sec[s],
						                json_string_value(
						                    json_object_get(e, "name")));
						json_object_foreach(e, ek, ev)
						{
							err =
							    err ? err : lp_buf_addf(sig, " %s", ek);
							if (json_is_array(ev))
								err =
								    err ? err
								        : lp_buf_addf(
								              sig, "[%zu]",
								              json_array_size(ev));
						}
						err = err ? err : lp_buf_addc(sig, '\n');
					}
				}
				json_decref(root);
			}
		}
	}
	return err;
}

/* Parses + validates docs, renders; *rejected set when the mutated document
 * (index doc) was refused by validation or left out by the renderer. */
static lp_err render_docs(json_t **docs, size_t n, size_t doc, struct lp_rendered *r, int *rejected)
{
	struct lp_pipeline *pl[8] = {0};
	struct lp_output *ol[32] = {0}, *all_o[32] = {0};
	size_t np = 0, no = 0, nall = 0;
	unsigned char is_pl[64] = {0}, ok[64] = {0};
	void *objs[64] = {0};
	struct lp_world w;
	struct lp_render_input in;
	lp_err err = LP_OK;
	const char *dns = NULL, *dname = NULL;

	*rejected = 0;
	for (size_t i = 0; i < n; i++) {
		struct lp_problems probs = {0};
		const char *kind = json_string_value(json_object_get(docs[i], "kind"));
		if (!strcmp(kind, "LogPipeline")) {
			struct lp_pipeline *p = NULL;
			ok[i] = lp_pipeline_parse(&p, docs[i], &probs) == LP_OK;
			objs[i] = p;
			is_pl[i] = 1;
		} else {
			struct lp_output *o = NULL;
			ok[i] = lp_output_parse(&o, docs[i], &probs) == LP_OK;
			objs[i] = o;
			if (o)
				all_o[nall++] = o;
		}
		if (!ok[i] && i == doc) {
			*rejected = 1;
			if (probs.n == 0 || !probs.v[0].field || !*probs.v[0].field)
				lp_test_fail(__FILE__, __LINE__, "rejected without naming a field");
		}
		lp_problems_free(&probs);
	}
	memset(&w, 0, sizeof(w));
	w.outputs = (const struct lp_output *const *)all_o;
	w.n_outputs = nall;
	for (size_t i = 0; i < n; i++) {
		struct lp_problems probs = {0};
		if (!ok[i] || !objs[i])
			continue;
		if (is_pl[i])
			ok[i] = lp_pipeline_validate(objs[i], &w, &probs) == LP_OK;
		else
			ok[i] = lp_output_validate(objs[i], &w, &probs) == LP_OK;
		if (!ok[i] && i == doc)
			*rejected = 1;
		lp_problems_free(&probs);
		if (ok[i] && is_pl[i])
			pl[np++] = objs[i];
		else if (ok[i])
			ol[no++] = objs[i];
	}
	if (objs[doc]) {
		const struct lp_meta *m = is_pl[doc] ? &((struct lp_pipeline *)objs[doc])->meta
		                                     : &((struct lp_output *)objs[doc])->meta;
		dns = m->ns;
		dname = m->name;
	}
	memset(&in, 0, sizeof(in));
	in.pipelines = (const struct lp_pipeline *const *)pl;
	in.n_pipelines = np;
	in.outputs = (const struct lp_output *const *)ol;
	in.n_outputs = no;
	err = lp_render(r, &in);
	for (size_t i = 0; !err && !*rejected && i < r->n_problems; i++)
		if (dns && dname && !strcmp(r->problems[i].ns, dns) &&
		    !strcmp(r->problems[i].name, dname) &&
		    !strcmp(r->problems[i].kind, is_pl[doc] ? "LogPipeline" : "LogOutput")) {
			/* one verdict: validation accepted it, so the renderer must too */
			lp_test_fail(__FILE__, __LINE__,
			             "%s %s/%s: valid, but the renderer refused it: %s: %s",
			             r->problems[i].kind, dns, dname, r->problems[i].field,
			             r->problems[i].message);
			*rejected = 1;
		}
	for (size_t i = 0; i < n; i++) {
		if (is_pl[i])
			lp_pipeline_free(objs[i]);
		else
			lp_output_free(objs[i]);
	}
	return err;
}

static void t_injection(void)
{
	static const char long_a[] = "";
	struct {
		const char *v;
		size_t len;
	} evil[] = {
	    {"a\nb", 3},
	    {"x\n[OUTPUT]\n    Name stdout\n    Match *", 0},
	    {"@INCLUDE /etc/passwd", 0},
	    {"\n@INCLUDE /etc/shadow\n", 0},
	    {"[SERVICE]", 0},
	    {"x\npipeline:\n  outputs:\n    - name: stdout\n      match: '*'", 0},
	    {"&a", 0},
	    {"*a", 0},
	    {"&anchor value", 0},
	    {"{}", 0},
	    {"[]", 0},
	    {"{name: stdout, match: '*'}", 0},
	    {"key: value", 0},
	    {"- name: stdout", 0},
	    {"${AWS_SECRET_ACCESS_KEY}", 0},
	    {"#{ENV['HOME']}", 0},
	    {"# comment", 0},
	    {"it's \"quoted\" \\ ", 0},
	    {"a b,c=d", 0},
	    {"a\0b", 3},
	    {"\xff\xfe not utf-8", 0},
	    {"\xc3\x28", 0},
	    {long_a, 100000},
	};
	char *in = path_of("tests/data/render/injection-base.yaml");
	struct lp_yaml_docs ydocs = {0};
	json_t *docs[64];
	struct leaf *lv = NULL;
	size_t nl = 0, nd, inert = 0, rejected = 0;
	char *longv = lp_malloc(100001);
	struct lp_buf base_sig;
	struct lp_rendered r;
	int rej;

	memset(longv, 'a', 100000);
	longv[100000] = '\0';
	LP_CHECK_INT(lp_yaml_load_file(&ydocs, in), LP_OK);
	nd = ydocs.n;
	LP_CHECK(nd > 10 && nd <= 64);
	for (size_t i = 0; i < nd; i++) {
		docs[i] = ydocs.v[i].root;
		leaves(docs[i], i, "", &lv, &nl);
	}
	LP_CHECK(nl > 60);
	/* the base renders without problems */
	lp_buf_init(&base_sig, 0);
	LP_CHECK_INT(render_docs(docs, nd, 0, &r, &rej), LP_OK);
	LP_CHECK_INT(r.n_problems, 0);
	LP_CHECK_INT(signature(&base_sig, &r), LP_OK);
	lp_rendered_free(&r);
	for (size_t l = 0; l < nl; l++) {
		json_t *copy[64];
		struct lp_buf benign_sig;
		int benign_ok = 0;
		lp_buf_init(&benign_sig, 0);
		/* a benign value with a space in it as a second baseline */
		for (size_t i = 0; i < nd; i++)
			copy[i] = json_deep_copy(docs[i]);
		set_leaf(copy[lv[l].doc], lv[l].path, "benign value", 12);
		if (render_docs(copy, nd, lv[l].doc, &r, &rej) == LP_OK) {
			if (!rej)
				benign_ok = signature(&benign_sig, &r) == LP_OK;
			lp_rendered_free(&r);
		}
		for (size_t i = 0; i < nd; i++)
			json_decref(copy[i]);
		for (size_t e = 0; e < sizeof(evil) / sizeof(evil[0]); e++) {
			const char *v = evil[e].len == 100000 ? longv : evil[e].v;
			size_t len = evil[e].len ? evil[e].len : strlen(v);
			struct lp_buf sig;
			for (size_t i = 0; i < nd; i++)
				copy[i] = json_deep_copy(docs[i]);
			LP_CHECK(set_leaf(copy[lv[l].doc], lv[l].path, v, len));
			lp_buf_init(&sig, 0);
			if (render_docs(copy, nd, lv[l].doc, &r, &rej) != LP_OK) {
				lp_test_fail(__FILE__, __LINE__, "render failed for %s = evil[%zu]",
				             lv[l].path, e);
			} else if (rej) {
				rejected++;
				lp_rendered_free(&r);
			} else {
				check_rendered(&r);
				if (signature(&sig, &r) != LP_OK ||
				    (strcmp(lp_buf_str(&sig), lp_buf_str(&base_sig)) != 0 &&
				     (!benign_ok ||
				      strcmp(lp_buf_str(&sig), lp_buf_str(&benign_sig)) != 0)))
					lp_test_fail(
					    __FILE__, __LINE__,
					    "doc %zu %s = evil[%zu] changed the config structure",
					    lv[l].doc, lv[l].path, e);
				else
					inert++;
				lp_rendered_free(&r);
			}
			lp_buf_free(&sig);
			for (size_t i = 0; i < nd; i++)
				json_decref(copy[i]);
		}
		lp_buf_free(&benign_sig);
	}
	printf("# injection corpus: %zu string fields x %zu values: %zu rejected, %zu rendered "
	       "inert\n",
	       nl, sizeof(evil) / sizeof(evil[0]), rejected, inert);
	LP_CHECK(rejected > 0 && inert > 0);
	lp_buf_free(&base_sig);
	lp_yaml_docs_free(&ydocs);
	lp_free(lv);
	lp_free(longv);
	lp_free(in);
}

/* The chart's fluentBit.storage.totalLimitSize bounds the shipper's buffer of
 * every durable output without spec.delivery.bufferLimit; bufferLimit wins;
 * the aggregator keeps its own default. */
static void t_default_buffer_limit(void)
{
	static const char yaml[] =
	    "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\n"
	    "metadata: {name: own, namespace: logplane-system}\n"
	    "spec: {type: http, delivery: {mode: atLeastOnce, bufferLimit: 5G}, "
	    "http: {host: a.example.com}}\n---\n"
	    "apiVersion: logplane.io/v1alpha1\nkind: LogOutput\n"
	    "metadata: {name: deflt, namespace: logplane-system}\n"
	    "spec: {type: http, delivery: {mode: atLeastOnce}, http: {host: b.example.com}}\n---\n"
	    "apiVersion: logplane.io/v1alpha1\nkind: LogPipeline\n"
	    "metadata: {name: p, namespace: logplane-system}\n"
	    "spec: {input: {application: {}}, routes: [{outputRef: own}, {outputRef: "
	    "deflt}]}\n---\n"
	    "apiVersion: logplane.io/v1alpha1\nkind: LogPipeline\n"
	    "metadata: {name: q, namespace: logplane-system}\n"
	    "spec: {input: {system: {}}, aggregator: {enabled: true}, "
	    "routes: [{outputRef: deflt}]}\n";
	const char *const limits[] = {NULL, "2Gi"};
	const char *const want[] = {"storage.total_limit_size: 1G",
	                            "storage.total_limit_size: 2147483648"};

	for (size_t k = 0; k < 2; k++) {
		char tmpl[] = "/tmp/lp-render-limit-XXXXXX";
		FILE *f = tmp_yaml(tmpl);
		struct lp_render_bundle b;
		struct lp_render_input in;
		struct lp_rendered r;
		const char *own, *deflt;
		char ownc[4096];

		if (!f)
			return;
		fputs(yaml, f);
		if (!load_tmp(&b, tmpl, f))
			return;
		memset(&in, 0, sizeof(in));
		memset(&r, 0, sizeof(r));
		in.default_buffer_limit = limits[k];
		LP_CHECK_INT(lp_render_bundle_render(&r, &b, &in), LP_OK);
		LP_CHECK_INT(r.n_problems, 0);
		if (r.shipper.n_files) {
			own = out_section(shipper_text(&r), "a.example.com");
			snprintf(ownc, sizeof(ownc), "%s", own);
			LP_CHECK_HAS(ownc, "storage.total_limit_size: 5G");
			deflt = out_section(shipper_text(&r), "b.example.com");
			LP_CHECK_HAS(deflt, want[k]);
			/* the aggregator's volume is sized on its own: 1G there */
			LP_CHECK(r.has_aggregator && r.aggregator.n_files);
			if (r.has_aggregator && r.aggregator.n_files) {
				LP_CHECK_HAS(
				    out_section(r.aggregator.files[0].data, "b.example.com"),
				    "storage.total_limit_size: 1G");
				LP_CHECK(strstr(r.aggregator.files[0].data, "2147483648") == NULL);
			}
		}
		lp_rendered_free(&r);
		lp_render_bundle_free(&b);
	}
}

/* no_summaries: the same configuration, no summaries (the operator's render). */
static void t_no_summaries(void)
{
	char *in_path = path_of("tests/data/render/cases/tenancy-isolation.yaml");
	const char *paths[1] = {in_path};
	struct lp_render_bundle b;
	struct lp_render_input in;
	struct lp_rendered with, without;

	memset(&with, 0, sizeof(with));
	memset(&without, 0, sizeof(without));
	memset(&in, 0, sizeof(in));
	in.no_summaries = 1;
	LP_CHECK_INT(lp_render_bundle_load(&b, paths, 1, NULL), LP_OK);
	LP_CHECK_INT(lp_render_bundle_render(&with, &b, NULL), LP_OK);
	LP_CHECK_INT(lp_render_bundle_render(&without, &b, &in), LP_OK);
	LP_CHECK_INT(with.n_summaries, 3);
	LP_CHECK_INT(without.n_summaries, 0);
	LP_CHECK_STR(without.shipper.hash, with.shipper.hash);
	lp_rendered_free(&with);
	lp_rendered_free(&without);
	lp_render_bundle_free(&b);
	lp_free(in_path);
}

/* The block of the routes below: processors with a grep (the same events for
 * every route). */
static void yw_block(struct lp_yamlw *w)
{
	lp_yamlw_str(w, "processors");
	lp_yamlw_map(w);
	lp_yamlw_str(w, "logs");
	lp_yamlw_seq(w);
	lp_yamlw_map(w);
	lp_yamlw_kv(w, "name", "grep");
	lp_yamlw_str(w, "regex");
	lp_yamlw_seq(w);
	lp_yamlw_str(w, "$level ^(?:error|fatal)$");
	lp_yamlw_seq_end(w);
	lp_yamlw_map_end(w);
	lp_yamlw_seq_end(w);
	lp_yamlw_map_end(w);
}

/* Four outputs, each with its own keys then the same block: written plainly
 * (how 0), through mark/replay (1) or capture/memo (2). Output 2's last value
 * is a literal block scalar, after which libyaml writes no line break of its
 * own before the next key. Returns the number of blocks copied. */
static int yw_doc(struct lp_buf *out, struct lp_buf *rec, int how, int count_only, size_t *bytes)
{
	struct lp_yamlw w;
	struct lp_yamlw_mark m;
	struct lp_yamlw_memo memo;
	struct lp_buf cap;
	int copied = 0;
	lp_err err = LP_OK;

	memset(&m, 0, sizeof(m));
	memset(&memo, 0, sizeof(memo));
	lp_buf_init(&memo.ev, 0);
	lp_buf_init(&cap, 0);
	if (count_only)
		lp_yamlw_begin_count(&w);
	else
		err = lp_yamlw_begin(&w, out);
	w.rec = rec;
	lp_yamlw_map(&w);
	lp_yamlw_str(&w, "outputs");
	lp_yamlw_seq(&w);
	for (int i = 0; i < 4 && !err; i++) {
		char v[32];
		snprintf(v, sizeof(v), "host-%d", i);
		lp_yamlw_map(&w);
		lp_yamlw_kv(&w, "name", "http");
		lp_yamlw_kv(&w, "host", v);
		lp_yamlw_str(&w, "note");
		if (i == 2)
			lp_yamlw_literal(&w, "a\nb\n");
		else
			lp_yamlw_str(&w, v);
		if (how == 1 && i > 0 && lp_yamlw_replay(&w, &m)) {
			copied++;
		} else if (how == 1) {
			lp_yamlw_mark_begin(&w, &m);
			yw_block(&w);
			lp_yamlw_mark_end(&w, &m);
		} else if (how == 2) {
			lp_yamlw_capture_begin(&w, &cap);
			yw_block(&w);
			lp_yamlw_capture_end(&w, &memo);
			copied += memo.ok && i > 0;
		} else {
			yw_block(&w);
		}
		lp_yamlw_kv(&w, "after", "x");
		lp_yamlw_map_end(&w);
	}
	lp_yamlw_seq_end(&w);
	lp_yamlw_map_end(&w);
	if (bytes)
		*bytes = lp_yamlw_size(&w);
	if (!err)
		err = lp_yamlw_end(&w);
	lp_yamlw_memo_free(&memo);
	lp_buf_free(&cap);
	return err ? -1 : copied;
}

/* yamlw's block copies give the text, record and estimate of writing the
 * events again, and are made where the state allows (not after the literal). */
static void t_yamlw_replay(void)
{
	struct lp_buf out[3], rec[3];
	size_t est[3];

	for (int how = 0; how < 3; how++) {
		struct lp_buf r;
		lp_buf_init(&out[how], 0);
		lp_buf_init(&rec[how], 0);
		lp_buf_init(&r, 0);
		int copied = yw_doc(&out[how], &rec[how], how, 0, NULL);
		LP_CHECK(copied >= 0);
		/* output 1 is a copy; output 2 follows a literal, so it is written
		 * (and leaves no block to copy for output 3) */
		if (how == 1)
			LP_CHECK_INT(copied, 1);
		LP_CHECK(yw_doc(NULL, &r, how, 1, &est[how]) >= 0);
		LP_CHECK(out[how].len > 0 && rec[how].len > 0 && r.len > 0);
		if (how > 0 && !lp_test_failed) {
			LP_CHECK(out[how].len == out[0].len &&
			         memcmp(out[how].ptr, out[0].ptr, out[0].len) == 0);
			LP_CHECK(rec[how].len == rec[0].len &&
			         memcmp(rec[how].ptr, rec[0].ptr, rec[0].len) == 0);
			LP_CHECK(r.len == rec[0].len && memcmp(r.ptr, rec[0].ptr, r.len) == 0);
			LP_CHECK_INT(est[how], est[0]);
		}
		lp_buf_free(&r);
	}
	LP_CHECK(strstr(lp_buf_str(&out[0]), "  processors:\n    logs:\n    - name: grep\n") !=
	         NULL);
	for (int how = 0; how < 3; how++) {
		lp_buf_free(&out[how]);
		lp_buf_free(&rec[how]);
	}
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"golden_cases", t_golden_cases},
	    {"golden_examples", t_golden_examples},
	    {"tenancy", t_tenancy},
	    {"shapes", t_shapes},
	    {"agent_metrics", t_agent_metrics},
	    {"multiline_first", t_multiline_first},
	    {"deterministic", t_deterministic},
	    {"secrets_not_in_text", t_secrets_not_in_text},
	    {"aws_profiles", t_aws_profiles},
	    {"aws_credentials_file", t_aws_credentials_file},
	    {"invalid_left_out", t_invalid_left_out},
	    {"default_buffer_limit", t_default_buffer_limit},
	    {"no_summaries", t_no_summaries},
	    {"schema_lookup", t_schema_lookup},
	    {"null_args", t_null_args},
	    {"fields_table", t_fields_table},
	    {"split", t_split},
	    {"split_outputs", t_split_outputs},
	    {"split_aggregator", t_split_aggregator},
	    {"aggregator_shapes", t_aggregator_shapes},
	    {"split_output_too_large", t_split_output_too_large},
	    {"cache", t_cache},
	    {"injection", t_injection},
	    {"yamlw_replay", t_yamlw_replay},
	};
	int rc = lp_test_main("render", tests, LP_TEST_COUNT(tests));

	json_decref(schema);
	return rc;
}
