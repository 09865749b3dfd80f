/* pkg/kube/informer: list + watch one collection into a cache keyed by
 * "namespace/name" (or "name" for cluster-scoped objects).
 *
 * List pages (limit + continue), then a watch from the list's resourceVersion
 * with allowWatchBookmarks=true and timeoutSeconds. After a drop or the server's
 * timeout the watch resumes from the last resourceVersion seen (object or
 * BOOKMARK). On 410 (HTTP or an ERROR event) it relists: objects that vanished
 * get on_delete, objects whose resourceVersion did not change get nothing.
 * resourceVersion is opaque (compared with strcmp only). Failed lists/watches
 * are retried with backoff (500 ms .. 30 s).
 *
 * The cache keeps, per object, its key, resourceVersion and whatever the
 * owner's transform returns: never the JSON tree. Threading: loop thread only.
 * The ops may start requests and create or free OTHER informers; an informer
 * must not be freed from inside its own ops. */
#ifndef LP_KUBE_INFORMER_H
#define LP_KUBE_INFORMER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"
#include "client.h"

struct lp_kube_informer;

struct lp_kube_informer_ops {
	/* Builds what the cache keeps for obj (borrowed, only during the call).
	 * Return NULL to keep nothing but key and resourceVersion (allowed), and
	 * set *err non-zero to skip the object (logged by the owner). Optional. */
	void *(*transform)(void *arg, const char *key, json_t *obj, lp_err *err);
	/* Frees a kept thing (never called with NULL). Optional. */
	void (*free_kept)(void *arg, void *kept);
	/* An object appeared or changed (resourceVersion differs from the cached
	 * one). obj is borrowed for the call only; kept is the new kept thing (owned
	 * by the cache); old_kept is the previous one or NULL (freed after the call).
	 * Optional. */
	void (*on_upsert)(void *arg, const char *key, json_t *obj, void *kept, void *old_kept);
	/* An object went away (DELETED event or gone at relist). kept is freed after
	 * the call. Optional. */
	void (*on_delete)(void *arg, const char *key, void *kept);
	/* A full list was applied to the cache (first sync and every relist).
	 * Optional. */
	void (*on_synced)(void *arg);
};

struct lp_kube_informer_opts {
	const char *path;           /* collection path, e.g. from lp_kube_path(); copied */
	const char *label_selector; /* optional; copied */
	const char *field_selector; /* optional; copied */
	int page_limit;             /* list page size; 0 = 500 */
	int timeout_seconds;        /* watch timeoutSeconds; 0 = 300 */
};

struct lp_kube_informer_stats {
	uint64_t lists;          /* full lists done (1 + relists) */
	uint64_t pages;          /* list pages fetched */
	uint64_t watches;        /* watch requests started */
	uint64_t watch_restarts; /* watches resumed after a drop or timeout */
	uint64_t relists;        /* relists after 410 or a failed resume */
	uint64_t events;         /* watch events received (incl. bookmarks) */
	uint64_t bookmarks;
	uint64_t errors; /* failed lists/watches */
};

/* New stopped informer in *out. client borrowed (must outlive it); ops copied;
 * arg passed to every op. */
LP_WUR lp_err lp_kube_informer_new(struct lp_kube_informer **out, struct lp_kube_client *client,
                                   const struct lp_kube_informer_opts *opts,
                                   const struct lp_kube_informer_ops *ops, void *arg);
/* Starts listing (asynchronously, on the client's loop). */
LP_WUR lp_err lp_kube_informer_start(struct lp_kube_informer *inf);
/* Stops (cancels the list/watch; no op is called afterwards) and frees the cache
 * (free_kept for each). NULL-safe. Not from inside one of its own ops. */
void lp_kube_informer_free(struct lp_kube_informer *inf);

/* 1 once the first full list has been applied. */
int lp_kube_informer_synced(const struct lp_kube_informer *inf);
/* Number of cached objects. */
size_t lp_kube_informer_count(const struct lp_kube_informer *inf);
/* 1 if key is cached; *kept (optional) gets the kept thing (borrowed, may be
 * NULL). */
int lp_kube_informer_get(const struct lp_kube_informer *inf, const char *key, void **kept);
/* resourceVersion cached for key (borrowed) or NULL. */
const char *lp_kube_informer_rv(const struct lp_kube_informer *inf, const char *key);
/* Calls fn for each cached object in no particular order; fn must not modify
 * the informer. A non-zero return stops the iteration. */
void lp_kube_informer_foreach(const struct lp_kube_informer *inf,
                              int (*fn)(void *arg, const char *key, void *kept), void *arg);
const struct lp_kube_informer_stats *lp_kube_informer_stats(const struct lp_kube_informer *inf);
/* Last resourceVersion seen (list, event or bookmark), borrowed, or NULL. */
const char *lp_kube_informer_last_rv(const struct lp_kube_informer *inf);

/* ---- the watch-stream line splitter (exposed for unit tests) ---- */

/* Splits a byte stream into lines ending with "\n" (a trailing "\r" is dropped),
 * whatever the chunking. Lines longer than max are an error. */
/* Processes len bytes of a watch response body as if they had just arrived
 * (line framing, event parsing, cache updates and callbacks), whatever the
 * informer's state. The seam the watch-stream fuzzer and tests drive; the
 * informer itself feeds its watch this way. Returns the first line's error
 * (LP_ERR_PARSE for a malformed event, LP_ERR_GONE for an ERROR event,
 * LP_ERR_TOO_LARGE for an oversized line). */
LP_WUR lp_err lp_kube_informer_feed_watch(struct lp_kube_informer *inf, const char *data,
                                          size_t len);

struct lp_kube_lines {
	struct lp_buf pending;
	size_t max;
};
void lp_kube_lines_init(struct lp_kube_lines *l, size_t max);
void lp_kube_lines_free(struct lp_kube_lines *l);
/* Feeds data; calls fn(arg, line, len) for each complete non-empty line (line
 * is NUL-terminated, borrowed). Stops and returns fn's non-zero return, or
 * LP_ERR_TOO_LARGE / LP_ERR_NOMEM. */
LP_WUR lp_err lp_kube_lines_feed(struct lp_kube_lines *l, const char *data, size_t len,
                                 lp_err (*fn)(void *arg, const char *line, size_t len), void *arg);

#endif
