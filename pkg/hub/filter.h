/* pkg/hub/filter: what one live-tail subscriber wants to see, and the record
 * fields a filter looks at.
 *
 * A filter is parsed once from the subscriber's first message (a JSON object)
 * and then matched against every record the hub receives, on the hub's one
 * thread. Matching never allocates. A regex is compiled with Oniguruma (Ruby
 * syntax, as everywhere in logplane) and every search runs under a retry limit,
 * so a pattern that backtracks badly costs a bounded amount per record: an
 * exhausted search counts as "no match" and is counted in regex_aborted. */
#ifndef LP_HUB_FILTER_H
#define LP_HUB_FILTER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/buf.h"
#include "../util/err.h"

/* Severity order used by the level filter ("at least this level"). */
enum lp_hub_level {
	LP_HUB_LVL_UNKNOWN = 0, /* record without a recognised level */
	LP_HUB_LVL_TRACE,
	LP_HUB_LVL_DEBUG,
	LP_HUB_LVL_INFO,
	LP_HUB_LVL_WARN,
	LP_HUB_LVL_ERROR,
	LP_HUB_LVL_FATAL,
};

#define LP_HUB_REGEX_RETRY_LIMIT 100000UL /* backtracking steps per record */
#define LP_HUB_MATCH_MAX_BYTES   16384u   /* a message is searched in its first N bytes */

/* The fields of one record a filter reads. All borrowed from the record's JSON. */
struct lp_hub_fields {
	const char *ns;         /* kubernetes.namespace_name, or the ingest path's namespace */
	const char *pod;        /* kubernetes.pod_name or "" */
	const char *container;  /* kubernetes.container_name or "" */
	json_t *labels;         /* kubernetes.labels object, or NULL */
	const char *level_text; /* as found in the record, or "" */
	enum lp_hub_level level;
	const char *msg; /* log / message / msg, or "" */
	size_t msg_len;
};

struct lp_hub_filter; /* opaque */

/* Parses a subscription request: {"namespace": "...", "pod": "...",
 * "container": "...", "selector": "app=x,tier!=db,k in (a,b)", "level": "warn",
 * "grep": "substring", "regex": "..."}; every key optional except namespace
 * ("" or "*" = all namespaces). pod and container accept '*' globs. On
 * LP_ERR_INVALID, msg gets one line naming the field. *out is new on success. */
LP_WUR lp_err lp_hub_filter_parse(struct lp_hub_filter **out, const json_t *req,
                                  struct lp_buf *msg);
/* NULL-safe. */
void lp_hub_filter_free(struct lp_hub_filter *f);
/* The namespace asked for ("" = all namespaces). Borrowed. */
const char *lp_hub_filter_namespace(const struct lp_hub_filter *f);
/* 1 when the record passes every condition. *regex_aborted is incremented when
 * a regex search hit the retry limit. */
int lp_hub_filter_match(const struct lp_hub_filter *f, const struct lp_hub_fields *r,
                        uint64_t *regex_aborted);
/* Reads a level name (case-insensitive: trace, debug, info, notice, warn,
 * warning, error, err, fatal, critical, crit, panic, emerg, alert; also the
 * one-letter forms E W I D). LP_HUB_LVL_UNKNOWN when not recognised. */
enum lp_hub_level lp_hub_level_parse(const char *s);
const char *lp_hub_level_name(enum lp_hub_level l);

/* Fills *r from one record (a JSON object; borrowed, must outlive *r).
 * path_ns is the namespace of the LogOutput the record arrived for. */
void lp_hub_fields_from_record(struct lp_hub_fields *r, json_t *rec, const char *path_ns);

#endif
