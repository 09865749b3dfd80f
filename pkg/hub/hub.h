/* pkg/hub/hub: the live-tail hub on libwebsockets.
 *
 * Ingest (what the agents send for a `livetail` LogOutput):
 *   - WebSocket at /ingest/<namespace>/<name>, exactly as Fluent Bit's
 *     `websocket` output speaks it (no longer rendered, see
 *     docs/livetail.md): one upgrade (fixed key, no subprotocol, a
 *     second "Connection: keep-alive" header), then one masked text frame per
 *     flush holding a JSON array of records ({"date": <double>, ...}). The hub
 *     never writes to an ingest connection and never pings it (Fluent Bit
 *     never reads), and never closes an idle one: Fluent Bit sends the next
 *     flush on the kept-alive connection without a new handshake.
 *   - HTTP POST at the same path: what the rendered agents send (Fluent Bit's
 *     `http` output, format json: one JSON array of records with "date" per
 *     flush, answered 200 so a refused or failed flush is retried), and
 *     Fluentd's `http` output with a json <format> (JSON objects one per line).
 *   With an ingest token (lp_hub_config.ingest_token) both need
 *   "Authorization: Bearer <token>", else 401 (POST) or a refused upgrade.
 *   At /alert/<namespace>/<name> the same, for an `alert` LogOutput: those
 *   records go to the alert grouper (alert.h), not to subscribers.
 *   A record's namespace is kubernetes.namespace_name. A LogOutput outside the
 *   control namespace may only carry its own namespace's records: any other is
 *   dropped (counted as spoofed), so a tenant's transforms cannot make records
 *   appear in another tenant's stream.
 *
 * Subscribers: WebSocket at /tail. The first text message is the subscription
 * (see lp_hub_filter_parse) plus "token": the caller's bearer token, checked
 * with TokenReview + SubjectAccessReview (authz.h) before any record flows.
 * The hub answers with text messages:
 *   {"type":"subscribed","user":...,"namespace":...,"queue":N}
 *   {"type":"record","time":...,"namespace":...,"pod":...,"container":...,
 *    "level":...,"message":...,"record":{...the record as received...}}
 *   {"type":"dropped","dropped":N}   (total lost so far; sent before the next
 *                                     record once records were lost)
 *   {"type":"error","message":...}   (then the hub closes the connection)
 * Each subscriber has a bounded queue of records (shared, reference-counted
 * texts), bounded in records and in bytes: when either bound is reached the
 * oldest queued record is dropped and counted. One ingest message is fanned
 * out at once, so the queue must hold one agent flush (see the default).
 * Writing happens only when the socket is writable, so a stalled subscriber
 * costs the hub its queue and nothing else.
 *
 * HTTP: GET / (the browser page), GET /healthz, GET /metrics (Prometheus).
 *
 * Threading: everything runs on the thread calling lp_hub_run, except the
 * authorisation worker (authz.h), which wakes the loop with lws_cancel_service. */
#ifndef LP_HUB_HUB_H
#define LP_HUB_HUB_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "authz.h"

#define LP_HUB_DEFAULT_PORT 8081
/* Records per subscriber: more than one flush of one agent (a livetail output's
 * maxRecordsPerSecond is at most 10,000 per node, flushed every second). */
#define LP_HUB_DEFAULT_QUEUE       16384
#define LP_HUB_DEFAULT_QUEUE_BYTES (8u << 20) /* bytes queued per subscriber */
#define LP_HUB_DEFAULT_SUBSCRIBERS 256
#define LP_HUB_MAX_MESSAGE         (16u << 20) /* one ingest frame or body */

struct lp_hub;

struct lp_hub_config {
	const char *listen_addr;     /* interface address; NULL = every interface */
	int port;                    /* 0 = any free port (see lp_hub_port) */
	const char *control_ns;      /* where cluster-wide LogOutputs live */
	size_t queue_len;            /* 0 = LP_HUB_DEFAULT_QUEUE */
	size_t queue_bytes;          /* 0 = LP_HUB_DEFAULT_QUEUE_BYTES */
	size_t max_subscribers;      /* 0 = LP_HUB_DEFAULT_SUBSCRIBERS */
	struct lp_kube_config *kube; /* taken: for the reviews; NULL = no checks
	                                (--insecure-no-auth, local use only) */
	const char *alerts_file;     /* alert targets (alert.h); NULL = no alerts */
	const char *alerts_ca;       /* CA bundle for the webhooks; NULL = the system's */
	const char *ingest_token;    /* agents send "Authorization: Bearer <it>" to /ingest;
	                                NULL or "" = ingest open to anyone (local use) */
	const char *page;            /* the browser page (borrowed, must outlive the hub) */
	size_t page_len;
	const struct lp_log *log; /* borrowed */
};

struct lp_hub_stats {
	uint64_t records_in;      /* records received */
	uint64_t records_spoofed; /* dropped: another namespace than their tenant LogOutput's */
	uint64_t records_bad;     /* ingest messages that were not JSON records */
	uint64_t ingest_refused;  /* ingest requests without the token: 401 / upgrade refused */
	uint64_t records_out;     /* records written to subscribers */
	uint64_t records_dropped; /* records lost by slow subscribers */
	uint64_t regex_aborted;   /* regex searches cut off by the retry limit */
	uint64_t subscribers;     /* current, authorised */
	uint64_t ingest_conns;    /* current */
	uint64_t denied;          /* subscriptions refused */
	uint64_t alert_records_unrouted; /* at /alert/... with no --alerts-file */
};

/* Creates the hub and binds its port. *out is new on success; cfg->kube is
 * taken either way. On failure msg gets one line. */
LP_WUR lp_err lp_hub_new(struct lp_hub **out, const struct lp_hub_config *cfg, struct lp_buf *msg);
/* The bound port. */
int lp_hub_port(const struct lp_hub *h);
/* Serves until *stop becomes non-zero: set it, then call lp_hub_wake. */
LP_WUR lp_err lp_hub_run(struct lp_hub *h, const atomic_int *stop);
/* Wakes lp_hub_run; callable from any thread. */
void lp_hub_wake(struct lp_hub *h);
const struct lp_hub_stats *lp_hub_stats(const struct lp_hub *h);
/* NULL-safe. */
void lp_hub_free(struct lp_hub *h);

#endif
