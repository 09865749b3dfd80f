/* pkg/api: a pipeline's outputRef found in a sorted lp_world (binary search)
 * exactly as by the scan of an unsorted one. */
#include "lp_test.h"
#include "../../pkg/api/api.h"
#include <stdio.h>
#include <stdlib.h>

#define N_NS   50
#define PER_NS 40
#define N_OUT  (N_NS * PER_NS)

struct fixture {
	struct lp_output outs[N_OUT + 3];
	const struct lp_output *ptrs[N_OUT + 4];
	char names[N_OUT + 3][2][32];
	size_t n;
};

/* Outputs ns-I/out-J, added in a scrambled order, plus one without a
 * namespace, one without a name and a NULL entry. */
static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t k = 0; k < N_OUT; k++) {
		size_t i = (k * 7919) % N_OUT; /* 7919 is prime, so this visits every i once */
		snprintf(f->names[k][0], sizeof(f->names[k][0]), "ns-%zu", i / PER_NS);
		snprintf(f->names[k][1], sizeof(f->names[k][1]), "out-%zu", i % PER_NS);
		f->outs[k].meta.ns = f->names[k][0];
		f->outs[k].meta.name = f->names[k][1];
		f->ptrs[f->n++] = &f->outs[k];
	}
	snprintf(f->names[N_OUT][1], sizeof(f->names[N_OUT][1]), "orphan");
	f->outs[N_OUT].meta.name = f->names[N_OUT][1];
	f->ptrs[f->n++] = &f->outs[N_OUT];
	snprintf(f->names[N_OUT + 1][0], sizeof(f->names[N_OUT + 1][0]), "ns-3");
	f->outs[N_OUT + 1].meta.ns = f->names[N_OUT + 1][0];
	f->ptrs[f->n++] = &f->outs[N_OUT + 1];
	f->ptrs[f->n++] = NULL;
}

/* 1 when a pipeline in ns routing to ref validates (its reference resolves). */
static int resolves(const struct lp_world *w, const char *ns, const char *ref)
{
	struct lp_route route;
	struct lp_pipeline p;
	struct lp_problems probs = {0};
	lp_err err;

	memset(&route, 0, sizeof(route));
	memset(&p, 0, sizeof(p));
	route.output_ref = (char *)ref;
	p.meta.ns = (char *)ns;
	p.meta.name = (char *)"p";
	p.routes = &route;
	p.n_routes = 1;
	p.has_app = 1; /* an input: the rules want one */
	p.app.enabled = 1;
	err = lp_pipeline_validate(&p, w, &probs);
	if (err == LP_ERR_INVALID && (probs.n != 1 || !strstr(probs.v[0].message, "not found")))
		lp_test_fail(__FILE__, __LINE__, "%s/%s: unexpected problem %s", ns, ref,
		             probs.n ? probs.v[0].message : "(none)");
	lp_problems_free(&probs);
	return err == LP_OK;
}

static void t_sort_order(void)
{
	static struct fixture f;

	fixture_init(&f);
	lp_outputs_sort(f.ptrs, f.n);
	LP_CHECK(f.ptrs[0] == NULL); /* NULL first, then no namespace ("") */
	LP_CHECK(f.ptrs[1] == &f.outs[N_OUT]);
	for (size_t i = 2; i < f.n; i++) {
		const struct lp_meta *a = &f.ptrs[i - 1]->meta, *b = &f.ptrs[i]->meta;
		int c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "");
		if (!c)
			c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
		if (c >= 0) {
			lp_test_fail(__FILE__, __LINE__, "not sorted at %zu: %s/%s before %s/%s", i,
			             a->ns ? a->ns : "", a->name ? a->name : "", b->ns ? b->ns : "",
			             b->name ? b->name : "");
			break;
		}
	}
	lp_outputs_sort(NULL, 0); /* nothing to do, no crash */
}

static void t_sorted_same_as_scan(void)
{
	static struct fixture f, g;
	struct lp_world scan = {0}, sorted = {0};
	static const char *const extra[][2] = {
	    {"ns-0", "out-0"},    {"ns-49", "out-39"}, {"ns-3", "out-9"},   {"ns-3", "out-40"},
	    {"ns-3", "out-"},     {"ns-50", "out-0"},  {"ns-", "out-1"},    {"ns-1", "out-1x"},
	    {"default", "out-1"}, {"ns-3", "orphan"},  {"ns-10", "out-10"}, {"a", "b"},
	};
	size_t found = 0;

	fixture_init(&f);
	scan.outputs = f.ptrs;
	scan.n_outputs = f.n;
	fixture_init(&g);
	lp_outputs_sort(g.ptrs, g.n);
	sorted.outputs = g.ptrs;
	sorted.n_outputs = g.n;
	sorted.outputs_sorted = 1;
	for (size_t i = 0; i <= N_NS; i++) {
		for (size_t j = 0; j <= PER_NS; j++) {
			char ns[32], name[32];
			int a, b;
			snprintf(ns, sizeof(ns), "ns-%zu", i);
			snprintf(name, sizeof(name), "out-%zu", j);
			a = resolves(&scan, ns, name);
			b = resolves(&sorted, ns, name);
			found += (size_t)b;
			if (a != b || a != (i < N_NS && j < PER_NS)) {
				lp_test_fail(__FILE__, __LINE__, "%s/%s: scan %d, sorted %d", ns,
				             name, a, b);
				return;
			}
		}
	}
	LP_CHECK_INT(found, N_OUT);
	for (size_t k = 0; k < LP_TEST_COUNT(extra); k++)
		if (resolves(&scan, extra[k][0], extra[k][1]) !=
		    resolves(&sorted, extra[k][0], extra[k][1]))
			lp_test_fail(__FILE__, __LINE__, "%s/%s: scan and sorted differ",
			             extra[k][0], extra[k][1]);
	LP_CHECK(!resolves(&sorted, "ns-3", "orphan"));
	LP_CHECK(!resolves(&sorted, "ns-50", "out-0"));
}

static void t_empty_world(void)
{
	struct lp_world w = {0};

	w.outputs_sorted = 1;
	LP_CHECK(!resolves(&w, "ns-0", "out-0"));
	LP_CHECK(!resolves(NULL, "ns-0", "out-0"));
}

static const struct lp_test tests[] = {
    {"sort_order", t_sort_order},
    {"sorted_same_as_scan", t_sorted_same_as_scan},
    {"empty_world", t_empty_world},
};

int main(void)
{
	return lp_test_main("api_lookup", tests, LP_TEST_COUNT(tests));
}
