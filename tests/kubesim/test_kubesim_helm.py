#!/usr/bin/env python3
"""helm 3 against kubesim: install --wait, upgrade, list, uninstall of the test
chart (a CRD, a Deployment, a ConfigMap, RBAC), and --wait on an unready
workload timing out."""
# lp-apiserver: both (the same checks against etcd + kube-apiserver find where kubesim differs)
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ks_testlib import HERE, Report, helm_path, server, wait_for  # noqa: E402

T = Report("kubesim_helm")
CHART = os.path.join(HERE, "testchart")


def main():
    if not os.access(helm_path(), os.X_OK):
        T.check("helm_present", False, "no helm at %s" % helm_path())
        T.exit()
    with server() as ks:
        k, h = ks.kubectl, ks.helm

        def t_install():
            t0 = time.time()
            r = h("install", "r1", CHART, "--wait", "--timeout", "60s")
            if r.returncode:
                return r.stdout + r.stderr
            d = json.loads(k("get", "deploy", "r1-app", "-o", "json").stdout)
            st = d.get("status", {})
            crd = k("get", "crd", "widgets.kubesim.logplane.io")
            w = k("get", "widget", "r1-widget")
            rs = json.loads(k("get", "rs", "-l", "app.kubernetes.io/instance=r1", "-o", "json").stdout)
            owners = [o["kind"] for i in rs["items"] for o in i["metadata"].get("ownerReferences", [])]
            print("# helm install --wait took %.1fs" % (time.time() - t0))
            return (st.get("readyReplicas") == 2 and crd.returncode == 0 and w.returncode == 0 and
                    owners == ["Deployment"]) or "%s %s %s %s" % (st, crd.stderr, w.stderr, owners)
        T.run("install_wait", t_install)

        def t_list():
            r = h("list", "-o", "json")
            rel = json.loads(r.stdout or "[]")
            return (len(rel) == 1 and rel[0]["name"] == "r1" and rel[0]["status"] == "deployed") or r.stdout + r.stderr
        T.run("list", t_list)

        def t_upgrade():
            r = h("upgrade", "r1", CHART, "--set", "greeting=bye", "--set", "replicas=3", "--wait",
                  "--timeout", "60s")
            if r.returncode:
                return r.stderr
            cm = json.loads(k("get", "cm", "r1-config", "-o", "json").stdout)
            d = json.loads(k("get", "deploy", "r1-app", "-o", "json").stdout)
            rel = json.loads(h("list", "-o", "json").stdout)
            rs = json.loads(k("get", "rs", "-l", "app.kubernetes.io/instance=r1", "-o", "json").stdout)
            sizes = sorted(i["spec"]["replicas"] for i in rs["items"])
            return (cm["data"]["greeting"] == "bye" and d["status"].get("readyReplicas") == 3 and
                    str(rel[0]["revision"]) == "2" and sizes == [0, 3]) or "%s %s %s %s" % (cm.get("data"),
                                                                                    d.get("status"), rel, sizes)
        T.run("upgrade_wait", t_upgrade)

        def t_hold():
            r = h("upgrade", "r1", CHART, "--set", "holdUnready=true", "--set", "greeting=held", "--wait",
                  "--timeout", "4s")
            if r.returncode == 0:
                return "upgrade --wait succeeded on a held workload"
            d = json.loads(k("get", "deploy", "r1-app", "-o", "json").stdout)
            if d["status"].get("readyReplicas"):
                return "held deployment reports ready: %s" % d["status"]
            # helm's 3-way merge keeps an annotation that neither the last deployed release nor the
            # new one mentions (as on a real cluster), so release the hold by hand
            r = k("annotate", "deploy", "r1-app", "kubesim.logplane.io/hold-unready-")
            s = k("rollout", "status", "deploy/r1-app", "--timeout=20s")
            return (r.returncode == 0 and s.returncode == 0) or r.stderr + s.stdout + s.stderr
        T.run("wait_times_out_when_held_unready", t_hold)

        def t_rollback():
            r = h("rollback", "r1", "1", "--wait", "--timeout", "30s")
            if r.returncode:
                return r.stderr
            cm = json.loads(k("get", "cm", "r1-config", "-o", "json").stdout)
            st = h("status", "r1", "-o", "json")
            rel = json.loads(st.stdout or "{}")
            return (cm["data"]["greeting"] == "hello" and rel.get("info", {}).get("status") == "deployed") or \
                "%s %s" % (cm.get("data"), st.stdout[:200] + st.stderr)
        T.run("rollback_and_status", t_rollback)

        def t_uninstall():
            r = h("uninstall", "r1")
            if r.returncode:
                return r.stderr
            gone = wait_for(lambda: k("get", "deploy,rs,cm,sa,role,rolebinding,secret,widget", "-o",
                                      "name").stdout.strip() == "", 10)
            rel = json.loads(h("list", "-o", "json").stdout or "[]")
            crd = k("get", "crd", "widgets.kubesim.logplane.io")
            left = k("get", "deploy,rs,cm,sa,role,rolebinding,secret,widget", "-o", "name").stdout
            return (gone and rel == [] and crd.returncode == 0) or "left: %s releases: %s" % (left, rel)
        T.run("uninstall", t_uninstall)

        def t_reinstall_namespace():
            r = h("install", "r2", CHART, "-n", "team-a", "--create-namespace", "--wait", "--timeout", "60s")
            if r.returncode:
                return r.stderr
            r = h("uninstall", "r2", "-n", "team-a")
            return r.returncode == 0 or r.stderr
        T.run("install_create_namespace", t_reinstall_namespace)
    T.exit()


if __name__ == "__main__":
    main()
