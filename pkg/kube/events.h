/* pkg/kube/events: core/v1 Event recorder with de-duplication.
 *
 * The same (object, type, reason, message) within dedup_ms (default 60 s) is
 * not sent again; after that window it increments count and lastTimestamp of the
 * Event already created (PATCH), creating a new one if that is gone. The
 * de-dup table is bounded (oldest entries dropped). Fire and forget: failures
 * are counted, not reported. Loop thread only. */
#ifndef LP_KUBE_EVENTS_H
#define LP_KUBE_EVENTS_H
#include <stdint.h>
#include "../util/err.h"
#include "client.h"

struct lp_kube_events;

struct lp_kube_objref {          /* the involvedObject; strings borrowed */
	const char *api_version; /* "logplane.io/v1alpha1" */
	const char *kind;        /* "LogPipeline" */
	const char *ns;          /* object's namespace ("" / NULL for cluster-scoped) */
	const char *name;
	const char *uid; /* optional */
	const char *rv;  /* optional resourceVersion */
};

struct lp_kube_events_stats {
	uint64_t created, updated, suppressed, failed;
};

/* component: source.component / reportingController ("logplane-operator");
 * events_ns: where events of cluster-scoped objects go (e.g. "default").
 * Both copied. dedup_ms 0 = 60000. */
LP_WUR lp_err lp_kube_events_new(struct lp_kube_events **out, struct lp_kube_client *c,
                                 const char *component, const char *events_ns, uint64_t dedup_ms);
/* Cancels requests in flight and frees. NULL-safe. */
void lp_kube_events_free(struct lp_kube_events *ev);

/* Records an event. type: "Normal" or "Warning". Returns LP_OK when sent or
 * suppressed as a duplicate. */
LP_WUR lp_err lp_kube_event(struct lp_kube_events *ev, const struct lp_kube_objref *obj,
                            const char *type, const char *reason, const char *message);

const struct lp_kube_events_stats *lp_kube_events_stats(const struct lp_kube_events *ev);

#endif
