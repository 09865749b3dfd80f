#!/usr/bin/env python3
"""RBAC in kubesim (--rbac FILE): allowed verbs work, denied ones get 403 with
the standard message; groups, resourceNames, subresources and bindings created
at run time are honoured."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ks_testlib import Kubesim, Report  # noqa: E402

T = Report("kubesim_rbac")
RBAC = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [editable]
  verbs: [patch, update]
- apiGroups: [apps]
  resources: [deployments/status]
  verbs: [get, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-reads, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
- {kind: User, name: bob}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ns-viewer}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: devs-view-ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ns-viewer}
subjects:
- {kind: Group, name: devs}
"""


def main():
    import tempfile
    d = tempfile.mkdtemp(prefix="kubesim-rbac-")
    import atexit
    import shutil
    atexit.register(shutil.rmtree, d, True)
    path = os.path.join(d, "rbac.yaml")
    with open(path, "w") as f:
        f.write(RBAC)
    with Kubesim(extra_args=["--rbac", path], tokens=("admintoken", "bobtoken=bob:devs",
                                                      "evetoken=eve", "satoken=system:serviceaccount:tools:op")) as ks:
        k = ks.kubectl

        def bob(*a, **kw):
            return k("--context", "kubesim-bob", *a, **kw)

        ks.request("POST", "/api/v1/namespaces/default/configmaps",
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "editable"}, "data": {"a": "1"}})
        ks.request("POST", "/api/v1/namespaces/default/configmaps",
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "locked"}, "data": {"a": "1"}})

        def t_allowed():
            r = bob("get", "configmaps")
            return (r.returncode == 0 and "editable" in r.stdout and "locked" in r.stdout) or r.stderr
        T.run("allowed_list", t_allowed)

        def t_denied_create():
            r = bob("create", "configmap", "new", "--from-literal=a=b")
            want = ('configmaps is forbidden: User "bob" cannot create resource "configmaps" in API group "" '
                    'in the namespace "default"')
            return (r.returncode != 0 and want in r.stderr) or r.stderr
        T.run("denied_create_403_message", t_denied_create)

        def t_denied_api():
            st, _, b = ks.request("GET", "/api/v1/namespaces/default/secrets/x", token="bobtoken")
            want = ('secrets "x" is forbidden: User "bob" cannot get resource "secrets" in API group "" in the '
                    'namespace "default"')
            return (st == 403 and b["reason"] == "Forbidden" and b["message"] == want and
                    b["details"] == {"name": "x", "group": "", "kind": "secrets"}) or "%d %s" % (st, b)
        T.run("denied_get_status_object", t_denied_api)

        def t_other_namespace():
            r = bob("get", "configmaps", "-n", "kube-system")
            return (r.returncode != 0 and 'in the namespace "kube-system"' in r.stderr) or r.stderr
        T.run("role_is_namespaced", t_other_namespace)

        def t_group_cluster():
            r = bob("get", "namespaces")
            e = k("--context", "kubesim-eve", "get", "namespaces")
            want = ('namespaces is forbidden: User "eve" cannot list resource "namespaces" in API group "" at '
                    'the cluster scope')
            return (r.returncode == 0 and "default" in r.stdout and e.returncode != 0 and want in e.stderr) or \
                r.stderr + e.stderr
        T.run("group_binding_cluster_scope", t_group_cluster)

        def t_resource_names():
            ok = bob("patch", "cm", "editable", "--type=merge", "-p", '{"data":{"a":"2"}}')
            no = bob("patch", "cm", "locked", "--type=merge", "-p", '{"data":{"a":"2"}}')
            return (ok.returncode == 0 and no.returncode != 0 and
                    'configmaps "locked" is forbidden: User "bob" cannot patch resource "configmaps"' in no.stderr) \
                or ok.stderr + no.stderr
        T.run("resource_names", t_resource_names)

        def t_subresource():
            st, _, b = ks.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/d", {"spec": {}},
                                  token="bobtoken", ctype="application/merge-patch+json")
            st2, _, b2 = ks.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/d/status",
                                    {"status": {}}, token="bobtoken", ctype="application/merge-patch+json")
            return (st == 403 and st2 == 404 and
                    'cannot patch resource "deployments" in API group "apps"' in b["message"]) or \
                "%d %s / %d %s" % (st, b, st2, b2)
        T.run("subresource_rules", t_subresource)

        def t_runtime_binding():
            before = bob("create", "secret", "generic", "s1", "--from-literal=a=b")
            role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                    "metadata": {"name": "secret-writer", "namespace": "default"},
                    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]}
            rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": "bob-secrets", "namespace": "default"},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-writer"},
                  "subjects": [{"kind": "User", "name": "bob"}]}
            r1 = k("apply", "-f", "-", input=json.dumps(role))
            r2 = k("apply", "-f", "-", input=json.dumps(rb))
            after = bob("create", "secret", "generic", "s1", "--from-literal=a=b")
            return (before.returncode != 0 and r1.returncode == 0 and r2.returncode == 0 and
                    after.returncode == 0) or before.stderr + r1.stderr + r2.stderr + after.stderr
        T.run("binding_created_at_runtime", t_runtime_binding)

        def t_can_i():
            yes = bob("auth", "can-i", "list", "configmaps")
            no = bob("auth", "can-i", "delete", "configmaps")
            st, _, sar = ks.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                    {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                     "spec": {"user": "bob", "resourceAttributes": {
                                         "namespace": "default", "verb": "patch", "resource": "configmaps",
                                         "name": "editable"}}})
            st2, _, _ = ks.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                   {"spec": {"user": "bob"}}, token="bobtoken")
            return (yes.stdout.strip() == "yes" and no.stdout.strip() == "no" and st == 201 and
                    sar["status"]["allowed"] is True and st2 == 403) or \
                "%s %s %d %s %d" % (yes.stdout, no.stdout, st, sar, st2)
        T.run("auth_can_i_and_access_reviews", t_can_i)

        def t_token_review():
            path = "/apis/authentication.k8s.io/v1/tokenreviews"
            st, _, good = ks.request("POST", path, {"apiVersion": "authentication.k8s.io/v1",
                                                    "kind": "TokenReview", "spec": {"token": "bobtoken"}})
            st2, _, bad = ks.request("POST", path, {"spec": {"token": "nosuchtoken"}})
            st3, _, _ = ks.request("POST", path, {"spec": {"token": "bobtoken"}}, token="bobtoken")
            u = good.get("status", {}).get("user", {})
            return (st == 201 and good["status"]["authenticated"] is True and u.get("username") == "bob" and
                    "system:authenticated" in u.get("groups", []) and st2 == 201 and
                    bad["status"]["authenticated"] is False and st3 == 403) or \
                "%d %s %d %s %d" % (st, good, st2, bad, st3)
        T.run("token_review", t_token_review)

        def t_service_account():
            st, _, _ = ks.request("GET", "/api/v1/namespaces/default/configmaps", token="satoken")
            rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": "sa-reads", "namespace": "default"},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
                  "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "tools"}]}
            st2, _, _ = ks.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", rb)
            st3, _, _ = ks.request("GET", "/api/v1/namespaces/default/configmaps", token="satoken")
            st4, _, b4 = ks.request("DELETE", "/api/v1/namespaces/default/configmaps/locked", token="satoken")
            want = 'User "system:serviceaccount:tools:op" cannot delete resource "configmaps"'
            return ((st, st2, st3, st4) == (403, 201, 200, 403) and want in b4["message"]) or \
                "%s %s" % ((st, st2, st3, st4), b4)
        T.run("service_account_identity", t_service_account)

        def t_admin_endpoint_needs_admin():
            st, _, _ = ks.request("GET", "/admin/counters", token="bobtoken")
            st2, _, b = ks.request("GET", "/admin/counters")
            return (st == 403 and st2 == 200 and "requests" in b) or "%d %d" % (st, st2)
        T.run("admin_endpoints_need_admin_token", t_admin_endpoint_needs_admin)
    T.exit()


if __name__ == "__main__":
    main()
