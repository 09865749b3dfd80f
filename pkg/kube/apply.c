#include "apply.h"
#include <stdlib.h>
#include <string.h>
#include "../util/mem.h"

/* Sends method path with body (a jansson value serialised compactly). */
static lp_err send_json(struct lp_kube_client *c, const char *method, const char *path,
                        const char *ctype, const json_t *body, lp_kube_done_cb cb, void *arg)
{
	struct lp_kube_req req = {0};
	char *text = NULL;
	lp_err err;

	if (body) {
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!text)
			return LP_ERR_NOMEM;
	}
	req.method = method;
	req.path = path;
	req.content_type = ctype;
	req.body = text;
	req.body_len = text ? strlen(text) : 0;
	err = lp_kube_call_start(c, &req, cb, arg, NULL);
	free(text);
	return err;
}

lp_err lp_kube_apply(struct lp_kube_client *c, const struct lp_kube_gvr *gvr, const char *ns,
                     const json_t *obj, lp_kube_done_cb cb, void *arg)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ons = json_string_value(json_object_get(md, "namespace"));
	struct lp_buf path;
	lp_err err;

	if (!json_is_object(obj) || !name || !*name ||
	    !json_string_value(json_object_get(obj, "apiVersion")) ||
	    !json_string_value(json_object_get(obj, "kind")))
		return LP_ERR_INVALID;
	if (gvr->namespaced && (!ns || !*ns || !ons || strcmp(ns, ons) != 0))
		return LP_ERR_INVALID;
	lp_buf_init(&path, 8192);
	err = lp_kube_path(&path, gvr, gvr->namespaced ? ns : NULL, name, NULL);
	if (!err)
		err = lp_buf_adds(&path, "?fieldManager=" LP_KUBE_FIELD_MANAGER "&force=true");
	if (!err)
		err = send_json(c, "PATCH", lp_buf_str(&path), "application/apply-patch+yaml", obj,
		                cb, arg);
	lp_buf_free(&path);
	return err;
}

lp_err lp_kube_delete(struct lp_kube_client *c, const struct lp_kube_gvr *gvr, const char *ns,
                      const char *name, const char *rv, lp_kube_done_cb cb, void *arg)
{
	struct lp_buf path;
	json_t *body = json_pack("{s:s}", "propagationPolicy", "Background");
	lp_err err;

	if (!body)
		return LP_ERR_NOMEM;
	if (rv &&
	    json_object_set_new(body, "preconditions", json_pack("{s:s}", "resourceVersion", rv))) {
		json_decref(body);
		return LP_ERR_NOMEM;
	}
	lp_buf_init(&path, 8192);
	err = lp_kube_path(&path, gvr, ns, name ? name : "", NULL);
	if (!err)
		err = send_json(c, "DELETE", lp_buf_str(&path), "application/json", body, cb, arg);
	lp_buf_free(&path);
	json_decref(body);
	return err;
}

lp_err lp_kube_status_patch(struct lp_kube_client *c, const struct lp_kube_gvr *gvr, const char *ns,
                            const char *name, const json_t *status, lp_kube_done_cb cb, void *arg)
{
	struct lp_buf path;
	json_t *body;
	lp_err err;

	if (!json_is_object(status))
		return LP_ERR_INVALID;
	body = json_pack("{s:O}", "status", (json_t *)status);
	if (!body)
		return LP_ERR_NOMEM;
	lp_buf_init(&path, 8192);
	err = lp_kube_path(&path, gvr, ns, name ? name : "", "status");
	if (!err)
		err = send_json(c, "PATCH", lp_buf_str(&path), "application/merge-patch+json", body,
		                cb, arg);
	lp_buf_free(&path);
	json_decref(body);
	return err;
}

lp_err lp_kube_status_put(struct lp_kube_client *c, const struct lp_kube_gvr *gvr, const char *ns,
                          const char *name, const json_t *obj, lp_kube_done_cb cb, void *arg)
{
	struct lp_buf path;
	lp_err err;

	if (!json_is_object(obj))
		return LP_ERR_INVALID;
	lp_buf_init(&path, 8192);
	err = lp_kube_path(&path, gvr, ns, name ? name : "", "status");
	if (!err)
		err = send_json(c, "PUT", lp_buf_str(&path), "application/json", obj, cb, arg);
	lp_buf_free(&path);
	return err;
}

/* ---- conditions ---- */

static json_t *find_type(const json_t *arr, const char *type)
{
	size_t i;
	json_t *c;

	if (!json_is_array(arr) || !type)
		return NULL;
	json_array_foreach(arr, i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static int by_type(const void *a, const void *b)
{
	const char *ta = json_string_value(json_object_get(*(json_t *const *)a, "type"));
	const char *tb = json_string_value(json_object_get(*(json_t *const *)b, "type"));

	return strcmp(ta ? ta : "", tb ? tb : "");
}

json_t *lp_kube_conditions_merge(const json_t *prev, const json_t *next, const char *now)
{
	size_t n, i;
	json_t **v = NULL, *out = NULL, *c;

	if (!json_is_array(next) || !now)
		return NULL;
	n = json_array_size(next);
	v = lp_calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return NULL;
	json_array_foreach(next, i, c)
	{
		const char *type = json_string_value(json_object_get(c, "type"));
		json_t *old = find_type(prev, type);
		const char *ltt = json_string_value(json_object_get(old, "lastTransitionTime"));
		int same =
		    old && json_equal(json_object_get(old, "status"), json_object_get(c, "status"));
		v[i] = json_deep_copy(c);
		if (!v[i] || json_object_set_new(v[i], "lastTransitionTime",
		                                 json_string(same && ltt ? ltt : now)))
			goto out;
	}
	qsort(v, n, sizeof(*v), by_type);
	out = json_array();
	for (i = 0; out && i < n; i++) {
		if (json_array_append(out, v[i])) {
			json_decref(out);
			out = NULL;
		}
	}
out:
	for (i = 0; i < n; i++)
		json_decref(v[i]);
	lp_free(v);
	return out;
}

static int cond_same(const json_t *a, const json_t *b)
{
	static const char *const keys[] = {"status", "reason", "message", "observedGeneration"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
		if ((x || y) && (!x || !y || !json_equal(x, y)))
			return 0;
	}
	return 1;
}

int lp_kube_conditions_equal(const json_t *a, const json_t *b)
{
	size_t i;
	json_t *c;

	if (json_array_size(a) != json_array_size(b))
		return 0;
	json_array_foreach(a, i, c)
	{
		json_t *o = find_type(b, json_string_value(json_object_get(c, "type")));
		if (!o || !cond_same(c, o))
			return 0;
	}
	return 1;
}

json_t *lp_kube_condition_new(const char *type, int status, const char *reason, const char *message)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "type", type ? type : "", "status",
	                 status > 0    ? "True"
	                 : status == 0 ? "False"
	                               : "Unknown",
	                 "reason", reason ? reason : "", "message", message ? message : "");
}

/* ---- finalizers ---- */

struct deferred {
	lp_kube_done_cb cb;
	void *arg;
};

static int64_t on_deferred(struct lp_loop *loop, void *arg)
{
	struct deferred *d = arg;
	struct lp_kube_resp r;

	(void)loop;
	memset(&r, 0, sizeof(r));
	lp_buf_init(&r.body, 0);
	r.reason = "";
	r.message = "";
	if (d->cb)
		d->cb(d->arg, &r);
	lp_free(d);
	return -1;
}

/* Completes with LP_OK from the loop, without a request. */
static lp_err complete_later(struct lp_kube_client *c, lp_kube_done_cb cb, void *arg)
{
	struct deferred *d = lp_calloc(1, sizeof(*d));
	lp_err err;

	if (!d)
		return LP_ERR_NOMEM;
	d->cb = cb;
	d->arg = arg;
	err = lp_loop_timer_add(lp_kube_client_loop(c), 0, on_deferred, d, NULL);
	if (err)
		lp_free(d);
	return err;
}

static long finalizer_index(const json_t *finalizers, const char *f)
{
	size_t i;
	json_t *v;

	json_array_foreach(finalizers, i, v)
	{
		const char *s = json_string_value(v);
		if (s && strcmp(s, f) == 0)
			return (long)i;
	}
	return -1;
}

static lp_err json_patch(struct lp_kube_client *c, const struct lp_kube_gvr *gvr, const char *ns,
                         const char *name, json_t *ops, lp_kube_done_cb cb, void *arg)
{
	struct lp_buf path;
	lp_err err;

	lp_buf_init(&path, 8192);
	err = lp_kube_path(&path, gvr, ns, name ? name : "", NULL);
	if (!err)
		err = send_json(c, "PATCH", lp_buf_str(&path), "application/json-patch+json", ops,
		                cb, arg);
	lp_buf_free(&path);
	return err;
}

static lp_err add_rv_test(json_t *ops, const char *rv)
{
	if (!rv)
		return LP_OK;
	return json_array_append_new(ops, json_pack("{s:s, s:s, s:s}", "op", "test", "path",
	                                            "/metadata/resourceVersion", "value", rv))
	           ? LP_ERR_NOMEM
	           : LP_OK;
}

lp_err lp_kube_finalizer_add(struct lp_kube_client *c, const struct lp_kube_gvr *gvr,
                             const char *ns, const char *name, const json_t *finalizers,
                             const char *rv, const char *finalizer, lp_kube_done_cb cb, void *arg)
{
	json_t *ops;
	lp_err err;

	if (!finalizer || !*finalizer)
		return LP_ERR_INVALID;
	if (finalizer_index(finalizers, finalizer) >= 0)
		return complete_later(c, cb, arg);
	ops = json_array();
	if (!ops)
		return LP_ERR_NOMEM;
	err = add_rv_test(ops, rv);
	if (!err && json_array_size(finalizers) == 0)
		err = json_array_append_new(ops,
		                            json_pack("{s:s, s:s, s:[s]}", "op", "add", "path",
		                                      "/metadata/finalizers", "value", finalizer))
		          ? LP_ERR_NOMEM
		          : LP_OK;
	else if (!err)
		err = json_array_append_new(ops,
		                            json_pack("{s:s, s:s, s:s}", "op", "add", "path",
		                                      "/metadata/finalizers/-", "value", finalizer))
		          ? LP_ERR_NOMEM
		          : LP_OK;
	if (!err)
		err = json_patch(c, gvr, ns, name, ops, cb, arg);
	json_decref(ops);
	return err;
}

lp_err lp_kube_finalizer_remove(struct lp_kube_client *c, const struct lp_kube_gvr *gvr,
                                const char *ns, const char *name, const json_t *finalizers,
                                const char *rv, const char *finalizer, lp_kube_done_cb cb,
                                void *arg)
{
	long i = finalizer ? finalizer_index(finalizers, finalizer) : -1;
	char p[64];
	json_t *ops;
	lp_err err;

	if (!finalizer || !*finalizer)
		return LP_ERR_INVALID;
	if (i < 0)
		return complete_later(c, cb, arg);
	snprintf(p, sizeof(p), "/metadata/finalizers/%ld", i);
	ops = json_array();
	if (!ops)
		return LP_ERR_NOMEM;
	err = add_rv_test(ops, rv);
	if (!err && json_array_append_new(ops, json_pack("{s:s, s:s, s:s}", "op", "test", "path", p,
	                                                 "value", finalizer)))
		err = LP_ERR_NOMEM;
	if (!err && json_array_append_new(ops, json_pack("{s:s, s:s}", "op", "remove", "path", p)))
		err = LP_ERR_NOMEM;
	if (!err)
		err = json_patch(c, gvr, ns, name, ops, cb, arg);
	json_decref(ops);
	return err;
}
