/* pkg/kube/apply: writes. Server-side apply for owned objects, delete, status
 * through the /status subresource, conditions, finalizers.
 *
 * All calls are asynchronous on the client (see client.h): cb(arg, resp) runs
 * once from the loop. JSON arguments are borrowed (serialised before return). */
#ifndef LP_KUBE_APPLY_H
#define LP_KUBE_APPLY_H
#include <jansson.h>
#include "../util/err.h"
#include "client.h"
#include "gvr.h"

#define LP_KUBE_FIELD_MANAGER "logplane"

/* Server-side apply: PATCH .../NAME?fieldManager=logplane&force=true with
 * application/apply-patch+yaml and obj as JSON. obj must carry apiVersion, kind,
 * metadata.name (and metadata.namespace for namespaced kinds; it must match ns).
 * Creates when missing. */
LP_WUR lp_err lp_kube_apply(struct lp_kube_client *c, const struct lp_kube_gvr *gvr, const char *ns,
                            const json_t *obj, lp_kube_done_cb cb, void *arg);

/* DELETE with propagationPolicy=Background. rv (optional) adds a
 * resourceVersion precondition. A 404 is reported as LP_ERR_NOTFOUND: callers
 * that only want it gone treat that as success. */
LP_WUR lp_err lp_kube_delete(struct lp_kube_client *c, const struct lp_kube_gvr *gvr,
                             const char *ns, const char *name, const char *rv, lp_kube_done_cb cb,
                             void *arg);

/* Merge patch {"status": status} on NAME/status (status borrowed). Only the
 * status changes; spec and metadata are not touched. */
LP_WUR lp_err lp_kube_status_patch(struct lp_kube_client *c, const struct lp_kube_gvr *gvr,
                                   const char *ns, const char *name, const json_t *status,
                                   lp_kube_done_cb cb, void *arg);
/* PUT of the whole object (with metadata.resourceVersion: 409 when stale) on
 * NAME/status. */
LP_WUR lp_err lp_kube_status_put(struct lp_kube_client *c, const struct lp_kube_gvr *gvr,
                                 const char *ns, const char *name, const json_t *obj,
                                 lp_kube_done_cb cb, void *arg);

/* Conditions with the Kubernetes lastTransitionTime rule: returns a new array
 * holding each condition of next (type, status, reason, message; optional
 * observedGeneration kept) with lastTransitionTime copied from the condition of
 * the same type in prev when its status is unchanged, else set to now (RFC 3339).
 * prev may be NULL or not an array. Conditions are sorted by type so the result
 * is deterministic. NULL on no memory or when next is not an array. */
json_t *lp_kube_conditions_merge(const json_t *prev, const json_t *next, const char *now);
/* 1 when two condition arrays say the same (type, status, reason, message,
 * observedGeneration; order-insensitive; lastTransitionTime ignored). */
int lp_kube_conditions_equal(const json_t *a, const json_t *b);
/* A new condition object {type,status,reason,message}; NULL on no memory. */
json_t *lp_kube_condition_new(const char *type, int status, const char *reason,
                              const char *message);

/* Finalizers with a JSON patch guarded by a resourceVersion test (409/422 when
 * the object changed meanwhile: re-read and retry). finalizers is the object's
 * current metadata.finalizers (may be NULL), rv its resourceVersion. Adding a
 * present finalizer or removing an absent one completes at once with LP_OK
 * (status 0) without a request. */
LP_WUR lp_err lp_kube_finalizer_add(struct lp_kube_client *c, const struct lp_kube_gvr *gvr,
                                    const char *ns, const char *name, const json_t *finalizers,
                                    const char *rv, const char *finalizer, lp_kube_done_cb cb,
                                    void *arg);
LP_WUR lp_err lp_kube_finalizer_remove(struct lp_kube_client *c, const struct lp_kube_gvr *gvr,
                                       const char *ns, const char *name, const json_t *finalizers,
                                       const char *rv, const char *finalizer, lp_kube_done_cb cb,
                                       void *arg);

#endif
