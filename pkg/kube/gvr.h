/* pkg/kube/gvr: group/version/resource descriptors and REST path building. */
#ifndef LP_KUBE_GVR_H
#define LP_KUBE_GVR_H
#include "../util/buf.h"
#include "../util/err.h"

struct lp_kube_gvr {
	const char *group;    /* "" for the core group */
	const char *version;  /* "v1" */
	const char *resource; /* plural: "configmaps" */
	const char *kind;     /* "ConfigMap" (for apply bodies and events) */
	int namespaced;
};

/* Well-known kinds (read-only tables). */
extern const struct lp_kube_gvr lp_kube_gvr_namespaces, lp_kube_gvr_configmaps, lp_kube_gvr_secrets,
    lp_kube_gvr_serviceaccounts, lp_kube_gvr_services, lp_kube_gvr_events, lp_kube_gvr_daemonsets,
    lp_kube_gvr_statefulsets, lp_kube_gvr_deployments, lp_kube_gvr_pdbs, lp_kube_gvr_clusterroles,
    lp_kube_gvr_clusterrolebindings, lp_kube_gvr_roles, lp_kube_gvr_rolebindings,
    lp_kube_gvr_leases, lp_kube_gvr_logpipelines, lp_kube_gvr_logoutputs;

/* Appends "/api/v1[/namespaces/NS]/RES[/NAME[/SUB]]" (or "/apis/G/V/...") to out.
 * ns NULL or "" on a namespaced kind means all namespaces (a collection only);
 * name NULL means the collection; sub (e.g. "status") needs a name. Names are
 * percent-encoded. LP_ERR_INVALID (naming the argument) when the combination is
 * impossible; out is freed on failure like any lp_buf. */
LP_WUR lp_err lp_kube_path(struct lp_buf *out, const struct lp_kube_gvr *gvr, const char *ns,
                           const char *name, const char *sub);

/* Appends s percent-encoded for a query value or path segment (RFC 3986
 * unreserved characters are kept). */
LP_WUR lp_err lp_kube_escape(struct lp_buf *out, const char *s);

/* "apiVersion" of a gvr: "v1" or "apps/v1" into out (appended). */
LP_WUR lp_err lp_kube_api_version(struct lp_buf *out, const struct lp_kube_gvr *gvr);

#endif
