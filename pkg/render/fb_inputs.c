/* pkg/render/fb_inputs.c: the inputs: the shared sources (container logs, kube-system logs, the
 * node journal), each pipeline's own inputs (host files, HTTP), the aggregator's forward input, and
 * their buffering keys (memory limit, filesystem storage, pause). */
#include "fb.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

/* ---------------- inputs ---------------- */

const char *fb_mem_buf_limit(const struct lp_rctx *c, const struct lp_pinfo *pi)
{
	if (pi && pi->mbl)
		return pi->mbl;
	/* the largest memBufLimit among the outputs this pipeline routes to */
	const char *best = NULL;
	uint64_t best_b = 0, b;

	for (size_t i = 0; pi && i < pi->p->n_routes; i++) {
		const struct lp_output *o;
		if (!pi->routes[i].ok)
			continue;
		o = c->oi[pi->routes[i].out].o;
		if (o->delivery.mem_buf_limit &&
		    lp_size_parse(o->delivery.mem_buf_limit, &b) == LP_OK && b > best_b) {
			best_b = b;
			best = o->delivery.mem_buf_limit;
		}
	}
	return best ? best : "5M";
}

void fb_input_storage(struct fb *f, int fs, const char *mbl)
{
	fb_kv_size(f, "mem_buf_limit", mbl);
	fb_kv(f, "storage.type", fb_storage_type(fs));
	if (fs)
		lp_yamlw_kvb(&f->w, "storage.pause_on_chunks_overlimit", 1);
}

static void tail_common(struct fb *f, const char *db)
{
	fb_kv(f, "db", db);
	fb_kv(f, "db.sync", "normal");
	lp_yamlw_kvb(&f->w, "skip_long_lines", 1);
	/* New files (a pod just started) are found by this scan, then read from
	 * their first line: 1 s keeps a short-lived pod's first lines as fresh as
	 * the 1 s flush, and finds its file while the kubelet still keeps it. The
	 * scan is one glob of the directory per second (10 s before). */
	lp_yamlw_kvi(&f->w, "refresh_interval", 1);
}

void fb_shared_inputs(struct fb *f)
{
	struct lp_rctx *c = f->c;

	if (c->any_app) {
		fb_plugin(f, "tail");
		fb_kv(f, "alias", "lp_app");
		fb_kv(f, "path", "/var/log/containers/*.log");
		fb_kv(f, "exclude_path", "/var/log/containers/*_kube-system_*.log");
		fb_kv(f, "multiline.parser", "cri");
		fb_kv(f, "tag", "kube.<namespace_name>.<pod_name>.<container_name>");
		fb_kv(f, "tag_regex", FB_TAG_REGEX);
		tail_common(f, LP_RENDER_STATE_DIR "/tail-app.db");
		fb_input_storage(f, c->app_fs, c->app_mem_buf_limit);
		fb_plugin_end(f);
	}
	if (c->any_system) {
		fb_plugin(f, "tail");
		fb_kv(f, "alias", "lp_system");
		fb_kv(f, "path", "/var/log/containers/*_kube-system_*.log");
		fb_kv(f, "multiline.parser", "cri");
		fb_kv(f, "tag", "system.kube.<namespace_name>.<pod_name>.<container_name>");
		fb_kv(f, "tag_regex", FB_TAG_REGEX);
		tail_common(f, LP_RENDER_STATE_DIR "/tail-system.db");
		fb_input_storage(f, c->system_fs, "5M");
		fb_plugin_end(f);

		fb_plugin(f, "systemd");
		fb_kv(f, "alias", "lp_node");
		fb_kv(f, "tag", "system.node.journal");
		lp_yamlw_str(&f->w, "systemd_filter");
		lp_yamlw_seq(&f->w);
		lp_yamlw_str(&f->w, "_SYSTEMD_UNIT=kubelet.service");
		lp_yamlw_str(&f->w, "_SYSTEMD_UNIT=containerd.service");
		lp_yamlw_seq_end(&f->w);
		fb_kv(f, "systemd_filter_type", "or");
		lp_yamlw_kvb(&f->w, "read_from_tail", 1);
		fb_kv(f, "db", LP_RENDER_STATE_DIR "/systemd.db");
		fb_input_storage(f, c->system_fs, "5M");
		fb_plugin_end(f);
	}
}

/* The processors of pi's files input i: its buffered multiline stage, then the metadata regex's
 * groups as record fields (a parser on the file's path, with or without the kubernetes filter),
 * then kubernetes metadata when asked for. */
static void file_processors(struct fb *f, const struct lp_pinfo *pi, size_t i)
{
	const struct lp_pipeline *p = pi->p;
	const struct lp_in_file *fi = &p->files[i];
	char what[32];

	fb_proc_begin(f);
	lp_render_field_idx(what, sizeof(what), "ml_f", i, "");
	fb_multiline_unit(f, pi, what);
	if (fi->metadata_regex) {
		fb_plugin(f, "parser");
		fb_kv(f, "key_name", FB_PATH_KEY);
		fb_kv(f, "parser", fb_cat(f, "lp-", pi->h, "-file-", fi->name, CAT_END));
		lp_yamlw_kvb(&f->w, "reserve_data", 1);
		fb_plugin_end(f);
		if (p->kubernetes.enabled) {
			fb_addf(f, fb_t0(f), "%s.file.%s.", pi->prefix, fi->name);
			fb_kube_filter(f, NULL, fb_ts(f),
			               p->kubernetes.labels || p->app.n_pod_labels,
			               p->kubernetes.annotations);
		}
	}
	fb_proc_end(f);
}

/* The application logs of a pipeline with a buffered multiline stage, read
 * by its own tail (LP_OWN_APP_INPUT): the files of its namespaces, tagged
 * p.<h>.kube.<ns>.<pod>.<container>, multiline and kubernetes metadata as
 * processors of this input. The multiline filter appends a joined record to
 * this input's own chunk (plugins/filter_multiline/ml.c ingest_inline():
 * flb_input_log_append_skip_processor_stages()), not to an emitter: no copy
 * and no second tag. */
static void own_app_input(struct fb *f, const struct lp_pinfo *pi, const char *mbl)
{
	const struct lp_pipeline *p = pi->p;
	const struct lp_in_application *a = &p->app;
	int control = strcmp(p->meta.ns, f->c->control_ns) == 0;
	struct lp_buf *b;

	fb_plugin(f, "tail");
	fb_kv(f, "alias", fb_cat(f, "lp_", pi->h, "_app", CAT_END));
	b = fb_t0(f);
	if (!control || a->ns_include.n) {
		size_t n = control ? a->ns_include.n : 1;
		for (size_t i = 0; i < n; i++)
			fb_addf(f, b, "%s/var/log/containers/*_%s_*.log", i ? "," : "",
			        control ? a->ns_include.v[i] : p->meta.ns);
		fb_kv(f, "path", fb_ts(f));
	} else {
		fb_kv(f, "path", "/var/log/containers/*.log");
		fb_adds(f, b, "/var/log/containers/*_kube-system_*.log");
		for (size_t i = 0; i < a->ns_exclude.n; i++)
			fb_addf(f, b, ",/var/log/containers/*_%s_*.log", a->ns_exclude.v[i]);
		fb_kv(f, "exclude_path", fb_ts(f));
	}
	fb_kv(f, "multiline.parser", "cri");
	fb_kv(f, "tag",
	      fb_cat(f, pi->prefix, ".kube.<namespace_name>.<pod_name>.<container_name>", CAT_END));
	fb_kv(f, "tag_regex", FB_TAG_REGEX);
	tail_common(f, fb_cat(f, LP_RENDER_STATE_DIR "/tail-", pi->h, "-app.db", CAT_END));
	fb_input_storage(f, pi->any_at_least_once, mbl);
	fb_proc_begin(f);
	fb_multiline_unit(f, pi, "ml");
	if (p->kubernetes.enabled || a->n_pod_labels) {
		fb_cat(f, pi->prefix, ".kube.", CAT_END);
		fb_kube_filter(f, NULL, fb_ts(f), p->kubernetes.labels || a->n_pod_labels,
		               p->kubernetes.annotations);
	}
	fb_proc_end(f);
	fb_plugin_end(f);
}

void fb_pipeline_inputs(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	const char *mbl = fb_mem_buf_limit(f->c, pi);

	for (size_t i = 0; i < p->n_files; i++) {
		const struct lp_in_file *fi = &p->files[i];
		unsigned ml = p->multiline.present ? p->multiline.builtin : 0;

		fb_plugin(f, "tail");
		fb_cat(f, "lp_", pi->h, "_file_", fi->name, CAT_END);
		fb_kv(f, "alias", fb_ts(f));
		fb_kv(f, "path", fi->path);
		if (fi->metadata_regex) {
			fb_addf(f, fb_t0(f),
			        "%s.file.%s.<namespace_name>.<pod_name>.<container_name>",
			        pi->prefix, fi->name);
			fb_kv(f, "tag", fb_ts(f));
			fb_chk(f, lp_render_regex_safe(fb_t0(f), fi->metadata_regex));
			fb_kv(f, "tag_regex", fb_ts(f));
		} else {
			fb_cat(f, pi->prefix, ".file.", fi->name, CAT_END);
			fb_kv(f, "tag", fb_ts(f));
		}
		if (ml & (LP_ML_CRI | LP_ML_DOCKER))
			fb_kv(f, "multiline.parser", (ml & LP_ML_CRI) ? "cri" : "docker");
		if (fi->metadata_regex)
			fb_kv(f, "path_key", FB_PATH_KEY);
		fb_addf(f, fb_t0(f), LP_RENDER_STATE_DIR "/tail-%s-%s.db", pi->h, fi->name);
		tail_common(f, fb_ts(f));
		fb_input_storage(f, pi->any_at_least_once, mbl);
		file_processors(f, pi, i);
		fb_plugin_end(f);
	}
	if (LP_OWN_APP_INPUT(pi))
		own_app_input(f, pi, mbl);
	if (p->http.enabled) {
		fb_plugin(f, "http");
		fb_cat(f, "lp_", pi->h, "_http", CAT_END);
		fb_kv(f, "alias", fb_ts(f));
		fb_kv(f, "listen", "0.0.0.0");
		lp_yamlw_kvi(&f->w, "port", p->http.port > 0 ? p->http.port : 9880);
		fb_cat(f, pi->prefix, ".http", CAT_END);
		fb_kv(f, "tag", fb_ts(f));
		fb_input_storage(f, pi->any_at_least_once, mbl);
		/* A client sets the tag with the request path (POST /any.tag): drop
		 * anything not tagged as this input, so no client can post into
		 * another pipeline's tags. */
		lp_yamlw_str(&f->w, "processors");
		lp_yamlw_map(&f->w);
		lp_yamlw_str(&f->w, "logs");
		lp_yamlw_seq(&f->w);
		lp_yamlw_map(&f->w);
		fb_kv(f, "name", "lua");
		fb_kv(f, "call", "lp_tag_guard");
		lp_buf_reset(&f->t2);
		fb_adds(f, &f->t2, "function lp_tag_guard(tag, ts, record)\n  if tag ~= \"");
		fb_adds(f, &f->t2, pi->prefix);
		fb_adds(f, &f->t2,
		        ".http\" then return -1, ts, record end\n  return 0, ts, record\nend\n");
		lp_yamlw_str(&f->w, "code");
		lp_yamlw_literal(&f->w, lp_buf_str(&f->t2));
		lp_yamlw_map_end(&f->w);
		lp_yamlw_seq_end(&f->w);
		lp_yamlw_map_end(&f->w);
		fb_plugin_end(f);
	}
}

/* The aggregator's input: forward from the nodes' forward outputs. One
 * listener worker and not threaded: the records are appended to the input's
 * filesystem chunk on the engine thread before the ack goes back (Fluent Bit
 * 5.1.1 plugins/in_forward/fw_prot.c: append_log() -> fw_ingest_logs() ->
 * flb_input_log_append(), then send_ack()); with workers > 1 they would go
 * through the ingress queue (flb_input_ingress_queue_log) and be acked
 * before they are stored, so a node would release chunks an aggregator
 * crash loses. */
void fb_aggregator_input(struct fb *f)
{
	fb_plugin(f, "forward");
	fb_kv(f, "alias", "lp_forward");
	lp_yamlw_kvi(&f->w, "workers", 1);
	lp_yamlw_kvb(&f->w, "threaded", 0);
	fb_kv(f, "listen", "0.0.0.0");
	lp_yamlw_kvi(&f->w, "port", LP_RENDER_FORWARD_PORT);
	fb_kv(f, "shared_key", "${" LP_RENDER_FWD_KEY_VAR "}");
	fb_kv(f, "self_hostname", "logplane-aggregator");
	fb_kv(f, "mem_buf_limit", "64M");
	fb_kv(f, "storage.type", "filesystem");
	lp_yamlw_kvb(&f->w, "storage.pause_on_chunks_overlimit", 1);
	fb_plugin_end(f);
}
