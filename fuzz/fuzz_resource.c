/* libFuzzer target: resource text -> parse -> validate -> render, the path of
 * `logplane validate` / `render` and of the operator. The first byte picks the
 * reader (even: the YAML loader, odd: jansson, as the API server's JSON); the
 * rest is the text. Every document that is a LogPipeline or LogOutput is
 * parsed, validated against the whole set and the valid ones rendered; the
 * renderer must not refuse what validation accepted (one verdict), except for
 * what only a whole render can tell: a second object of the same name, two
 * aggregator engines, a pipeline too large alone, a route to an output that
 * is itself invalid (the CLI and the operator fold those back in). */
#include "../pkg/api/api.h"
#include "../pkg/api/yamlload.h"
#include "../pkg/render/render.h"
#include "../pkg/util/mem.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJS 64

struct set {
	struct lp_pipeline *p[MAX_OBJS];
	struct lp_output *o[MAX_OBJS];
	size_t np, no;
};

static void add(struct set *s, const json_t *root)
{
	struct lp_problems probs = {NULL, 0};
	const char *kind = json_string_value(json_object_get(root, "kind"));

	if (!kind)
		return;
	if (!strcmp(kind, "LogPipeline") && s->np < MAX_OBJS) {
		struct lp_pipeline *p = NULL;
		if (lp_pipeline_parse(&p, root, &probs) == LP_OK && p)
			s->p[s->np++] = p;
		else
			lp_pipeline_free(p);
	} else if (!strcmp(kind, "LogOutput") && s->no < MAX_OBJS) {
		struct lp_output *o = NULL;
		if (lp_output_parse(&o, root, &probs) == LP_OK && o)
			s->o[s->no++] = o;
		else
			lp_output_free(o);
	}
	lp_problems_free(&probs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct set s;
	const struct lp_output *outs[MAX_OBJS];
	const struct lp_pipeline *pipes[MAX_OBJS];
	const struct lp_pipeline *okp[MAX_OBJS];
	const struct lp_output *oko[MAX_OBJS];
	size_t nokp = 0, noko = 0;
	struct lp_world w;
	struct lp_render_input in;
	struct lp_rendered r;

	if (size < 1 || size > 64 * 1024)
		return 0;
	memset(&s, 0, sizeof(s));
	if (data[0] & 1) {
		json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
		if (json_is_array(j)) {
			size_t i;
			json_t *v;
			json_array_foreach(j, i, v) add(&s, v);
		} else if (json_is_object(j)) {
			add(&s, j);
		}
		json_decref(j);
	} else {
		struct lp_yaml_docs d;
		if (lp_yaml_load_string(&d, (const char *)data + 1, size - 1) != LP_ERR_NOMEM)
			for (size_t i = 0; i < d.n; i++)
				if (json_is_object(d.v[i].root))
					add(&s, d.v[i].root);
		lp_yaml_docs_free(&d);
	}
	for (size_t i = 0; i < s.no; i++)
		outs[i] = s.o[i];
	for (size_t i = 0; i < s.np; i++)
		pipes[i] = s.p[i];
	lp_outputs_sort(outs, s.no);
	memset(&w, 0, sizeof(w));
	w.outputs = outs;
	w.n_outputs = s.no;
	w.outputs_sorted = 1;
	w.pipelines = pipes;
	w.n_pipelines = s.np;
	for (size_t i = 0; i < s.no; i++) {
		struct lp_problems probs = {NULL, 0};
		if (lp_output_validate(s.o[i], &w, &probs) == LP_OK)
			oko[noko++] = s.o[i];
		lp_problems_free(&probs);
	}
	for (size_t i = 0; i < s.np; i++) {
		struct lp_problems probs = {NULL, 0};
		if (lp_pipeline_validate(s.p[i], &w, &probs) == LP_OK)
			okp[nokp++] = s.p[i];
		lp_problems_free(&probs);
	}
	memset(&in, 0, sizeof(in));
	in.pipelines = okp;
	in.n_pipelines = nokp;
	in.outputs = oko;
	in.n_outputs = noko;
	if (lp_render(&r, &in) == LP_OK) {
		for (size_t i = 0; i < r.n_problems; i++) {
			const struct lp_render_problem *rp = &r.problems[i];
			if (strcmp(rp->field, "metadata.name") != 0 &&
			    strcmp(rp->field, "spec.aggregator.engine") != 0 &&
			    !strstr(rp->message, "larger than") &&
			    !strstr(rp->message, "left out")) {
				/* validation accepted what the renderer refuses */
				fprintf(stderr, "one verdict broken: %s %s/%s %s: %s\n", rp->kind,
				        rp->ns, rp->name, rp->field, rp->message);
				abort();
			}
		}
		lp_rendered_free(&r);
	}
	for (size_t i = 0; i < s.np; i++)
		lp_pipeline_free(s.p[i]);
	for (size_t i = 0; i < s.no; i++)
		lp_output_free(s.o[i]);
	return 0;
}
