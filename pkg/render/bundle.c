/* pkg/render/bundle.c: see bundle.h. */
#include "bundle.h"
#include "../api/yamlload.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include "../util/vec.h"
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static lp_err problem(struct lp_render_bundle *b, const char *kind, const char *ns,
                      const char *name, const char *field, const char *msg)
{
	struct lp_render_problem *p;

	if (b->n_problems == b->cap_problems) {
		size_t ncap = b->cap_problems ? b->cap_problems * 2 : 8;
		p = lp_realloc(b->problems, ncap * sizeof(*p));
		if (!p)
			return LP_ERR_NOMEM;
		b->problems = p;
		b->cap_problems = ncap;
	}
	p = &b->problems[b->n_problems++];
	p->kind = lp_strdup(kind);
	p->ns = lp_strdup(ns ? ns : "");
	p->name = lp_strdup(name ? name : "");
	p->field = lp_strdup(field ? field : "");
	p->message = lp_strdup(msg ? msg : "");
	return (p->kind && p->ns && p->name && p->field && p->message) ? LP_OK : LP_ERR_NOMEM;
}

static lp_err problems_from(struct lp_render_bundle *b, const char *kind, const struct lp_meta *m,
                            struct lp_problems *probs)
{
	lp_err err = LP_OK;

	for (size_t i = 0; !err && i < probs->n; i++)
		err = problem(b, kind, m ? m->ns : NULL, m ? m->name : NULL, probs->v[i].field,
		              probs->v[i].message);
	lp_problems_free(probs);
	memset(probs, 0, sizeof(*probs));
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int yaml_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

/* Appends path (a file) or the YAML files under it (a directory) to *list. */
static lp_err collect(const char *path, char ***list, size_t *n, size_t *cap, int depth)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t nn = 0, cn = 0;
	lp_err err = LP_OK;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) || depth > 8) {
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			char **p = lp_realloc(*list, ncap * sizeof(*p));
			if (!p)
				return LP_ERR_NOMEM;
			*list = p;
			*cap = ncap;
		}
		(*list)[*n] = lp_strdup(path);
		if (!(*list)[*n])
			return LP_ERR_NOMEM;
		(*n)++;
		return LP_OK;
	}
	d = opendir(path);
	if (!d)
		return LP_OK; /* reported when the file cannot be read */
	while (!err && (e = readdir(d)) != NULL) {
		struct lp_buf full;
		struct stat es;
		if (e->d_name[0] == '.')
			continue;
		lp_buf_init(&full, 0);
		err = lp_buf_addf(&full, "%s/%s", path, e->d_name);
		if (err)
			break;
		if (stat(lp_buf_str(&full), &es) != 0 ||
		    (!S_ISDIR(es.st_mode) && !yaml_name(e->d_name))) {
			lp_buf_free(&full);
			continue;
		}
		if (nn == cn) {
			size_t ncap = cn ? cn * 2 : 16;
			char **p = lp_realloc(names, ncap * sizeof(*p));
			if (!p) {
				lp_buf_free(&full);
				err = LP_ERR_NOMEM;
				break;
			}
			names = p;
			cn = ncap;
		}
		names[nn] = lp_buf_take(&full);
		if (!names[nn])
			err = LP_ERR_NOMEM;
		else
			nn++;
	}
	closedir(d);
	if (!err && nn > 1) /* names is NULL for an empty directory */
		qsort(names, nn, sizeof(*names), cmp_str);
	for (size_t i = 0; !err && i < nn; i++)
		err = collect(names[i], list, n, cap, depth + 1);
	for (size_t i = 0; i < nn; i++)
		lp_free(names[i]);
	lp_free(names);
	return err;
}

static lp_err add_doc(struct lp_render_bundle *b, const json_t *root, const char *file, size_t idx)
{
	const char *api = json_string_value(json_object_get(root, "apiVersion"));
	const char *kind = json_string_value(json_object_get(root, "kind"));
	struct lp_problems probs = {0};
	lp_err err = LP_OK, perr;

	if (!api || strncmp(api, LP_API_GROUP "/", strlen(LP_API_GROUP) + 1) != 0 || !kind)
		return LP_OK; /* Namespaces, Secrets, ...: not ours */
	if (strcmp(kind, "LogPipeline") == 0) {
		struct lp_pipeline *p = NULL;
		size_t cap = b->cap_pipelines;
		perr = lp_pipeline_parse(&p, root, &probs);
		if (!p) {
			lp_problems_free(&probs);
			return perr == LP_ERR_NOMEM ? LP_ERR_NOMEM : LP_OK;
		}
		if (lp_vec_reserve((void **)&b->pipelines, &b->cap_pipelines, b->n_pipelines + 1,
		                   sizeof(*b->pipelines)) != LP_OK ||
		    lp_vec_reserve((void **)&b->pipeline_ok, &cap, b->n_pipelines + 1, 1) !=
		        LP_OK) {
			lp_pipeline_free(p);
			lp_problems_free(&probs);
			return LP_ERR_NOMEM;
		}
		b->pipeline_ok[b->n_pipelines] = perr == LP_OK; /* until validated */
		b->pipelines[b->n_pipelines++] = p;
		if (perr != LP_OK)
			err = problems_from(b, "LogPipeline", &p->meta, &probs);
		else
			lp_problems_free(&probs);
	} else if (strcmp(kind, "LogOutput") == 0) {
		struct lp_output *o = NULL;
		size_t cap = b->cap_outputs;
		perr = lp_output_parse(&o, root, &probs);
		if (!o) {
			lp_problems_free(&probs);
			return perr == LP_ERR_NOMEM ? LP_ERR_NOMEM : LP_OK;
		}
		if (lp_vec_reserve((void **)&b->outputs, &b->cap_outputs, b->n_outputs + 1,
		                   sizeof(*b->outputs)) != LP_OK ||
		    lp_vec_reserve((void **)&b->output_ok, &cap, b->n_outputs + 1, 1) != LP_OK) {
			lp_output_free(o);
			lp_problems_free(&probs);
			return LP_ERR_NOMEM;
		}
		b->output_ok[b->n_outputs] = perr == LP_OK; /* until validated */
		b->outputs[b->n_outputs++] = o;
		if (perr != LP_OK)
			err = problems_from(b, "LogOutput", &o->meta, &probs);
		else
			lp_problems_free(&probs);
	} else {
		struct lp_buf m;
		lp_buf_init(&m, 0);
		err = lp_buf_addf(&m, "%s document %zu: unknown kind \"%s\"", file, idx, kind);
		if (!err)
			err = problem(b, kind, NULL, NULL, "kind", lp_buf_str(&m));
		lp_buf_free(&m);
	}
	return err;
}

lp_err lp_render_bundle_load(struct lp_render_bundle *b, const char *const *paths, size_t n,
                             const char *control_ns)
{
	char **files = NULL;
	size_t nf = 0, cf = 0;
	struct lp_world w;
	const struct lp_output **sorted = NULL;
	lp_err err = LP_OK;

	memset(b, 0, sizeof(*b));
	for (size_t i = 0; !err && i < n; i++)
		err = collect(paths[i], &files, &nf, &cf, 0);
	for (size_t i = 0; !err && i < nf; i++) {
		struct lp_yaml_docs docs = {0};
		lp_err lerr = lp_yaml_load_file(&docs, files[i]);
		if (lerr == LP_ERR_NOMEM) {
			err = lerr;
		} else if (lerr != LP_OK) {
			struct lp_buf m;
			lp_buf_init(&m, 0);
			err = lp_buf_addf(&m, "%s: %s", files[i],
			                  docs.error ? docs.error : lp_strerror(lerr));
			if (!err)
				err = problem(b, "File", NULL, files[i], "", lp_buf_str(&m));
			lp_buf_free(&m);
		}
		for (size_t d = 0; !err && d < docs.n; d++)
			if (docs.v[d].root && json_is_object(docs.v[d].root))
				err = add_doc(b, docs.v[d].root, files[i], docs.v[d].index);
		lp_yaml_docs_free(&docs);
	}
	for (size_t i = 0; i < nf; i++)
		lp_free(files[i]);
	lp_free(files);
	if (err)
		goto fail;
	/* references are looked up in a sorted copy (b->outputs keeps file order) */
	sorted = lp_calloc(b->n_outputs ? b->n_outputs : 1, sizeof(*sorted));
	if (!sorted) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	if (b->n_outputs) /* b->outputs is NULL when there is none */
		memcpy(sorted, b->outputs, b->n_outputs * sizeof(*sorted));
	lp_outputs_sort(sorted, b->n_outputs);
	/* parse problems were recorded per resource: mark those with none as candidates */
	memset(&w, 0, sizeof(w));
	w.control_ns = control_ns;
	w.outputs = sorted;
	w.n_outputs = b->n_outputs;
	w.outputs_sorted = 1;
	for (size_t i = 0; !err && i < b->n_outputs; i++) {
		struct lp_problems probs = {0};
		/* one that did not parse has its problems already */
		lp_err verr = b->output_ok[i] ? lp_output_validate(b->outputs[i], &w, &probs)
		                              : LP_ERR_INVALID;
		if (verr != LP_OK)
			b->output_ok[i] = 0;
		if (verr == LP_ERR_NOMEM) {
			lp_problems_free(&probs);
			err = verr;
			break;
		}
		err = problems_from(b, "LogOutput", &b->outputs[i]->meta, &probs);
	}
	for (size_t i = 0; !err && i < b->n_pipelines; i++) {
		struct lp_problems probs = {0};
		lp_err verr = b->pipeline_ok[i] ? lp_pipeline_validate(b->pipelines[i], &w, &probs)
		                                : LP_ERR_INVALID;
		if (verr != LP_OK)
			b->pipeline_ok[i] = 0;
		if (verr == LP_ERR_NOMEM) {
			lp_problems_free(&probs);
			err = verr;
			break;
		}
		err = problems_from(b, "LogPipeline", &b->pipelines[i]->meta, &probs);
	}
	lp_free(sorted);
	sorted = NULL;
	if (!err)
		return LP_OK;
fail:
	lp_free(sorted);
	lp_render_bundle_free(b);
	return err;
}

/* lp_render_input.output_problem over the bundle's own problems: the first
 * one of LogOutput ns/name, when it was left out. */
static int bundle_output_problem(void *ctx, const char *ns, const char *name, char *buf, size_t n)
{
	const struct lp_render_bundle *b = ctx;

	for (size_t i = 0; i < b->n_problems; i++) {
		const struct lp_render_problem *q = &b->problems[i];
		if (!q->kind || strcmp(q->kind, "LogOutput") || !q->ns || !q->name ||
		    strcmp(q->ns, ns ? ns : "") || strcmp(q->name, name ? name : ""))
			continue;
		if (q->field && *q->field)
			snprintf(buf, n, "%s: %s", q->field, q->message ? q->message : "");
		else
			snprintf(buf, n, "%s", q->message ? q->message : "");
		return 1;
	}
	return 0;
}

lp_err lp_render_bundle_render(struct lp_rendered *out, const struct lp_render_bundle *b,
                               const struct lp_render_input *in)
{
	struct lp_render_input ri;
	const struct lp_pipeline **pl = NULL;
	const struct lp_output **ol = NULL;
	struct lp_render_problem *all = NULL;
	size_t np = 0, no = 0;
	lp_err err;

	memset(&ri, 0, sizeof(ri));
	if (in)
		ri = *in;
	pl = lp_calloc(b->n_pipelines ? b->n_pipelines : 1, sizeof(*pl));
	ol = lp_calloc(b->n_outputs ? b->n_outputs : 1, sizeof(*ol));
	if (!pl || !ol) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->n_pipelines; i++)
		if (b->pipeline_ok[i])
			pl[np++] = b->pipelines[i];
	for (size_t i = 0; i < b->n_outputs; i++)
		if (b->output_ok[i])
			ol[no++] = b->outputs[i];
	ri.pipelines = pl;
	ri.n_pipelines = np;
	ri.outputs = ol;
	ri.n_outputs = no;
	if (!ri.output_problem) {
		ri.output_problem = bundle_output_problem;
		ri.output_problem_ctx = (void *)b;
	}
	err = lp_render(out, &ri);
	if (err || b->n_problems == 0)
		goto out;
	all = lp_calloc(b->n_problems + out->n_problems, sizeof(*all));
	if (!all) {
		lp_rendered_free(out);
		err = LP_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->n_problems; i++) {
		const struct lp_render_problem *s = &b->problems[i];
		all[i].kind = lp_strdup(s->kind);
		all[i].ns = lp_strdup(s->ns);
		all[i].name = lp_strdup(s->name);
		all[i].field = lp_strdup(s->field);
		all[i].message = lp_strdup(s->message);
		if (!all[i].kind || !all[i].ns || !all[i].name || !all[i].field || !all[i].message)
			err = LP_ERR_NOMEM;
	}
	if (out->n_problems)
		memcpy(all + b->n_problems, out->problems, out->n_problems * sizeof(*all));
	lp_free(out->problems);
	out->problems = all;
	out->n_problems += b->n_problems;
	if (err) {
		lp_rendered_free(out);
	}
out:
	lp_free(pl);
	lp_free(ol);
	return err;
}

void lp_render_bundle_free(struct lp_render_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_pipelines; i++)
		lp_pipeline_free(b->pipelines[i]);
	for (size_t i = 0; i < b->n_outputs; i++)
		lp_output_free(b->outputs[i]);
	lp_free(b->pipelines);
	lp_free(b->outputs);
	lp_free(b->pipeline_ok);
	lp_free(b->output_ok);
	for (size_t i = 0; i < b->n_problems; i++) {
		lp_free(b->problems[i].kind);
		lp_free(b->problems[i].ns);
		lp_free(b->problems[i].name);
		lp_free(b->problems[i].field);
		lp_free(b->problems[i].message);
	}
	lp_free(b->problems);
	memset(b, 0, sizeof(*b));
}
