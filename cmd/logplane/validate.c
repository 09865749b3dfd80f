/* logplane validate -f FILE|DIR [-f ...] [--control-namespace NS] [--check-secrets]
 *
 * Reads every YAML document, parses the LogPipeline and LogOutput objects,
 * runs the cross-object rules over the whole set and prints one line per
 * problem ("FILE:LINE: Kind ns/name: field: message", LINE where the object
 * starts) and a summary line. Exit 0 when everything is valid, 1 when anything
 * is invalid or unreadable inside the input, 2 for usage errors (a -f naming
 * nothing included, as in render). Other kinds are skipped with a note; v1 Secrets are
 * remembered (names and keys only), and with --check-secrets every Secret
 * reference must name one of them and a key it has.
 */
#include "cli.h"
#include <errno.h>
#include "../../pkg/api/api.h"
#include "../../pkg/api/check.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/render/render.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/mem.h"
#include "../../pkg/util/vec.h"
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES  10000
#define MAX_DEPTH  16
#define STDIN_NAME "<stdin>"

enum kind { K_PIPELINE, K_OUTPUT };

struct obj {
	enum kind kind;
	const char *file; /* borrowed from files */
	size_t doc;
	struct lp_pipeline *p;
	struct lp_output *o;
	size_t problems;
};

struct run {
	char **files;
	size_t n_files, cap_files;
	struct obj *objs;
	size_t n_objs, cap_objs;
	size_t n_problems;
	size_t bad_objs;
	size_t errors; /* unreadable files, malformed documents */
	size_t notes;
	int verbose; /* print a note for every skipped object */
	const char *control_ns;
	int check_secrets; /* references must resolve to Secrets in the input */
	json_t *secrets;   /* "ns/name" -> {key: true} of the input's v1 Secrets */
};

/* Remembers a v1 Secret's namespace, name and keys (never its values). */
static int add_secret(struct run *r, const json_t *root)
{
	const json_t *meta = json_object_get(root, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *const maps[] = {"data", "stringData"};
	json_t *keys;
	char id[600];

	if (!name || strlen(name) > 253 || (ns && strlen(ns) > 253))
		return 0;
	snprintf(id, sizeof(id), "%s/%s", ns ? ns : "default", name);
	keys = json_object();
	if (!keys)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(root, maps[i]), k, v)
		{
			if (json_object_set_new(keys, k, json_true()) != 0) {
				json_decref(keys);
				return -1;
			}
		}
	}
	return json_object_set_new(r->secrets, id, keys) == 0 ? 0 : -1;
}

static int secret_has_key(void *ctx, const char *ns, const char *name, const char *key)
{
	const struct run *r = ctx;
	char id[600];
	const json_t *keys;

	snprintf(id, sizeof(id), "%s/%s", ns, name);
	keys = json_object_get(r->secrets, id);
	return keys && (!key || json_object_get(keys, key));
}

static const char *kind_name(enum kind k)
{
	return k == K_PIPELINE ? "LogPipeline" : "LogOutput";
}

static const struct lp_meta *obj_meta(const struct obj *o)
{
	return o->kind == K_PIPELINE ? &o->p->meta : &o->o->meta;
}

static void print_problems(struct run *r, struct obj *o, const struct lp_problems *pr, size_t from)
{
	const struct lp_meta *m = obj_meta(o);

	for (size_t i = from; i < pr->n; i++) {
		printf("%s:%zu: %s %s/%s: %s: %s\n", o->file, o->doc, kind_name(o->kind),
		       m->ns ? m->ns : "default", m->name ? m->name : "<unnamed>", pr->v[i].field,
		       pr->v[i].message);
		if (o->problems++ == 0)
			r->bad_objs++;
		r->n_problems++;
	}
}

static int has_yaml_ext(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

static int add_file(struct run *r, const char *path)
{
	if (r->n_files >= MAX_FILES) {
		fprintf(stderr, "logplane validate: more than %d files\n", MAX_FILES);
		return -1;
	}
	if (lp_vec_reserve((void **)&r->files, &r->cap_files, r->n_files + 1, sizeof(*r->files)))
		return -1;
	r->files[r->n_files] = lp_strdup(path);
	if (!r->files[r->n_files])
		return -1;
	r->n_files++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every *.yaml / *.yml under dir (recursively, hidden entries skipped) in
 * sorted order. */
static int walk(struct run *r, const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d) {
		printf("%s: cannot read directory\n", dir);
		r->errors++;
		return 0;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (lp_vec_reserve((void **)&names, &cap, n + 1, sizeof(*names))) {
			rc = -1;
			break;
		}
		names[n] = lp_strdup(de->d_name);
		if (!names[n]) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0 && n > 1) /* names is NULL for an empty directory */
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = lp_malloc(len);
		struct stat st;
		if (!path) {
			rc = -1;
			break;
		}
		snprintf(path, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
		         names[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rc = walk(r, path, depth + 1);
		else if (has_yaml_ext(names[i]))
			rc = add_file(r, path);
		lp_free(path);
	}
	for (size_t i = 0; i < n; i++)
		lp_free(names[i]);
	lp_free(names);
	return rc;
}

static int add_obj(struct run *r, struct obj *o)
{
	if (lp_vec_reserve((void **)&r->objs, &r->cap_objs, r->n_objs + 1, sizeof(*r->objs)))
		return -1;
	r->objs[r->n_objs++] = *o;
	return 0;
}

/* Parses one document; returns -1 only when out of memory. */
static int load_doc(struct run *r, const char *file, const struct lp_yaml_doc *doc)
{
	struct lp_problems pr = {NULL, 0};
	struct obj o;
	const char *kind, *api;
	lp_err e;

	if (!doc->root)
		return 0;
	if (!json_is_object(doc->root)) {
		printf("%s:%zu: document is not a mapping\n", file, doc->line);
		r->errors++;
		return 0;
	}
	kind = json_string_value(json_object_get(doc->root, "kind"));
	api = json_string_value(json_object_get(doc->root, "apiVersion"));
	memset(&o, 0, sizeof(o));
	o.file = file;
	o.doc = doc->line; /* the line where the object starts */
	if (kind && strcmp(kind, "LogPipeline") == 0) {
		o.kind = K_PIPELINE;
		e = lp_pipeline_parse(&o.p, doc->root, &pr);
	} else if (kind && strcmp(kind, "LogOutput") == 0) {
		o.kind = K_OUTPUT;
		e = lp_output_parse(&o.o, doc->root, &pr);
	} else if (!kind || !api) {
		printf("%s:%zu: %s: required (not a Kubernetes object)\n", file, doc->line,
		       !api ? "apiVersion" : "kind");
		r->errors++;
		return 0;
	} else if (strncmp(api, LP_API_GROUP "/", strlen(LP_API_GROUP) + 1) == 0) {
		printf("%s:%zu: kind: unknown kind in %s (want LogPipeline or LogOutput)\n", file,
		       doc->line, LP_API_GROUP);
		r->errors++;
		return 0;
	} else {
		const char *name = json_string_value(
		    json_object_get(json_object_get(doc->root, "metadata"), "name"));
		if (strcmp(kind, "Secret") == 0 && strcmp(api, "v1") == 0 &&
		    add_secret(r, doc->root) != 0)
			return -1;
		r->notes++;
		if (r->verbose && (!name || lp_check_string(name, strlen(name), LP_STR_TEXT, 253)))
			name = "<unnamed>";
		if (r->verbose && lp_check_string(kind, strlen(kind), LP_STR_TOKEN, 63) == NULL)
			printf("%s:%zu: note: %s %s skipped (not a logplane kind)\n", file,
			       doc->line, kind, name);
		return 0;
	}
	if (e == LP_ERR_NOMEM || (!o.p && !o.o)) {
		lp_problems_free(&pr);
		return -1;
	}
	print_problems(r, &o, &pr, 0);
	lp_problems_free(&pr);
	return add_obj(r, &o);
}

/* What only rendering can tell (a pipeline whose text alone is larger than a
 * config part, two aggregator engines): the resources valid so far are
 * rendered and whatever the renderer leaves out is a problem of its own, so
 * validate and render give one verdict. first maps "kind/ns/name" to objs. */
static int render_check(struct run *r, const json_t *first)
{
	const struct lp_pipeline **pl = lp_calloc(r->n_objs + 1, sizeof(*pl));
	const struct lp_output **ol = lp_calloc(r->n_objs + 1, sizeof(*ol));
	struct lp_render_input in;
	struct lp_rendered out;
	size_t np = 0, no = 0;
	int rc = 0;

	if (!pl || !ol) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < r->n_objs; i++) {
		if (r->objs[i].problems)
			continue;
		if (r->objs[i].kind == K_PIPELINE)
			pl[np++] = r->objs[i].p;
		else
			ol[no++] = r->objs[i].o;
	}
	memset(&in, 0, sizeof(in));
	in.control_ns = r->control_ns;
	in.pipelines = pl;
	in.n_pipelines = np;
	in.outputs = ol;
	in.n_outputs = no;
	in.no_summaries = 1;
	if (lp_render(&out, &in) != LP_OK) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < out.n_problems; i++) {
		const struct lp_render_problem *rp = &out.problems[i];
		struct lp_problems pr = {NULL, 0};
		const json_t *at;
		char id[600];
		snprintf(id, sizeof(id), "%d/%s/%s",
		         strcmp(rp->kind, "LogPipeline") == 0 ? (int)K_PIPELINE : (int)K_OUTPUT,
		         rp->ns, rp->name);
		at = json_object_get(first, id);
		if (!at)
			continue;
		if (lp_problems_add(&pr, rp->field, "%s", rp->message) != LP_OK)
			rc = -1;
		else
			print_problems(r, &r->objs[json_integer_value(at)], &pr, 0);
		lp_problems_free(&pr);
	}
	lp_rendered_free(&out);
out:
	lp_free(pl);
	lp_free(ol);
	return rc;
}

static int cross_check(struct run *r)
{
	const struct lp_output **outs = NULL;
	const struct lp_pipeline **pipes = NULL;
	struct lp_world w;
	size_t n_out = 0, n_pipe = 0;
	int rc = 0;

	json_t *first = json_object(); /* "kind/ns/name" -> index of its first definition */

	outs = lp_calloc(r->n_objs + 1, sizeof(*outs));
	pipes = lp_calloc(r->n_objs + 1, sizeof(*pipes));
	if (!outs || !pipes || !first) {
		lp_free(outs);
		lp_free(pipes);
		json_decref(first);
		return -1;
	}
	for (size_t i = 0; i < r->n_objs; i++) {
		if (r->objs[i].kind == K_OUTPUT)
			outs[n_out++] = r->objs[i].o;
		else
			pipes[n_pipe++] = r->objs[i].p;
	}
	lp_outputs_sort(outs, n_out); /* references found by binary search */
	memset(&w, 0, sizeof(w));
	w.control_ns = r->control_ns;
	w.outputs = outs;
	w.n_outputs = n_out;
	w.outputs_sorted = 1;
	w.pipelines = pipes;
	w.n_pipelines = n_pipe;
	if (r->check_secrets) {
		w.secret_has_key = secret_has_key;
		w.secret_ctx = r;
	}
	for (size_t i = 0; i < r->n_objs && rc == 0; i++) {
		struct obj *o = &r->objs[i];
		const struct lp_meta *m = obj_meta(o);
		struct lp_problems pr = {NULL, 0};
		lp_err e;
		/* the same object twice in the set (by kind, namespace and name) */
		if (m->name && m->ns) {
			char id[600];
			const json_t *seen;
			snprintf(id, sizeof(id), "%d/%s/%s", (int)o->kind, m->ns, m->name);
			seen = json_object_get(first, id);
			if (seen) {
				const struct obj *oj = &r->objs[json_integer_value(seen)];
				if (lp_problems_add(&pr, "metadata.name",
				                    "%s %s/%s is also defined at %s:%zu",
				                    kind_name(o->kind), m->ns, m->name, oj->file,
				                    oj->doc) != LP_OK)
					rc = -1;
			} else if (json_object_set_new(first, id, json_integer((json_int_t)i)) !=
			           0) {
				rc = -1;
			}
		}
		if (o->kind == K_PIPELINE)
			e = lp_pipeline_validate(o->p, &w, &pr);
		else
			e = lp_output_validate(o->o, &w, &pr);
		if (e == LP_ERR_NOMEM)
			rc = -1;
		print_problems(r, o, &pr, 0);
		lp_problems_free(&pr);
	}
	if (rc == 0)
		rc = render_check(r, first);
	lp_free(outs);
	lp_free(pipes);
	json_decref(first);
	return rc;
}

/* Reads all of standard input as YAML documents (see lp_yaml_load_string). */
static lp_err load_stdin(struct lp_yaml_docs *d)
{
	struct lp_buf b;
	char chunk[65536];
	size_t n;
	lp_err err = LP_OK;

	memset(d, 0, sizeof(*d));
	lp_buf_init(&b, LP_YAML_MAX_BYTES);
	while (err == LP_OK && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		err = lp_buf_add(&b, chunk, n);
	if (err == LP_OK && ferror(stdin))
		err = LP_ERR_IO;
	if (err == LP_OK)
		err = lp_yaml_load_string(d, lp_buf_str(&b), b.len);
	lp_buf_free(&b);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: logplane validate -f FILE|DIR|- [-f ...] [--control-namespace NS]\n"
	           "                         [--check-secrets] [-v]\n"
	           "  Checks LogPipeline and LogOutput objects in YAML files (a directory is read\n"
	           "  recursively: *.yaml, *.yml; - reads standard input). --check-secrets: every\n"
	           "  Secret a resource references must be a v1 Secret in the input, with the key\n"
	           "  named. -v notes every object of another kind that was skipped. Exit 0: all\n"
	           "  valid; 1: problems found; 2: usage.\n");
}

int lp_cli_validate(int argc, char **argv)
{
	struct run r;
	char **inputs = NULL;
	size_t n_inputs = 0;
	int rc = 2;

	memset(&r, 0, sizeof(r));
	r.control_ns = LP_DEFAULT_CONTROL_NAMESPACE;
	r.secrets = json_object();
	if (!r.secrets)
		goto nomem;
	inputs = lp_calloc((size_t)argc + 1, sizeof(*inputs));
	if (!inputs)
		goto nomem;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			r.verbose = 1;
		} else if (strcmp(a, "--check-secrets") == 0) {
			r.check_secrets = 1;
		} else if ((strcmp(a, "-f") == 0 || strcmp(a, "--filename") == 0) && i + 1 < argc) {
			inputs[n_inputs++] = argv[++i];
		} else if (strncmp(a, "--filename=", 11) == 0) {
			inputs[n_inputs++] = argv[i] + 11;
		} else if (strcmp(a, "--control-namespace") == 0 && i + 1 < argc) {
			r.control_ns = argv[++i];
		} else if (strncmp(a, "--control-namespace=", 20) == 0) {
			r.control_ns = a + 20;
		} else {
			fprintf(stderr,
			        "logplane validate: %s \"%s\" (usage: logplane validate -f "
			        "FILE|DIR [--control-namespace NS])\n",
			        a[0] == '-' && (strcmp(a, "-f") == 0 ||
			                        strcmp(a, "--control-namespace") == 0)
			            ? "missing value for"
			            : "unknown argument",
			        a);
			goto out;
		}
	}
	if (n_inputs == 0) {
		fprintf(stderr, "logplane validate: -f FILE|DIR is required\n");
		goto out;
	}
	for (size_t i = 0; i < n_inputs; i++) {
		struct stat st;
		if (strcmp(inputs[i], "-") == 0) {
			if (add_file(&r, STDIN_NAME) != 0)
				goto nomem;
		} else if (stat(inputs[i], &st) != 0) {
			/* an argument naming nothing is a usage error, as in render */
			fprintf(stderr, "logplane validate: %s: %s\n", inputs[i], strerror(errno));
			rc = 2;
			goto out;
		} else if (S_ISDIR(st.st_mode)) {
			if (walk(&r, inputs[i], 0) != 0)
				goto nomem;
		} else if (add_file(&r, inputs[i]) != 0) {
			goto nomem;
		}
	}
	for (size_t i = 0; i < r.n_files; i++) {
		struct lp_yaml_docs d;
		lp_err e = strcmp(r.files[i], STDIN_NAME) == 0 ? load_stdin(&d)
		                                               : lp_yaml_load_file(&d, r.files[i]);
		for (size_t k = 0; k < d.n; k++)
			if (load_doc(&r, r.files[i], &d.v[k]) != 0) {
				lp_yaml_docs_free(&d);
				goto nomem;
			}
		if (e == LP_ERR_NOMEM) {
			lp_yaml_docs_free(&d);
			goto nomem;
		}
		if (e != LP_OK) {
			/* "line L column C: what" becomes "FILE:L: column C: what" */
			size_t line = 0;
			int used = 0;
			if (d.error && sscanf(d.error, "line %zu %n", &line, &used) == 1 &&
			    used > 0)
				printf("%s:%zu: %s\n", r.files[i], line, d.error + used);
			else
				printf("%s: %s\n", r.files[i], d.error ? d.error : lp_strerror(e));
			r.errors++;
		}
		lp_yaml_docs_free(&d);
	}
	if (cross_check(&r) != 0)
		goto nomem;
	{
		size_t np = 0, no = 0;
		for (size_t i = 0; i < r.n_objs; i++)
			*(r.objs[i].kind == K_PIPELINE ? &np : &no) += 1;
		printf("%zu file%s, %zu LogPipeline%s, %zu LogOutput%s", r.n_files,
		       r.n_files == 1 ? "" : "s", np, np == 1 ? "" : "s", no, no == 1 ? "" : "s");
		if (r.notes)
			printf(", %zu other object%s skipped", r.notes, r.notes == 1 ? "" : "s");
		if (r.n_problems == 0 && r.errors == 0)
			printf(": all valid\n");
		else {
			printf(": %zu problem%s in %zu object%s", r.n_problems,
			       r.n_problems == 1 ? "" : "s", r.bad_objs,
			       r.bad_objs == 1 ? "" : "s");
			if (r.errors)
				printf(", %zu unreadable file%s or document%s", r.errors,
				       r.errors == 1 ? "" : "s", r.errors == 1 ? "" : "s");
			printf("\n");
		}
	}
	rc = (r.n_problems || r.errors) ? 1 : 0;
	goto out;
nomem:
	fprintf(stderr, "logplane validate: out of memory\n");
	rc = 2;
out:
	for (size_t i = 0; i < r.n_objs; i++) {
		lp_pipeline_free(r.objs[i].p);
		lp_output_free(r.objs[i].o);
	}
	lp_free(r.objs);
	for (size_t i = 0; i < r.n_files; i++)
		lp_free(r.files[i]);
	lp_free(r.files);
	lp_free(inputs);
	json_decref(r.secrets);
	return rc;
}
