/* pkg/kube/lease: leader election on a coordination.k8s.io/v1 Lease.
 *
 * Acquire: GET the Lease; create it when missing; take it when holderIdentity is
 * empty, ours, or its record (resourceVersion) has not changed for
 * lease_duration by our own monotonic clock (skew-safe, as client-go). Writes
 * are PUTs carrying the observed resourceVersion, so of two candidates only one
 * wins (the other gets 409 and tries again later).
 * Leading: renew every renew_ms; if no renewal succeeded for lease_duration
 * (minus a margin) we stop leading (on_stopped) and go back to acquiring.
 * Release: clear holderIdentity so another replica takes over at once.
 * Loop thread only. */
#ifndef LP_KUBE_LEASE_H
#define LP_KUBE_LEASE_H
#include <stdint.h>
#include "../util/err.h"
#include "client.h"

struct lp_kube_lease;

struct lp_kube_lease_opts {
	const char *ns;                /* copied */
	const char *name;              /* copied */
	const char *identity;          /* copied; e.g. hostname + "_" + random */
	uint64_t duration_ms;          /* default 15000 */
	uint64_t renew_ms;             /* default 5000 */
	uint64_t retry_ms;             /* default 2000 */
	void (*on_started)(void *arg); /* became leader */
	void (*on_stopped)(void *arg); /* lost leadership (not called by release/free) */
	void *arg;
};

LP_WUR lp_err lp_kube_lease_new(struct lp_kube_lease **out, struct lp_kube_client *c,
                                const struct lp_kube_lease_opts *opts);
/* Begins trying to acquire (asynchronously). */
LP_WUR lp_err lp_kube_lease_start(struct lp_kube_lease *l);
/* 1 while leading. */
int lp_kube_lease_leading(const struct lp_kube_lease *l);
/* Stops renewing and, if leading, clears holderIdentity; done(arg, err) runs when
 * the write finished (or at once when not leading). done may be NULL. */
LP_WUR lp_err lp_kube_lease_release(struct lp_kube_lease *l, void (*done)(void *arg, lp_err err),
                                    void *arg);
/* Cancels everything (no release write) and frees. NULL-safe. */
void lp_kube_lease_free(struct lp_kube_lease *l);

/* Number of leadership transitions seen by this candidate (metrics). */
uint64_t lp_kube_lease_transitions(const struct lp_kube_lease *l);

#endif
