/* pkg/render/fluentbit.c: the Fluent Bit 5.1.1 YAML configs (shipper and
 * aggregator), written with the libyaml emitter (yamlw.c).
 *
 * Tags (see docs/fields.md for the whole picture):
 *   kube.<ns>.<pod>.<container>         container logs, from the file name (shared tail)
 *   system.kube.<ns>.<pod>.<container>  kube-system container logs (shared tail)
 *   system.node.journal                 kubelet / containerd journal (shared systemd)
 *   p.<h>.<source tag>                  a direct pipeline's own copy (h = hash of ns/name)
 *   a.<h>.<source tag>                  the same for a pipeline shipping via the aggregator
 *   p.<h>.file.<name>[.<ns>.<pod>.<c>]  a pipeline's host files input
 *   p.<h>.http                          a pipeline's HTTP input
 *   o.<oh>.<pipeline tag>               a route copy for LogOutput oh (match or livetail)
 * Shared inputs feed pipelines through rewrite_tag copies, so two pipelines that
 * select the same logs each get their own records, and every filter of a
 * pipeline matches only p.<h>.*: a record meets only its own pipelines'
 * filters. Outputs are one per LogOutput, matching o.<oh>.* copies plus the
 * pipelines that route all their records there.
 */
#include "internal.h"
#include "../util/mem.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TAG_REGEX                                                                                  \
	"(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)_"       \
	"(?<namespace_name>[^_]+)_(?<container_name>.+)-(?<container_id>[a-z0-9]{64})\\.log$"
#define KUBE_TAG_PARSER "lp-kube-tag"
#define KUBE_TAG_PARSER_REGEX                                                                      \
	"^(?<namespace_name>[^.]+)\\.(?<pod_name>.+)\\.(?<container_name>[^.]+)$"
#define LT_MARK "_lp_livetail"

/* Factories of the shared script: every filter instance gets its own Lua
 * state, so per-instance state (the token buckets) stays per filter. */
static const char LUA_LIB[] =
    "-- logplane: Lua functions for the Fluent Bit filters. Generated: do not edit.\n"
    "local function lp_make_flatten(sep)\n"
    "  local function walk(out, prefix, t)\n"
    "    for k, v in pairs(t) do\n"
    "      local key = k\n"
    "      if prefix ~= nil then key = prefix .. sep .. tostring(k) end\n"
    "      if type(v) == \"table\" and next(v) ~= nil and v[1] == nil then\n"
    "        walk(out, key, v)\n"
    "      else\n"
    "        out[key] = v\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  return function(tag, ts, record)\n"
    "    local out = {}\n"
    "    walk(out, nil, record)\n"
    "    return 2, ts, out\n"
    "  end\n"
    "end\n"
    "local lp_words = {error = \"error\", err = \"error\", warn = \"warn\", warning = \"warn\",\n"
    "  info = \"info\", debug = \"debug\", trace = \"trace\", fatal = \"fatal\",\n"
    "  critical = \"fatal\", crit = \"fatal\", panic = \"fatal\"}\n"
    "local function lp_make_level(src, dst)\n"
    "  return function(tag, ts, record)\n"
    "    if record[dst] ~= nil then return 0, ts, record end\n"
    "    local s = record[src]\n"
    "    if type(s) ~= \"string\" then return 0, ts, record end\n"
    "    local head = string.sub(s, 1, 256)\n"
    "    local l = string.match(head, '\"level\"%s*:%s*\"(%a+)\"')\n"
    "      or string.match(head, 'level=\"?(%a+)')\n"
    "    if l == nil then\n"
    "      for w in string.gmatch(head, '%u+') do\n"
    "        if lp_words[string.lower(w)] ~= nil then l = w; break end\n"
    "      end\n"
    "    end\n"
    "    if l == nil then return 0, ts, record end\n"
    "    record[dst] = lp_words[string.lower(l)] or string.lower(l)\n"
    "    return 1, ts, record\n"
    "  end\n"
    "end\n"
    "local function lp_make_pod_throttle(rate, interval, burst)\n"
    "  local buckets, count = {}, 0\n"
    "  return function(tag, ts, record)\n"
    "    local pod = tag\n"
    "    local k = record[\"kubernetes\"]\n"
    "    if type(k) == \"table\" and k[\"pod_name\"] ~= nil then\n"
    "      pod = tostring(k[\"namespace_name\"]) .. \"/\" .. tostring(k[\"pod_name\"])\n"
    "    end\n"
    "    local now = os.time()\n"
    "    local b = buckets[pod]\n"
    "    if b == nil then\n"
    "      if count >= 10000 then buckets, count = {}, 0 end\n"
    "      b = {tokens = burst, t = now}\n"
    "      buckets[pod] = b\n"
    "      count = count + 1\n"
    "    end\n"
    "    if now > b.t then\n"
    "      b.tokens = math.min(burst, b.tokens + (now - b.t) * rate / interval)\n"
    "      b.t = now\n"
    "    end\n"
    "    if b.tokens < 1 then return -1, ts, record end\n"
    "    b.tokens = b.tokens - 1\n"
    "    return 0, ts, record\n"
    "  end\n"
    "end\n"
    "local function lp_make_trim(labels, annotations)\n"
    "  return function(tag, ts, record)\n"
    "    local k = record[\"kubernetes\"]\n"
    "    if type(k) ~= \"table\" then return 0, ts, record end\n"
    "    if labels then k[\"labels\"] = nil end\n"
    "    if annotations then k[\"annotations\"] = nil end\n"
    "    return 1, ts, record\n"
    "  end\n"
    "end\n";

static const char LUA_ADD_HEAD[] = "function lp_add(tag, ts, record)\n";
static const char LUA_ADD_TAIL[] = "  return 1, ts, record\nend\n";

/* ---------------- writer state ---------------- */

struct fb {
	struct lp_rctx *c;
	struct lp_yamlw w;
	struct lp_buf *out;
	struct lp_buf t;  /* scratch for one value */
	struct lp_buf t2; /* scratch for Lua code */
	int aggregator;   /* rendering the aggregator config */
	int lua_frozen;   /* Lua variants are registered already: look up only (threads) */
	int sec_open;     /* lazily opened sequence in the current section */
	const char *sec_key;
	lp_err err;
};

static void sec_begin(struct fb *f, const char *key)
{
	f->sec_open = 0;
	f->sec_key = key;
}

/* Opens the section's sequence before its first item. */
static void item(struct fb *f)
{
	if (!f->sec_open) {
		lp_yamlw_str(&f->w, f->sec_key);
		lp_yamlw_seq(&f->w);
		f->sec_open = 1;
	}
}

static void sec_end(struct fb *f)
{
	if (f->sec_open)
		lp_yamlw_seq_end(&f->w);
	f->sec_open = 0;
}

/* Resets the scratch buffer; returns it for chained adds. */
static struct lp_buf *t0(struct fb *f)
{
	lp_buf_reset(&f->t);
	return &f->t;
}

static const char *ts(struct fb *f)
{
	return lp_buf_str(&f->t);
}

static void chk(struct fb *f, lp_err err)
{
	if (err && !f->err)
		f->err = err;
}

static void addf(struct fb *f, struct lp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void addf(struct fb *f, struct lp_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	chk(f, lp_buf_vaddf(b, fmt, ap));
	va_end(ap);
}

static void adds(struct fb *f, struct lp_buf *b, const char *s)
{
	chk(f, lp_buf_adds(b, s));
}

/* t = the concatenation of the strings up to CAT_END (no printf: hot path). */
#define CAT_END ((const char *)NULL)
static const char *cat(struct fb *f, ...)
{
	va_list ap;
	const char *s;

	lp_buf_reset(&f->t);
	va_start(ap, f);
	while ((s = va_arg(ap, const char *)) != NULL)
		chk(f, lp_buf_adds(&f->t, s));
	va_end(ap);
	return ts(f);
}

static void kv(struct fb *f, const char *k, const char *v)
{
	lp_yamlw_kv(&f->w, k, v);
}

static void plugin(struct fb *f, const char *name)
{
	item(f);
	lp_yamlw_map(&f->w);
	kv(f, "name", name);
}

static void plugin_end(struct fb *f)
{
	lp_yamlw_map_end(&f->w);
}

/* Fluent Bit size text for a user quantity ("1Gi" is not Fluent Bit syntax). */
static void kv_size(struct fb *f, const char *k, const char *v)
{
	uint64_t b;

	if (v && strchr(v, 'i') && lp_size_parse(v, &b) == LP_OK) {
		addf(f, t0(f), "%llu", (unsigned long long)b);
		kv(f, k, ts(f));
	} else {
		kv(f, k, v);
	}
}

static const char *storage_type(int fs)
{
	return fs ? "filesystem" : "memory";
}

/* ---------------- service and parsers ---------------- */

static void service(struct fb *f)
{
	lp_yamlw_str(&f->w, "service");
	lp_yamlw_map(&f->w);
	kv(f, "flush", "1");
	kv(f, "log_level", "info");
	lp_yamlw_kvb(&f->w, "http_server", 1);
	kv(f, "http_listen", "0.0.0.0");
	lp_yamlw_kvi(&f->w, "http_port", LP_RENDER_HTTP_PORT);
	lp_yamlw_kvb(&f->w, "health_check", 1);
	lp_yamlw_kvi(&f->w, "hc_errors_count", 5);
	lp_yamlw_kvi(&f->w, "hc_retry_failure_count", 5);
	lp_yamlw_kvi(&f->w, "hc_period", 60);
	lp_yamlw_kvb(&f->w, "hot_reload", 1);
	kv(f, "storage.path",
	   f->aggregator ? LP_RENDER_STATE_DIR "/aggregator/storage" : LP_RENDER_STORAGE_PATH);
	kv(f, "storage.sync", "normal");
	lp_yamlw_kvi(&f->w, "storage.max_chunks_up", 128);
	kv(f, "storage.backlog.mem_limit", "5M");
	lp_yamlw_kvb(&f->w, "storage.metrics", 1);
	lp_yamlw_kvi(&f->w, "scheduler.base", 5);
	lp_yamlw_kvi(&f->w, "scheduler.cap", 300);
	lp_yamlw_map_end(&f->w);
}

static int pipeline_has_parser(const struct lp_pinfo *pi)
{
	return pi->p->parse.format != LP_PARSE_NONE;
}

static int pipeline_has_ml_rules(const struct lp_pinfo *pi)
{
	return pi->p->multiline.present && pi->p->multiline.n_rules > 0;
}

static int pipeline_files_meta(const struct lp_pinfo *pi)
{
	for (size_t i = 0; i < pi->p->n_files; i++)
		if (pi->p->files[i].metadata_regex && pi->p->kubernetes.enabled)
			return 1;
	return 0;
}

/* json and logfmt without a time key are the same parser for every pipeline */
static int parser_shared(const struct lp_pinfo *pi)
{
	const struct lp_parse *ps = &pi->p->parse;
	return (ps->format == LP_PARSE_JSON || ps->format == LP_PARSE_LOGFMT) && !ps->time_key;
}

static const char *parser_name(struct fb *f, const struct lp_pinfo *pi)
{
	if (parser_shared(pi))
		return pi->p->parse.format == LP_PARSE_JSON ? "lp-json" : "lp-logfmt";
	return cat(f, "lp-", pi->h, "-parse", CAT_END);
}

static void shared_parsers(struct fb *f)
{
	const struct lp_rctx *c = f->c;

	if (c->any_app || c->any_system || c->any_files_meta) {
		plugin(f, KUBE_TAG_PARSER);
		kv(f, "format", "regex");
		kv(f, "regex", KUBE_TAG_PARSER_REGEX);
		plugin_end(f);
	}
	if (c->any_json_parser) {
		plugin(f, "lp-json");
		kv(f, "format", "json");
		plugin_end(f);
	}
	if (c->any_logfmt_parser) {
		plugin(f, "lp-logfmt");
		kv(f, "format", "logfmt");
		plugin_end(f);
	}
}

static void pipeline_parsers(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_parse *ps = &pi->p->parse;
	static const char *fmt[] = {"", "json", "logfmt", "regex"};

	if (!pipeline_has_parser(pi) || parser_shared(pi))
		return;
	plugin(f, parser_name(f, pi));
	kv(f, "format", fmt[ps->format]);
	if (ps->format == LP_PARSE_REGEX) {
		chk(f, lp_render_regex_safe(t0(f), ps->regex));
		kv(f, "regex", ts(f));
	}
	if (ps->time_key) {
		kv(f, "time_key", ps->time_key);
		if (ps->time_format)
			lp_yamlw_kvq(&f->w, "time_format", ps->time_format);
		lp_yamlw_kvb(&f->w, "time_keep", 1);
	}
	plugin_end(f);
}

static void pipeline_ml_parsers(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_multiline *ml = &pi->p->multiline;

	if (!pipeline_has_ml_rules(pi))
		return;
	cat(f, "lp-", pi->h, "-ml", CAT_END);
	plugin(f, ts(f));
	kv(f, "type", "regex");
	lp_yamlw_kvi(&f->w, "flush_timeout",
	             ml->flush_timeout_ms > 0 ? ml->flush_timeout_ms : 1000);
	lp_yamlw_str(&f->w, "rules");
	lp_yamlw_seq(&f->w);
	for (size_t i = 0; i < ml->n_rules; i++) {
		const struct lp_ml_rule *r = &ml->rules[i];
		lp_yamlw_map_flow(&f->w);
		kv(f, "state", r->state);
		t0(f);
		adds(f, &f->t, "/");
		chk(f, lp_render_regex_safe(&f->t, r->regex));
		adds(f, &f->t, "/");
		lp_yamlw_kvq(&f->w, "regex", ts(f));
		kv(f, "next_state", r->next_state ? r->next_state : r->state);
		lp_yamlw_map_end(&f->w);
	}
	lp_yamlw_seq_end(&f->w);
	plugin_end(f);
}

/* ---------------- inputs ---------------- */

static const char *mem_buf_limit(const struct lp_rctx *c, const struct lp_pinfo *pi)
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

static void input_storage(struct fb *f, int fs, const char *mbl)
{
	kv_size(f, "mem_buf_limit", mbl);
	kv(f, "storage.type", storage_type(fs));
	if (fs)
		lp_yamlw_kvb(&f->w, "storage.pause_on_chunks_overlimit", 1);
}

static void tail_common(struct fb *f, const char *db)
{
	kv(f, "db", db);
	kv(f, "db.sync", "normal");
	lp_yamlw_kvb(&f->w, "skip_long_lines", 1);
	lp_yamlw_kvi(&f->w, "refresh_interval", 10);
}

static void shared_inputs(struct fb *f)
{
	struct lp_rctx *c = f->c;

	if (c->any_app) {
		plugin(f, "tail");
		kv(f, "alias", "lp_app");
		kv(f, "path", "/var/log/containers/*.log");
		kv(f, "exclude_path", "/var/log/containers/*_kube-system_*.log");
		kv(f, "multiline.parser", "cri");
		kv(f, "tag", "kube.<namespace_name>.<pod_name>.<container_name>");
		kv(f, "tag_regex", TAG_REGEX);
		tail_common(f, LP_RENDER_STATE_DIR "/tail-app.db");
		input_storage(f, c->app_fs, c->app_mem_buf_limit);
		plugin_end(f);
	}
	if (c->any_system) {
		plugin(f, "tail");
		kv(f, "alias", "lp_system");
		kv(f, "path", "/var/log/containers/*_kube-system_*.log");
		kv(f, "multiline.parser", "cri");
		kv(f, "tag", "system.kube.<namespace_name>.<pod_name>.<container_name>");
		kv(f, "tag_regex", TAG_REGEX);
		tail_common(f, LP_RENDER_STATE_DIR "/tail-system.db");
		input_storage(f, c->system_fs, "5M");
		plugin_end(f);

		plugin(f, "systemd");
		kv(f, "alias", "lp_node");
		kv(f, "tag", "system.node.journal");
		lp_yamlw_str(&f->w, "systemd_filter");
		lp_yamlw_seq(&f->w);
		lp_yamlw_str(&f->w, "_SYSTEMD_UNIT=kubelet.service");
		lp_yamlw_str(&f->w, "_SYSTEMD_UNIT=containerd.service");
		lp_yamlw_seq_end(&f->w);
		kv(f, "systemd_filter_type", "or");
		lp_yamlw_kvb(&f->w, "read_from_tail", 1);
		kv(f, "db", LP_RENDER_STATE_DIR "/systemd.db");
		input_storage(f, c->system_fs, "5M");
		plugin_end(f);
	}
}

static void pipeline_inputs(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	const char *mbl = mem_buf_limit(f->c, pi);

	for (size_t i = 0; i < p->n_files; i++) {
		const struct lp_in_file *fi = &p->files[i];
		unsigned ml = p->multiline.present ? p->multiline.builtin : 0;

		plugin(f, "tail");
		cat(f, "lp_", pi->h, "_file_", fi->name, CAT_END);
		kv(f, "alias", ts(f));
		kv(f, "path", fi->path);
		if (fi->metadata_regex) {
			addf(f, t0(f), "%s.file.%s.<namespace_name>.<pod_name>.<container_name>",
			     pi->prefix, fi->name);
			kv(f, "tag", ts(f));
			chk(f, lp_render_regex_safe(t0(f), fi->metadata_regex));
			kv(f, "tag_regex", ts(f));
		} else {
			cat(f, pi->prefix, ".file.", fi->name, CAT_END);
			kv(f, "tag", ts(f));
		}
		if (ml & (LP_ML_CRI | LP_ML_DOCKER))
			kv(f, "multiline.parser", (ml & LP_ML_CRI) ? "cri" : "docker");
		addf(f, t0(f), LP_RENDER_STATE_DIR "/tail-%s-%s.db", pi->h, fi->name);
		tail_common(f, ts(f));
		input_storage(f, pi->any_at_least_once, mbl);
		plugin_end(f);
	}
	if (p->http.enabled) {
		plugin(f, "http");
		cat(f, "lp_", pi->h, "_http", CAT_END);
		kv(f, "alias", ts(f));
		kv(f, "listen", "0.0.0.0");
		lp_yamlw_kvi(&f->w, "port", p->http.port > 0 ? p->http.port : 9880);
		cat(f, pi->prefix, ".http", CAT_END);
		kv(f, "tag", ts(f));
		input_storage(f, pi->any_at_least_once, mbl);
		/* A client sets the tag with the request path (POST /any.tag): drop
		 * anything not tagged as this input, so no client can post into
		 * another pipeline's tags. */
		lp_yamlw_str(&f->w, "processors");
		lp_yamlw_map(&f->w);
		lp_yamlw_str(&f->w, "logs");
		lp_yamlw_seq(&f->w);
		lp_yamlw_map(&f->w);
		kv(f, "name", "lua");
		kv(f, "call", "lp_tag_guard");
		lp_buf_reset(&f->t2);
		adds(f, &f->t2, "function lp_tag_guard(tag, ts, record)\n  if tag ~= \"");
		adds(f, &f->t2, pi->prefix);
		adds(f, &f->t2,
		     ".http\" then return -1, ts, record end\n  return 0, ts, record\nend\n");
		lp_yamlw_str(&f->w, "code");
		lp_yamlw_literal(&f->w, lp_buf_str(&f->t2));
		lp_yamlw_map_end(&f->w);
		lp_yamlw_seq_end(&f->w);
		lp_yamlw_map_end(&f->w);
		plugin_end(f);
	}
}

/* ---------------- filters ---------------- */

static void kube_filter(struct fb *f, const char *match, const char *prefix, int labels,
                        int annotations)
{
	plugin(f, "kubernetes");
	kv(f, "match", match);
	kv(f, "kube_tag_prefix", prefix);
	kv(f, "regex_parser", KUBE_TAG_PARSER);
	lp_yamlw_kvb(&f->w, "merge_log", 0);
	lp_yamlw_kvb(&f->w, "keep_log", 1);
	lp_yamlw_kvb(&f->w, "labels", labels);
	lp_yamlw_kvb(&f->w, "annotations", annotations);
	lp_yamlw_kvb(&f->w, "use_kubelet", 1);
	kv(f, "kubelet_host", "${NODE_IP}");
	lp_yamlw_kvi(&f->w, "kubelet_port", 10250);
	plugin_end(f);
}

/* The filters of the livetail outputs [from, to) of c->oi (they travel with
 * their output: they match only its o.<h>.* copies). */
static void livetail_filters(struct fb *f, size_t from, size_t to, int track)
{
	struct lp_rctx *c = f->c;

	for (size_t i = from; i < to; i++) {
		struct lp_oinfo *oi = &c->oi[i];
		int used = f->aggregator ? oi->used_agg : (oi->used_direct || oi->used_agg);
		size_t mark = track ? lp_yamlw_size(&f->w) : 0;
		int rps;

		if (!oi->ok || !used || oi->o->type != LP_OUT_LIVETAIL)
			continue;
		if (!f->aggregator) {
			plugin(f, "modify");
			cat(f, "o.", oi->h, ".*", CAT_END);
			kv(f, "match", ts(f));
			kv(f, "remove", LT_MARK);
			plugin_end(f);
		}
		if (f->aggregator || oi->used_direct) {
			rps = oi->o->u.livetail.max_records_per_second > 0
			          ? oi->o->u.livetail.max_records_per_second
			          : 100;
			plugin(f, "throttle");
			cat(f, "o.", oi->h, ".*", CAT_END);
			kv(f, "match", ts(f));
			lp_yamlw_kvi(&f->w, "rate", rps);
			lp_yamlw_kvi(&f->w, "window", 1);
			kv(f, "interval", "1s");
			lp_yamlw_kvb(&f->w, "print_status", 0);
			plugin_end(f);
		}
		if (track)
			oi->est_bytes += lp_yamlw_size(&f->w) - mark;
	}
}

static void shared_filters(struct fb *f)
{
	struct lp_rctx *c = f->c;

	if (c->any_kube && c->any_app)
		kube_filter(f, "kube.*", "kube.", c->any_kube_labels, c->any_kube_annotations);
	if (c->any_kube && c->any_system)
		kube_filter(f, "system.kube.*", "system.kube.", c->any_kube_labels,
		            c->any_kube_annotations);
}

static void emitter(struct fb *f, const struct lp_pinfo *pi, const char *what)
{
	cat(f, "lp_", pi->h, "_", what, CAT_END);
	kv(f, "emitter_name", ts(f));
	kv(f, "emitter_storage.type", storage_type(pi->any_at_least_once));
	if (pi->mbl) /* else Fluent Bit's default (10M) */
		kv_size(f, "emitter_mem_buf_limit", pi->mbl);
}

/* Appends a regex alternative group "(?:a|b)" of literal strings. */
static void alt(struct fb *f, struct lp_buf *b, const struct lp_strlist *l)
{
	adds(f, b, "(?:");
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			adds(f, b, "|");
		chk(f, lp_render_regex_lit(b, l->v[i]));
	}
	adds(f, b, ")");
}

/* match or match_regex selecting the application logs of a pipeline by tag. */
static void app_match(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_in_application *a = &pi->p->app;
	int control = strcmp(pi->p->meta.ns, f->c->control_ns) == 0;
	struct lp_buf *b;

	if (a->container_include.n == 0 && a->container_exclude.n == 0 &&
	    (!control || (a->ns_include.n == 0 && a->ns_exclude.n == 0))) {
		if (control)
			kv(f, "match", "kube.*");
		else {
			cat(f, "kube.", pi->p->meta.ns, ".*", CAT_END);
			kv(f, "match", ts(f));
		}
		return;
	}
	b = t0(f);
	adds(f, b, "^kube\\.");
	if (!control) {
		chk(f, lp_render_regex_lit(b, pi->p->meta.ns));
	} else if (a->ns_include.n) {
		alt(f, b, &a->ns_include);
	} else if (a->ns_exclude.n) {
		adds(f, b, "(?!");
		alt(f, b, &a->ns_exclude);
		adds(f, b, "\\.)[^.]+");
	} else {
		adds(f, b, "[^.]+");
	}
	adds(f, b, "\\..+\\.");
	if (a->container_include.n) {
		alt(f, b, &a->container_include);
	} else if (a->container_exclude.n) {
		adds(f, b, "(?!");
		alt(f, b, &a->container_exclude);
		adds(f, b, "$)[^.]+");
	} else {
		adds(f, b, "[^.]+");
	}
	adds(f, b, "$");
	kv(f, "match_regex", ts(f));
}

static void match_own(struct fb *f, const struct lp_pinfo *pi, const char *sub)
{
	cat(f, pi->prefix, ".", sub ? sub : "", "*", CAT_END);
	kv(f, "match", ts(f));
}

static void lua_plugin(struct fb *f, const struct lp_pinfo *pi, const char *call, const char *code,
                       int flb_null)
{
	plugin(f, "lua");
	match_own(f, pi, NULL);
	kv(f, "call", call);
	lp_yamlw_str(&f->w, "code");
	lp_yamlw_literal(&f->w, code);
	if (flb_null)
		lp_yamlw_kvb(&f->w, "enable_flb_null", 1);
	plugin_end(f);
}

/* A filter calling ctor's function from the shared script (registered once
 * per distinct ctor); past LP_RENDER_LUA_MAX_FNS variants the library is
 * inlined instead. ctor is a Lua expression built by the caller. */
static void lua_shared(struct fb *f, const struct lp_pinfo *pi, const char *ctor, int flb_null)
{
	struct lp_rctx *c = f->c;
	size_t i;
	char call[32];

	for (i = 0; i < c->n_lua; i++)
		if (strcmp(c->lua_ctor[i], ctor) == 0)
			break;
	if (i == c->n_lua && c->n_lua < LP_RENDER_LUA_MAX_FNS && f->lua_frozen) {
		/* the registration pass missed it: never number it differently */
		chk(f, LP_ERR_INVALID);
		return;
	}
	if (i == c->n_lua && c->n_lua < LP_RENDER_LUA_MAX_FNS) {
		if (c->n_lua == c->cap_lua) {
			size_t ncap = c->cap_lua ? c->cap_lua * 2 : 8;
			char **v = lp_realloc(c->lua_ctor, ncap * sizeof(*v));
			if (!v) {
				chk(f, LP_ERR_NOMEM);
				return;
			}
			c->lua_ctor = v;
			c->cap_lua = ncap;
		}
		c->lua_ctor[c->n_lua] = lp_strdup(ctor);
		if (!c->lua_ctor[c->n_lua]) {
			chk(f, LP_ERR_NOMEM);
			return;
		}
		c->n_lua++;
	}
	if (i < c->n_lua) {
		lp_render_field_idx(call, sizeof(call), "lp_fn_", i + 1, "");
		plugin(f, "lua");
		match_own(f, pi, NULL);
		kv(f, "script", LP_RENDER_LUA_FILE);
		kv(f, "call", call);
		if (flb_null)
			lp_yamlw_kvb(&f->w, "enable_flb_null", 1);
		plugin_end(f);
		return;
	}
	{
		struct lp_buf code;
		lp_buf_init(&code, 0);
		chk(f, lp_buf_adds(&code, LUA_LIB));
		chk(f, lp_buf_adds(&code, "lp_fn = "));
		chk(f, lp_buf_adds(&code, ctor));
		chk(f, lp_buf_adds(&code, "\n"));
		lua_plugin(f, pi, "lp_fn", lp_buf_str(&code), flb_null);
		lp_buf_free(&code);
	}
}

/* A plain modify/add value: safe when it has no whitespace, quotes or backslash. */
static int plain_value(const char *v)
{
	if (!v || !*v)
		return 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p == '"' || *p == '\'' || *p == '\\' || *p == 0x7f)
			return 0;
	return 1;
}

static void grep_rules(struct fb *f, const char *list_key, const struct lp_grep_rule *r, size_t n)
{
	lp_yamlw_str(&f->w, list_key);
	lp_yamlw_seq(&f->w);
	for (size_t i = 0; i < n; i++) {
		struct lp_buf *b = t0(f);
		chk(f, lp_render_accessor(b, r[i].key));
		adds(f, b, " ");
		chk(f, lp_render_regex_safe(b, r[i].regex));
		lp_yamlw_str(&f->w, ts(f));
	}
	lp_yamlw_seq_end(&f->w);
}

static void transform(struct fb *f, const struct lp_pinfo *pi, size_t idx)
{
	const struct lp_transform *t = &pi->p->transforms[idx];
	struct lp_buf *code = &f->t2;

	switch (t->kind) {
	case LP_TR_FLATTEN:
		lp_buf_reset(code);
		adds(f, code, "lp_make_flatten(");
		chk(f,
		    lp_render_lua_str(code, t->u.flatten.separator ? t->u.flatten.separator : "."));
		adds(f, code, ")");
		lua_shared(f, pi, lp_buf_str(code), 1);
		break;
	case LP_TR_DROP_FIELDS:
		plugin(f, "modify");
		match_own(f, pi, NULL);
		lp_yamlw_str(&f->w, "remove");
		lp_yamlw_seq(&f->w);
		for (size_t i = 0; i < t->u.fields.n; i++)
			lp_yamlw_str(&f->w, t->u.fields.v[i]);
		lp_yamlw_seq_end(&f->w);
		plugin_end(f);
		break;
	case LP_TR_KEEP_FIELDS:
		plugin(f, "record_modifier");
		match_own(f, pi, NULL);
		lp_yamlw_str(&f->w, "allowlist_key");
		lp_yamlw_seq(&f->w);
		for (size_t i = 0; i < t->u.fields.n; i++)
			lp_yamlw_str(&f->w, t->u.fields.v[i]);
		lp_yamlw_seq_end(&f->w);
		plugin_end(f);
		break;
	case LP_TR_RENAME_FIELDS:
		plugin(f, "modify");
		match_own(f, pi, NULL);
		lp_yamlw_str(&f->w, "rename");
		lp_yamlw_seq(&f->w);
		for (size_t i = 0; i < t->u.rename.n; i++) {
			cat(f, t->u.rename.pairs[i].key, " ", t->u.rename.pairs[i].value, CAT_END);
			lp_yamlw_str(&f->w, ts(f));
		}
		lp_yamlw_seq_end(&f->w);
		plugin_end(f);
		break;
	case LP_TR_ADD_FIELDS: {
		int plain = 1;
		for (size_t i = 0; i < t->u.add.n; i++)
			plain &= plain_value(t->u.add.pairs[i].value);
		if (plain) {
			plugin(f, "modify");
			match_own(f, pi, NULL);
			lp_yamlw_str(&f->w, t->u.add.overwrite ? "set" : "add");
			lp_yamlw_seq(&f->w);
			for (size_t i = 0; i < t->u.add.n; i++) {
				addf(f, t0(f), "%s %s", t->u.add.pairs[i].key,
				     t->u.add.pairs[i].value);
				lp_yamlw_str(&f->w, ts(f));
			}
			lp_yamlw_seq_end(&f->w);
			plugin_end(f);
			break;
		}
		lp_buf_reset(code);
		adds(f, code, LUA_ADD_HEAD);
		for (size_t i = 0; i < t->u.add.n; i++) {
			lp_buf_reset(&f->t);
			chk(f, lp_render_lua_str(&f->t, t->u.add.pairs[i].key));
			if (t->u.add.overwrite)
				addf(f, code, "  record[%s] = ", ts(f));
			else
				addf(f, code, "  if record[%s] == nil then record[%s] = ", ts(f),
				     ts(f));
			lp_buf_reset(&f->t);
			chk(f, lp_render_lua_str(
			           &f->t, t->u.add.pairs[i].value ? t->u.add.pairs[i].value : ""));
			addf(f, code, "%s%s\n", ts(f), t->u.add.overwrite ? "" : " end");
		}
		adds(f, code, LUA_ADD_TAIL);
		lua_plugin(f, pi, "lp_add", lp_buf_str(code), 0);
		break;
	}
	case LP_TR_GREP:
		if (t->u.grep.n_include) {
			plugin(f, "grep");
			match_own(f, pi, NULL);
			kv(f, "logical_op", "and");
			grep_rules(f, "regex", t->u.grep.include, t->u.grep.n_include);
			plugin_end(f);
		}
		if (t->u.grep.n_exclude) {
			plugin(f, "grep");
			match_own(f, pi, NULL);
			kv(f, "logical_op", "or");
			grep_rules(f, "exclude", t->u.grep.exclude, t->u.grep.n_exclude);
			plugin_end(f);
		}
		break;
	case LP_TR_THROTTLE: {
		double secs = 1;
		int window = t->u.throttle.window > 0 ? t->u.throttle.window : 5;
		if (t->u.throttle.interval && !lp_render_duration(t->u.throttle.interval, &secs))
			secs = 1;
		if (secs <= 0)
			secs = 1;
		if (t->u.throttle.per_pod) {
			lp_buf_reset(code);
			addf(f, code, "lp_make_pod_throttle(%d, %.3f, %d)", t->u.throttle.rate,
			     secs, t->u.throttle.rate * window);
			lua_shared(f, pi, lp_buf_str(code), 0);
		} else {
			plugin(f, "throttle");
			match_own(f, pi, NULL);
			lp_yamlw_kvi(&f->w, "rate", t->u.throttle.rate);
			lp_yamlw_kvi(&f->w, "window", window);
			kv(f, "interval", t->u.throttle.interval ? t->u.throttle.interval : "1s");
			lp_yamlw_kvb(&f->w, "print_status", 0);
			plugin_end(f);
		}
		break;
	}
	case LP_TR_DETECT_LEVEL:
		lp_buf_reset(code);
		adds(f, code, "lp_make_level(");
		chk(f, lp_render_lua_str(code, t->u.detect_level.source_key
		                                   ? t->u.detect_level.source_key
		                                   : "log"));
		adds(f, code, ", ");
		chk(f, lp_render_lua_str(code, t->u.detect_level.target_key
		                                   ? t->u.detect_level.target_key
		                                   : "level"));
		adds(f, code, ")");
		lua_shared(f, pi, lp_buf_str(code), 0);
		break;
	}
}

static void route_copy(struct fb *f, const struct lp_pinfo *pi, size_t i)
{
	const struct lp_route *r = &pi->p->routes[i];
	const struct lp_oinfo *oi = &f->c->oi[pi->routes[i].out];
	struct lp_buf *b;
	char what[32];

	if (r->op == LP_ROUTE_ALL) {
		/* livetail: always a throttled copy, marked so rewrite_tag has a key */
		plugin(f, "modify");
		match_own(f, pi, NULL);
		cat(f, LT_MARK " 1", CAT_END);
		kv(f, "add", ts(f));
		plugin_end(f);
	}
	plugin(f, "rewrite_tag");
	match_own(f, pi, NULL);
	b = t0(f);
	if (r->op == LP_ROUTE_ALL) {
		adds(f, b, "$" LT_MARK " ^1$");
	} else {
		chk(f, lp_render_accessor(b, r->match_field));
		adds(f, b, " ");
		if (r->op == LP_ROUTE_IN) {
			adds(f, b, "^");
			alt(f, b, &r->match_in);
			adds(f, b, "$");
		} else {
			chk(f, lp_render_regex_safe(b, r->match_regex));
		}
	}
	adds(f, b, " o.");
	adds(f, b, oi->h);
	adds(f, b, ".$TAG true");
	kv(f, "rule", ts(f));
	lp_render_field_idx(what, sizeof(what), "r", i, "");
	emitter(f, pi, what);
	plugin_end(f);
	if (r->op == LP_ROUTE_ALL) {
		plugin(f, "modify");
		match_own(f, pi, NULL);
		kv(f, "remove", LT_MARK);
		plugin_end(f);
	}
}

/* The Lua trim of kubernetes metadata the pipeline did not ask for, or NULL. */
static const char *kube_trim_ctor(const struct lp_rctx *c, const struct lp_pipeline *p)
{
	int labels = c->any_kube_labels && !p->kubernetes.labels;
	int annotations = c->any_kube_annotations && !p->kubernetes.annotations;

	if (!(LP_APP_ON(p) || p->system) || !c->any_kube || !p->kubernetes.enabled)
		return NULL;
	if (labels)
		return annotations ? "lp_make_trim(true, true)" : "lp_make_trim(true, false)";
	return annotations ? "lp_make_trim(false, true)" : NULL;
}

/* The shared Lua variants pipeline_filters() uses, in the same order, and
 * nothing else (the registration pass). */
static void pipeline_lua(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;

	if (kube_trim_ctor(f->c, p))
		lua_shared(f, pi, kube_trim_ctor(f->c, p), 0);
	for (size_t i = 0; i < p->n_transforms; i++) {
		const struct lp_transform *t = &p->transforms[i];
		if (t->kind == LP_TR_FLATTEN || t->kind == LP_TR_DETECT_LEVEL ||
		    (t->kind == LP_TR_THROTTLE && t->u.throttle.per_pod))
			transform(f, pi, i);
	}
}

static void pipeline_filters(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	const struct lp_rctx *c = f->c;
	unsigned ml = p->multiline.present ? p->multiline.builtin : 0;

	/* 1. fan-out copies from the shared inputs */
	if (LP_APP_ON(p)) {
		plugin(f, "rewrite_tag");
		app_match(f, pi);
		cat(f, "$log ^ ", pi->prefix, ".$TAG true", CAT_END);
		kv(f, "rule", ts(f));
		emitter(f, pi, "app");
		plugin_end(f);
	}
	if (p->system) {
		plugin(f, "rewrite_tag");
		kv(f, "match", "system.*");
		lp_yamlw_str(&f->w, "rule");
		lp_yamlw_seq(&f->w);
		cat(f, "$log ^ ", pi->prefix, ".$TAG true", CAT_END);
		lp_yamlw_str(&f->w, ts(f));
		cat(f, "$MESSAGE ^ ", pi->prefix, ".$TAG true", CAT_END);
		lp_yamlw_str(&f->w, ts(f));
		lp_yamlw_seq_end(&f->w);
		emitter(f, pi, "sys");
		plugin_end(f);
	}
	/* 2. multiline first: with buffer on, filters before it would run twice */
	if ((ml & (LP_ML_JAVA | LP_ML_PYTHON | LP_ML_GO)) || pipeline_has_ml_rules(pi)) {
		struct lp_buf *b = &f->t2; /* t is reused by match_own below */
		static const struct {
			unsigned bit;
			const char *name;
		} bi[] = {{LP_ML_JAVA, "java"}, {LP_ML_PYTHON, "python"}, {LP_ML_GO, "go"}};
		int n = 0;
		lp_buf_reset(b);
		for (size_t i = 0; i < sizeof(bi) / sizeof(bi[0]); i++)
			if (ml & bi[i].bit)
				addf(f, b, "%s%s", n++ ? ", " : "", bi[i].name);
		if (pipeline_has_ml_rules(pi))
			addf(f, b, "%slp-%s-ml", n++ ? ", " : "", pi->h);
		plugin(f, "multiline");
		match_own(f, pi, NULL);
		kv(f, "multiline.key_content", "log");
		kv(f, "multiline.parser", lp_buf_str(b));
		lp_yamlw_kvb(&f->w, "buffer", 1);
		lp_yamlw_kvi(&f->w, "flush_ms",
		             p->multiline.flush_timeout_ms > 0 ? p->multiline.flush_timeout_ms
		                                               : 1000);
		emitter(f, pi, "ml");
		plugin_end(f);
	}
	/* 3. kubernetes metadata for host files named by the metadata regex */
	if (pipeline_files_meta(pi)) {
		for (size_t i = 0; i < p->n_files; i++) {
			if (!p->files[i].metadata_regex)
				continue;
			addf(f, t0(f), "%s.file.%s.*", pi->prefix, p->files[i].name);
			{
				char *m = lp_strdup(ts(f));
				if (!m) {
					chk(f, LP_ERR_NOMEM);
					return;
				}
				addf(f, t0(f), "%s.file.%s.", pi->prefix, p->files[i].name);
				kube_filter(f, m, ts(f),
				            p->kubernetes.labels || p->app.n_pod_labels,
				            p->kubernetes.annotations);
				lp_free(m);
			}
		}
	}
	/* 4. pod label selection, then trim metadata the pipeline did not ask for */
	if (LP_APP_ON(p) && p->app.n_pod_labels) {
		plugin(f, "grep");
		match_own(f, pi, "kube.");
		kv(f, "logical_op", "and");
		lp_yamlw_str(&f->w, "regex");
		lp_yamlw_seq(&f->w);
		for (size_t i = 0; i < p->app.n_pod_labels; i++) {
			struct lp_buf *b = t0(f);
			addf(f, b, "$kubernetes['labels']['%s'] ^", p->app.pod_labels[i].key);
			chk(f, lp_render_regex_lit(b, p->app.pod_labels[i].value));
			adds(f, b, "$");
			lp_yamlw_str(&f->w, ts(f));
		}
		lp_yamlw_seq_end(&f->w);
		plugin_end(f);
	}
	if ((LP_APP_ON(p) || p->system) && c->any_kube) {
		if (!p->kubernetes.enabled) {
			plugin(f, "modify");
			match_own(f, pi, NULL);
			kv(f, "remove", "kubernetes");
			plugin_end(f);
		} else if (kube_trim_ctor(c, p)) {
			lua_shared(f, pi, kube_trim_ctor(c, p), 0);
		}
	}
	/* 5. parse */
	if (pipeline_has_parser(pi)) {
		plugin(f, "parser");
		match_own(f, pi, NULL);
		kv(f, "key_name", p->parse.key ? p->parse.key : "log");
		kv(f, "parser", parser_name(f, pi));
		lp_yamlw_kvb(&f->w, "reserve_data", 1);
		if (p->parse.keep_original) /* off is the default */
			lp_yamlw_kvb(&f->w, "preserve_key", 1);
		plugin_end(f);
	}
	/* 6. transforms in order */
	for (size_t i = 0; i < p->n_transforms; i++)
		transform(f, pi, i);
	/* 7. route copies */
	for (size_t i = 0; i < p->n_routes; i++) {
		/* an output left out for its size gets no copies */
		if (!pi->routes[i].ok || !f->c->oi[pi->routes[i].out].ok)
			continue;
		if (p->routes[i].op != LP_ROUTE_ALL ||
		    f->c->oi[pi->routes[i].out].o->type == LP_OUT_LIVETAIL)
			route_copy(f, pi, i);
	}
}

/* ---------------- outputs ---------------- */

static void tls_keys(struct fb *f, const struct lp_tls *t, const struct lp_oinfo *oi)
{
	lp_yamlw_kvb(&f->w, "tls", t->enabled);
	if (t->enabled) {
		lp_yamlw_kvb(&f->w, "tls.verify", t->verify);
		if (oi->ca_path)
			kv(f, "tls.ca_file", oi->ca_path);
	}
}

static void env_ref(struct fb *f, const char *key, const char *var)
{
	if (!var)
		return;
	cat(f, "${", var, "}", CAT_END);
	kv(f, key, ts(f));
}

static void aws_keys(struct fb *f, const struct lp_oinfo *oi, int url_endpoint)
{
	const struct lp_aws *a = &oi->o->aws;

	kv(f, "region", a->region);
	if (a->endpoint) {
		if (url_endpoint) {
			kv(f, "endpoint", a->endpoint);
		} else {
			kv(f, "endpoint", oi->endpoint_host);
			lp_yamlw_kvi(&f->w, "port", oi->endpoint_port);
		}
	}
	if (a->credentials.role_arn)
		kv(f, "role_arn", a->credentials.role_arn);
	if (a->credentials.external_id)
		kv(f, "external_id", a->credentials.external_id);
	if (oi->aws_profile)
		kv(f, "profile", oi->aws_profile);
}

/* The pipelines whose every record goes to oi (route without match). */
static void output_match(struct fb *f, const struct lp_oinfo *oi, int agg_side)
{
	struct lp_rctx *c = f->c;
	struct lp_buf *b = t0(f);
	const char *pfx = agg_side ? "a" : "p";
	int n = 0;

	addf(f, b, "^(?:o\\.%s\\.%s\\.", oi->h, pfx);
	for (size_t k = 0; k < oi->n_all_pi; k++) {
		const struct lp_pinfo *pi = &c->pi[oi->all_pi[k]];
		if (!pi->ok || pi->agg != agg_side)
			continue;
		if (n++ == 0) {
			adds(f, b, "|");
			adds(f, b, pfx);
			adds(f, b, "\\.(?:");
		} else {
			adds(f, b, "|");
		}
		chk(f, lp_buf_add(b, pi->h, 12));
	}
	adds(f, b, n ? ")\\.)" : ")");
	kv(f, "match_regex", ts(f));
}

/* The filesystem buffer bound of o on this side: its spec.delivery.bufferLimit,
 * else (on the shipper) the agents' default, else 1G. */
static const char *buffer_limit(const struct fb *f, const struct lp_output *o)
{
	if (o->delivery.buffer_limit)
		return o->delivery.buffer_limit;
	if (!f->aggregator && f->c->in->default_buffer_limit)
		return f->c->in->default_buffer_limit;
	return "1G";
}

static void delivery_keys(struct fb *f, const struct lp_output *o)
{
	int alo = o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE;
	int rl = o->delivery.retry_limit > 0 ? o->delivery.retry_limit : (alo ? 10 : 1);

	lp_yamlw_kvi(&f->w, "retry_limit", rl);
	if (alo)
		kv_size(f, "storage.total_limit_size", buffer_limit(f, o));
}

static void output(struct fb *f, const struct lp_oinfo *oi, int agg_side)
{
	const struct lp_output *o = oi->o;
	static const char *plugin_names[LP_OUT_TYPE_COUNT] = {
	    [LP_OUT_KINESIS] = "kinesis_streams",
	    [LP_OUT_FIREHOSE] = "kinesis_firehose",
	    [LP_OUT_S3] = "s3",
	    [LP_OUT_CLOUDWATCH] = "cloudwatch_logs",
	    [LP_OUT_OPENSEARCH] = "opensearch",
	    [LP_OUT_ELASTICSEARCH] = "es",
	    [LP_OUT_KAFKA] = "kafka",
	    [LP_OUT_LOKI] = "loki",
	    [LP_OUT_HTTP] = "http",
	    [LP_OUT_SLACK] = "slack",
	    [LP_OUT_FORWARD] = "forward",
	    [LP_OUT_STDOUT] = "stdout",
	    [LP_OUT_LIVETAIL] = "websocket",
	};

	plugin(f, plugin_names[o->type]);
	cat(f, "lp_o_", oi->h, CAT_END);
	kv(f, "alias", ts(f));
	output_match(f, oi, agg_side);
	switch (o->type) {
	case LP_OUT_KINESIS:
		aws_keys(f, oi, 0);
		kv(f, "stream", o->u.kinesis.stream);
		if (o->u.kinesis.time_key)
			kv(f, "time_key", o->u.kinesis.time_key);
		break;
	case LP_OUT_FIREHOSE:
		aws_keys(f, oi, 0);
		kv(f, "delivery_stream", o->u.firehose.delivery_stream);
		if (o->u.firehose.time_key)
			kv(f, "time_key", o->u.firehose.time_key);
		break;
	case LP_OUT_S3: {
		const struct lp_out_s3 *s = &o->u.s3;
		aws_keys(f, oi, 1);
		kv(f, "bucket", s->bucket);
		lp_yamlw_kvq(&f->w, "s3_key_format",
		             s->key_format ? s->key_format : "/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID.gz");
		kv_size(f, "total_file_size", s->total_file_size ? s->total_file_size : "100M");
		kv(f, "upload_timeout", s->upload_timeout ? s->upload_timeout : "10m");
		if (!s->compression || strcmp(s->compression, "gzip") == 0)
			kv(f, "compression", "gzip");
		lp_yamlw_kvb(&f->w, "use_put_object", 1);
		addf(f, t0(f), "%s/s3/%s",
		     agg_side ? LP_RENDER_STATE_DIR "/aggregator" : LP_RENDER_STATE_DIR, oi->h);
		kv(f, "store_dir", ts(f));
		kv_size(f, "store_dir_limit_size", buffer_limit(f, o));
		if (s->storage_class)
			kv(f, "storage_class", s->storage_class);
		break;
	}
	case LP_OUT_CLOUDWATCH:
		aws_keys(f, oi, 0);
		kv(f, "log_group_name", o->u.cloudwatch.log_group);
		kv(f, "log_stream_prefix",
		   o->u.cloudwatch.log_stream_prefix ? o->u.cloudwatch.log_stream_prefix
		                                     : "fluent-bit-");
		lp_yamlw_kvb(&f->w, "auto_create_group", 0);
		break;
	case LP_OUT_OPENSEARCH:
	case LP_OUT_ELASTICSEARCH: {
		const struct lp_out_search *s = &o->u.search;
		kv(f, "host", s->host);
		lp_yamlw_kvi(&f->w, "port", s->port > 0 ? s->port : 9200);
		if (s->logstash_prefix) {
			lp_yamlw_kvb(&f->w, "logstash_format", 1);
			kv(f, "logstash_prefix", s->logstash_prefix);
		} else {
			kv(f, "index", s->index ? s->index : "logs");
		}
		lp_yamlw_kvb(&f->w, "suppress_type_name", 1);
		lp_yamlw_kvb(&f->w, "replace_dots", 1);
		lp_yamlw_kvb(&f->w, "trace_error", 1);
		if (o->type == LP_OUT_OPENSEARCH && s->aws_auth) {
			lp_yamlw_kvb(&f->w, "aws_auth", 1);
			kv(f, "aws_region", s->aws_region ? s->aws_region : o->aws.region);
			if (o->aws.credentials.role_arn)
				kv(f, "aws_role_arn", o->aws.credentials.role_arn);
			if (o->aws.credentials.external_id)
				kv(f, "aws_external_id", o->aws.credentials.external_id);
			if (oi->aws_profile)
				kv(f, "aws_profile", oi->aws_profile);
		}
		env_ref(f, "http_user", oi->user_var);
		env_ref(f, "http_passwd", oi->pass_var);
		tls_keys(f, &s->tls, oi);
		break;
	}
	case LP_OUT_KAFKA: {
		struct lp_buf *b = t0(f);
		for (size_t i = 0; i < o->u.kafka.brokers.n; i++)
			addf(f, b, "%s%s", i ? "," : "", o->u.kafka.brokers.v[i]);
		kv(f, "brokers", ts(f));
		kv(f, "topics", o->u.kafka.topic);
		kv(f, "format", o->u.kafka.format ? o->u.kafka.format : "json");
		break;
	}
	case LP_OUT_LOKI: {
		const struct lp_out_loki *l = &o->u.loki;
		struct lp_buf *b = t0(f);
		kv(f, "host", l->host);
		lp_yamlw_kvi(&f->w, "port", l->port > 0 ? l->port : 3100);
		adds(f, b, "job=logplane");
		for (size_t i = 0; i < l->n_labels; i++)
			addf(f, b, ", %s=%s", l->labels[i].key, l->labels[i].value);
		kv(f, "labels", ts(f));
		kv(f, "line_format", "json");
		if (l->tenant_id)
			kv(f, "tenant_id", l->tenant_id);
		env_ref(f, "http_user", oi->user_var);
		env_ref(f, "http_passwd", oi->pass_var);
		tls_keys(f, &l->tls, oi);
		break;
	}
	case LP_OUT_HTTP: {
		const struct lp_out_http *h = &o->u.http;
		kv(f, "host", h->host);
		lp_yamlw_kvi(&f->w, "port", h->port > 0 ? h->port : (h->tls.enabled ? 443 : 80));
		kv(f, "uri", h->uri ? h->uri : "/");
		kv(f, "format", h->format ? h->format : "json");
		if (h->n_headers) {
			lp_yamlw_str(&f->w, "header");
			lp_yamlw_seq(&f->w);
			for (size_t i = 0; i < h->n_headers; i++) {
				if (oi->header_vars && oi->header_vars[i])
					addf(f, t0(f), "%s ${%s}", h->headers[i].name,
					     oi->header_vars[i]);
				else
					addf(f, t0(f), "%s %s", h->headers[i].name,
					     h->headers[i].value ? h->headers[i].value : "");
				lp_yamlw_str(&f->w, ts(f));
			}
			lp_yamlw_seq_end(&f->w);
		}
		env_ref(f, "http_user", oi->user_var);
		env_ref(f, "http_passwd", oi->pass_var);
		tls_keys(f, &h->tls, oi);
		break;
	}
	case LP_OUT_SLACK:
		env_ref(f, "webhook", oi->secret_var);
		break;
	case LP_OUT_FORWARD: {
		const struct lp_out_forward *fw = &o->u.forward;
		kv(f, "host", fw->host);
		lp_yamlw_kvi(&f->w, "port", fw->port > 0 ? fw->port : 24224);
		if (oi->secret_var) {
			env_ref(f, "shared_key", oi->secret_var);
			kv(f, "self_hostname",
			   agg_side ? "logplane-aggregator" : "logplane-shipper");
		}
		lp_yamlw_kvb(&f->w, "require_ack_response",
		             o->delivery.mode == LP_DELIVERY_AT_LEAST_ONCE);
		tls_keys(f, &fw->tls, oi);
		break;
	}
	case LP_OUT_STDOUT:
		kv(f, "format", o->u.std_out.format ? o->u.std_out.format : "json_lines");
		break;
	case LP_OUT_LIVETAIL:
		kv(f, "host", f->c->lt_host);
		lp_yamlw_kvi(&f->w, "port", f->c->lt_port);
		addf(f, t0(f), "/ingest/%s/%s", o->meta.ns, o->meta.name);
		kv(f, "uri", ts(f));
		kv(f, "format", "json");
		break;
	default:
		break;
	}
	delivery_keys(f, o);
	plugin_end(f);
}

static void aggregator_forward_output(struct fb *f)
{
	struct lp_rctx *c = f->c;
	int alo = 0;

	for (size_t i = 0; i < c->npi; i++)
		if (c->pi[i].ok && c->pi[i].agg && c->pi[i].any_at_least_once)
			alo = 1;
	plugin(f, "forward");
	kv(f, "alias", "lp_aggregator");
	kv(f, "match_regex", "^(?:o\\.[0-9a-f]{12}\\.)?a\\.");
	kv(f, "host", c->agg_host);
	lp_yamlw_kvi(&f->w, "port", LP_RENDER_FORWARD_PORT);
	kv(f, "shared_key", "${" LP_RENDER_FWD_KEY_VAR "}");
	kv(f, "self_hostname", "logplane-shipper");
	lp_yamlw_kvb(&f->w, "require_ack_response", 1);
	kv(f, "compress", "gzip");
	lp_yamlw_kvi(&f->w, "retry_limit", 20);
	if (alo)
		kv(f, "storage.total_limit_size", "1G");
	plugin_end(f);
}

/* The outputs [from, to) of c->oi used on this side. With tail, on the
 * shipper, the forward output to the aggregator and the discard output after
 * them. With track, each output's bytes are added to its est_bytes (dry run). */
static void outputs(struct fb *f, size_t from, size_t to, int tail, int track)
{
	struct lp_rctx *c = f->c;
	int any = 0;

	for (size_t i = from; i < to; i++) {
		struct lp_oinfo *oi = &c->oi[i];
		size_t mark;
		if (!oi->ok || !(f->aggregator ? oi->used_agg : oi->used_direct))
			continue;
		mark = track ? lp_yamlw_size(&f->w) : 0;
		output(f, oi, f->aggregator);
		if (track)
			oi->est_bytes += lp_yamlw_size(&f->w) - mark;
	}
	if (!tail || f->aggregator)
		return;
	if (c->any_agg)
		aggregator_forward_output(f);
	for (size_t i = 0; i < c->npi && !any; i++)
		any = c->pi[i].ok;
	if (any) {
		/* Every chunk of a shared source or of a pipeline copy has a route even
		 * when no output wants it as is (the shared sources are read once and
		 * copied per pipeline; a pipeline whose routes all match sends only
		 * copies): Fluent Bit then never treats them as unroutable, and the
		 * originals are released at once. */
		item(f);
		lp_yamlw_map(&f->w);
		lp_yamlw_kvq(&f->w, "name", "null"); /* quoted: plain null is YAML's null */
		kv(f, "alias", "lp_discard");
		kv(f, "match_regex", "^(?:kube|system|p|a)\\.");
		plugin_end(f);
	}
}

/* The aggregator's one input: forward from the shippers. */
static void aggregator_input(struct fb *f)
{
	plugin(f, "forward");
	kv(f, "alias", "lp_forward");
	kv(f, "listen", "0.0.0.0");
	lp_yamlw_kvi(&f->w, "port", LP_RENDER_FORWARD_PORT);
	kv(f, "shared_key", "${" LP_RENDER_FWD_KEY_VAR "}");
	kv(f, "self_hostname", "logplane-aggregator");
	kv(f, "mem_buf_limit", "64M");
	kv(f, "storage.type", "filesystem");
	lp_yamlw_kvb(&f->w, "storage.pause_on_chunks_overlimit", 1);
	plugin_end(f);
}

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
	if (out)
		err = lp_yamlw_begin(&f.w, out);
	else
		lp_yamlw_begin_count(&f.w);
	if (err)
		goto out;
	f.w.rec = d->rec;
	if (d->filters_only) {
		each_pipeline(&f, d, pipeline_lua);
		err = lp_yamlw_end(&f.w);
		if (!err)
			err = f.err;
		goto out;
	}
	lp_yamlw_map(&f.w);
	if (d->service)
		service(&f);
	if (d->shared || d->to > d->from || d->oto > d->ofrom) {
		if (!d->aggregator) {
			sec_begin(&f, "parsers");
			if (d->shared)
				shared_parsers(&f);
			each_pipeline(&f, d, pipeline_parsers);
			sec_end(&f);
			sec_begin(&f, "multiline_parsers");
			each_pipeline(&f, d, pipeline_ml_parsers);
			sec_end(&f);
		}
		lp_yamlw_str(&f.w, "pipeline");
		lp_yamlw_map(&f.w);
		sec_begin(&f, "inputs");
		if (d->shared && d->aggregator)
			aggregator_input(&f);
		else if (d->shared)
			shared_inputs(&f);
		each_pipeline(&f, d, pipeline_inputs);
		sec_end(&f);
		sec_begin(&f, "filters");
		if (d->shared && !d->aggregator)
			shared_filters(&f);
		livetail_filters(&f, d->ofrom, d->oto, d->track);
		each_pipeline(&f, d, pipeline_filters);
		sec_end(&f);
		sec_begin(&f, "outputs");
		outputs(&f, d->ofrom, d->oto, d->shared, d->track);
		sec_end(&f);
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
	return err;
}

/* One unit of a split config, rendered on any thread: its files and left-out
 * pipelines and outputs are merged into the result in job order, so the
 * output does not depend on which thread rendered what. */
struct part_job {
	struct doc_spec u;            /* what it renders (shared part, pipelines, outputs) */
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
	err = lp_buf_adds(&b, LUA_LIB);
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

lp_err lp_render_fb_shipper(struct lp_rctx *c)
{
	struct lp_rendered_config *cfg = &c->out->shipper;
	struct doc_spec all = {0};
	size_t len = 0;
	lp_err err;

	for (size_t i = 0; i < c->npi; i++) {
		if (!c->pi[i].ok)
			continue;
		if (pipeline_files_meta(&c->pi[i]))
			c->any_files_meta = 1;
		if (pipeline_has_parser(&c->pi[i]) && parser_shared(&c->pi[i])) {
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
