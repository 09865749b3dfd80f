#include "gvr.h"
#include <string.h>

#define GVR(var, g, v, r, k, nsd) const struct lp_kube_gvr var = {g, v, r, k, nsd}
GVR(lp_kube_gvr_namespaces, "", "v1", "namespaces", "Namespace", 0);
GVR(lp_kube_gvr_configmaps, "", "v1", "configmaps", "ConfigMap", 1);
GVR(lp_kube_gvr_secrets, "", "v1", "secrets", "Secret", 1);
GVR(lp_kube_gvr_serviceaccounts, "", "v1", "serviceaccounts", "ServiceAccount", 1);
GVR(lp_kube_gvr_services, "", "v1", "services", "Service", 1);
GVR(lp_kube_gvr_events, "", "v1", "events", "Event", 1);
GVR(lp_kube_gvr_daemonsets, "apps", "v1", "daemonsets", "DaemonSet", 1);
GVR(lp_kube_gvr_statefulsets, "apps", "v1", "statefulsets", "StatefulSet", 1);
GVR(lp_kube_gvr_deployments, "apps", "v1", "deployments", "Deployment", 1);
GVR(lp_kube_gvr_pdbs, "policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", 1);
GVR(lp_kube_gvr_clusterroles, "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", 0);
GVR(lp_kube_gvr_clusterrolebindings, "rbac.authorization.k8s.io", "v1", "clusterrolebindings",
    "ClusterRoleBinding", 0);
GVR(lp_kube_gvr_roles, "rbac.authorization.k8s.io", "v1", "roles", "Role", 1);
GVR(lp_kube_gvr_rolebindings, "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", 1);
GVR(lp_kube_gvr_leases, "coordination.k8s.io", "v1", "leases", "Lease", 1);
GVR(lp_kube_gvr_logpipelines, "logplane.io", "v1alpha1", "logpipelines", "LogPipeline", 1);
GVR(lp_kube_gvr_logoutputs, "logplane.io", "v1alpha1", "logoutputs", "LogOutput", 1);

lp_err lp_kube_escape(struct lp_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	lp_err err = LP_OK;

	for (; *s && !err; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			err = lp_buf_addc(out, (char)ch);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			err = lp_buf_add(out, e, 3);
		}
	}
	return err;
}

lp_err lp_kube_api_version(struct lp_buf *out, const struct lp_kube_gvr *gvr)
{
	if (gvr->group && *gvr->group)
		return lp_buf_addf(out, "%s/%s", gvr->group, gvr->version);
	return lp_buf_adds(out, gvr->version);
}

lp_err lp_kube_path(struct lp_buf *out, const struct lp_kube_gvr *gvr, const char *ns,
                    const char *name, const char *sub)
{
	int has_ns = ns && *ns;
	lp_err err;

	if (!gvr || !gvr->version || !gvr->resource || (sub && !name) || (name && !*name) ||
	    (has_ns && !gvr->namespaced) || (name && gvr->namespaced && !has_ns)) {
		lp_buf_free(out);
		return LP_ERR_INVALID;
	}
	if (gvr->group && *gvr->group)
		err = lp_buf_addf(out, "/apis/%s/%s", gvr->group, gvr->version);
	else
		err = lp_buf_addf(out, "/api/%s", gvr->version);
	if (!err && has_ns) {
		err = lp_buf_adds(out, "/namespaces/");
		if (!err)
			err = lp_kube_escape(out, ns);
	}
	if (!err)
		err = lp_buf_addf(out, "/%s", gvr->resource);
	if (!err && name) {
		err = lp_buf_addc(out, '/');
		if (!err)
			err = lp_kube_escape(out, name);
	}
	if (!err && sub)
		err = lp_buf_addf(out, "/%s", sub);
	return err;
}
