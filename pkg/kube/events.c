#include "events.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "../util/mem.h"
#include "gvr.h"

#define EV_TABLE       512
#define EV_MAX_MESSAGE 1024

struct ev_entry {
	char *key;  /* object + type + reason + message */
	char *ns;   /* where the Event lives */
	char *name; /* its name, once created */
	char first_ts[21];
	uint64_t last_ms;
	long count;
};

struct ev_req { /* one request in flight */
	struct lp_kube_events *ev;
	struct lp_kube_call *call;
	char *key;
	int is_patch;
	json_t *create_body; /* kept by a PATCH, to create instead on 404 */
	struct ev_req *prev, *next;
};

struct lp_kube_events {
	struct lp_kube_client *c;
	char *component;
	char *events_ns;
	uint64_t dedup_ms;
	struct ev_entry table[EV_TABLE];
	size_t n;
	struct ev_req *reqs;
	struct lp_kube_events_stats stats;
	uint32_t rng;
};

lp_err lp_kube_events_new(struct lp_kube_events **out, struct lp_kube_client *c,
                          const char *component, const char *events_ns, uint64_t dedup_ms)
{
	struct lp_kube_events *ev;

	if (!c || !component)
		return LP_ERR_INVALID;
	ev = lp_calloc(1, sizeof(*ev));
	if (!ev)
		return LP_ERR_NOMEM;
	ev->c = c;
	ev->dedup_ms = dedup_ms ? dedup_ms : 60000;
	ev->component = lp_strdup(component);
	ev->events_ns = lp_strdup(events_ns ? events_ns : "default");
	ev->rng = (uint32_t)lp_clock_mono_ns() | 1u;
	if (!ev->component || !ev->events_ns) {
		lp_kube_events_free(ev);
		return LP_ERR_NOMEM;
	}
	*out = ev;
	return LP_OK;
}

static void entry_clear(struct ev_entry *e)
{
	lp_free(e->key);
	lp_free(e->ns);
	lp_free(e->name);
	memset(e, 0, sizeof(*e));
}

static void req_free(struct ev_req *r)
{
	struct lp_kube_events *ev = r->ev;

	if (r->prev)
		r->prev->next = r->next;
	else
		ev->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	json_decref(r->create_body);
	lp_free(r->key);
	lp_free(r);
}

void lp_kube_events_free(struct lp_kube_events *ev)
{
	if (!ev)
		return;
	while (ev->reqs) {
		lp_kube_call_cancel(ev->c, ev->reqs->call);
		req_free(ev->reqs);
	}
	for (size_t i = 0; i < ev->n; i++)
		entry_clear(&ev->table[i]);
	lp_free(ev->component);
	lp_free(ev->events_ns);
	lp_free(ev);
}

const struct lp_kube_events_stats *lp_kube_events_stats(const struct lp_kube_events *ev)
{
	return &ev->stats;
}

static struct ev_entry *find(struct lp_kube_events *ev, const char *key)
{
	for (size_t i = 0; i < ev->n; i++)
		if (ev->table[i].key && strcmp(ev->table[i].key, key) == 0)
			return &ev->table[i];
	return NULL;
}

/* A free slot, evicting the least recently sent entry when full. */
static struct ev_entry *slot(struct lp_kube_events *ev)
{
	size_t old = 0;

	for (size_t i = 0; i < ev->n; i++)
		if (!ev->table[i].key)
			return &ev->table[i]; /* cleared after a failure */
	if (ev->n < EV_TABLE)
		return &ev->table[ev->n++];
	for (size_t i = 1; i < EV_TABLE; i++)
		if (ev->table[i].last_ms < ev->table[old].last_ms)
			old = i;
	entry_clear(&ev->table[old]);
	return &ev->table[old];
}

static lp_err start(struct lp_kube_events *ev, const char *method, const char *path,
                    const char *ctype, json_t *body, const char *key, int is_patch,
                    json_t *create_body);

static void on_done(void *arg, struct lp_kube_resp *resp)
{
	struct ev_req *r = arg;
	struct lp_kube_events *ev = r->ev;
	r->call = NULL;
	if (resp->err == LP_ERR_NOTFOUND && r->is_patch && r->create_body) {
		/* the Event expired meanwhile: create it anew */
		json_t *md = json_object_get(r->create_body, "metadata");
		const char *ns = json_string_value(json_object_get(md, "namespace"));
		struct lp_buf path;
		lp_buf_init(&path, 4096);
		if (lp_kube_path(&path, &lp_kube_gvr_events, ns, NULL, NULL) != LP_OK ||
		    start(ev, "POST", lp_buf_str(&path), "application/json", r->create_body, r->key,
		          0, NULL) != LP_OK)
			ev->stats.failed++;
		lp_buf_free(&path);
	} else if (resp->err) {
		ev->stats.failed++;
	} else if (r->is_patch) {
		ev->stats.updated++;
	} else {
		ev->stats.created++;
	}
	req_free(r);
}

static lp_err start(struct lp_kube_events *ev, const char *method, const char *path,
                    const char *ctype, json_t *body, const char *key, int is_patch,
                    json_t *create_body)
{
	struct ev_req *r = lp_calloc(1, sizeof(*r));
	struct lp_kube_req req = {0};
	char *text = NULL;
	lp_err err;

	if (!r)
		return LP_ERR_NOMEM;
	r->ev = ev;
	r->is_patch = is_patch;
	r->key = lp_strdup(key);
	text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!r->key || !text) {
		lp_free(r->key);
		lp_free(r);
		free(text);
		return LP_ERR_NOMEM;
	}
	r->create_body = json_incref(create_body);
	r->next = ev->reqs;
	if (ev->reqs)
		ev->reqs->prev = r;
	ev->reqs = r;
	req.method = method;
	req.path = path;
	req.content_type = ctype;
	req.body = text;
	req.body_len = strlen(text);
	err = lp_kube_call_start(ev->c, &req, on_done, r, &r->call);
	free(text);
	if (err)
		req_free(r);
	return err;
}

lp_err lp_kube_event(struct lp_kube_events *ev, const struct lp_kube_objref *obj, const char *type,
                     const char *reason, const char *message)
{
	struct lp_loop *loop = lp_kube_client_loop(ev->c);
	uint64_t now = lp_loop_now_ms(loop);
	const char *ns = obj && obj->ns && *obj->ns ? obj->ns : ev->events_ns;
	struct lp_buf key, path, name;
	struct ev_entry *e;
	json_t *body = NULL, *inv = NULL, *patch = NULL;
	char ts[21], msg[EV_MAX_MESSAGE + 1];
	lp_err err;

	if (!obj || !obj->kind || !obj->name || !type || !reason)
		return LP_ERR_INVALID;
	snprintf(msg, sizeof(msg), "%s", message ? message : "");
	lp_buf_init(&key, 8192);
	lp_buf_init(&path, 4096);
	lp_buf_init(&name, 512);
	err = lp_buf_addf(&key, "%s\n%s\n%s\n%s\n%s\n%s\n%s", obj->kind, ns, obj->name,
	                  obj->uid ? obj->uid : "", type, reason, msg);
	if (err)
		goto out;
	lp_clock_rfc3339(ts);
	e = find(ev, lp_buf_str(&key));
	if (e && now - e->last_ms < ev->dedup_ms) {
		ev->stats.suppressed++;
		goto out;
	}
	inv = json_pack("{s:s, s:s, s:s}", "kind", obj->kind, "name", obj->name, "namespace",
	                obj->ns ? obj->ns : "");
	if (!inv) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	if (obj->api_version)
		json_object_set_new(inv, "apiVersion", json_string(obj->api_version));
	if (obj->uid)
		json_object_set_new(inv, "uid", json_string(obj->uid));
	if (obj->rv)
		json_object_set_new(inv, "resourceVersion", json_string(obj->rv));
	if (!e) {
		uint32_t x = ev->rng;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		ev->rng = x ? x : 1;
		err = lp_buf_addf(&name, "%.200s.%llx%08x", obj->name,
		                  (unsigned long long)lp_clock_mono_ns(), ev->rng);
		if (err)
			goto out;
		e = slot(ev);
		e->key = lp_buf_take(&key);
		e->ns = lp_strdup(ns);
		e->name = lp_buf_take(&name);
		memcpy(e->first_ts, ts, sizeof(ts));
		e->count = 0;
		if (!e->key || !e->ns || !e->name) {
			entry_clear(e); /* reused by the next slot() */
			err = LP_ERR_NOMEM;
			goto out;
		}
	}
	e->count++;
	e->last_ms = now;
	body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O, s:s, s:s, s:s, s:i, s:s, s:s, s:{s:s}, "
	                 "s:s, s:s}",
	                 "apiVersion", "v1", "kind", "Event", "metadata", "name", e->name,
	                 "namespace", e->ns, "involvedObject", inv, "reason", reason, "message",
	                 msg, "type", type, "count", (json_int_t)e->count, "firstTimestamp",
	                 e->first_ts, "lastTimestamp", ts, "source", "component", ev->component,
	                 "reportingComponent", ev->component, "reportingInstance", ev->component);
	if (!body) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	if (e->count == 1) {
		err = lp_kube_path(&path, &lp_kube_gvr_events, e->ns, NULL, NULL);
		if (!err)
			err = start(ev, "POST", lp_buf_str(&path), "application/json", body, e->key,
			            0, NULL);
	} else {
		patch = json_pack("{s:i, s:s}", "count", (json_int_t)e->count, "lastTimestamp", ts);
		err = patch ? lp_kube_path(&path, &lp_kube_gvr_events, e->ns, e->name, NULL)
		            : LP_ERR_NOMEM;
		if (!err)
			err = start(ev, "PATCH", lp_buf_str(&path), "application/merge-patch+json",
			            patch, e->key, 1, body);
	}
	if (err)
		ev->stats.failed++;
out:
	json_decref(patch);
	json_decref(body);
	json_decref(inv);
	lp_buf_free(&key);
	lp_buf_free(&path);
	lp_buf_free(&name);
	return err;
}
