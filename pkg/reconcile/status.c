/* pkg/reconcile/status.c: facts -> conditions, observed status digests. */
#include "status.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../util/buf.h"
#include "../util/clock.h"
#include "../util/hex.h"
#include "desired.h"

const char *lp_cond_status_name(enum lp_cond_status s)
{
	switch (s) {
	case LP_COND_TRUE:
		return "True";
	case LP_COND_FALSE:
		return "False";
	default:
		return "Unknown";
	}
}

static enum lp_cond_status cond_status_parse(const char *s)
{
	if (s && strcmp(s, "True") == 0)
		return LP_COND_TRUE;
	if (s && strcmp(s, "False") == 0)
		return LP_COND_FALSE;
	return LP_COND_UNKNOWN;
}

/* The condition types we write; seen keeps lastTransitionTime for these. */
static const char *const cond_types[] = {"Valid", "ConfigGenerated",     "AgentsReady",
                                         "Ready", "CredentialsResolved", "Provisioned"};
#define N_COND_TYPES (sizeof(cond_types) / sizeof(cond_types[0]))

static int cond_type_index(const char *t)
{
	for (size_t i = 0; t && i < N_COND_TYPES; i++)
		if (!strcmp(cond_types[i], t))
			return (int)i;
	return -1;
}

/* "2026-11-23T18:25:17Z" (a fraction or offset after the seconds is ignored)
 * -> seconds since the epoch; 0 when malformed. */
static void rfc3339_format(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		out[0] = '\0';
}

static void copy_str(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%s", src ? src : "");
}

/* Sorts indexes of c by type (insertion sort: n is tiny). */
static void order_by_type(size_t *idx, const struct lp_cond *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t i = 1; i < n; i++) {
		size_t v = idx[i], j = i;
		while (j > 0 && strcmp(c[idx[j - 1]].type, c[v].type) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
}

void lp_status_digest(char out[65], int64_t generation, const struct lp_cond *c, size_t n)
{
	size_t idx[LP_STATUS_MAX_CONDS];
	struct lp_buf b;
	lp_err err;

	if (n > LP_STATUS_MAX_CONDS)
		n = LP_STATUS_MAX_CONDS;
	order_by_type(idx, c, n);
	lp_buf_init(&b, 0);
	err = lp_buf_addf(&b, "g=%lld\n", (long long)generation);
	for (size_t i = 0; !err && i < n; i++) {
		const struct lp_cond *x = &c[idx[i]];
		err = lp_buf_addf(&b, "%s\x1f%s\x1f%s\x1f%s\n", x->type,
		                  lp_cond_status_name(x->status), x->reason ? x->reason : "",
		                  x->message ? x->message : "");
	}
	if (err) { /* no memory: a digest that matches nothing forces a write */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	lp_sha256_hex(out, lp_buf_str(&b), b.len);
	lp_buf_free(&b);
}

const char *const lp_status_extra_keys[] = {
    "target",        "configHash", "outputs",      "pipelines",
    "pipelineCount", "problems",   "problemCount", NULL};

void lp_status_extra_digest(char out[17], const json_t *st)
{
	char full[65], *text = NULL;
	json_t *sub = json_object();
	int n = 0;

	out[0] = '\0';
	for (size_t i = 0; sub && json_is_object(st) && lp_status_extra_keys[i]; i++) {
		json_t *v = json_object_get(st, lp_status_extra_keys[i]);
		if (!v || json_is_null(v))
			continue;
		if (json_object_set(sub, lp_status_extra_keys[i], v)) {
			json_decref(sub);
			sub = NULL;
		}
		n++;
	}
	if (sub && !n) {
		json_decref(sub);
		return;
	}
	if (sub)
		text = json_dumps(sub, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(sub);
	if (!text) { /* no memory: a digest that matches nothing forces a write */
		memset(out, 'x', 16);
		out[16] = '\0';
		return;
	}
	lp_sha256_hex(full, text, strlen(text));
	free(text);
	memcpy(out, full, 16);
	out[16] = '\0';
}

void lp_status_seen_parse(struct lp_status_seen *out, const json_t *status)
{
	struct lp_cond conds[LP_STATUS_MAX_CONDS];
	const json_t *arr, *og, *v;
	const char *hash;
	char full[65];
	size_t i, nc = 0;

	memset(out, 0, sizeof(*out));
	out->observed_generation = -1;
	og = json_object_get(status, "observedGeneration");
	if (json_is_integer(og))
		out->observed_generation = json_integer_value(og);
	arr = json_object_get(status, "conditions");
	json_array_foreach(arr, i, v)
	{
		const char *type = json_string_value(json_object_get(v, "type"));
		int ti = cond_type_index(type);
		if (!type || nc == LP_STATUS_MAX_CONDS)
			continue;
		conds[nc].type = type;
		conds[nc].status =
		    cond_status_parse(json_string_value(json_object_get(v, "status")));
		conds[nc].reason = json_string_value(json_object_get(v, "reason"));
		conds[nc].message = json_string_value(json_object_get(v, "message"));
		if (ti >= 0) {
			out->c[out->n].type = (unsigned char)ti;
			out->c[out->n].status = (unsigned char)conds[nc].status;
			int64_t t = lp_clock_rfc3339_parse(
			    json_string_value(json_object_get(v, "lastTransitionTime")));
			out->ltt[out->n] = t > (int64_t)UINT32_MAX ? 0 : (uint32_t)t;
			out->n++;
		}
		nc++;
	}
	out->present = json_is_array(arr);
	lp_status_extra_digest(out->extra_digest, status);
	hash = json_string_value(json_object_get(status, "configHash"));
	out->has_config_hash = hash && strlen(hash) == 64 &&
	                       lp_hex_decode(out->config_hash, hash, sizeof(out->config_hash));
	lp_status_digest(full, out->observed_generation, conds, nc);
	out->has_digest = (unsigned char)lp_hex_decode(out->digest, full, sizeof(out->digest));
}

int lp_status_seen_get(const struct lp_status_seen *seen, const char *type)
{
	int ti = cond_type_index(type);

	for (size_t i = 0; seen && ti >= 0 && i < seen->n; i++)
		if (seen->c[i].type == ti)
			return seen->c[i].status;
	return -1;
}

int lp_status_differs(const struct lp_status_seen *seen, int64_t generation,
                      const struct lp_cond *c, size_t n)
{
	char d[65];
	unsigned char bin[sizeof(seen->digest)];

	if (!seen || !seen->present || !seen->has_digest)
		return 1;
	lp_status_digest(d, generation, c, n);
	return !lp_hex_decode(bin, d, sizeof(bin)) || memcmp(bin, seen->digest, sizeof(bin)) != 0;
}

json_t *lp_status_new(const struct lp_status_seen *seen, int64_t generation,
                      const struct lp_cond *c, size_t n, const char *now)
{
	size_t idx[LP_STATUS_MAX_CONDS];
	json_t *st = NULL, *arr;
	char kept[32];

	if (n > LP_STATUS_MAX_CONDS)
		n = LP_STATUS_MAX_CONDS;
	order_by_type(idx, c, n);
	arr = json_array();
	st = json_pack("{s:I, s:o}", "observedGeneration", (json_int_t)generation, "conditions",
	               arr);
	if (!st)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct lp_cond *x = &c[idx[i]];
		const char *ltt = now;
		int ti = cond_type_index(x->type);
		for (size_t j = 0; seen && ti >= 0 && j < seen->n; j++) {
			if (seen->c[j].type != ti || seen->c[j].status != x->status ||
			    !seen->ltt[j])
				continue;
			rfc3339_format(kept, seen->ltt[j]);
			if (kept[0])
				ltt = kept;
		}
		if (json_array_append_new(
		        arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", x->type, "status",
		                       lp_cond_status_name(x->status), "reason",
		                       x->reason ? x->reason : "", "message",
		                       x->message ? x->message : "", "lastTransitionTime", ltt))) {
			json_decref(st);
			return NULL;
		}
	}
	return st;
}

/* ---------- rollout ---------- */

static int64_t int_at(const json_t *o, const char *a, const char *b, int64_t dflt)
{
	const json_t *v = json_object_get(json_object_get(o, a), b);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

void lp_rollout_parse(struct lp_rollout *out, const json_t *obj)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	const json_t *tmpl_ann;
	int64_t gen, ogen, want, updated, ready;
	int sts;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj) || !kind)
		return;
	sts = strcmp(kind, "StatefulSet") == 0;
	out->known = 1;
	tmpl_ann = json_object_get(
	    json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "metadata"),
	    "annotations");
	copy_str(out->config_hash, sizeof(out->config_hash),
	         json_string_value(json_object_get(tmpl_ann, LP_CONFIG_HASH_ANNOTATION)));
	gen = int_at(obj, "metadata", "generation", 0);
	ogen = int_at(obj, "status", "observedGeneration", -1);
	if (sts) {
		want = int_at(obj, "spec", "replicas", 1);
		updated = int_at(obj, "status", "updatedReplicas", 0);
		ready = int_at(obj, "status", "readyReplicas", 0);
	} else {
		want = int_at(obj, "status", "desiredNumberScheduled", 0);
		updated = int_at(obj, "status", "updatedNumberScheduled", 0);
		ready = int_at(obj, "status", "numberReady", 0);
	}
	if (ogen < gen) {
		snprintf(out->message, sizeof(out->message),
		         "%s %s/%s: generation %lld not observed yet", kind, ns ? ns : "",
		         name ? name : "", (long long)gen);
		return;
	}
	out->done = updated == want && ready == want;
	if (out->done)
		snprintf(out->message, sizeof(out->message), "%s %s/%s rolled out", kind,
		         ns ? ns : "", name ? name : "");
	else
		snprintf(out->message, sizeof(out->message),
		         "%s %s/%s: %lld of %lld pods updated, %lld ready", kind, ns ? ns : "",
		         name ? name : "", (long long)updated, (long long)want, (long long)ready);
}

/* ---------- facts -> conditions ---------- */

static void add(struct lp_status_conds *o, const char *type, enum lp_cond_status s,
                const char *reason, const char *message)
{
	if (o->n == LP_STATUS_MAX_CONDS)
		return;
	o->c[o->n++] = (struct lp_cond){type, s, reason, message};
}

const struct lp_cond *lp_status_find(const struct lp_status_conds *c, const char *type)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->c[i].type, type) == 0)
			return &c->c[i];
	return NULL;
}

static void field_msg(char *dst, size_t dstsz, const char *field, const char *msg)
{
	if (field && *field)
		snprintf(dst, dstsz, "%s: %s", field, msg ? msg : "invalid");
	else
		snprintf(dst, dstsz, "%s", msg ? msg : "invalid");
}

void lp_status_conditions(struct lp_status_conds *o, const struct lp_status_facts *f)
{
	enum lp_cond_status cfg_s, ag_s;
	const char *cfg_r, *ag_r;
	const struct lp_cond *bad = NULL;

	memset(o, 0, sizeof(*o));
	/* Valid */
	if (f->n_problems) {
		field_msg(o->valid_msg, sizeof(o->valid_msg), f->problem_field, f->problem_message);
		if (f->n_problems > 1) {
			size_t l = strlen(o->valid_msg);
			snprintf(o->valid_msg + l, sizeof(o->valid_msg) - l,
			         " (and %zu more problem%s)", f->n_problems - 1,
			         f->n_problems > 2 ? "s" : "");
		}
		add(o, "Valid", LP_COND_FALSE, "Invalid", o->valid_msg);
	} else if (f->config == LP_CONFIG_LEFT_OUT) {
		/* one verdict: what the renderer refuses is invalid, with its field */
		field_msg(o->valid_msg, sizeof(o->valid_msg), f->render_field, f->render_message);
		add(o, "Valid", LP_COND_FALSE, "Invalid", o->valid_msg);
	} else {
		add(o, "Valid", LP_COND_TRUE, "Valid", "spec and references are valid");
	}
	/* ConfigGenerated */
	if (f->n_problems) {
		cfg_s = LP_COND_FALSE;
		cfg_r = "NotValid";
		snprintf(o->config_msg, sizeof(o->config_msg),
		         "left out of the configuration until it is valid");
	} else if (f->config == LP_CONFIG_ROLLED_BACK) {
		cfg_s = LP_COND_FALSE;
		cfg_r = "RolledBack";
		snprintf(o->config_msg, sizeof(o->config_msg), "%s",
		         f->render_message ? f->render_message : "rolled back");
	} else if (f->config == LP_CONFIG_OVER_LIMIT) {
		cfg_s = LP_COND_FALSE;
		cfg_r = "LimitExceeded";
		snprintf(o->config_msg, sizeof(o->config_msg), "%s",
		         f->render_message ? f->render_message : "over a per-namespace limit");
	} else if (f->config == LP_CONFIG_LEFT_OUT) {
		cfg_s = LP_COND_FALSE;
		cfg_r = "RenderFailed";
		field_msg(o->config_msg, sizeof(o->config_msg), f->render_field, f->render_message);
	} else if (f->config == LP_CONFIG_APPLIED) {
		cfg_s = LP_COND_TRUE;
		cfg_r = "Applied";
		snprintf(o->config_msg, sizeof(o->config_msg), "%s",
		         f->config_message ? f->config_message : "configuration applied");
	} else if (f->config == LP_CONFIG_FAILED) {
		cfg_s = LP_COND_FALSE;
		cfg_r = "ApplyFailed";
		snprintf(o->config_msg, sizeof(o->config_msg),
		         "writing the configuration failed: %s",
		         f->config_message ? f->config_message : "unknown error");
	} else {
		cfg_s = LP_COND_UNKNOWN;
		cfg_r = "Pending";
		snprintf(o->config_msg, sizeof(o->config_msg), "configuration not written yet");
	}
	add(o, "ConfigGenerated", cfg_s, cfg_r, o->config_msg);
	/* AgentsReady */
	if (cfg_s == LP_COND_FALSE) {
		ag_s = LP_COND_FALSE;
		ag_r = "NotInConfig";
		snprintf(o->agents_msg, sizeof(o->agents_msg),
		         "not part of the running configuration (see ConfigGenerated)");
	} else if (cfg_s == LP_COND_UNKNOWN) {
		ag_s = LP_COND_UNKNOWN;
		ag_r = "Pending";
		snprintf(o->agents_msg, sizeof(o->agents_msg), "configuration not written yet");
	} else {
		ag_s = f->agents > 0    ? LP_COND_TRUE
		       : f->agents == 0 ? LP_COND_FALSE
		                        : LP_COND_UNKNOWN;
		ag_r = ag_s == LP_COND_TRUE    ? "RolledOut"
		       : ag_s == LP_COND_FALSE ? "RollingOut"
		                               : "Pending";
		snprintf(o->agents_msg, sizeof(o->agents_msg), "%s",
		         f->agents_message ? f->agents_message : "waiting for the Fluent Bit pods");
	}
	add(o, "AgentsReady", ag_s, ag_r, o->agents_msg);
	for (size_t i = 0; i < f->n_extra; i++)
		add(o, f->extra[i].type, f->extra[i].status, f->extra[i].reason,
		    f->extra[i].message);
	/* Ready: the first condition that is not True explains why not. */
	for (size_t i = 0; i < o->n && !bad; i++)
		if (o->c[i].status != LP_COND_TRUE)
			bad = &o->c[i];
	if (bad) {
		snprintf(o->ready_msg, sizeof(o->ready_msg), "%s: %s", bad->type,
		         bad->message ? bad->message : "");
		add(o, "Ready", LP_COND_FALSE, bad->reason, o->ready_msg);
	} else if (f->n_outputs_down) {
		/* running, but records routed to this output are not delivered */
		snprintf(o->ready_msg, sizeof(o->ready_msg),
		         "LogOutput %s is not Ready (%s): records routed to it are not delivered",
		         f->output_down ? f->output_down : "",
		         f->output_down_why ? f->output_down_why : "unknown");
		if (f->n_outputs_down > 1) {
			size_t l = strlen(o->ready_msg);
			snprintf(o->ready_msg + l, sizeof(o->ready_msg) - l,
			         " (and %zu more output%s not Ready)", f->n_outputs_down - 1,
			         f->n_outputs_down > 2 ? "s" : "");
		}
		add(o, "Ready", LP_COND_FALSE, "OutputNotReady", o->ready_msg);
	} else if (f->unused) {
		/* agrees with ConfigGenerated and AgentsReady: nothing sends to it */
		snprintf(o->ready_msg, sizeof(o->ready_msg),
		         "valid, but not referenced by any valid LogPipeline: no Fluent Bit pod "
		         "sends to it");
		add(o, "Ready", LP_COND_TRUE, "NotReferenced", o->ready_msg);
	} else {
		snprintf(o->ready_msg, sizeof(o->ready_msg),
		         "valid, in the configuration, and running on the Fluent Bit pods");
		add(o, "Ready", LP_COND_TRUE, "Ready", o->ready_msg);
	}
}
