/* pkg/render/fb_service.c: the service section and the parsers / multiline_parsers sections: the
 * shared parsers (kube tag, json, logfmt) and each pipeline's own. */
#include "fb.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

/* ---------------- service and parsers ---------------- */

void fb_agent_metrics_input(struct fb *f)
{
	/* The same merge as the HTTP server's, once per scrape_interval instead
	 * of once a second; on start after 5 s (scrape_on_start). */
	fb_plugin(f, "fluentbit_metrics");
	fb_kv(f, "alias", "lp_agent_metrics");
	fb_kv(f, "tag", LP_RENDER_METRICS_TAG);
	lp_yamlw_kvi(&f->w, "scrape_interval", LP_RENDER_AGENT_SCRAPE_S);
	lp_yamlw_kvb(&f->w, "scrape_on_start", 1);
	fb_plugin_end(f);
}

void fb_metrics_output(struct fb *f)
{
	/* one exporter for the agent's own metrics and every pipeline's
	 * spec.metrics (docs/metrics.md); its /metrics is also the probes'
	 * endpoint: it is served on the engine's event loop */
	fb_plugin(f, "prometheus_exporter");
	fb_kv(f, "alias", "lp_metrics");
	fb_kv(f, "match", LP_RENDER_METRICS_TAG);
	fb_kv(f, "host", "0.0.0.0");
	lp_yamlw_kvi(&f->w, "port", LP_RENDER_METRICS_PORT);
	fb_plugin_end(f);
}

void fb_service(struct fb *f)
{
	lp_yamlw_str(&f->w, "service");
	lp_yamlw_map(&f->w);
	fb_kv(f, "flush", "1");
	fb_kv(f, "log_level", "info");
	/* Off: with the built-in HTTP server on, the engine merges every
	 * instance's metrics once a second (src/flb_metrics_exporter.c
	 * collect_metrics -> flb_me_get_cmetrics -> cmt_cat), a cost that grows
	 * with the square of the output instances (53 ms/s at 1,001 on 5.1.1).
	 * The agents' own metrics leave through fb_agent_metrics_input to the
	 * prometheus_exporter on LP_RENDER_METRICS_PORT instead, which also
	 * answers the probes (docs/delivery.md). Hot reload stays: SIGHUP. */
	lp_yamlw_kvb(&f->w, "http_server", 0);
	lp_yamlw_kvb(&f->w, "hot_reload", 1);
	fb_kv(f, "storage.path",
	      f->aggregator ? LP_RENDER_STATE_DIR "/aggregator/storage" : LP_RENDER_STORAGE_PATH);
	fb_kv(f, "storage.sync", "normal");
	lp_yamlw_kvi(&f->w, "storage.max_chunks_up", 128);
	fb_kv(f, "storage.backlog.mem_limit", "5M");
	lp_yamlw_kvb(&f->w, "storage.metrics", 1);
	lp_yamlw_kvi(&f->w, "scheduler.base", 5);
	lp_yamlw_kvi(&f->w, "scheduler.cap", 300);
	lp_yamlw_map_end(&f->w);
}

int fb_pipeline_has_parser(const struct lp_pinfo *pi)
{
	return pi->p->parse.format != LP_PARSE_NONE;
}

int fb_pipeline_has_ml_rules(const struct lp_pinfo *pi)
{
	return pi->p->multiline.present && pi->p->multiline.n_rules > 0;
}

int fb_pipeline_files_meta(const struct lp_pinfo *pi)
{
	for (size_t i = 0; i < pi->p->n_files; i++)
		if (pi->p->files[i].metadata_regex && pi->p->kubernetes.enabled)
			return 1;
	return 0;
}

/* json and logfmt without a time key are the same parser for every pipeline */
int fb_parser_shared(const struct lp_pinfo *pi)
{
	const struct lp_parse *ps = &pi->p->parse;
	return (ps->format == LP_PARSE_JSON || ps->format == LP_PARSE_LOGFMT) && !ps->time_key;
}

const char *fb_parser_name(struct fb *f, const struct lp_pinfo *pi)
{
	if (fb_parser_shared(pi))
		return pi->p->parse.format == LP_PARSE_JSON ? "lp-json" : "lp-logfmt";
	return fb_cat(f, "lp-", pi->h, "-parse", CAT_END);
}

void fb_shared_parsers(struct fb *f)
{
	const struct lp_rctx *c = f->c;

	if (c->any_app || c->any_system || c->any_files_meta || c->any_own_app) {
		fb_plugin(f, FB_KUBE_TAG_PARSER);
		fb_kv(f, "format", "regex");
		fb_kv(f, "regex", FB_KUBE_TAG_PARSER_REGEX);
		fb_plugin_end(f);
	}
	if (c->any_json_parser) {
		fb_plugin(f, "lp-json");
		fb_kv(f, "format", "json");
		fb_plugin_end(f);
	}
	if (c->any_logfmt_parser) {
		fb_plugin(f, "lp-logfmt");
		fb_kv(f, "format", "logfmt");
		fb_plugin_end(f);
	}
}

void fb_pipeline_parsers(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_parse *ps = &pi->p->parse;
	static const char *fmt[] = {"", "json", "logfmt", "regex"};

	/* a files input's metadata regex, applied to the file's path */
	for (size_t i = 0; i < pi->p->n_files; i++) {
		const struct lp_in_file *fi = &pi->p->files[i];
		if (!fi->metadata_regex)
			continue;
		fb_plugin(f, fb_cat(f, "lp-", pi->h, "-file-", fi->name, CAT_END));
		fb_kv(f, "format", "regex");
		fb_chk(f, lp_render_regex_safe(fb_t0(f), fi->metadata_regex));
		fb_kv(f, "regex", fb_ts(f));
		fb_plugin_end(f);
	}
	if (!fb_pipeline_has_parser(pi) || fb_parser_shared(pi))
		return;
	fb_plugin(f, fb_parser_name(f, pi));
	fb_kv(f, "format", fmt[ps->format]);
	if (ps->format == LP_PARSE_REGEX) {
		fb_chk(f, lp_render_regex_safe(fb_t0(f), ps->regex));
		fb_kv(f, "regex", fb_ts(f));
	}
	if (ps->time_key) {
		fb_kv(f, "time_key", ps->time_key);
		if (ps->time_format)
			lp_yamlw_kvq(&f->w, "time_format", ps->time_format);
		lp_yamlw_kvb(&f->w, "time_keep", 1);
	}
	fb_plugin_end(f);
}

void fb_pipeline_ml_parsers(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_multiline *ml = &pi->p->multiline;

	if (!fb_pipeline_has_ml_rules(pi))
		return;
	fb_cat(f, "lp-", pi->h, "-ml", CAT_END);
	fb_plugin(f, fb_ts(f));
	fb_kv(f, "type", "regex");
	lp_yamlw_kvi(&f->w, "flush_timeout",
	             ml->flush_timeout_ms > 0 ? ml->flush_timeout_ms : 1000);
	lp_yamlw_str(&f->w, "rules");
	lp_yamlw_seq(&f->w);
	for (size_t i = 0; i < ml->n_rules; i++) {
		const struct lp_ml_rule *r = &ml->rules[i];
		lp_yamlw_map_flow(&f->w);
		fb_kv(f, "state", r->state);
		fb_t0(f);
		fb_adds(f, &f->t, "/");
		fb_chk(f, lp_render_regex_safe(&f->t, r->regex));
		fb_adds(f, &f->t, "/");
		lp_yamlw_kvq(&f->w, "regex", fb_ts(f));
		fb_kv(f, "next_state", r->next_state ? r->next_state : r->state);
		lp_yamlw_map_end(&f->w);
	}
	lp_yamlw_seq_end(&f->w);
	fb_plugin_end(f);
}
