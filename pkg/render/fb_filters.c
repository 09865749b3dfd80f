/* pkg/render/fb_filters.c: the filters: kubernetes metadata, a pipeline's multiline, parse and
 * transforms, the shared Lua library, and the route copies. */
#include "fb.h"
#include "../util/mem.h"
#include <stdio.h>
#include <string.h>

const char fb_lua_lib[] =
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
    "    local cur = record[dst]\n"
    "    if cur ~= nil then\n"
    "      if type(cur) ~= \"string\" then return 0, ts, record end\n"
    "      local low = string.lower(cur)\n"
    "      local norm = lp_words[low] or low\n"
    "      if norm == cur then return 0, ts, record end\n"
    "      record[dst] = norm\n"
    "      return 1, ts, record\n"
    "    end\n"
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

/* ---------------- filters ---------------- */

void fb_kube_filter(struct fb *f, const char *match, const char *prefix, int labels,
                    int annotations)
{
	fb_plugin(f, "kubernetes");
	if (match && !f->proc)
		fb_kv(f, "match", match);
	fb_kv(f, "kube_tag_prefix", prefix);
	fb_kv(f, "regex_parser", FB_KUBE_TAG_PARSER);
	lp_yamlw_kvb(&f->w, "merge_log", 0);
	lp_yamlw_kvb(&f->w, "keep_log", 1);
	lp_yamlw_kvb(&f->w, "labels", labels);
	lp_yamlw_kvb(&f->w, "annotations", annotations);
	lp_yamlw_kvb(&f->w, "use_kubelet", 1);
	fb_kv(f, "kubelet_host", "${NODE_IP}");
	lp_yamlw_kvi(&f->w, "kubelet_port", 10250);
	/* no cap on the kubelet's /pods answer: with the default 32K a node's pod
	 * list does not fit, flb_http_do fails (logged at debug only), the records
	 * get no metadata and every append fetches again (Fluent Bit 5.1.1
	 * plugins/filter_kubernetes/kube_meta.c get_meta_info_from_request) */
	fb_kv(f, "buffer_size", "0");
	fb_plugin_end(f);
}

/* The filters of the livetail outputs [from, to) of c->oi on the aggregator:
 * a rate limit on the o.<oh>.* records the nodes' forward outputs send for
 * them. On the node a route's limit is a processor of its output instance
 * (none for a forward output to the aggregator: the limit is the
 * aggregator's, over all nodes). */
void fb_livetail_filters(struct fb *f, size_t from, size_t to, int track)
{
	struct lp_rctx *c = f->c;

	for (size_t i = from; f->aggregator && i < to; i++) {
		struct lp_oinfo *oi = &c->oi[i];
		size_t mark = track ? lp_yamlw_size(&f->w) : 0;

		if (!oi->ok || !oi->used_agg || !lp_output_type_via_hub(oi->o->type))
			continue;
		fb_plugin(f, "throttle");
		fb_cat(f, "o.", oi->h, ".*", CAT_END);
		fb_kv(f, "match", fb_ts(f));
		lp_yamlw_kvi(&f->w, "rate", lp_output_hub_rate(oi->o));
		lp_yamlw_kvi(&f->w, "window", 1);
		fb_kv(f, "interval", "1s");
		lp_yamlw_kvb(&f->w, "print_status", 0);
		fb_plugin_end(f);
		if (track)
			oi->est_bytes += lp_yamlw_size(&f->w) - mark;
	}
}

void fb_shared_filters(struct fb *f)
{
	struct lp_rctx *c = f->c;

	if (c->any_kube && c->any_app)
		fb_kube_filter(f, "kube.*", "kube.", c->any_kube_labels, c->any_kube_annotations);
	if (c->any_kube && c->any_system)
		fb_kube_filter(f, "system.kube.*", "system.kube.", c->any_kube_labels,
		               c->any_kube_annotations);
}

static void emitter(struct fb *f, const struct lp_pinfo *pi, const char *what)
{
	fb_cat(f, "lp_", pi->h, "_", what, CAT_END);
	fb_kv(f, "emitter_name", fb_ts(f));
	fb_kv(f, "emitter_storage.type", fb_storage_type(pi->any_at_least_once));
	if (pi->mbl) /* else Fluent Bit's default (10M) */
		fb_kv_size(f, "emitter_mem_buf_limit", pi->mbl);
}

/* Appends a regex alternative group "(?:a|b)" of literal strings. */

static void lua_plugin(struct fb *f, const struct lp_pinfo *pi, const char *call, const char *code,
                       int flb_null)
{
	fb_plugin(f, "lua");
	fb_match_own(f, pi, NULL);
	fb_kv(f, "call", call);
	lp_yamlw_str(&f->w, "code");
	lp_yamlw_literal(&f->w, code);
	if (flb_null)
		lp_yamlw_kvb(&f->w, "enable_flb_null", 1);
	fb_plugin_end(f);
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
		fb_chk(f, LP_ERR_INVALID);
		return;
	}
	if (i == c->n_lua && c->n_lua < LP_RENDER_LUA_MAX_FNS) {
		if (c->n_lua == c->cap_lua) {
			size_t ncap = c->cap_lua ? c->cap_lua * 2 : 8;
			char **v = lp_realloc(c->lua_ctor, ncap * sizeof(*v));
			if (!v) {
				fb_chk(f, LP_ERR_NOMEM);
				return;
			}
			c->lua_ctor = v;
			c->cap_lua = ncap;
		}
		c->lua_ctor[c->n_lua] = lp_strdup(ctor);
		if (!c->lua_ctor[c->n_lua]) {
			fb_chk(f, LP_ERR_NOMEM);
			return;
		}
		c->n_lua++;
	}
	if (i < c->n_lua) {
		lp_render_field_idx(call, sizeof(call), "lp_fn_", i + 1, "");
		fb_plugin(f, "lua");
		fb_match_own(f, pi, NULL);
		fb_kv(f, "script", LP_RENDER_LUA_FILE);
		fb_kv(f, "call", call);
		if (flb_null)
			lp_yamlw_kvb(&f->w, "enable_flb_null", 1);
		fb_plugin_end(f);
		return;
	}
	{
		struct lp_buf code;
		lp_buf_init(&code, 0);
		fb_chk(f, lp_buf_adds(&code, fb_lua_lib));
		fb_chk(f, lp_buf_adds(&code, "lp_fn = "));
		fb_chk(f, lp_buf_adds(&code, ctor));
		fb_chk(f, lp_buf_adds(&code, "\n"));
		lua_plugin(f, pi, "lp_fn", lp_buf_str(&code), flb_null);
		lp_buf_free(&code);
	}
}

/* A plain modify/add value: safe when it has no whitespace, quotes or
 * backslash, and no regex metacharacter (Fluent Bit 5.1.1's modify compiles
 * every add/set value as a regex and stops at start when it does not
 * compile: "*gold", "(x", "a{2,1}"). Anything else goes through Lua. */
static int plain_value(const char *v)
{
	if (!v || !*v)
		return 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || strchr("\"'\\*+?()[]{}|^$", *p))
			return 0;
	return 1;
}

static void grep_rules(struct fb *f, const char *list_key, const struct lp_grep_rule *r, size_t n)
{
	lp_yamlw_str(&f->w, list_key);
	lp_yamlw_seq(&f->w);
	for (size_t i = 0; i < n; i++) {
		struct lp_buf *b = fb_t0(f);
		fb_chk(f, lp_render_accessor(b, r[i].key));
		fb_adds(f, b, " ");
		fb_chk(f, lp_render_regex_safe(b, r[i].regex));
		lp_yamlw_str(&f->w, fb_ts(f));
	}
	lp_yamlw_seq_end(&f->w);
}

/* One plugin that takes a list of field names under key (modify's remove,
 * record_modifier's allowlist_key). */
static void field_list(struct fb *f, const struct lp_pinfo *pi, const char *plugin, const char *key,
                       const struct lp_strlist *fields)
{
	fb_plugin(f, plugin);
	fb_match_own(f, pi, NULL);
	lp_yamlw_str(&f->w, key);
	lp_yamlw_seq(&f->w);
	for (size_t i = 0; i < fields->n; i++)
		lp_yamlw_str(&f->w, fields->v[i]);
	lp_yamlw_seq_end(&f->w);
	fb_plugin_end(f);
}

static void transform(struct fb *f, const struct lp_pinfo *pi, size_t idx)
{
	const struct lp_transform *t = &pi->p->transforms[idx];
	struct lp_buf *code = &f->t2;

	switch (t->kind) {
	case LP_TR_FLATTEN:
		lp_buf_reset(code);
		fb_adds(f, code, "lp_make_flatten(");
		fb_chk(f, lp_render_lua_str(code,
		                            t->u.flatten.separator ? t->u.flatten.separator : "."));
		fb_adds(f, code, ")");
		lua_shared(f, pi, lp_buf_str(code), 1);
		break;
	case LP_TR_DROP_FIELDS:
		field_list(f, pi, "modify", "remove", &t->u.fields);
		break;
	case LP_TR_KEEP_FIELDS:
		field_list(f, pi, "record_modifier", "allowlist_key", &t->u.fields);
		break;
	case LP_TR_RENAME_FIELDS:
		fb_plugin(f, "modify");
		fb_match_own(f, pi, NULL);
		lp_yamlw_str(&f->w, "rename");
		lp_yamlw_seq(&f->w);
		for (size_t i = 0; i < t->u.rename.n; i++) {
			fb_cat(f, t->u.rename.pairs[i].key, " ", t->u.rename.pairs[i].value,
			       CAT_END);
			lp_yamlw_str(&f->w, fb_ts(f));
		}
		lp_yamlw_seq_end(&f->w);
		fb_plugin_end(f);
		break;
	case LP_TR_ADD_FIELDS: {
		int plain = 1;
		for (size_t i = 0; i < t->u.add.n; i++)
			plain &= plain_value(t->u.add.pairs[i].value);
		if (plain) {
			fb_plugin(f, "modify");
			fb_match_own(f, pi, NULL);
			lp_yamlw_str(&f->w, t->u.add.overwrite ? "set" : "add");
			lp_yamlw_seq(&f->w);
			for (size_t i = 0; i < t->u.add.n; i++) {
				fb_addf(f, fb_t0(f), "%s %s", t->u.add.pairs[i].key,
				        t->u.add.pairs[i].value);
				lp_yamlw_str(&f->w, fb_ts(f));
			}
			lp_yamlw_seq_end(&f->w);
			fb_plugin_end(f);
			break;
		}
		lp_buf_reset(code);
		fb_adds(f, code, LUA_ADD_HEAD);
		for (size_t i = 0; i < t->u.add.n; i++) {
			lp_buf_reset(&f->t);
			fb_chk(f, lp_render_lua_str(&f->t, t->u.add.pairs[i].key));
			if (t->u.add.overwrite)
				fb_addf(f, code, "  record[%s] = ", fb_ts(f));
			else
				fb_addf(f, code,
				        "  if record[%s] == nil then record[%s] = ", fb_ts(f),
				        fb_ts(f));
			lp_buf_reset(&f->t);
			fb_chk(f, lp_render_lua_str(&f->t, t->u.add.pairs[i].value
			                                       ? t->u.add.pairs[i].value
			                                       : ""));
			fb_addf(f, code, "%s%s\n", fb_ts(f), t->u.add.overwrite ? "" : " end");
		}
		fb_adds(f, code, LUA_ADD_TAIL);
		lua_plugin(f, pi, "lp_add", lp_buf_str(code), 0);
		break;
	}
	case LP_TR_GREP:
		if (t->u.grep.n_include) {
			fb_plugin(f, "grep");
			fb_match_own(f, pi, NULL);
			fb_kv(f, "logical_op", "and");
			grep_rules(f, "regex", t->u.grep.include, t->u.grep.n_include);
			fb_plugin_end(f);
		}
		if (t->u.grep.n_exclude) {
			fb_plugin(f, "grep");
			fb_match_own(f, pi, NULL);
			fb_kv(f, "logical_op", "or");
			grep_rules(f, "exclude", t->u.grep.exclude, t->u.grep.n_exclude);
			fb_plugin_end(f);
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
			fb_addf(f, code, "lp_make_pod_throttle(%d, %.3f, %d)", t->u.throttle.rate,
			        secs, t->u.throttle.rate * window);
			lua_shared(f, pi, lp_buf_str(code), 0);
		} else {
			fb_plugin(f, "throttle");
			fb_match_own(f, pi, NULL);
			lp_yamlw_kvi(&f->w, "rate", t->u.throttle.rate);
			lp_yamlw_kvi(&f->w, "window", window);
			fb_kv(f, "interval",
			      t->u.throttle.interval ? t->u.throttle.interval : "1s");
			lp_yamlw_kvb(&f->w, "print_status", 0);
			fb_plugin_end(f);
		}
		break;
	}
	case LP_TR_DETECT_LEVEL:
		lp_buf_reset(code);
		fb_adds(f, code, "lp_make_level(");
		fb_chk(f, lp_render_lua_str(code, t->u.detect_level.source_key
		                                      ? t->u.detect_level.source_key
		                                      : "log"));
		fb_adds(f, code, ", ");
		fb_chk(f, lp_render_lua_str(code, t->u.detect_level.target_key
		                                      ? t->u.detect_level.target_key
		                                      : "level"));
		fb_adds(f, code, ")");
		lua_shared(f, pi, lp_buf_str(code), 0);
		break;
	}
}

/* An alert route's records name their pipeline: the hub groups by it. */
static void alert_pipeline(struct fb *f, const struct lp_pinfo *pi)
{
	fb_kv(f, "add", fb_cat(f, "lp_pipeline ", pi->p->meta.name, CAT_END));
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

/* The shared Lua variants pipeline_units() uses, in the same order, and
 * nothing else (the registration pass). */
void fb_pipeline_lua(struct fb *f, const struct lp_pinfo *pi)
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

/* The buffered multiline stage of pi: a processor of one of its own inputs
 * (what names its emitter, which stays idle: Fluent Bit's
 * plugins/filter_multiline/ml.c ingest_inline() appends the joined record to
 * the input's own chunk). Nothing when pi needs none. */
void fb_multiline_unit(struct fb *f, const struct lp_pinfo *pi, const char *what)
{
	const struct lp_pipeline *p = pi->p;
	unsigned ml = p->multiline.present ? p->multiline.builtin : 0;
	struct lp_buf *b = &f->t2; /* t is reused by match_own below */
	static const struct {
		unsigned bit;
		const char *name;
	} bi[] = {{LP_ML_JAVA, "java"}, {LP_ML_PYTHON, "python"}, {LP_ML_GO, "go"}};
	int n = 0;

	if (!LP_ML_BUFFERED(p))
		return;
	lp_buf_reset(b);
	for (size_t i = 0; i < sizeof(bi) / sizeof(bi[0]); i++)
		if (ml & bi[i].bit)
			fb_addf(f, b, "%s%s", n++ ? ", " : "", bi[i].name);
	if (fb_pipeline_has_ml_rules(pi))
		fb_addf(f, b, "%slp-%s-ml", n++ ? ", " : "", pi->h);
	fb_plugin(f, "multiline");
	fb_match_own(f, pi, NULL);
	fb_kv(f, "multiline.key_content", "log");
	fb_kv(f, "multiline.parser", lp_buf_str(b));
	lp_yamlw_kvb(&f->w, "buffer", 1);
	lp_yamlw_kvi(&f->w, "flush_ms",
	             p->multiline.flush_timeout_ms > 0 ? p->multiline.flush_timeout_ms : 1000);
	emitter(f, pi, what);
	fb_plugin_end(f);
}

/* A pipeline's own record work after multiline, in order: pod label
 * selection, kubernetes metadata trim, parse, transforms: processors of its
 * output instances (on the node or forwarding to the aggregator). */
static void pipeline_units(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	const struct lp_rctx *c = f->c;

	if (LP_APP_ON(p) && p->app.n_pod_labels) {
		fb_plugin(f, "grep");
		fb_match_own(f, pi, "kube.");
		fb_kv(f, "logical_op", "and");
		lp_yamlw_str(&f->w, "regex");
		lp_yamlw_seq(&f->w);
		for (size_t i = 0; i < p->app.n_pod_labels; i++) {
			struct lp_buf *b = fb_t0(f);
			fb_addf(f, b, "$kubernetes['labels']['%s'] ^", p->app.pod_labels[i].key);
			fb_chk(f, lp_render_regex_lit(b, p->app.pod_labels[i].value));
			fb_adds(f, b, "$");
			lp_yamlw_str(&f->w, fb_ts(f));
		}
		lp_yamlw_seq_end(&f->w);
		fb_plugin_end(f);
	}
	if ((LP_APP_ON(p) || p->system) && (c->any_kube || c->any_own_app)) {
		if (!p->kubernetes.enabled) {
			fb_plugin(f, "modify");
			fb_match_own(f, pi, NULL);
			fb_kv(f, "remove", "kubernetes");
			fb_plugin_end(f);
		} else if (kube_trim_ctor(c, p)) {
			lua_shared(f, pi, kube_trim_ctor(c, p), 0);
		}
	}
	if (fb_pipeline_has_parser(pi)) {
		fb_plugin(f, "parser");
		fb_match_own(f, pi, NULL);
		fb_kv(f, "key_name", p->parse.key ? p->parse.key : "log");
		fb_kv(f, "parser", fb_parser_name(f, pi));
		lp_yamlw_kvb(&f->w, "reserve_data", 1);
		if (p->parse.keep_original) /* off is the default */
			lp_yamlw_kvb(&f->w, "preserve_key", 1);
		fb_plugin_end(f);
	}
	for (size_t i = 0; i < p->n_transforms; i++)
		transform(f, pi, i);
}

/* What one route adds after the pipeline's work: the route's match as a grep,
 * and a livetail output's rate limit. */
static void route_units(struct fb *f, const struct lp_pinfo *pi, size_t i)
{
	const struct lp_route *r = &pi->p->routes[i];
	const struct lp_output *o = f->c->oi[pi->routes[i].out].o;

	if (r->op != LP_ROUTE_ALL) {
		struct lp_buf *b;
		fb_plugin(f, "grep");
		fb_kv(f, "logical_op", "and");
		lp_yamlw_str(&f->w, "regex");
		lp_yamlw_seq(&f->w);
		b = fb_t0(f);
		fb_chk(f, lp_render_accessor(b, r->match_field));
		fb_adds(f, b, " ");
		if (r->op == LP_ROUTE_IN) {
			fb_adds(f, b, "^");
			fb_alt(f, b, &r->match_in);
			fb_adds(f, b, "$");
		} else {
			fb_chk(f, lp_render_regex_safe(b, r->match_regex));
		}
		lp_yamlw_str(&f->w, fb_ts(f));
		lp_yamlw_seq_end(&f->w);
		fb_plugin_end(f);
	}
	if (o->type == LP_OUT_ALERT) {
		fb_plugin(f, "modify");
		alert_pipeline(f, pi);
		fb_plugin_end(f);
	}
	/* via the aggregator the limit is the aggregator's (fb_livetail_filters) */
	if (lp_output_type_via_hub(o->type) && !pi->agg) {
		fb_plugin(f, "throttle");
		lp_yamlw_kvi(&f->w, "rate", lp_output_hub_rate(o));
		lp_yamlw_kvi(&f->w, "window", 1);
		fb_kv(f, "interval", "1s");
		lp_yamlw_kvb(&f->w, "print_status", 0);
		fb_plugin_end(f);
	}
}

/* The record accessor a fixed spec.metrics label reads (docs/metrics.md), or
 * NULL for field:<key>. */
static const char *metric_label_accessor(const char *label)
{
	if (strcmp(label, "level") == 0)
		return "$level";
	if (strcmp(label, "namespace") == 0)
		return "$kubernetes['namespace_name']";
	if (strcmp(label, "pod") == 0)
		return "$kubernetes['pod_name']";
	if (strcmp(label, "workload") == 0)
		return "$kubernetes['labels']['app.kubernetes.io/name']";
	return NULL;
}

/* spec.metrics as log_to_metrics units: one per metric, every record of the
 * pipeline counted once (the caller places them on one route only). Metrics
 * leave under the tag LP_RENDER_METRICS_TAG for the shared prometheus_exporter;
 * kubernetes_mode stays off (it adds five per-pod labels to every series). */
static void metric_units(struct fb *f, const struct lp_pinfo *pi)
{
	const struct lp_pipeline *p = pi->p;
	char idx[24], lbl[128];

	for (size_t i = 0; i < p->n_metrics; i++) {
		const struct lp_logmetric *m = &p->metrics[i];
		fb_plugin(f, "log_to_metrics");
		fb_match_own(f, pi, NULL);
		fb_kv(f, "tag", LP_RENDER_METRICS_TAG);
		fb_kv(f, "metric_mode",
		      m->type == LP_LOGMETRIC_HISTOGRAM ? "histogram" : "counter");
		fb_kv(f, "metric_namespace", "logplane");
		fb_kv(f, "metric_name", m->name);
		fb_kv(f, "metric_description",
		      m->description ? m->description : "records of a LogPipeline");
		lp_yamlw_kvb(&f->w, "kubernetes_mode", 0);
		if (m->labels.n) {
			lp_yamlw_str(&f->w, "add_label");
			lp_yamlw_seq(&f->w);
			for (size_t j = 0; j < m->labels.n; j++) {
				const char *l = m->labels.v[j];
				const char *ra = metric_label_accessor(l);
				/* field:<key> (a top-level key, checked by pkg/api): label <key>
				 * $<key> */
				if (ra)
					lp_yamlw_str(&f->w, fb_cat(f, l, " ", ra, CAT_END));
				else
					lp_yamlw_str(&f->w, fb_cat(f, l + 6, " $", l + 6, CAT_END));
			}
			lp_yamlw_seq_end(&f->w);
		}
		if (m->type == LP_LOGMETRIC_HISTOGRAM) {
			fb_kv(f, "value_field", m->field);
			if (m->n_buckets) {
				lp_yamlw_str(&f->w, "bucket");
				lp_yamlw_seq(&f->w);
				for (size_t j = 0; j < m->n_buckets; j++) {
					snprintf(lbl, sizeof(lbl), "%.15g", m->buckets[j]);
					lp_yamlw_str(&f->w, lbl);
				}
				lp_yamlw_seq_end(&f->w);
			}
		}
		lp_render_field_idx(idx, sizeof(idx), "_m", i, "");
		fb_kv(f, "emitter_name", fb_cat(f, "lp_", pi->h, idx, CAT_END));
		fb_plugin_end(f);
	}
}

/* The first route whose output is rendered, or n_routes. */
static size_t first_route(struct fb *f, const struct lp_pinfo *pi)
{
	size_t i = 0;

	while (i < pi->p->n_routes && !(pi->routes[i].ok && f->c->oi[pi->routes[i].out].ok))
		i++;
	return i;
}

void fb_pipeline_processors(struct fb *f, const struct lp_pinfo *pi, size_t route)
{
	fb_proc_begin(f);
	/* the same events for every route of pi (and often for the next
	 * pipelines): written once, copied after (yamlw capture/replay) */
	if (f->units_pi == pi && lp_yamlw_replay(&f->w, &f->units.m)) {
		f->sec_open = f->units_open;
	} else {
		lp_yamlw_capture_begin(&f->w, &f->cap);
		pipeline_units(f, pi);
		lp_yamlw_capture_end(&f->w, &f->units);
		f->units_pi = f->err || !f->units.ok ? NULL : pi;
		f->units_open = f->sec_open;
	}
	/* after the pipeline's work (parsed fields, level), before the route's
	 * match: every record counted once, on the first rendered route */
	if (route == FB_NO_ROUTE) {
		fb_proc_end(f);
		return;
	}
	if (route == first_route(f, pi))
		metric_units(f, pi);
	lp_yamlw_capture_begin(&f->w, &f->cap);
	route_units(f, pi, route);
	lp_yamlw_capture_end(&f->w, &f->route);
	fb_proc_end(f);
}
