#include "informer.h"
#include <string.h>
#include "../util/htab.h"
#include "../util/mem.h"
#include "gvr.h"

#define INF_MAX_LINE        ((size_t)32 * 1024 * 1024)
#define INF_BACKOFF_BASE_MS 500u
#define INF_BACKOFF_CAP_MS  30000u
#define INF_QUICK_END_MS    1000u /* a watch ending sooner, without events, backs off */

struct entry { /* one allocation with the key inline: memory matters at 10k+ objects */
	struct lp_htab_node hl; /* in the cache table */
	char *rv;
	void *kept;
	uint32_t mark;
	char key[]; /* "namespace/name" */
};

enum inf_state { INF_STOPPED = 0, INF_LISTING, INF_WATCHING, INF_WAITING };

struct lp_kube_informer {
	struct lp_kube_client *client;
	struct lp_kube_informer_ops ops;
	void *arg;
	char *path;
	char *label_selector;
	char *field_selector;
	int page_limit;
	int timeout_seconds;

	struct lp_htab cache; /* of struct entry */

	enum inf_state state;
	struct lp_kube_call *call;
	struct lp_loop_timer *timer;
	char *last_rv;
	char *list_rv;
	char *cont;
	uint32_t mark;
	int synced;
	unsigned failures;
	uint32_t rng;

	/* current watch */
	struct lp_kube_lines lines;
	int watch_gone; /* ERROR event with code 410 */
	int watch_bad;  /* a line we could not use */
	uint64_t watch_events;
	uint64_t watch_start_ms;

	struct lp_kube_informer_stats stats;
};

/* ---- the line splitter ---- */

void lp_kube_lines_init(struct lp_kube_lines *l, size_t max)
{
	lp_buf_init(&l->pending, max ? max : INF_MAX_LINE);
	l->max = max ? max : INF_MAX_LINE;
}

void lp_kube_lines_free(struct lp_kube_lines *l)
{
	lp_buf_free(&l->pending);
}

static lp_err emit_line(char *s, size_t n, lp_err (*fn)(void *, const char *, size_t), void *arg)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n == 0)
		return LP_OK;
	s[n] = '\0';
	return fn(arg, s, n);
}

lp_err lp_kube_lines_feed(struct lp_kube_lines *l, const char *data, size_t len,
                          lp_err (*fn)(void *arg, const char *line, size_t len), void *arg)
{
	lp_err err;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (l->pending.len + take > l->max) {
			lp_buf_free(&l->pending);
			return LP_ERR_TOO_LARGE;
		}
		if (!nl)
			return lp_buf_add(&l->pending, data, take);
		/* copy even a whole line: the callback gets it NUL-terminated */
		err = lp_buf_add(&l->pending, data, take);
		if (err)
			return err;
		err = emit_line(l->pending.ptr, l->pending.len, fn, arg);
		if (l->pending.cap > 64 * 1024)
			lp_buf_free(&l->pending); /* do not keep a big event's memory */
		else
			lp_buf_reset(&l->pending);
		if (err)
			return err;
		data += take + 1;
		len -= take + 1;
	}
	return LP_OK;
}

/* ---- cache ---- */

#define ENT(n) LP_HTAB_ENTRY(n, struct entry, hl)

static const char *entry_key(const struct lp_htab_node *n)
{
	return LP_HTAB_ENTRY(n, const struct entry, hl)->key;
}

static void free_kept(struct lp_kube_informer *inf, void *kept)
{
	if (kept && inf->ops.free_kept)
		inf->ops.free_kept(inf->arg, kept);
}

static void entry_free(struct lp_kube_informer *inf, struct entry *e)
{
	free_kept(inf, e->kept);
	lp_free(e->rv);
	lp_free(e);
}

/* Unlinks the entry at *slot, tells the owner, frees it. */
static void remove_at(struct lp_kube_informer *inf, struct lp_htab_node **slot)
{
	struct entry *e = ENT(*slot);

	lp_htab_unlink(&inf->cache, slot);
	if (inf->ops.on_delete)
		inf->ops.on_delete(inf->arg, e->key, e->kept);
	entry_free(inf, e);
}

static char *obj_key(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	struct lp_buf b;

	if (!name || !*name)
		return NULL;
	lp_buf_init(&b, 4096);
	if (ns && *ns ? lp_buf_addf(&b, "%s/%s", ns, name) : lp_buf_adds(&b, name))
		return NULL;
	return lp_buf_take(&b);
}

static const char *obj_rv(json_t *obj)
{
	const char *rv =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	return rv ? rv : "";
}

static lp_err set_str(char **dst, const char *s)
{
	char *d = lp_strdup(s);

	if (!d)
		return LP_ERR_NOMEM;
	lp_free(*dst);
	*dst = d;
	return LP_OK;
}

/* Applies an ADDED/MODIFIED object (or a list item). */
static lp_err upsert(struct lp_kube_informer *inf, json_t *obj)
{
	char *key = obj_key(obj);
	const char *rv = obj_rv(obj);
	struct lp_htab_node **slot;
	struct entry *e;
	void *kept = NULL, *old;
	char *nrv = NULL;
	lp_err terr = LP_OK, err = LP_OK;

	if (!key)
		return LP_ERR_PARSE;
	slot = lp_htab_slot(&inf->cache, key);
	e = slot && *slot ? ENT(*slot) : NULL;
	if (e && strcmp(e->rv, rv) == 0) {
		e->mark = inf->mark;
		goto out;
	}
	if (inf->ops.transform)
		kept = inf->ops.transform(inf->arg, key, obj, &terr);
	if (terr) {
		free_kept(inf, kept);
		if (e)
			remove_at(inf, slot); /* it changed into something the owner rejects */
		goto out;
	}
	nrv = lp_strdup(rv);
	if (!nrv) {
		err = LP_ERR_NOMEM;
		goto fail;
	}
	if (!e) {
		err = lp_htab_reserve(&inf->cache);
		if (err)
			goto fail;
		e = lp_calloc(1, sizeof(*e) + strlen(key) + 1);
		if (!e) {
			err = LP_ERR_NOMEM;
			goto fail;
		}
		memcpy(e->key, key, strlen(key) + 1);
		lp_htab_insert(&inf->cache, &e->hl);
	}
	lp_free(e->rv);
	e->rv = nrv;
	nrv = NULL;
	old = e->kept;
	e->kept = kept;
	kept = NULL;
	e->mark = inf->mark;
	if (inf->ops.on_upsert)
		inf->ops.on_upsert(inf->arg, e->key, obj, e->kept, old);
	free_kept(inf, old);
	goto out;
fail:
	free_kept(inf, kept);
out:
	lp_free(nrv);
	lp_free(key);
	return err;
}

static lp_err delete_obj(struct lp_kube_informer *inf, json_t *obj)
{
	char *key = obj_key(obj);
	struct lp_htab_node **slot;

	if (!key)
		return LP_ERR_PARSE;
	slot = lp_htab_slot(&inf->cache, key);
	if (slot && *slot)
		remove_at(inf, slot);
	lp_free(key);
	return LP_OK;
}

/* ---- list / watch ---- */

static void schedule(struct lp_kube_informer *inf, uint64_t delay_ms,
                     int64_t (*fn)(struct lp_loop *, void *));
static void start_list(struct lp_kube_informer *inf);
static void start_watch(struct lp_kube_informer *inf);

static uint64_t next_backoff(struct lp_kube_informer *inf)
{
	uint32_t x = inf->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	inf->rng = x ? x : 1;
	if (inf->failures < 30)
		inf->failures++;
	return lp_kube_backoff_ms((int)inf->failures, INF_BACKOFF_BASE_MS, INF_BACKOFF_CAP_MS, -1,
	                          inf->rng);
}

static lp_err add_query(struct lp_buf *b, int *first, const char *k, const char *v)
{
	lp_err err = lp_buf_addf(b, "%c%s=", *first ? '?' : '&', k);

	*first = 0;
	return err ? err : lp_kube_escape(b, v);
}

static lp_err build_url(struct lp_kube_informer *inf, struct lp_buf *b, int watch)
{
	int first = strchr(inf->path, '?') == NULL;
	char num[32];
	lp_err err = lp_buf_adds(b, inf->path);

	if (!err && inf->label_selector)
		err = add_query(b, &first, "labelSelector", inf->label_selector);
	if (!err && inf->field_selector)
		err = add_query(b, &first, "fieldSelector", inf->field_selector);
	if (err)
		return err;
	if (!watch) {
		snprintf(num, sizeof(num), "%d", inf->page_limit);
		err = add_query(b, &first, "limit", num);
		if (!err && inf->cont)
			err = add_query(b, &first, "continue", inf->cont);
		return err;
	}
	snprintf(num, sizeof(num), "%d", inf->timeout_seconds);
	err = add_query(b, &first, "watch", "true");
	if (!err)
		err = add_query(b, &first, "allowWatchBookmarks", "true");
	if (!err)
		err = add_query(b, &first, "timeoutSeconds", num);
	if (!err && inf->last_rv)
		err = add_query(b, &first, "resourceVersion", inf->last_rv);
	return err;
}

static int64_t on_list_timer(struct lp_loop *loop, void *arg)
{
	struct lp_kube_informer *inf = arg;

	(void)loop;
	inf->timer = NULL;
	start_list(inf);
	return -1;
}

static int64_t on_watch_timer(struct lp_loop *loop, void *arg)
{
	struct lp_kube_informer *inf = arg;

	(void)loop;
	inf->timer = NULL;
	start_watch(inf);
	return -1;
}

static void schedule(struct lp_kube_informer *inf, uint64_t delay_ms,
                     int64_t (*fn)(struct lp_loop *, void *))
{
	struct lp_loop *loop = lp_kube_client_loop(inf->client);

	inf->state = INF_WAITING;
	lp_loop_timer_del(loop, inf->timer);
	inf->timer = NULL;
	if (lp_loop_timer_add(loop, (int64_t)delay_ms, fn, inf, &inf->timer) != LP_OK)
		inf->state = INF_STOPPED; /* no memory for a timer: nothing more we can do */
}

static void list_failed(struct lp_kube_informer *inf)
{
	inf->stats.errors++;
	lp_free(inf->cont);
	inf->cont = NULL;
	schedule(inf, next_backoff(inf), on_list_timer);
}

/* The whole list is in: drop what it did not contain, then watch. */
static void list_finished(struct lp_kube_informer *inf)
{
	for (size_t i = 0; i < inf->cache.nb; i++) {
		struct lp_htab_node **slot = &inf->cache.b[i];
		while (*slot) {
			if (ENT(*slot)->mark != inf->mark)
				remove_at(inf, slot);
			else
				slot = &(*slot)->next;
		}
	}
	lp_free(inf->last_rv);
	inf->last_rv = inf->list_rv;
	inf->list_rv = NULL;
	inf->failures = 0;
	inf->synced = 1;
	inf->stats.lists++;
	if (inf->ops.on_synced)
		inf->ops.on_synced(inf->arg);
	start_watch(inf);
}

static void on_page(void *arg, struct lp_kube_resp *r)
{
	struct lp_kube_informer *inf = arg;
	json_t *root = NULL, *items, *item, *md;
	const char *cont, *rv;
	size_t i;
	int more;

	inf->call = NULL;
	if (r->err) {
		list_failed(inf);
		return;
	}
	root = json_loadb(lp_buf_str(&r->body), r->body.len, 0, NULL);
	items = json_object_get(root, "items");
	md = json_object_get(root, "metadata");
	rv = json_string_value(json_object_get(md, "resourceVersion"));
	if (!json_is_array(items) && !json_is_null(items) && items) {
		json_decref(root);
		list_failed(inf);
		return;
	}
	if (!root || !rv) {
		json_decref(root);
		list_failed(inf);
		return;
	}
	inf->stats.pages++;
	json_array_foreach(items, i, item)
	{
		if (upsert(inf, item) == LP_ERR_NOMEM) {
			json_decref(root);
			list_failed(inf);
			return;
		}
	}
	cont = json_string_value(json_object_get(md, "continue"));
	if (set_str(&inf->list_rv, rv) != LP_OK ||
	    (cont && *cont && set_str(&inf->cont, cont) != LP_OK)) {
		json_decref(root);
		list_failed(inf);
		return;
	}
	more = cont && *cont;
	json_decref(root); /* cont is gone with it */
	if (more) {
		start_list(inf); /* next page */
		return;
	}
	lp_free(inf->cont);
	inf->cont = NULL;
	list_finished(inf);
}

static void start_list(struct lp_kube_informer *inf)
{
	struct lp_buf url;
	struct lp_kube_req req = {0};

	lp_buf_init(&url, 64 * 1024);
	if (!inf->cont)
		inf->mark++; /* a new full list */
	inf->state = INF_LISTING;
	if (build_url(inf, &url, 0) != LP_OK) {
		list_failed(inf);
		return;
	}
	req.method = "GET";
	req.verb = "LIST";
	req.path = lp_buf_str(&url);
	req.timeout_ms = 60000;
	if (lp_kube_call_start(inf->client, &req, on_page, inf, &inf->call) != LP_OK)
		list_failed(inf);
	lp_buf_free(&url);
}

static void relist(struct lp_kube_informer *inf, uint64_t delay_ms)
{
	inf->stats.relists++;
	lp_free(inf->cont);
	inf->cont = NULL;
	if (delay_ms)
		schedule(inf, delay_ms, on_list_timer);
	else
		start_list(inf);
}

static lp_err on_line(void *arg, const char *line, size_t len)
{
	struct lp_kube_informer *inf = arg;
	json_t *ev = json_loadb(line, len, 0, NULL);
	json_t *obj = json_object_get(ev, "object");
	const char *type = json_string_value(json_object_get(ev, "type"));
	lp_err err = LP_OK;

	inf->stats.events++;
	inf->watch_events++;
	if (!type || !json_is_object(obj)) {
		inf->watch_bad = 1;
		err = LP_ERR_PARSE;
	} else if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *reason = json_string_value(json_object_get(obj, "reason"));
		if (code == 410 ||
		    (reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone"))))
			inf->watch_gone = 1;
		err = LP_ERR_GONE; /* any ERROR ends this watch */
	} else if (strcmp(type, "BOOKMARK") == 0) {
		inf->stats.bookmarks++;
		err = set_str(&inf->last_rv, obj_rv(obj));
	} else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		err = upsert(inf, obj);
		if (!err)
			err = set_str(&inf->last_rv, obj_rv(obj));
	} else if (strcmp(type, "DELETED") == 0) {
		err = delete_obj(inf, obj);
		if (!err)
			err = set_str(&inf->last_rv, obj_rv(obj));
	}
	if (err == LP_ERR_PARSE)
		inf->watch_bad = 1;
	json_decref(ev);
	if (!err)
		inf->failures = 0;
	return err;
}

static int on_watch_data(void *arg, const char *data, size_t len)
{
	struct lp_kube_informer *inf = arg;

	return lp_kube_lines_feed(&inf->lines, data, len, on_line, inf) != LP_OK;
}

static void on_watch_done(void *arg, struct lp_kube_resp *r)
{
	struct lp_kube_informer *inf = arg;
	uint64_t now = lp_loop_now_ms(lp_kube_client_loop(inf->client));
	int quick = inf->watch_events == 0 && now - inf->watch_start_ms < INF_QUICK_END_MS;

	inf->call = NULL;
	lp_kube_lines_free(&inf->lines);
	if (inf->watch_gone || r->err == LP_ERR_GONE) {
		relist(inf, 0);
		return;
	}
	if (inf->watch_bad) {
		inf->stats.errors++;
		relist(inf, next_backoff(inf));
		return;
	}
	inf->stats.watch_restarts++;
	if (r->err && r->err != LP_ERR_IO && r->err != LP_ERR_HTTP && r->err != LP_ERR_TIMEOUT)
		inf->stats.errors++;
	if (r->err || quick)
		schedule(inf, next_backoff(inf), on_watch_timer);
	else
		start_watch(inf);
}

static void start_watch(struct lp_kube_informer *inf)
{
	struct lp_buf url;
	struct lp_kube_req req = {0};

	lp_buf_init(&url, 64 * 1024);
	inf->state = INF_WATCHING;
	inf->watch_gone = 0;
	inf->watch_bad = 0;
	inf->watch_events = 0;
	inf->watch_start_ms = lp_loop_now_ms(lp_kube_client_loop(inf->client));
	lp_kube_lines_free(&inf->lines);
	lp_kube_lines_init(&inf->lines, INF_MAX_LINE);
	if (build_url(inf, &url, 1) != LP_OK) {
		schedule(inf, next_backoff(inf), on_watch_timer);
		return;
	}
	req.method = "GET";
	req.verb = "WATCH";
	req.path = lp_buf_str(&url);
	req.on_data = on_watch_data;
	req.max_attempts = 1;
	req.timeout_ms = ((long)inf->timeout_seconds + 30) * 1000L;
	inf->stats.watches++;
	if (lp_kube_call_start(inf->client, &req, on_watch_done, inf, &inf->call) != LP_OK) {
		inf->stats.errors++;
		schedule(inf, next_backoff(inf), on_watch_timer);
	}
	lp_buf_free(&url);
}

/* ---- public ---- */

lp_err lp_kube_informer_new(struct lp_kube_informer **out, struct lp_kube_client *client,
                            const struct lp_kube_informer_opts *opts,
                            const struct lp_kube_informer_ops *ops, void *arg)
{
	struct lp_kube_informer *inf;

	if (!client || !opts || !opts->path || opts->path[0] != '/')
		return LP_ERR_INVALID;
	inf = lp_calloc(1, sizeof(*inf));
	if (!inf)
		return LP_ERR_NOMEM;
	lp_htab_init(&inf->cache, entry_key);
	inf->client = client;
	if (ops)
		inf->ops = *ops;
	inf->arg = arg;
	inf->page_limit = opts->page_limit > 0 ? opts->page_limit : 500;
	inf->timeout_seconds = opts->timeout_seconds > 0 ? opts->timeout_seconds : 300;
	inf->rng = (uint32_t)lp_clock_mono_ns() | 1u;
	inf->path = lp_strdup(opts->path);
	inf->label_selector = lp_strdup(opts->label_selector);
	inf->field_selector = lp_strdup(opts->field_selector);
	lp_kube_lines_init(&inf->lines, INF_MAX_LINE);
	if (!inf->path || (opts->label_selector && !inf->label_selector) ||
	    (opts->field_selector && !inf->field_selector) ||
	    lp_htab_reserve(&inf->cache) != LP_OK) {
		lp_kube_informer_free(inf);
		return LP_ERR_NOMEM;
	}
	*out = inf;
	return LP_OK;
}

lp_err lp_kube_informer_feed_watch(struct lp_kube_informer *inf, const char *data, size_t len)
{
	return lp_kube_lines_feed(&inf->lines, data, len, on_line, inf);
}

lp_err lp_kube_informer_start(struct lp_kube_informer *inf)
{
	if (inf->state != INF_STOPPED)
		return LP_ERR_INVALID;
	start_list(inf);
	return LP_OK;
}

void lp_kube_informer_free(struct lp_kube_informer *inf)
{
	if (!inf)
		return;
	lp_kube_call_cancel(inf->client, inf->call);
	lp_loop_timer_del(lp_kube_client_loop(inf->client), inf->timer);
	for (size_t i = 0; i < inf->cache.nb; i++) {
		struct lp_htab_node *n = inf->cache.b[i];
		while (n) {
			struct entry *e = ENT(n);
			n = n->next;
			entry_free(inf, e);
		}
	}
	lp_htab_free(&inf->cache);
	lp_kube_lines_free(&inf->lines);
	lp_free(inf->path);
	lp_free(inf->label_selector);
	lp_free(inf->field_selector);
	lp_free(inf->last_rv);
	lp_free(inf->list_rv);
	lp_free(inf->cont);
	lp_free(inf);
}

int lp_kube_informer_synced(const struct lp_kube_informer *inf)
{
	return inf->synced;
}

size_t lp_kube_informer_count(const struct lp_kube_informer *inf)
{
	return inf->cache.n;
}

int lp_kube_informer_get(const struct lp_kube_informer *inf, const char *key, void **kept)
{
	struct lp_htab_node *n = lp_htab_find(&inf->cache, key);

	if (!n)
		return 0;
	if (kept)
		*kept = ENT(n)->kept;
	return 1;
}

const char *lp_kube_informer_rv(const struct lp_kube_informer *inf, const char *key)
{
	struct lp_htab_node *n = lp_htab_find(&inf->cache, key);

	return n ? ENT(n)->rv : NULL;
}

void lp_kube_informer_foreach(const struct lp_kube_informer *inf,
                              int (*fn)(void *arg, const char *key, void *kept), void *arg)
{
	for (size_t i = 0; i < inf->cache.nb; i++)
		for (struct lp_htab_node *n = inf->cache.b[i]; n; n = n->next)
			if (fn(arg, ENT(n)->key, ENT(n)->kept))
				return;
}

const struct lp_kube_informer_stats *lp_kube_informer_stats(const struct lp_kube_informer *inf)
{
	return &inf->stats;
}

const char *lp_kube_informer_last_rv(const struct lp_kube_informer *inf)
{
	return inf->last_rv;
}
