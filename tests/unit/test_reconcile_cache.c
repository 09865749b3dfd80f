/* tests/unit/test_reconcile_cache.c: the controller keeps one render cache for
 * its lifetime and renders every configuration through it. Here the same
 * sequence the controller sees (a split configuration; a pipeline added,
 * changed, deleted; an output added, changed, deleted; everything back) is
 * rendered through one long-lived cache and, at each step, without a cache: the
 * files must be byte-identical. The objects are parsed afresh at each step, as
 * the controller's informers hand it new objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lp_test.h"
#include "../../pkg/render/bundle.h"
#include "../../pkg/render/internal.h" /* the cache's entry count */
#include "../../pkg/render/render.h"
#include "../../pkg/util/mem.h"

#define N_PIPELINES 2000u
#define PER_NS      10u
#define CONTROL_NS  "logplane-system"

struct world { /* what differs from the base world */
	const char *what;
	int add_pl;  /* LogPipeline team-3/p-extra */
	int chg_pl;  /* p0100's dropFields */
	int del_pl;  /* p0200 gone */
	int add_out; /* LogOutput team-5/extra, and p0050 routes to it */
	int chg_out; /* team-7/all's host */
	int del_out; /* team-9/errors gone: team-9's pipelines are invalid */
};

static int write_world(const char *path, const struct world *w)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	for (unsigned s = 0; s < N_PIPELINES / PER_NS; s++) {
		fprintf(
		    f,
		    "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: "
		    "all, namespace: team-%u}\nspec: {type: http, http: {host: %s, uri: /in}}\n",
		    s, w->chg_out && s == 7 ? "changed.example.com" : "logs.example.com");
		if (!(w->del_out && s == 9))
			fprintf(f,
			        "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: "
			        "{name: errors, namespace: team-%u}\nspec: {type: stdout}\n",
			        s);
	}
	if (w->add_out)
		fprintf(f,
		        "---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\nmetadata: {name: "
		        "extra, namespace: team-5}\nspec: {type: http, http: {host: "
		        "extra.example.com, uri: /extra}}\n");
	for (unsigned i = 0; i < N_PIPELINES; i++) {
		if (w->del_pl && i == 200)
			continue;
		fprintf(
		    f,
		    "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: {name: "
		    "p%04u, namespace: team-%u}\nspec:\n  input: {application: {containers: "
		    "{include: [app%u]}}}\n  parse: {format: json}\n  transforms:\n"
		    "    - detectLevel: {}\n    - dropFields: [%s]\n  routes:\n"
		    "    - {outputRef: all}\n"
		    "    - {outputRef: errors, match: {field: level, in: [error, fatal]}}\n%s",
		    i, i / PER_NS, i % PER_NS, w->chg_pl && i == 100 ? "changed" : "stream",
		    w->add_out && i == 50 ? "    - {outputRef: extra}\n" : "");
	}
	if (w->add_pl)
		fprintf(
		    f, "---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\nmetadata: {name: "
		       "p-extra, namespace: team-3}\nspec:\n  input: {application: {containers: "
		       "{include: [extra]}}}\n  routes:\n    - {outputRef: all}\n");
	return fclose(f) == 0 ? 0 : -1;
}

static int same_config(const struct lp_rendered_config *a, const struct lp_rendered_config *b)
{
	if (a->n_files != b->n_files || strcmp(a->hash, b->hash) != 0 ||
	    a->total_bytes != b->total_bytes)
		return 0;
	for (size_t i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i].name, b->files[i].name) != 0 ||
		    a->files[i].len != b->files[i].len ||
		    memcmp(a->files[i].data, b->files[i].data, a->files[i].len) != 0)
			return 0;
	return 1;
}

/* Renders w's valid objects without a cache and through cache; both must be
 * the same (expect_same 0: must differ). *hash_out gets the shipper hash. */
static void step(const char *path, const struct world *w, struct lp_render_cache *cache,
                 char hash_out[65], const char *must_have, int expect_same)
{
	const char *paths[1] = {path};
	struct lp_render_bundle b;
	struct lp_render_input in;
	struct lp_rendered cold, warm;
	const struct lp_pipeline **pl = NULL;
	const struct lp_output **ol = NULL;
	size_t np = 0, no = 0, parts = 0;
	int have_cold = 0, have_warm = 0;

	memset(&b, 0, sizeof(b));
	memset(&cold, 0, sizeof(cold));
	memset(&warm, 0, sizeof(warm));
	if (write_world(path, w) != 0) {
		lp_test_fail(__FILE__, __LINE__, "%s: cannot write the objects", w->what);
		return;
	}
	if (lp_render_bundle_load(&b, paths, 1, CONTROL_NS) != LP_OK) {
		lp_test_fail(__FILE__, __LINE__, "%s: load failed", w->what);
		return;
	}
	pl = lp_calloc(b.n_pipelines + 1, sizeof(*pl));
	ol = lp_calloc(b.n_outputs + 1, sizeof(*ol));
	LP_CHECK(pl && ol);
	if (!pl || !ol)
		goto out;
	for (size_t i = 0; i < b.n_pipelines; i++)
		if (b.pipeline_ok[i])
			pl[np++] = b.pipelines[i];
	for (size_t i = 0; i < b.n_outputs; i++)
		if (b.output_ok[i])
			ol[no++] = b.outputs[i];
	LP_CHECK_INT(b.n_problems, w->del_out ? PER_NS : 0); /* team-9's pipelines */
	memset(&in, 0, sizeof(in));
	in.control_ns = CONTROL_NS;
	in.pipelines = pl;
	in.n_pipelines = np;
	in.outputs = ol;
	in.n_outputs = no;
	have_cold = lp_render(&cold, &in) == LP_OK;
	in.cache = cache;
	have_warm = lp_render(&warm, &in) == LP_OK;
	LP_CHECK(have_cold && have_warm);
	if (!have_cold || !have_warm)
		goto out;
	if (expect_same != (same_config(&cold.shipper, &warm.shipper) &&
	                    same_config(&cold.aggregator, &warm.aggregator) &&
	                    cold.has_aggregator == warm.has_aggregator &&
	                    cold.n_problems == warm.n_problems && cold.n_env == warm.n_env))
		lp_test_fail(__FILE__, __LINE__, "%s: rendered through the cache %s", w->what,
		             expect_same ? "differs" : "is the same");
	/* the cache holds exactly this render's parts */
	for (size_t i = 0; i < warm.shipper.n_files; i++)
		parts += strncmp(warm.shipper.files[i].name, "part-", 5) == 0;
	LP_CHECK(parts >= 3);
	LP_CHECK_INT(cache->n, parts);
	if (must_have) {
		int found = 0;
		for (size_t i = 0; i < warm.shipper.n_files; i++)
			found |= strstr(warm.shipper.files[i].data, must_have) != NULL;
		if (!found)
			lp_test_fail(__FILE__, __LINE__, "%s: no \"%s\" in the config", w->what,
			             must_have);
	}
	memcpy(hash_out, warm.shipper.hash, 65);
out:
	if (have_cold)
		lp_rendered_free(&cold);
	if (have_warm)
		lp_rendered_free(&warm);
	lp_free(pl);
	lp_free(ol);
	lp_render_bundle_free(&b);
}

static void t_sequence(void)
{
	static const struct world seq[] = {
	    {"base", 0, 0, 0, 0, 0, 0},
	    {"pipeline added", 1, 0, 0, 0, 0, 0},
	    {"pipeline changed", 1, 1, 0, 0, 0, 0},
	    {"pipeline deleted", 1, 1, 1, 0, 0, 0},
	    {"output added", 1, 1, 1, 1, 0, 0},
	    {"output changed", 1, 1, 1, 1, 1, 0},
	    {"output deleted", 1, 1, 1, 1, 1, 1},
	    {"unchanged", 1, 1, 1, 1, 1, 1},
	    {"back to the base", 0, 0, 0, 0, 0, 0},
	};
	static const char *const must_have[] = {
	    NULL, "extra", "changed", NULL, "extra.example.com", "changed.example.com",
	    NULL, NULL,    NULL};
	char tmpl[] = "/tmp/lp-reconcile-cache-XXXXXX";
	int fd = mkstemp(tmpl);
	struct lp_render_cache *cache = lp_render_cache_new();
	char hashes[LP_TEST_COUNT(seq)][65], h[65];

	LP_CHECK(fd >= 0 && cache != NULL);
	if (fd < 0 || !cache) {
		lp_render_cache_free(cache);
		return;
	}
	close(fd);
	for (size_t i = 0; i < LP_TEST_COUNT(seq); i++) {
		hashes[i][0] = '\0';
		step(tmpl, &seq[i], cache, hashes[i], must_have[i], 1);
		/* each change is a new config; no change, the same one */
		if (i > 0 && i != 7)
			LP_CHECK(strcmp(hashes[i], hashes[i - 1]) != 0);
	}
	LP_CHECK_STR(hashes[7], hashes[6]);
	LP_CHECK_STR(hashes[8], hashes[0]);
	/* the control: the same world again, with every cached part damaged, is
	 * caught (the parts come from the cache, and the comparison sees it) */
	for (size_t i = 0; i < cache->n; i++)
		if (cache->e[i].len)
			cache->e[i].data[0] ^= 1;
	step(tmpl, &seq[8], cache, h, NULL, 0);
	unlink(tmpl);
	lp_render_cache_free(cache);
}

int main(void)
{
	static const struct lp_test tests[] = {
	    {"render_cache_sequence", t_sequence},
	};
	return lp_test_main("reconcile_cache", tests, LP_TEST_COUNT(tests));
}
