/* pkg/render/fluentbit.c: the Fluent Bit 5.1.1 YAML configs (shipper and
 * aggregator), written with the libyaml emitter (yamlw.c).
 *
 * Tags (see docs/fields.md for the whole picture):
 *   kube.<ns>.<pod>.<container>         container logs, from the file name (shared tail)
 *   system.kube.<ns>.<pod>.<container>  kube-system container logs (shared tail)
 *   system.node.journal                 kubelet / containerd journal (shared systemd)
 *   p.<h>.kube.<ns>.<pod>.<container>   a pipeline's own tail (buffered multiline; h = hash of
 * ns/name) p.<h>.file.<name>[.<ns>.<pod>.<c>]  a pipeline's host files input p.<h>.http a
 * pipeline's HTTP input a.<h>.<tag above>                   sent to the aggregator by pipeline h's
 * forward output o.<oh>.a.<h>.<tag above>            the same for a route to LogOutput oh with a
 * match No record is copied on the node: every pipeline route is an output instance matching the
 * tags the pipeline selects, its work the instance's processors, so a record meets only its own
 * pipelines' work. Via the aggregator the instance is a forward output whose `tag` prefixes the
 * source tag; the aggregator's outputs (one per LogOutput, or per pipeline
 * for s3) match those prefixes.
 */
#include "fb.h"
#include "../util/mem.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------- documents ---------------- */

/* Which parts of a config a document holds. */
struct doc_spec {
	int service;
	int aggregator; /* the aggregator's config (else the shipper's) */
	int shared;     /* shared parsers, inputs and filters; shipper: forward + discard outputs */
	size_t from, to;    /* pipelines [from, to) of c->pi */
	size_t ofrom, oto;  /* outputs [ofrom, oto) of c->oi, with their livetail filters */
	int track;          /* record per-pipeline and per-output byte estimates */
	size_t stride;      /* every stride-th pipeline only (a sample); 0 or 1: all */
	int filters_only;   /* only the pipelines' shared Lua variants (registration pass) */
	struct lp_buf *rec; /* record of the events (the cache key), or NULL */
	int lua_frozen;     /* see struct fb */
	const char *const *includes;
	size_t n_includes;
};

static void track_begin(struct fb *f, size_t *mark)
{
	*mark = lp_yamlw_size(&f->w);
}

static void track_end(struct fb *f, struct lp_pinfo *pi, size_t mark)
{
	pi->est_bytes += lp_yamlw_size(&f->w) - mark;
}

typedef void (*pl_fn)(struct fb *f, const struct lp_pinfo *pi);

static void each_pipeline(struct fb *f, const struct doc_spec *d, pl_fn fn)
{
	size_t step = d->stride > 1 ? d->stride : 1;

	for (size_t i = d->from; i < d->to; i += step) {
		struct lp_pinfo *pi = &f->c->pi[i];
		size_t mark = 0;
		if (!pi->ok)
			continue;
		if (d->track)
			track_begin(f, &mark);
		fn(f, pi);
		if (d->track)
			track_end(f, pi, mark);
	}
}

/* Writes one document into out; with out NULL, a dry run that only sizes it
 * (d->track then fills the pipelines' and outputs' est_bytes; *bytes, when
 * not NULL, gets the estimate of the whole). */
static lp_err fb_doc(struct lp_rctx *c, const struct doc_spec *d, struct lp_buf *out, size_t *bytes)
{
	struct fb f;
	lp_err err = LP_OK;

	memset(&f, 0, sizeof(f));
	f.c = c;
	f.out = out;
	f.aggregator = d->aggregator;
	f.lua_frozen = d->lua_frozen;
	lp_buf_init(&f.t, 0);
	lp_buf_init(&f.t2, 0);
	lp_buf_init(&f.cap, 0);
	lp_buf_init(&f.units.ev, 0);
	lp_buf_init(&f.route.ev, 0);
	if (out)
		err = lp_yamlw_begin(&f.w, out);
	else
		lp_yamlw_begin_count(&f.w);
	if (err)
		goto out;
	f.w.rec = d->rec;
	if (d->filters_only) {
		each_pipeline(&f, d, fb_pipeline_lua);
		err = lp_yamlw_end(&f.w);
		if (!err)
			err = f.err;
		goto out;
	}
	lp_yamlw_map(&f.w);
	if (d->service)
		fb_service(&f);
	if (d->shared || d->to > d->from || d->oto > d->ofrom) {
		if (!d->aggregator) {
			fb_sec_begin(&f, "parsers");
			if (d->shared)
				fb_shared_parsers(&f);
			each_pipeline(&f, d, fb_pipeline_parsers);
			fb_sec_end(&f);
			fb_sec_begin(&f, "multiline_parsers");
			each_pipeline(&f, d, fb_pipeline_ml_parsers);
			fb_sec_end(&f);
		}
		lp_yamlw_str(&f.w, "pipeline");
		lp_yamlw_map(&f.w);
		fb_sec_begin(&f, "inputs");
		if (d->shared && d->aggregator)
			fb_aggregator_input(&f);
		else if (d->shared)
			fb_shared_inputs(&f);
		if (d->shared)
			fb_agent_metrics_input(&f);
		each_pipeline(&f, d, fb_pipeline_inputs);
		fb_sec_end(&f);
		fb_sec_begin(&f, "filters");
		if (d->shared && !d->aggregator)
			fb_shared_filters(&f);
		fb_livetail_filters(&f, d->ofrom, d->oto, d->track);
		fb_sec_end(&f);
		fb_sec_begin(&f, "outputs");
		if (!d->aggregator)
			each_pipeline(&f, d, fb_pipeline_outputs);
		fb_outputs(&f, d->ofrom, d->oto, d->shared, d->track);
		fb_sec_end(&f);
		lp_yamlw_map_end(&f.w);
	}
	if (d->n_includes) {
		/* last key: included files' sections come after this file's own */
		lp_yamlw_str(&f.w, "includes");
		lp_yamlw_seq(&f.w);
		for (size_t i = 0; i < d->n_includes; i++)
			lp_yamlw_str(&f.w, d->includes[i]);
		lp_yamlw_seq_end(&f.w);
	}
	lp_yamlw_map_end(&f.w);
	if (bytes)
		*bytes = lp_yamlw_size(&f.w);
	err = lp_yamlw_end(&f.w);
	if (!err)
		err = f.err;
out:
	lp_buf_free(&f.t);
	lp_buf_free(&f.t2);
	lp_buf_free(&f.cap);
	lp_yamlw_memo_free(&f.units);
	lp_yamlw_memo_free(&f.route);
	return err;
}

/* One unit of a split config, rendered on any thread: its files and left-out
 * pipelines and outputs are merged into the result in job order, so the
 * output does not depend on which thread rendered what. */
struct part_job {
	struct doc_spec u;            /* what it renders (shared part, pipelines, fb_outputs) */
	struct lp_render_file *files; /* names assigned at the merge */
	size_t n_files;
	size_t *left_out; /* pipelines too large alone (index into c->pi) */
	size_t n_left_out;
	size_t *left_out_o; /* outputs too large alone (index into c->oi) */
	size_t n_left_out_o;
	size_t *hits; /* cache entries reused (index into the cache) */
	size_t n_hits;
	struct lp_cache_entry *fresh; /* parts to remember for the next render */
	size_t n_fresh;
	lp_err err;
};

struct part_pool {
	struct lp_rctx *c;
	struct part_job *jobs;
	size_t n_jobs;
	atomic_size_t next;
};

static lp_err push_index(size_t **v, size_t *n, size_t x)
{
	size_t *nv = lp_realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return LP_ERR_NOMEM;
	*v = nv;
	nv[(*n)++] = x;
	return LP_OK;
}

static lp_err job_file(struct part_job *j, struct lp_buf *b)
{
	struct lp_render_file *f = lp_realloc(j->files, (j->n_files + 1) * sizeof(*f));

	if (!f)
		return LP_ERR_NOMEM;
	j->files = f;
	f = &j->files[j->n_files];
	f->name = NULL;
	f->len = b->len;
	f->data = lp_buf_take(b);
	if (!f->data)
		return LP_ERR_NOMEM;
	j->n_files++;
	return LP_OK;
}

/* Renders document d into b through the render cache, when there is one (the
 * shipper only): the events are recorded and hashed; a known key copies the
 * cached text, else the text is emitted. *hit is the cache entry used or -1;
 * key is written when the cache is used. Reads the cache only. */
static lp_err render_doc(struct lp_rctx *c, struct doc_spec *d, struct lp_buf *b,
                         unsigned char key[32], long *hit)
{
	const struct lp_render_cache *cache = c->in->cache;
	struct lp_buf rec;
	lp_err err;

	*hit = -1;
	if (!cache || d->aggregator)
		return fb_doc(c, d, b, NULL);
	lp_buf_init(&rec, 0);
	d->rec = &rec;
	/* with an empty cache, emit and record in one pass */
	err = fb_doc(c, d, cache->n ? NULL : b, NULL);
	d->rec = NULL;
	if (!err)
		err = lp_render_sha256(c, key, lp_buf_str(&rec), rec.len);
	lp_buf_free(&rec);
	if (err || !cache->n)
		return err;
	for (size_t i = 0; i < cache->n; i++)
		if (memcmp(cache->e[i].key, key, 32) == 0) {
			*hit = (long)i;
			return lp_buf_add(b, cache->e[i].data, cache->e[i].len);
		}
	return fb_doc(c, d, b, NULL);
}

/* Notes the cache use of an accepted part (text in b). */
static lp_err job_note(struct lp_rctx *c, struct part_job *j, const unsigned char key[32], long hit,
                       const struct lp_buf *b)
{
	struct lp_cache_entry *e;

	if (!c->in->cache || j->u.aggregator)
		return LP_OK;
	if (hit >= 0)
		return push_index(&j->hits, &j->n_hits, (size_t)hit);
	e = lp_realloc(j->fresh, (j->n_fresh + 1) * sizeof(*e));
	if (!e)
		return LP_ERR_NOMEM;
	j->fresh = e;
	e = &e[j->n_fresh];
	memcpy(e->key, key, 32);
	e->len = b->len;
	e->used = 1;
	e->data = lp_malloc(b->len + 1);
	if (!e->data)
		return LP_ERR_NOMEM;
	memcpy(e->data, lp_buf_str(b), b->len);
	e->data[b->len] = '\0';
	j->n_fresh++;
	return LP_OK;
}

/* Renders unit u (shared part, pipelines [from, to), outputs [ofrom, oto)) as
 * part files into j. A unit that comes out over the limit is cut in two:
 * pipelines first, then outputs, then the shared part from the rest; a single
 * pipeline or output over the limit alone is left out. Reads c, writes only j. */
static lp_err add_parts(struct lp_rctx *c, const struct doc_spec *u, struct part_job *j)
{
	struct doc_spec d = *u, a, r;
	struct lp_buf b;
	size_t est = 0, np = u->to - u->from, no = u->oto - u->ofrom;
	unsigned char key[32];
	long hit = -1;
	lp_err err;

	d.lua_frozen = 1;
	d.track = 0;
	lp_buf_init(&b, 0);
	for (size_t i = u->from; i < u->to; i++)
		est += c->pi[i].ok ? c->pi[i].est_bytes : 0;
	for (size_t i = u->ofrom; i < u->oto; i++)
		est += c->oi[i].ok ? c->oi[i].est_bytes : 0;
	/* one allocation instead of a chain of doublings (each freeing a large block) */
	err = lp_buf_reserve(&b, est + est / 8 + 4096);
	if (!err)
		err = render_doc(c, &d, &b, key, &hit);
	if (err)
		goto out;
	if (b.len <= LP_RENDER_SPLIT_BYTES) {
		err = job_note(c, j, key, hit, &b);
		if (!err)
			err = job_file(j, &b);
		goto out;
	}
	lp_buf_free(&b);
	a = d;
	r = d;
	r.shared = 0; /* the shared part always stays in the first file */
	if (np > 1) {
		a.to = r.from = u->from + np / 2;
		r.ofrom = r.oto;
	} else if (no > 1) {
		a.oto = r.ofrom = u->ofrom + no / 2;
		r.from = r.to;
	} else if (np + no > 1 || (u->shared && np + no > 0)) {
		/* the shared part alone, or the pipeline apart from the output */
		if (u->shared) {
			a.to = a.from;
			a.oto = a.ofrom;
		} else {
			a.oto = a.ofrom;
			r.to = r.from;
		}
	} else if (np == 1) {
		/* one pipeline alone: leave it out (the rest still render) */
		if (c->pi[u->from].ok)
			err = push_index(&j->left_out, &j->n_left_out, u->from);
		goto out; /* ok cleared at the merge */
	} else if (no == 1) {
		if (c->oi[u->ofrom].ok)
			err = push_index(&j->left_out_o, &j->n_left_out_o, u->ofrom);
		goto out;
	} else {
		err = LP_ERR_TOO_LARGE; /* the shared part alone */
		goto out;
	}
	err = add_parts(c, &a, j);
	if (!err)
		err = add_parts(c, &r, j);
out:
	lp_buf_free(&b);
	return err;
}

static void *pool_worker(void *arg)
{
	struct part_pool *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n_jobs)
		p->jobs[i].err = add_parts(p->c, &p->jobs[i].u, &p->jobs[i]);
	return NULL;
}

/* Runs every job, on up to LP_RENDER_THREADS threads (the caller's included).
 * Only the reading of shared state and each job's own results happen there. */
static void pool_run(struct part_pool *p)
{
	pthread_t th[LP_RENDER_THREADS];
	size_t n_th = 0, want = LP_RENDER_THREADS;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus > 0 && (size_t)cpus < want)
		want = (size_t)cpus;
	if (want > p->n_jobs)
		want = p->n_jobs;
	while (n_th + 1 < want && pthread_create(&th[n_th], NULL, pool_worker, p) == 0)
		n_th++;
	pool_worker(p);
	for (size_t i = 0; i < n_th; i++)
		pthread_join(th[i], NULL);
}

static void jobs_free(struct part_job *jobs, size_t n)
{
	for (size_t i = 0; jobs && i < n; i++) {
		for (size_t k = 0; k < jobs[i].n_files; k++)
			lp_free(jobs[i].files[k].data);
		lp_free(jobs[i].files);
		lp_free(jobs[i].left_out);
		lp_free(jobs[i].left_out_o);
		lp_free(jobs[i].hits);
		for (size_t k = 0; k < jobs[i].n_fresh; k++)
			lp_free(jobs[i].fresh[k].data);
		lp_free(jobs[i].fresh);
	}
	lp_free(jobs);
}

/* The cache keeps exactly the parts of this render: the reused entries and the
 * jobs' fresh ones (moved out of the jobs). */
static lp_err cache_update(struct lp_render_cache *cache, struct part_job *jobs, size_t n)
{
	size_t keep = 0, add = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < jobs[i].n_hits; k++)
			cache->e[jobs[i].hits[k]].used = 1;
		add += jobs[i].n_fresh;
	}
	for (size_t i = 0; i < cache->n; i++) {
		if (cache->e[i].used) {
			cache->e[i].used = 0;
			cache->e[keep++] = cache->e[i];
		} else {
			lp_free(cache->e[i].data);
		}
	}
	cache->n = keep;
	if (keep + add > cache->cap) {
		struct lp_cache_entry *e = lp_realloc(cache->e, (keep + add) * sizeof(*e));
		if (!e)
			return LP_ERR_NOMEM;
		cache->e = e;
		cache->cap = keep + add;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < jobs[i].n_fresh; k++) {
			cache->e[cache->n] = jobs[i].fresh[k];
			cache->e[cache->n++].used = 0;
		}
		jobs[i].n_fresh = 0;
	}
	return LP_OK;
}

/* Moves the jobs' files into cfg in job order as part-000 (the shared part),
 * part-001, ... and reports the pipelines and outputs left out, in the same
 * order. */
static lp_err jobs_merge(struct lp_rctx *c, struct part_job *jobs, size_t n,
                         struct lp_rendered_config *cfg)
{
	unsigned seq = 0;
	lp_err err = LP_OK;

	for (size_t i = 0; !err && i < n; i++)
		err = jobs[i].err;
	for (size_t i = 0; !err && i < n; i++) {
		struct part_job *j = &jobs[i];
		for (size_t k = 0; !err && k < j->n_left_out; k++)
			err = lp_render_pipeline_too_large(c, &c->pi[j->left_out[k]],
			                                   LP_RENDER_SPLIT_BYTES);
		for (size_t k = 0; !err && k < j->n_left_out_o; k++)
			err = lp_render_output_too_large(c, &c->oi[j->left_out_o[k]],
			                                 LP_RENDER_SPLIT_BYTES);
		for (size_t k = 0; !err && k < j->n_files; k++) {
			struct lp_render_file *f =
			    lp_realloc(cfg->files, (cfg->n_files + 1) * sizeof(*f));
			char name[32];
			if (!f) {
				err = LP_ERR_NOMEM;
				break;
			}
			cfg->files = f;
			if (j->u.shared && k == 0)
				snprintf(name, sizeof(name), "part-000.yaml");
			else
				snprintf(name, sizeof(name), "part-%03u.yaml", ++seq);
			f = &cfg->files[cfg->n_files];
			f->name = lp_strdup(name);
			if (!f->name) {
				err = LP_ERR_NOMEM;
				break;
			}
			f->data = j->files[k].data;
			f->len = j->files[k].len;
			j->files[k].data = NULL;
			cfg->n_files++;
		}
	}
	return err;
}

/* Adds logplane.lua (the factories and one line per registered variant). */
static lp_err add_lua_file(struct lp_rctx *c, struct lp_rendered_config *cfg)
{
	struct lp_buf b;
	lp_err err;

	if (c->n_lua == 0)
		return LP_OK;
	lp_buf_init(&b, 0);
	err = lp_buf_adds(&b, fb_lua_lib);
	for (size_t i = 0; !err && i < c->n_lua; i++)
		err = lp_buf_addf(&b, "lp_fn_%zu = %s\n", i + 1, c->lua_ctor[i]);
	if (!err)
		err = lp_render_config_add(cfg, LP_RENDER_LUA_FILE, &b);
	lp_buf_free(&b);
	return err;
}

/* End of the part starting at pipeline start: as many pipelines as fit the
 * packing estimate (at least one). */
static size_t pack_end(const struct lp_rctx *c, size_t start)
{
	size_t end = start, sum = 0;

	while (end < c->npi &&
	       (end == start || sum + c->pi[end].est_bytes <= LP_RENDER_PACK_BYTES)) {
		if (c->pi[end].ok)
			sum += c->pi[end].est_bytes;
		end++;
	}
	return end;
}

/* The same for outputs, with budget bytes for the first part (at least one
 * output unless the budget is spent). */
static size_t pack_end_o(const struct lp_rctx *c, size_t start, size_t budget)
{
	size_t end = start, sum = 0;

	while (end < c->noi && ((end == start && budget > 0) ||
	                        sum + (c->oi[end].ok ? c->oi[end].est_bytes : 0) <= budget)) {
		if (c->oi[end].ok)
			sum += c->oi[end].est_bytes;
		end++;
	}
	return end;
}

/* Renders a config too large for one file (agg: the aggregator's) into cfg:
 * the entry file (service + includes), part-000 with the shared sections and
 * the first outputs, more parts of outputs, then (shipper) the pipelines
 * packed into parts by their measured size. Outputs too large alone are left
 * out and reported. */
static lp_err split_config(struct lp_rctx *c, struct lp_rendered_config *cfg, int agg)
{
	struct doc_spec sz = {0}, entry = {0}, reg = {0};
	struct part_pool pool = {0};
	struct lp_buf b;
	char **names = NULL;
	size_t base = 0, outs = 0, start, n_jobs, k, n_names;
	lp_err err;

	lp_buf_init(&b, 0);
	/* files[0] is the entry: reserve it, fill it last */
	err = lp_render_config_add(cfg, "fluent-bit.yaml", &b);
	if (err)
		goto out;
	if (!agg) {
		/* number every Lua variant in the order a sequential render meets
		 * them, so the parts can then be rendered on several threads */
		reg.to = c->npi;
		reg.filters_only = 1;
		err = fb_doc(c, &reg, NULL, NULL);
		if (err)
			goto out;
	}
	/* size the shared part and every output of this side */
	for (size_t i = 0; i < c->noi; i++)
		c->oi[i].est_bytes = 0;
	sz.aggregator = agg;
	sz.shared = 1;
	sz.oto = c->noi;
	sz.track = 1;
	err = fb_doc(c, &sz, NULL, &base);
	if (err)
		goto out;
	for (size_t i = 0; !err && i < c->noi; i++) {
		struct lp_oinfo *oi = &c->oi[i];
		if (oi->ok && oi->est_bytes > LP_RENDER_PACK_BYTES)
			err = lp_render_output_too_large(c, oi, LP_RENDER_PACK_BYTES);
		outs += oi->ok ? oi->est_bytes : 0;
	}
	if (err)
		goto out;
	base = base > outs ? base - outs : 0;
	/* jobs: the shared part with the first outputs, the other outputs, the pipelines */
	n_jobs = 1;
	start = pack_end_o(c, 0, base < LP_RENDER_PACK_BYTES ? LP_RENDER_PACK_BYTES - base : 0);
	while (start < c->noi) {
		start = pack_end_o(c, start, LP_RENDER_PACK_BYTES);
		n_jobs++;
	}
	for (start = 0; !agg && start < c->npi; n_jobs++)
		start = pack_end(c, start);
	pool.jobs = lp_calloc(n_jobs, sizeof(*pool.jobs));
	if (!pool.jobs) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	pool.c = c;
	pool.n_jobs = n_jobs;
	atomic_init(&pool.next, 0);
	pool.jobs[0].u.shared = 1;
	pool.jobs[0].u.oto =
	    pack_end_o(c, 0, base < LP_RENDER_PACK_BYTES ? LP_RENDER_PACK_BYTES - base : 0);
	for (k = 1; pool.jobs[k - 1].u.oto < c->noi; k++) {
		pool.jobs[k].u.ofrom = pool.jobs[k - 1].u.oto;
		pool.jobs[k].u.oto = pack_end_o(c, pool.jobs[k].u.ofrom, LP_RENDER_PACK_BYTES);
	}
	for (start = 0; k < n_jobs; k++) {
		pool.jobs[k].u.from = start;
		pool.jobs[k].u.to = start = pack_end(c, start);
	}
	for (k = 0; k < n_jobs; k++)
		pool.jobs[k].u.aggregator = agg;
	pool_run(&pool);
	err = jobs_merge(c, pool.jobs, n_jobs, cfg);
	if (!err && c->in->cache && !agg)
		err = cache_update(c->in->cache, pool.jobs, n_jobs);
	if (err)
		goto out;
	n_names = cfg->n_files - 1;
	names = lp_calloc(n_names ? n_names : 1, sizeof(*names));
	if (!names) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_names; i++)
		names[i] = cfg->files[i + 1].name;
	entry.service = 1;
	entry.aggregator = agg;
	entry.includes = (const char *const *)names;
	entry.n_includes = n_names;
	err = fb_doc(c, &entry, &b, NULL);
	if (err)
		goto out;
	lp_free(cfg->files[0].data);
	cfg->files[0].len = b.len;
	cfg->files[0].data = lp_buf_take(&b);
	if (!cfg->files[0].data)
		err = LP_ERR_NOMEM;
out:
	jobs_free(pool.jobs, pool.n_jobs);
	lp_free(names);
	lp_buf_free(&b);
	return err;
}

/* The whole config of one side in one file when it fits (all: tracking dry
 * run done by the caller, len its estimate), else split. */
static lp_err single_or_split(struct lp_rctx *c, struct lp_rendered_config *cfg,
                              const struct doc_spec *all, size_t len)
{
	struct lp_buf b;
	lp_err err = LP_OK;

	lp_buf_init(&b, 0);
	if (len <= LP_RENDER_PACK_BYTES) {
		struct doc_spec d = *all;
		d.track = 0;
		err = lp_buf_reserve(&b, len + len / 8 + 4096);
		if (!err)
			err = fb_doc(c, &d, &b, NULL);
		if (!err && b.len <= LP_RENDER_SPLIT_BYTES) {
			err = lp_render_config_add(cfg, "fluent-bit.yaml", &b);
			goto out;
		}
		if (err)
			goto out;
	}
	lp_buf_free(&b);
	err = split_config(c, cfg, all->aggregator);
out:
	lp_buf_free(&b);
	return err;
}

/* Per-instance descriptors, read from Fluent Bit 5.1.1's source: an output
 * has its engine channel (src/flb_output.c flb_output_init_all: a pipe) and a
 * kept-alive connection once it has sent, and each worker thread an event
 * loop, its parent and notification channels, a scheduler (frame timer +
 * channel) with its 1.5 s timer and its own channel (src/flb_output_thread.c);
 * a tail has inotify, its collectors' timers and its database (with -wal and
 * -shm), plus one per file it follows. Measured on 5.1.1 with 1,000 http
 * routes: 2,051 descriptors without workers, 13,062 with one worker each. */
#define FD_BASE        64  /* engine loop, signals, HTTP server, log, storage */
#define FD_CHUNKS_UP   128 /* storage.max_chunks_up: chunks mapped at once */
#define FD_OUTPUT      3
#define FD_WORKER      11
#define FD_TAIL        8
#define FD_TAIL_FILES  256 /* files a node's container-log tail follows (110 pods) */
#define FD_OTHER_INPUT 16  /* http (clients), systemd, an emitter */

/* Fills out->shipper_* from the pipelines (the shape fb_doc renders). */
static void shipper_shape(struct lp_rctx *c)
{
	size_t outs = 0, workers = 0, threads = 0, fds = FD_BASE + FD_CHUNKS_UP;

	if (c->any_app)
		fds += FD_TAIL + FD_TAIL_FILES;
	if (c->any_system)
		fds += FD_TAIL + FD_TAIL_FILES + FD_OTHER_INPUT;
	for (size_t i = 0; i < c->npi; i++) {
		const struct lp_pinfo *pi = &c->pi[i];
		const struct lp_pipeline *p = pi->p;
		size_t thr = 0;
		int agg_all = 0;
		if (!pi->ok)
			continue;
		fds += p->n_files * (FD_TAIL + 16) + (p->http.enabled ? FD_OTHER_INPUT : 0);
		if (LP_OWN_APP_INPUT(pi))
			fds += FD_TAIL + FD_TAIL_FILES + FD_OTHER_INPUT;
		for (size_t t = 0; t < p->n_transforms; t++)
			thr += p->transforms[t].kind == LP_TR_THROTTLE &&
			       !p->transforms[t].u.throttle.per_pod;
		for (size_t r = 0; r < p->n_routes; r++) {
			const struct lp_output *o;
			if (!pi->routes[r].ok || !c->oi[pi->routes[r].out].ok)
				continue;
			o = c->oi[pi->routes[r].out].o;
			if (pi->agg && p->routes[r].op == LP_ROUTE_ALL &&
			    !lp_output_type_via_hub(o->type)) {
				agg_all = 1; /* one forward output for all such routes */
				continue;
			}
			/* a throttle (filter_throttle) starts a ticker thread */
			threads += thr;
			outs++;
			workers += (size_t)fb_route_workers(pi->agg ? LP_OUT_FORWARD : o->type);
			threads += !pi->agg && lp_output_type_via_hub(o->type);
		}
		if (agg_all) {
			threads += thr;
			outs++;
			workers += (size_t)fb_route_workers(LP_OUT_FORWARD);
		}
	}
	/* lp_discard, the metrics exporter and, with a pipeline via the
	 * aggregator, the upgrade carry (fb_outputs.c): no worker */
	outs += 2 + (c->any_agg != 0);
	fds += outs * FD_OUTPUT + workers * FD_WORKER;
	c->out->shipper_outputs = outs;
	c->out->shipper_threads = workers + threads;
	c->out->shipper_open_files = fds;
}

lp_err lp_render_fb_shipper(struct lp_rctx *c)
{
	struct lp_rendered_config *cfg = &c->out->shipper;
	struct doc_spec all = {0};
	size_t len = 0;
	lp_err err;

	for (size_t i = 0; i < c->npi; i++) {
		if (!c->pi[i].ok)
			continue;
		if (fb_pipeline_files_meta(&c->pi[i]))
			c->any_files_meta = 1;
		if (fb_pipeline_has_parser(&c->pi[i]) && fb_parser_shared(&c->pi[i])) {
			if (c->pi[i].p->parse.format == LP_PARSE_JSON)
				c->any_json_parser = 1;
			else
				c->any_logfmt_parser = 1;
		}
	}
	all.service = 1;
	all.shared = 1;
	all.to = c->npi;
	all.oto = c->noi;
	all.track = 1;
	if (c->npi > LP_RENDER_SAMPLE_FROM) {
		/* many pipelines: size a sample first; when the whole is clearly too
		 * large for one file, pack by the sample's average and skip the full
		 * dry run (parts that still come out too large are halved) */
		struct doc_spec sample = {0};
		size_t n_ok = 0, n_s = 0, sum = 0;
		sample.to = c->npi;
		sample.track = 1;
		sample.stride = c->npi / LP_RENDER_SAMPLE_SIZE;
		err = fb_doc(c, &sample, NULL, NULL);
		if (err)
			return err;
		for (size_t i = 0; i < c->npi; i++) {
			n_ok += c->pi[i].ok;
			if (c->pi[i].ok && i % sample.stride == 0) {
				n_s++;
				sum += c->pi[i].est_bytes;
			}
		}
		if (n_s && (sum / n_s) * n_ok > 2 * LP_RENDER_PACK_BYTES) {
			for (size_t i = 0; i < c->npi; i++)
				if (c->pi[i].ok && i % sample.stride != 0)
					c->pi[i].est_bytes = sum / n_s;
			len = SIZE_MAX;
			goto split;
		}
		for (size_t i = 0; i < c->npi; i++)
			c->pi[i].est_bytes = 0;
	}
	/* size everything with a dry run; render one file when it clearly fits */
	err = fb_doc(c, &all, NULL, &len);
	if (err)
		return err;
split:
	if (len > LP_RENDER_PACK_BYTES) {
		/* too large for one file: pipelines too large alone are left out */
		for (size_t i = 0; i < c->npi; i++) {
			struct lp_pinfo *pi = &c->pi[i];
			if (pi->ok && pi->est_bytes > LP_RENDER_PACK_BYTES) {
				err = lp_render_pipeline_too_large(c, pi, LP_RENDER_PACK_BYTES);
				if (err)
					return err;
			}
		}
	}
	err = single_or_split(c, cfg, &all, len);
	if (!err)
		err = add_lua_file(c, cfg);
	if (!err)
		shipper_shape(c);
	return err;
}

lp_err lp_render_fb_aggregator(struct lp_rctx *c)
{
	struct doc_spec all = {0};
	size_t len = 0;
	lp_err err;

	all.service = 1;
	all.aggregator = 1;
	all.shared = 1;
	all.oto = c->noi;
	all.track = 1;
	for (size_t i = 0; i < c->noi; i++)
		c->oi[i].est_bytes = 0;
	err = fb_doc(c, &all, NULL, &len);
	if (!err)
		err = single_or_split(c, &c->out->aggregator, &all, len);
	return err;
}
