/* logplane render -f FILE|DIR [-f ...] [-o DIR] [--control-namespace NS]
 *                 [--fields-table]
 * Validates and renders offline (GitOps preview, CI check). Without -o the
 * shipper's entry file goes to stdout and the summary to stderr; with -o the
 * files are written to DIR/shipper/, DIR/aggregator/ and DIR/env.json and the
 * summary goes to stdout. Exit 0: everything rendered; 1: something was left
 * out; 2: usage or I/O error. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "../../pkg/render/bundle.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/mem.h"

#define MAX_INPUTS 64

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: logplane render -f FILE|DIR [-f FILE|DIR ...] [-o DIR]\n"
	    "                       [--control-namespace NS] [--fields-table]\n"
	    "  -f PATH   LogPipeline / LogOutput YAML (a file, or every *.yaml under a directory)\n"
	    "  -o DIR    write shipper/, aggregator/ and env.json into DIR\n"
	    "            (default: print the shipper's entry file to stdout)\n"
	    "  --control-namespace NS   the cluster-wide namespace (default logplane-system)\n"
	    "  --fields-table           print the CRD field -> Fluent Bit setting table "
	    "(Markdown)\n"
	    "exit: 0 everything rendered, 1 something was left out, 2 usage or I/O error\n");
}

static int mkdir_p(const char *dir)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
	struct lp_buf path;
	FILE *f;
	int rc = -1;

	lp_buf_init(&path, 0);
	if (lp_buf_addf(&path, "%s/%s", dir, name) != LP_OK)
		return -1;
	f = fopen(lp_buf_str(&path), "wb");
	if (f) {
		rc = (fwrite(data, 1, len, f) == len) ? 0 : -1;
		if (fclose(f) != 0)
			rc = -1;
	}
	if (rc)
		fprintf(stderr, "logplane render: cannot write %s: %s\n", lp_buf_str(&path),
		        strerror(errno));
	lp_buf_free(&path);
	return rc;
}

static int write_config(const char *out, const char *sub, const struct lp_rendered_config *c)
{
	struct lp_buf dir;
	int rc = 0;

	lp_buf_init(&dir, 0);
	if (lp_buf_addf(&dir, "%s/%s", out, sub) != LP_OK || mkdir_p(lp_buf_str(&dir))) {
		fprintf(stderr, "logplane render: cannot create %s/%s\n", out, sub);
		lp_buf_free(&dir);
		return -1;
	}
	for (size_t i = 0; !rc && i < c->n_files; i++)
		rc = write_file(lp_buf_str(&dir), c->files[i].name, c->files[i].data,
		                c->files[i].len);
	lp_buf_free(&dir);
	return rc;
}

static int write_env(const char *out, const struct lp_rendered *r)
{
	json_t *root = json_object(), *env = json_array(), *mounts = json_array();
	json_t *profiles = json_array();
	char *txt = NULL;
	int rc = -1, bad;

	if (!root || !env || !mounts || !profiles) {
		json_decref(root);
		json_decref(env);
		json_decref(mounts);
		json_decref(profiles);
		return -1;
	}
	/* set_new takes the reference even when it fails */
	bad = json_object_set_new(root, "env", env);
	bad |= json_object_set_new(root, "mounts", mounts);
	bad |= json_object_set_new(root, "awsProfiles", profiles);
	if (bad) {
		json_decref(root);
		return -1;
	}
	json_object_set_new(root, "shipperHash", json_string(r->shipper.hash));
	if (r->has_aggregator)
		json_object_set_new(root, "aggregatorHash", json_string(r->aggregator.hash));
	for (size_t i = 0; i < r->n_env; i++)
		json_array_append_new(env, json_pack("{s:s, s:s, s:s, s:s}", "name", r->env[i].var,
		                                     "secretNamespace", r->env[i].secret_ns,
		                                     "secretName", r->env[i].secret_name,
		                                     "secretKey", r->env[i].secret_key));
	for (size_t i = 0; i < r->n_mounts; i++)
		json_array_append_new(mounts,
		                      json_pack("{s:s, s:s, s:s, s:s}", "path", r->mounts[i].path,
		                                "secretNamespace", r->mounts[i].secret_ns,
		                                "secretName", r->mounts[i].secret_name, "secretKey",
		                                r->mounts[i].secret_key));
	for (size_t i = 0; i < r->n_aws_profiles; i++) {
		const struct lp_render_aws_profile *p = &r->aws_profiles[i];
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "profile", p->profile, "secretNamespace",
		              p->secret_ns, "secretName", p->secret_name, "accessKeyIdKey",
		              p->access_key_id_key, "secretAccessKeyKey", p->secret_access_key_key);
		if (o && p->session_token_key)
			json_object_set_new(o, "sessionTokenKey",
			                    json_string(p->session_token_key));
		json_array_append_new(profiles, o);
	}
	txt = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (txt)
		rc = write_file(out, "env.json", txt, strlen(txt));
	free(txt);
	json_decref(root);
	return rc;
}

int lp_cli_render(int argc, char **argv)
{
	const char *inputs[MAX_INPUTS], *out = NULL, *control_ns = NULL;
	size_t n_inputs = 0;
	struct lp_render_bundle b;
	struct lp_rendered r;
	struct lp_render_input in;
	FILE *sum;
	int fields = 0, rc;
	lp_err err;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--filename")) && i + 1 < argc) {
			if (n_inputs == MAX_INPUTS) {
				fprintf(stderr, "logplane render: at most %d -f options\n",
				        MAX_INPUTS);
				return 2;
			}
			inputs[n_inputs++] = argv[++i];
		} else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output-dir")) &&
		           i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--control-namespace") && i + 1 < argc) {
			control_ns = argv[++i];
		} else if (!strcmp(argv[i], "--fields-table")) {
			fields = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "logplane render: unexpected argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (fields) {
		struct lp_buf t;
		lp_buf_init(&t, 0);
		if (lp_render_fields_markdown(&t) != LP_OK) {
			fprintf(stderr, "logplane render: out of memory\n");
			return 2;
		}
		fwrite(t.ptr, 1, t.len, stdout);
		lp_buf_free(&t);
		return 0;
	}
	if (n_inputs == 0) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < n_inputs; i++) {
		struct stat st;
		if (stat(inputs[i], &st) != 0) {
			fprintf(stderr, "logplane render: %s: %s\n", inputs[i], strerror(errno));
			return 2;
		}
	}
	err = lp_render_bundle_load(&b, inputs, n_inputs, control_ns);
	if (err) {
		fprintf(stderr, "logplane render: %s\n", lp_strerror(err));
		return 2;
	}
	memset(&in, 0, sizeof(in));
	in.control_ns = control_ns;
	err = lp_render_bundle_render(&r, &b, &in);
	lp_render_bundle_free(&b);
	if (err) {
		fprintf(stderr, "logplane render: %s\n", lp_strerror(err));
		return 2;
	}
	rc = r.n_problems ? 1 : 0;
	if (out) {
		if (mkdir_p(out)) {
			fprintf(stderr, "logplane render: cannot create -o %s: %s\n", out,
			        strerror(errno));
			rc = 2;
		} else if (write_config(out, "shipper", &r.shipper) ||
		           (r.has_aggregator && write_config(out, "aggregator", &r.aggregator)) ||
		           write_env(out, &r))
			rc = 2;
		sum = stdout;
	} else {
		if (r.shipper.n_files)
			fwrite(r.shipper.files[0].data, 1, r.shipper.files[0].len, stdout);
		sum = stderr;
	}
	for (size_t i = 0; i < r.n_summaries; i++)
		fprintf(sum, "LogPipeline %s/%s: %s\n", r.summaries[i].ns, r.summaries[i].name,
		        r.summaries[i].text);
	fprintf(sum, "shipper: %zu file(s), %zu bytes, sha256 %s\n", r.shipper.n_files,
	        r.shipper.total_bytes, r.shipper.hash);
	fprintf(sum, "shipper shape: %zu output instance(s), %zu thread(s), %zu open files\n",
	        r.shipper_outputs, r.shipper_threads, r.shipper_open_files);
	if (r.has_aggregator)
		fprintf(sum, "aggregator (%s): %zu file(s), %zu bytes, sha256 %s\n",
		        r.aggregator_engine == LP_ENGINE_FLUENTD ? "fluentd" : "fluent-bit",
		        r.aggregator.n_files, r.aggregator.total_bytes, r.aggregator.hash);
	for (size_t i = 0; i < r.n_problems; i++)
		fprintf(sum, "problem: %s %s%s%s %s: %s\n", r.problems[i].kind, r.problems[i].ns,
		        *r.problems[i].ns ? "/" : "", r.problems[i].name, r.problems[i].field,
		        r.problems[i].message);
	lp_rendered_free(&r);
	return rc;
}
