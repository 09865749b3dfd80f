/* pkg/reconcile/ctrl_secrets.c: the Secrets outputs reference: which ones
 * an output references, the watches that cover them (one per Secret, one per
 * namespace past SECRET_WATCHES_PER_NS) and their hash index, and reading
 * their values for validation, the desired objects and fingerprints. */
#include "ctrl_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../kube/gvr.h"
#include "../util/b64.h"
#include "../util/buf.h"
#include "../util/hash.h"
#include "../util/htab.h"
#include "../util/mem.h"

/* Referenced Secrets are watched one by one (field selector metadata.name);
 * past this many in one namespace, one informer for that namespace replaces
 * them, so a namespace with hundreds of outputs does not cost hundreds of
 * watches (connections, on an API server without HTTP/2).
 * Measured (release build, kubesim over TLS/HTTP 1.1, idle, smaps_rollup):
 * 10 pipelines + 10 outputs with 10 Secrets in 10 namespaces (10 watches)
 * 4284 KiB anonymous; the same in one namespace (one watch) 3584 KiB: about
 * 78 KiB per watch. A GET of each referenced Secret on change and on resync
 * would save that but notice a rotated key only at the next resync (5 min by
 * default) instead of within a second, so watches stay. */
#define SECRET_WATCHES_PER_NS 8

/* ---------- referenced Secrets ---------- */

/* The key a Secret that did not opt in to logplane is kept under, instead of
 * its data: '!' is never in a Secret's data key, so no lookup finds a value. */
#define NOT_OPTED_IN "!not-opted-in"

static void *secret_transform(void *arg, const char *key, json_t *obj, lp_err *err)
{
	struct inf_ctx *ix = arg;
	const json_t *data = json_object_get(obj, "data");
	const json_t *meta = json_object_get(obj, "metadata");
	const char *type = json_string_value(json_object_get(obj, "type"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *optin = json_string_value(
	    json_object_get(json_object_get(meta, "labels"), LP_SECRET_OPT_IN_LABEL));
	json_t *copy;

	/* never credentials for outputs, and large: keep key and version only */
	if (type && (!strcmp(type, "helm.sh/release.v1") ||
	             !strcmp(type, "kubernetes.io/service-account-token")))
		return NULL;
	/* a tenant's Secret is read only when it opted in (the control namespace
	 * is the platform team's): otherwise not one value is kept */
	if (!(ns && ix && ix->c && !strcmp(ns, ix->c->control_ns)) &&
	    !(optin && !strcmp(optin, LP_SECRET_OPT_IN_VALUE))) {
		copy = json_pack("{s:b}", NOT_OPTED_IN, 1);
		if (!copy)
			*err = LP_ERR_NOMEM;
		return copy;
	}
	copy = json_is_object(data) ? json_deep_copy(data) : json_object();
	if (!copy)
		*err = LP_ERR_NOMEM;
	return copy;
}

static void secret_free_kept(void *arg, void *kept)
{
	json_decref(kept);
}

static void secret_upsert(void *arg, const char *key, json_t *obj, void *kept, void *old_kept)
{
	struct inf_ctx *ix = arg;
	if (!kept && !old_kept)
		return; /* a Secret a namespace-wide watch does not keep */
	if (!old_kept || !kept || !json_equal(kept, old_kept))
		ctrl_note_change(ix->c);
}

static const char *watch_key(const struct lp_htab_node *n)
{
	return LP_HTAB_ENTRY(n, const struct secret_watch, hl)->key;
}

/* The index key of ns/name (name NULL: the namespace-wide watch) into out;
 * 0 when it does not fit. */
static int secret_key(char *out, size_t size, const char *ns, const char *name)
{
	int n = snprintf(out, size, "%s/%s", ns, name ? name : "");
	return n >= 0 && (size_t)n < size;
}

/* The watch of exactly ns/name (name NULL: the namespace-wide one). A hash
 * lookup: it runs for every Secret reference of every output at each config
 * computation. */
static struct secret_watch *secret_watch_find(struct lp_ctrl *c, const char *ns, const char *name)
{
	struct lp_htab_node *n;
	char key[512];

	if (!secret_key(key, sizeof(key), ns, name))
		return NULL;
	n = lp_htab_find(&c->secret_index, key);
	return n ? LP_HTAB_ENTRY(n, struct secret_watch, hl) : NULL;
}

void ctrl_secret_watch_free(struct secret_watch *w)
{
	if (!w)
		return;
	lp_kube_informer_free(w->inf);
	lp_free(w->ns);
	lp_free(w->name);
	lp_free(w->key);
	lp_free(w);
}

/* The watch that sees ns/name: its own, else its namespace's. */
static struct secret_watch *secret_find(struct lp_ctrl *c, const char *ns, const char *name)
{
	struct secret_watch *w = secret_watch_find(c, ns, name);
	return w ? w : secret_watch_find(c, ns, NULL);
}

static const json_t *secret_data(struct lp_ctrl *c, const char *ns, const char *name)
{
	struct secret_watch *w = secret_find(c, ns, name);
	void *kept = NULL;
	char key[512];

	if (!w)
		return NULL;
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (!lp_kube_informer_get(w->inf, key, &kept))
		return NULL;
	return kept; /* NULL for a Secret a namespace-wide watch does not keep */
}

int ctrl_secret_has_key(void *ctx, const char *ns, const char *name, const char *key)
{
	const json_t *d = secret_data(ctx, ns, name);
	if (!d)
		return 0;
	return key ? json_object_get(d, key) != NULL : 1;
}

const char *ctrl_secret_value(void *ctx, const char *ns, const char *name, const char *key)
{
	return json_string_value(json_object_get(secret_data(ctx, ns, name), key));
}

int ctrl_secret_allowed(void *ctx, const char *ns, const char *name)
{
	const json_t *d = secret_data(ctx, ns, name);
	return d && !json_object_get(d, NOT_OPTED_IN);
}

char *ctrl_secret_value_new(void *ctx, const char *ns, const char *name, const char *key,
                            size_t *len)
{
	struct lp_ctrl *c = ctx;
	const char *b64 = ctrl_secret_value(ctx, ns, name, key);
	char *v = lp_b64_decode(b64, LP_SECRET_VALUE_MAX, len);

	/* no memory is not an unreadable value: the computation fails and is
	 * retried (calc_validate), instead of leaving the output out */
	if (!v && lp_b64_decodable(b64, LP_SECRET_VALUE_MAX))
		c->secret_nomem = 1;
	return v;
}

static lp_err secret_watch_start(struct lp_ctrl *c, const char *ns, const char *name)
{
	static const struct lp_kube_informer_ops ops = {
	    .transform = secret_transform,
	    .free_kept = secret_free_kept,
	    .on_upsert = secret_upsert,
	    .on_delete = ctrl_res_delete,
	    .on_synced = ctrl_any_synced,
	};
	struct lp_kube_informer_opts io = {0};
	struct secret_watch **nv, *w = NULL;
	struct lp_buf path, sel;
	char key[512];
	lp_err err;

	if (!secret_key(key, sizeof(key), ns, name))
		return LP_ERR_INVALID;
	if (!c->secret_index.key_of)
		lp_htab_init(&c->secret_index, watch_key);
	/* no memory to grow a table that has buckets: longer chains */
	if (lp_htab_reserve(&c->secret_index) != LP_OK && !c->secret_index.nb)
		return LP_ERR_NOMEM;
	nv = lp_realloc(c->secrets, (c->n_secrets + 1) * sizeof(*nv));
	if (!nv)
		return LP_ERR_NOMEM;
	c->secrets = nv;
	lp_buf_init(&path, 0);
	lp_buf_init(&sel, 0);
	err = lp_kube_path(&path, &lp_kube_gvr_secrets, ns, NULL, NULL);
	if (!err && name)
		err = lp_buf_addf(&sel, "metadata.name=%s", name);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	if (!(w = lp_calloc(1, sizeof(*w))))
		goto out;
	w->ns = lp_strdup(ns);
	w->name = name ? lp_strdup(name) : NULL;
	w->key = lp_strdup(key);
	if (!w->ns || (name && !w->name) || !w->key)
		goto out;
	io.path = lp_buf_str(&path);
	io.field_selector = name ? lp_buf_str(&sel) : NULL;
	io.page_limit = 100;
	err = lp_kube_informer_new(&w->inf, c->client, &io, &ops, &c->res_ctx[RES_OUTPUT]);
	if (err)
		goto out;
	err = lp_kube_informer_start(w->inf);
	if (err)
		goto out;
	c->secrets[c->n_secrets++] = w;
	lp_htab_insert(&c->secret_index, &w->hl);
	w = NULL;
	ctrl_logf(c, LP_LOG_DEBUG, "Secret", ns, name ? name : "*",
	          name ? "watching referenced Secret" : "watching the namespace's Secrets");
out:
	ctrl_secret_watch_free(w);
	lp_buf_free(&path);
	lp_buf_free(&sel);
	return err;
}

static void secret_watch_remove(struct lp_ctrl *c, size_t i)
{
	struct secret_watch *w = c->secrets[i];
	struct lp_htab_node **slot = lp_htab_slot(&c->secret_index, w->key);

	c->secret_restarts_gone += ctrl_restarts_of(w->inf); /* counters never go down */
	if (slot && *slot == &w->hl)
		lp_htab_unlink(&c->secret_index, slot);
	ctrl_secret_watch_free(w);
	c->secrets[i] = c->secrets[--c->n_secrets];
}

/* Calls fn for each Secret name an output references (its own namespace). */
void ctrl_output_secret_refs(const struct lp_output *o, void (*fn)(void *, const char *), void *arg)
{
	const struct lp_tls *tls = lp_output_tls(o);
	const struct lp_basic_auth *auth = lp_output_auth(o);
	const struct lp_output_type_desc *d = o ? lp_output_type_desc(o->type) : NULL;
	struct lp_output_secret s;

	if (!o)
		return;
	if (lp_output_signs_aws(o) && o->aws.credentials.secret_name)
		fn(arg, o->aws.credentials.secret_name);
	/* the type's own references (a header value, a webhook, a shared key) */
	for (size_t i = 0; d && d->secret && d->secret(o, i, &s); i++)
		if (s.name)
			fn(arg, s.name);
	if (tls && tls->ca_secret_name)
		fn(arg, tls->ca_secret_name);
	if (auth && auth->secret_name)
		fn(arg, auth->secret_name);
}

struct ref_list { /* "namespace/name" of referenced Secrets */
	struct lp_strlist l;
	size_t cap;
	const char *ns;
	lp_err err;
};

static void ref_collect(void *arg, const char *name)
{
	struct ref_list *rl = arg;
	struct lp_buf b;
	char *s;

	if (rl->err)
		return;
	if (rl->l.n == rl->cap) {
		size_t ncap = rl->cap ? rl->cap * 2 : 16;
		char **nv = lp_realloc(rl->l.v, ncap * sizeof(*nv));
		if (!nv) {
			rl->err = LP_ERR_NOMEM;
			return;
		}
		rl->l.v = nv;
		rl->cap = ncap;
	}
	lp_buf_init(&b, 0);
	if (lp_buf_addf(&b, "%s/%s", rl->ns, name) || !(s = lp_buf_take(&b))) {
		rl->err = LP_ERR_NOMEM;
		return;
	}
	rl->l.v[rl->l.n++] = s;
}

/* Marks (starting when needed) the watches that cover every Secret an
 * output references: one per Secret, or one per namespace past
 * SECRET_WATCHES_PER_NS. *unsynced counts those not synced yet. Unmarked
 * watches are for the caller to remove. */
static lp_err secret_watches_update(struct lp_ctrl *c, const struct collect *out, int *unsynced)
{
	struct ref_list rl = {{NULL, 0}, 0, NULL, LP_OK};
	size_t i, j, k, n = 0;
	lp_err err = LP_OK;

	for (i = 0; i < c->n_secrets; i++)
		c->secrets[i]->mark = 0;
	for (i = 0; i < out->n && !rl.err; i++) {
		const struct res_kept *o = out->v[i];
		if (!o->o || !o->o->meta.ns || o->deleting)
			continue;
		rl.ns = o->o->meta.ns;
		ctrl_output_secret_refs(o->o, ref_collect, &rl);
		if (lp_output_type_via_hub(o->o->type)) { /* the hub's ingest token (render.h) */
			rl.ns = c->control_ns;
			ref_collect(&rl, c->o.hub_token_secret ? c->o.hub_token_secret
			                                       : LP_RENDER_HUB_TOKEN_SECRET);
		}
	}
	err = rl.err;
	if (rl.l.n > 1)
		qsort(rl.l.v, rl.l.n, sizeof(*rl.l.v), ctrl_cmp_strp);
	for (i = 0; i < rl.l.n; i++) /* unique */
		if (n == 0 || strcmp(rl.l.v[i], rl.l.v[n - 1]) != 0)
			rl.l.v[n++] = rl.l.v[i];
		else
			lp_free(rl.l.v[i]);
	rl.l.n = n;
	for (i = 0; !err && i < n; i = j) {
		size_t nslen = strcspn(rl.l.v[i], "/");
		char ns[256];
		snprintf(ns, sizeof(ns), "%.*s", (int)nslen, rl.l.v[i]);
		for (j = i; j < n && !strncmp(rl.l.v[j], rl.l.v[i], nslen + 1); j++)
			;
		for (k = (j - i > SECRET_WATCHES_PER_NS) ? j - 1 : i; !err && k < j; k++) {
			const char *name =
			    j - i > SECRET_WATCHES_PER_NS ? NULL : rl.l.v[k] + nslen + 1;
			struct secret_watch *w = secret_watch_find(c, ns, name);
			if (!w) {
				err = secret_watch_start(c, ns, name);
				w = err ? NULL : secret_watch_find(c, ns, name);
			}
			if (w) {
				w->mark = 1;
				*unsynced += !lp_kube_informer_synced(w->inf);
			}
		}
	}
	for (i = 0; i < rl.l.n; i++)
		lp_free(rl.l.v[i]);
	lp_free(rl.l.v);
	return err;
}

void ctrl_ref_fingerprint(void *arg, const char *name)
{
	struct ref_walk *rw = arg;
	const json_t *d = secret_data(rw->c, rw->ns, name);
	char *s = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (d && !s && !rw->err)
		rw->err = LP_ERR_NOMEM; /* a fingerprint without the value would be wrong */
	rw->fp = lp_hash_str(rw->fp, name);
	rw->fp = lp_hash_str(rw->fp, s ? s : "-");
	free(s);
}

/* Watches exactly the Secrets the outputs in out reference (see
 * secret_watches_update) and drops the other watches; *unsynced (0 on entry)
 * counts the watches not synced yet. */
lp_err ctrl_secrets_sync(struct lp_ctrl *c, const struct collect *out, int *unsynced)
{
	lp_err err = secret_watches_update(c, out, unsynced);

	if (err)
		return err;
	for (size_t i = c->n_secrets; i-- > 0;)
		if (!c->secrets[i]->mark)
			secret_watch_remove(c, i);
	c->stats.secrets_watched = c->n_secrets;
	return LP_OK;
}
