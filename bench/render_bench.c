/* bench/render_bench.c: time lp_render() on N pipelines (default 10000).
 *
 * Build (release flags, from the repository top):
 *   cc -std=c17 -O2 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -o build/render_bench \
 *      bench/render_bench.c $(find pkg -name '*.c') \
 *      $(pkg-config --cflags --libs libcurl openssl yaml-0.1 jansson libwebsockets oniguruma) -lm
 * -lpthread Run: build/render_bench [N] [ROUNDS] Prints one line per round and a summary line:
 *   render_bench pipelines=10000 outputs=2000 rounds=9 median_ms=... min_ms=... median_cpu_ms=...
 *                bytes=... files=...
 * (median_cpu_ms is this process's CPU time: it does not move when other work
 * shares the machine; median_ms is wall time.) Those rounds are cold: no render
 * cache. Then WARM_ROUNDS "warm round" lines: the operator's case, a render
 * cache (struct lp_render_cache) filled by one render, and before each round
 * one pipeline's spec changes (a dropFields entry), so one part is emitted
 * again and the others are copied; the summary adds warm_median_ms= and
 * warm_median_cpu_ms=. The number of warm rounds does not depend on ROUNDS, so
 * the difference between two runs still counts cold renders only.
 * Setup (YAML generation, parsing, validation) is not timed; only lp_render().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../pkg/render/bundle.h"
#include "../pkg/render/render.h"

#define WARM_ROUNDS 9

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	long per_ns = 10, nns;
	char tmpl[] = "/tmp/lp-render-bench-XXXXXX";
	int fd = mkstemp(tmpl);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	const char *paths[1] = {tmpl};
	struct lp_render_bundle b;
	struct lp_render_input in;
	const struct lp_pipeline **pl;
	const struct lp_output **ol;
	size_t np = 0, no = 0, bytes = 0, files = 0;
	double *t, *tc, tw[WARM_ROUNDS], tcw[WARM_ROUNDS];

	if (!f || n < 1 || rounds < 1) {
		fprintf(stderr, "usage: render_bench [N>0] [ROUNDS>0]\n");
		return 2;
	}
	nns = (n + per_ns - 1) / per_ns;
	for (long s = 0; s < nns; s++) {
		fprintf(
		    f,
		    "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: all, "
		    "namespace: team-%ld}\nspec: {type: http, http: {host: logs.example.com, uri: "
		    "/in}}\n",
		    s);
		fprintf(
		    f,
		    "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: "
		    "errors, "
		    "namespace: team-%ld}\nspec: {type: stdout, delivery: {mode: atMostOnce}}\n",
		    s);
	}
	for (long i = 0; i < n; i++)
		fprintf(f,
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: "
		        "{name: p%ld, "
		        "namespace: team-%ld}\nspec:\n  input: {application: {containers: "
		        "{include: [app%ld]}}}\n"
		        "  parse: {format: json}\n  transforms:\n    - detectLevel: {}\n"
		        "    - dropFields: [stream]\n  routes:\n    - {outputRef: all}\n"
		        "    - {outputRef: errors, match: {field: level, in: [error, fatal]}}\n",
		        i, i / per_ns, i % per_ns);
	fclose(f);
	if (lp_render_bundle_load(&b, paths, 1, NULL) != LP_OK) {
		fprintf(stderr, "render_bench: load failed\n");
		unlink(tmpl);
		return 1;
	}
	unlink(tmpl);
	pl = calloc(b.n_pipelines + 1, sizeof(*pl));
	ol = calloc(b.n_outputs + 1, sizeof(*ol));
	t = calloc((size_t)rounds, sizeof(*t));
	tc = calloc((size_t)rounds, sizeof(*tc));
	if (!pl || !ol || !t || !tc)
		return 1;
	for (size_t i = 0; i < b.n_pipelines; i++)
		if (b.pipeline_ok[i])
			pl[np++] = b.pipelines[i];
	for (size_t i = 0; i < b.n_outputs; i++)
		if (b.output_ok[i])
			ol[no++] = b.outputs[i];
	if (b.n_problems)
		fprintf(stderr, "render_bench: %zu problem(s) loading, first: %s %s\n",
		        b.n_problems, b.problems[0].field, b.problems[0].message);
	memset(&in, 0, sizeof(in));
	in.pipelines = pl;
	in.n_pipelines = np;
	in.outputs = ol;
	in.n_outputs = no;
	for (int r = 0; r < rounds; r++) {
		struct lp_rendered out;
		double t0 = now_ms(), c0 = cpu_ms();
		if (lp_render(&out, &in) != LP_OK) {
			fprintf(stderr, "render_bench: render failed\n");
			return 1;
		}
		t[r] = now_ms() - t0;
		tc[r] = cpu_ms() - c0;
		bytes = out.shipper.total_bytes;
		files = out.shipper.n_files;
		printf("round %d: %.1f ms wall, %.1f ms cpu (%zu problems)\n", r + 1, t[r], tc[r],
		       out.n_problems);
		lp_rendered_free(&out);
	}
	qsort(t, (size_t)rounds, sizeof(*t), cmp_d);
	qsort(tc, (size_t)rounds, sizeof(*tc), cmp_d);
	{
		struct lp_render_cache *cache = lp_render_cache_new();
		struct lp_pipeline *chg = np ? (struct lp_pipeline *)pl[np / 2] : NULL;
		struct lp_strlist *fl = NULL;
		char *orig = NULL, alt[32];
		struct lp_rendered out;
		if (!cache)
			return 1;
		for (size_t k = 0; chg && k < chg->n_transforms; k++)
			if (chg->transforms[k].kind == LP_TR_DROP_FIELDS &&
			    chg->transforms[k].u.fields.n)
				fl = &chg->transforms[k].u.fields;
		if (fl)
			orig = fl->v[0];
		in.cache = cache;
		if (lp_render(&out, &in) != LP_OK) /* fills the cache */
			return 1;
		lp_rendered_free(&out);
		for (int r = 0; r < WARM_ROUNDS; r++) {
			double t0, c0;
			if (fl) { /* one pipeline differs from the previous render */
				snprintf(alt, sizeof(alt), "stream%d", r);
				fl->v[0] = alt;
			}
			t0 = now_ms();
			c0 = cpu_ms();
			if (lp_render(&out, &in) != LP_OK) {
				fprintf(stderr, "render_bench: warm render failed\n");
				return 1;
			}
			tw[r] = now_ms() - t0;
			tcw[r] = cpu_ms() - c0;
			printf("warm round %d: %.1f ms wall, %.1f ms cpu (%zu problems)\n", r + 1,
			       tw[r], tcw[r], out.n_problems);
			lp_rendered_free(&out);
		}
		if (fl)
			fl->v[0] = orig;
		lp_render_cache_free(cache);
		qsort(tw, WARM_ROUNDS, sizeof(*tw), cmp_d);
		qsort(tcw, WARM_ROUNDS, sizeof(*tcw), cmp_d);
	}
	printf("render_bench pipelines=%zu outputs=%zu rounds=%d median_ms=%.1f min_ms=%.1f "
	       "median_cpu_ms=%.1f bytes=%zu files=%zu warm_median_ms=%.1f "
	       "warm_median_cpu_ms=%.1f\n",
	       np, no, rounds, t[rounds / 2], t[0], tc[rounds / 2], bytes, files,
	       tw[WARM_ROUNDS / 2], tcw[WARM_ROUNDS / 2]);
	free(t);
	free(tc);
	free(pl);
	free(ol);
	lp_render_bundle_free(&b);
	return 0;
}
