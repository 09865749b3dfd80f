/* pkg/hub/alert: alerts that don't flood.
 *
 * Records of an `alert` LogOutput arrive at /ingest/... like livetail records
 * (the path says which target, see hub.h). Each is put in a group: same
 * target, pipeline (the record's "lp_pipeline", set by the renderer),
 * namespace, workload and message fingerprint (the message with every word
 * holding a digit, every long hex word and every UUID replaced by '#'). A new
 * group posts at once (count 1 or more, whatever arrived by then); after that
 * it posts at most once per window, with the count of what arrived meanwhile,
 * and closes after a window with nothing. One Slack message per post: count,
 * level, namespace, workload, pipeline, pod, the first message of the
 * period, first and last seen.
 *
 * Per target a token bucket allows maxPerMinute posts a minute, at most ten
 * seconds' worth at once (maxPerMinute / 6 rounded up, at least 1).
 * A group due while the bucket is empty keeps counting: what is over the
 * limit is folded into its next message's count. Records of new groups when
 * a target already has LP_HUB_ALERT_GROUPS groups are counted as "other" and
 * reported in that target's next message. Nothing is dropped silently: what
 * cannot be delivered (the target vanished, a 4xx other than 429, retries
 * exhausted) is counted in the stats and logged.
 *
 * Posting: libcurl on a thread of this module (one easy handle, reused), never
 * on the hub's loop. A 429 stops the target's posts for Retry-After seconds
 * (default 1, at most 3600), then the same message is sent again; a 5xx or a
 * transport error is retried after 1, 2, 4, ... 60 s, at most 6 attempts.
 *
 * Targets come from a JSON file the operator writes into a Secret the hub
 * mounts (docs/livetail.md, "Alerts"): {"targets": [{"namespace", "name",
 * "webhook", "windowSeconds", "maxPerMinute"}]}. It is read at start and
 * again when it changes (checked every second). A webhook must be https://
 * (http:// only to a loopback host); a bad target is left out and logged
 * (never its URL). */
#ifndef LP_HUB_ALERT_H
#define LP_HUB_ALERT_H
#include <stdint.h>
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "filter.h"

#define LP_HUB_ALERT_GROUPS      256  /* open groups per target */
#define LP_HUB_ALERT_TARGETS     1024 /* targets loaded; past it, equal parts per namespace */
#define LP_HUB_ALERT_MESSAGE_MAX 500  /* characters of the example message posted */

struct lp_hub_alerts;

struct lp_hub_alerts_config {
	const char *targets_file; /* required */
	const char *ca_file;      /* CA bundle for the webhooks; NULL = the system's */
	const struct lp_log *log; /* borrowed */
};

struct lp_hub_alert_stats {
	uint64_t records;         /* records grouped */
	uint64_t records_unknown; /* records for no known target (dropped, counted) */
	uint64_t records_posted;  /* records counted in delivered messages */
	uint64_t records_failed;  /* records counted in messages given up on */
	uint64_t posts;           /* messages delivered (2xx) */
	uint64_t posts_failed;    /* messages given up on */
	uint64_t retries;         /* posts sent again (429, 5xx, transport) */
	uint64_t throttled;       /* 429 answers */
	uint64_t rate_limited;    /* due posts held back by maxPerMinute */
	uint64_t targets;         /* targets loaded */
};

/* Loads the targets and starts the poster thread. *out is new on success; a
 * missing or bad file is not an error (no targets until it is fixed: logged).
 * On failure msg gets one line. */
LP_WUR lp_err lp_hub_alerts_new(struct lp_hub_alerts **out, const struct lp_hub_alerts_config *cfg,
                                struct lp_buf *msg);
/* Stops the thread (an in-flight post finishes, at most its timeout) and
 * frees. NULL-safe. */
void lp_hub_alerts_free(struct lp_hub_alerts *a);
/* One record for target ns/name (the LogOutput). f and rec are borrowed for
 * the call. Called from the hub's thread; takes a mutex, never blocks on I/O. */
void lp_hub_alerts_record(struct lp_hub_alerts *a, const char *ns, const char *name,
                          const struct lp_hub_fields *f, json_t *rec);
/* A copy of the counters. */
void lp_hub_alerts_stats(struct lp_hub_alerts *a, struct lp_hub_alert_stats *out);

/* The message fingerprint text: msg (first 4 KiB) with every word ([A-Za-z0-9_]
 * run) that holds a digit or is at least 8 hex digits replaced by '#'. Pure. */
LP_WUR lp_err lp_hub_alert_fingerprint(struct lp_buf *out, const char *msg, size_t len);
/* The workload of a record: label app.kubernetes.io/name, else app, else the
 * pod name without its generated suffixes ("api-7d9c8b6f5d-x2x4q" -> "api",
 * "db-0" -> "db"). Pure. */
LP_WUR lp_err lp_hub_alert_workload(struct lp_buf *out, const struct lp_hub_fields *f);

#endif
