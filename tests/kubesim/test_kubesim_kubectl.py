#!/usr/bin/env python3
"""kubectl 1.32 against kubesim over TLS: the issue's acceptance list."""
# lp-apiserver: both (the same checks against etcd + kube-apiserver find where kubesim differs)
import glob
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ks_testlib import HERE, TOP, Report, server, wait_for  # noqa: E402

T = Report("kubesim_kubectl")
CRDS = os.path.join(HERE, "testdata", "crds")
WIDGET = """apiVersion: kubesim.logplane.io/v1alpha1
kind: Widget
metadata:
  name: %s
  labels: {app: demo}
spec:
  color: %s
  size: %d
"""


def main():
    with server() as ks:
        k = ks.kubectl

        def t_version():
            r = k("version", "-o", "json")
            sv = json.loads(r.stdout).get("serverVersion", {})
            return sv.get("minor") == "32" or "serverVersion %r: %s" % (sv, r.stderr)
        T.run("version", t_version)

        def t_unauth():
            st, _, b = ks.request("GET", "/api/v1/namespaces", token="")
            st2, _, _ = ks.request("GET", "/api/v1/namespaces", token="wrong")
            return (st == 401 and st2 == 401 and b.get("reason") == "Unauthorized") or "got %d %d" % (st, st2)
        T.run("401_without_token", t_unauth)

        def t_apply_crds():
            r = k("apply", "-f", CRDS)
            if r.returncode:
                return r.stderr
            r = k("get", "crd", "widgets.kubesim.logplane.io", "-o",
                  "jsonpath={.status.conditions[?(@.type==\"Established\")].status}")
            return r.stdout == "True" or "Established=%r %s" % (r.stdout, r.stderr)
        T.run("apply_crds", t_apply_crds)

        def t_apply_cr():
            r = k("apply", "-f", "-", input=WIDGET % ("w1", "red", 3))
            return (r.returncode == 0 and "created" in r.stdout) or r.stderr
        T.run("apply_cr", t_apply_cr)

        def t_get_columns():
            r = k("get", "wd")
            lines = r.stdout.splitlines()
            if r.returncode or not lines:
                return r.stderr
            hdr = lines[0].split()
            if hdr != ["NAME", "SIZE", "READY", "REASON", "AGE"]:
                return "header %r" % hdr
            row = lines[1].split()
            return (row[0] == "w1" and row[1] == "3" and bool(re.match(r"^\d+s$", row[-1]))) or "row %r" % row
        T.run("get_printer_columns", t_get_columns)

        def t_yaml():
            r = k("get", "widget", "w1", "-o", "yaml")
            ok = "color: red" in r.stdout and "resourceVersion:" in r.stdout and "generation: 1" in r.stdout \
                and "managedFields" not in r.stdout and "size: 3" in r.stdout
            return ok or r.stdout + r.stderr
        T.run("get_o_yaml", t_yaml)

        def t_reapply():
            r = k("apply", "-f", "-", "-v=6", input=WIDGET % ("w1", "green", 4))
            if r.returncode or "configured" not in r.stdout:
                return r.stdout + r.stderr
            if "PATCH" not in r.stderr:
                return "no PATCH seen"
            o = json.loads(k("get", "wd", "w1", "-o", "json").stdout)
            return (o["spec"]["color"] == "green" and o["metadata"]["generation"] == 2) or o
        T.run("client_side_reapply", t_reapply)

        def t_reapply_noop():
            rv = k("get", "wd", "w1", "-o", "jsonpath={.metadata.resourceVersion}").stdout
            r = k("apply", "-f", "-", input=WIDGET % ("w1", "green", 4))
            rv2 = k("get", "wd", "w1", "-o", "jsonpath={.metadata.resourceVersion}").stdout
            return ("unchanged" in r.stdout and rv == rv2) or "%s rv %s -> %s" % (r.stdout, rv, rv2)
        T.run("reapply_unchanged_keeps_rv", t_reapply_noop)

        def t_ssa():
            r = k("apply", "--server-side", "-f", "-", input=WIDGET % ("w2", "blue", 5))
            if r.returncode or "serverside-applied" not in r.stdout:
                return r.stdout + r.stderr
            r = k("apply", "--server-side", "--force-conflicts", "--field-manager", "other", "-f", "-",
                  input=WIDGET % ("w2", "blue", 6))
            if r.returncode:
                return r.stderr
            o = json.loads(k("get", "wd", "w2", "-o", "json", "--show-managed-fields").stdout)
            mgrs = {(m["manager"], m["operation"]) for m in o["metadata"].get("managedFields") or []}
            return (o["spec"]["size"] == 6 and ("other", "Apply") in mgrs) or o
        T.run("apply_server_side", t_ssa)

        def t_ssa_dry():
            r = k("apply", "--server-side", "--dry-run=server", "-f", "-", input=WIDGET % ("w9", "blue", 5))
            g = k("get", "wd", "w9")
            return (r.returncode == 0 and g.returncode != 0) or r.stderr + g.stdout
        T.run("apply_server_side_dry_run", t_ssa_dry)

        def t_patch_merge():
            r = k("patch", "wd", "w1", "--type=merge", "-p", '{"spec":{"size":8}}')
            o = json.loads(k("get", "wd", "w1", "-o", "json").stdout)
            return (r.returncode == 0 and o["spec"]["size"] == 8 and o["metadata"]["generation"] == 3) or \
                r.stderr + json.dumps(o)
        T.run("patch_merge", t_patch_merge)

        def t_label():
            r = k("label", "wd", "w1", "tier=gold")
            g = k("get", "wd", "-l", "tier=gold", "-o", "name")
            n = k("get", "wd", "-l", "tier notin (gold)", "-o", "name")
            gen = k("get", "wd", "w1", "-o", "jsonpath={.metadata.generation}").stdout
            return (r.returncode == 0 and g.stdout.strip() == "widget.kubesim.logplane.io/w1" and
                    "w1" not in n.stdout and "w2" in n.stdout and gen == "3") or r.stderr + g.stdout + n.stdout + gen
        T.run("label_and_selectors", t_label)

        def t_wait_timeout():
            t0 = time.time()
            r = k("wait", "--for=condition=Ready", "wd/w1", "--timeout=2s")
            return (r.returncode != 0 and time.time() - t0 >= 1.5) or "rc=%d %s" % (r.returncode, r.stderr)
        T.run("wait_times_out_without_status", t_wait_timeout)

        def t_status():
            import subprocess
            p = subprocess.Popen(["kubectl", "wait", "--for=condition=Ready", "wd/w1", "--timeout=20s"],
                                 env=ks.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
            r = k("patch", "wd", "w1", "--subresource=status", "--type=merge", "-p",
                  '{"status":{"observedGeneration":3,"conditions":[{"type":"Ready","status":"True",'
                  '"reason":"Configured","message":"ok"}]}}')
            out, err = p.communicate(timeout=30)
            if r.returncode or p.returncode:
                return "patch: %s wait: %s %s" % (r.stderr, out, err)
            o = json.loads(k("get", "wd", "w1", "-o", "json").stdout)
            if o["metadata"]["generation"] != 3:
                return "status write bumped generation: %r" % o["metadata"]
            g = k("get", "wd", "w1").stdout.splitlines()[1].split()
            return (g[2] == "True" and g[3] == "Configured") or "row %r" % g
        T.run("patch_status_and_wait_ready", t_status)

        def t_status_ignored_on_main():
            k("patch", "wd", "w1", "--type=merge", "-p", '{"status":{"conditions":[]}}')
            r = k("get", "wd", "w1", "-o", "jsonpath={.status.conditions[0].reason}")
            return r.stdout == "Configured" or "status changed through main resource: %r" % r.stdout
        T.run("main_resource_ignores_status", t_status_ignored_on_main)

        def t_explain():
            r = k("explain", "wd.spec")
            return (r.returncode == 0 and "color" in r.stdout and "Color of the widget" in r.stdout and
                    "-required-" in r.stdout) or r.stdout + r.stderr
        T.run("explain", t_explain)

        def t_invalid():
            bad = WIDGET % ("bad", "purple", 1000)
            r = k("apply", "-f", "-", input=bad)
            return (r.returncode != 0 and 'spec.color: Unsupported value: "purple"' in r.stderr and
                    "spec.size" in r.stderr and "is invalid" in r.stderr) or r.stderr
        T.run("invalid_cr_422_names_field", t_invalid)

        def t_invalid_api():
            st, _, b = ks.request("POST", "/apis/kubesim.logplane.io/v1alpha1/namespaces/default/widgets",
                                  {"apiVersion": "kubesim.logplane.io/v1alpha1", "kind": "Widget",
                                   "metadata": {"name": "bad"}, "spec": {"size": "x"}})
            fields = sorted(c["field"] for c in b.get("details", {}).get("causes", []))
            return (st == 422 and b["reason"] == "Invalid" and fields == ["spec.color", "spec.size"]) or \
                "%d %s" % (st, b)
        T.run("invalid_causes", t_invalid_api)

        def t_unknown_strict():
            bad = "apiVersion: kubesim.logplane.io/v1alpha1\nkind: Widget\nmetadata: {name: u1}\n" \
                  "spec: {color: red, bogus: 1}\n"
            r = k("apply", "-f", "-", input=bad)
            if r.returncode == 0 or 'unknown field "spec.bogus"' not in r.stderr:
                return "strict: " + r.stdout + r.stderr
            r = k("apply", "--validate=false", "-f", "-", input=bad)
            o = json.loads(k("get", "wd", "u1", "-o", "json").stdout or "{}")
            return (r.returncode == 0 and "bogus" not in o.get("spec", {}) and o["spec"].get("size") == 10) or \
                r.stderr + json.dumps(o)
        T.run("unknown_field_strict_and_pruned", t_unknown_strict)

        def t_delete_plain():
            r = k("delete", "wd", "u1")
            g = k("get", "wd", "u1")
            return (r.returncode == 0 and g.returncode != 0 and "NotFound" in g.stderr) or r.stderr + g.stderr
        T.run("delete_without_finalizer", t_delete_plain)

        def t_delete_finalizer():
            k("patch", "wd", "w2", "--type=merge", "-p", '{"metadata":{"finalizers":["kubesim.logplane.io/x"]}}')
            r = k("delete", "wd", "w2", "--wait=false")
            if r.returncode:
                return r.stderr
            o = json.loads(k("get", "wd", "w2", "-o", "json").stdout)
            if not o["metadata"].get("deletionTimestamp"):
                return "no deletionTimestamp: %r" % o["metadata"]
            r = k("patch", "wd", "w2", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
            gone = wait_for(lambda: k("get", "wd", "w2").returncode != 0, 5)
            return (r.returncode == 0 and gone) or "still there: " + r.stderr
        T.run("delete_with_finalizer", t_delete_finalizer)

        def t_configmap():
            r = k("create", "configmap", "cm1", "--from-literal=a=1", "--from-literal=b=two", "-v=8")
            if r.returncode:
                return r.stderr
            if "application/vnd.kubernetes.protobuf" not in r.stderr:
                return "kubectl did not send protobuf"
            o = json.loads(k("get", "cm", "cm1", "-o", "json").stdout)
            return o.get("data") == {"a": "1", "b": "two"} or o
        T.run("create_configmap_protobuf", t_configmap)

        def t_secret():
            r = k("create", "secret", "generic", "s1", "--from-literal=user=admin")
            o = json.loads(k("get", "secret", "s1", "-o", "json").stdout)
            return (r.returncode == 0 and o["data"] == {"user": "YWRtaW4="} and o["type"] == "Opaque") or o
        T.run("create_secret_protobuf", t_secret)

        def t_events():
            for i, (obj, reason) in enumerate((("w1", "Configured"), ("w2", "Other"))):
                ev = {"apiVersion": "v1", "kind": "Event",
                      "metadata": {"name": "ev%d" % i, "namespace": "default"},
                      "involvedObject": {"kind": "Widget", "name": obj, "namespace": "default",
                                         "apiVersion": "kubesim.logplane.io/v1alpha1"},
                      "reason": reason, "message": "message %d" % i, "type": "Normal",
                      "source": {"component": "test"}, "count": 1}
                st, _, b = ks.request("POST", "/api/v1/namespaces/default/events", ev)
                if st != 201:
                    return "create event %d: %s" % (st, b)
            r = k("get", "events", "--field-selector", "involvedObject.name=w1,involvedObject.kind=Widget")
            lines = r.stdout.splitlines()
            bad = k("get", "events", "--field-selector", "spec.bogus=x")
            return (len(lines) == 2 and "Configured" in lines[1] and "widget/w1" in lines[1] and
                    "message 0" in lines[1] and bad.returncode != 0 and "field label not supported" in
                    bad.stderr) or r.stdout + r.stderr + bad.stderr
        T.run("get_events_field_selector", t_events)

        def t_builtin_apply():
            dep = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d1}
spec:
  replicas: 2
  selector: {matchLabels: {app: d1}}
  template:
    metadata: {labels: {app: d1}}
    spec:
      containers:
      - name: a
        image: img:%s
        env: [{name: X, value: "1"}, {name: "Z", value: "2"}]
      - name: b
        image: side:1
"""
            r = k("apply", "-f", "-", input=dep % "1")
            if r.returncode:
                return r.stderr
            r = k("apply", "-f", "-", "-v=8", input=dep % "2")
            if "strategic-merge-patch+json" not in r.stderr:
                return "no strategic merge patch used: %s" % r.stdout
            r = k("rollout", "status", "deployment/d1", "--timeout=20s")
            o = json.loads(k("get", "deploy", "d1", "-o", "json").stdout)
            cs = o["spec"]["template"]["spec"]["containers"]
            return (r.returncode == 0 and [c["name"] for c in cs] == ["a", "b"] and cs[0]["image"] == "img:2"
                    and len(cs[0]["env"]) == 2) or r.stdout + r.stderr + json.dumps(cs)
        T.run("builtin_strategic_apply_and_rollout", t_builtin_apply)

        def t_scale():
            r = k("scale", "deployment/d1", "--replicas=4")
            ok = wait_for(lambda: k("get", "deploy", "d1", "-o", "jsonpath={.status.readyReplicas}").stdout == "4", 5)
            return (r.returncode == 0 and ok) or r.stdout + r.stderr
        T.run("scale_subresource", t_scale)

        def t_tables_builtin():
            r = k("get", "deploy,rs")
            return ("d1" in r.stdout and "4/4" in r.stdout) or r.stdout + r.stderr
        T.run("builtin_tables", t_tables_builtin)

        def t_namespace():
            r = k("create", "namespace", "ns1")
            r2 = k("create", "configmap", "x", "-n", "ns1", "--from-literal=a=b")
            r3 = k("delete", "namespace", "ns1", "--timeout=20s")
            g = k("get", "ns", "ns1")
            r4 = k("create", "configmap", "y", "-n", "nosuch", "--from-literal=a=b")
            return (r.returncode == 0 and r2.returncode == 0 and r3.returncode == 0 and g.returncode != 0 and
                    r4.returncode != 0 and 'namespaces "nosuch" not found' in r4.stderr) or \
                r.stderr + r2.stderr + r3.stderr + g.stdout + r4.stderr
        T.run("namespace_lifecycle", t_namespace)

        def t_repo_crds():
            files = sorted(glob.glob(os.path.join(TOP, "crds", "*.yaml")))
            if not files:
                print("# repo crds/ is empty: covered by the test CRD only")
                return True
            r = k("apply", "-f", os.path.join(TOP, "crds"))
            if r.returncode:
                return r.stderr
            import yaml
            for f in files:
                for d in yaml.safe_load_all(open(f)):
                    if not d or d.get("kind") != "CustomResourceDefinition":
                        continue
                    plural = d["spec"]["names"]["plural"] + "." + d["spec"]["group"]
                    # a real server publishes a new CRD's OpenAPI a moment after it is Established
                    e = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(k("explain", plural + ".spec")),
                                 15, 0.5) or k("explain", plural + ".spec")
                    if e.returncode:
                        return "explain %s: %s" % (plural, e.stderr)
                    g = k("get", plural, "-A")
                    if g.returncode:
                        return "get %s: %s" % (plural, g.stderr)
            return True
        T.run("repo_crds", t_repo_crds)

        def t_repo_logpipeline():
            sample = os.path.join(TOP, "config", "samples", "logplane_v1alpha1_logpipeline.yaml")
            if not os.path.exists(sample) or not os.path.exists(os.path.join(TOP, "crds", "logpipelines.yaml")):
                print("# no LogPipeline CRD/sample in the repo yet")
                return True
            import yaml
            lp = yaml.safe_load(open(sample))
            ns = lp["metadata"].get("namespace", "default")
            name = lp["metadata"]["name"]
            k("create", "namespace", ns)
            r = k("apply", "-f", sample)
            if r.returncode:
                return "apply sample: " + r.stderr
            g = k("get", "lp", "-n", ns)
            if g.returncode or "READY" not in g.stdout.splitlines()[0] or name not in g.stdout:
                return "get lp: " + g.stdout + g.stderr
            y = k("get", "lp", name, "-n", ns, "-o", "yaml")
            if "kind: LogPipeline" not in y.stdout:
                return "-o yaml: " + y.stdout
            st = k("patch", "lp", name, "-n", ns, "--subresource=status", "--type=merge", "-p",
                   json.dumps({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Applied",
                                                          "message": "ok", "lastTransitionTime":
                                                          "2026-01-01T00:00:00Z"}]}}))
            w = k("wait", "--for=condition=Ready", "lp/" + name, "-n", ns, "--timeout=10s")
            if st.returncode or w.returncode:
                return "status/wait: " + st.stderr + w.stderr
            g = k("get", "lp", name, "-n", ns)
            if "Applied" not in g.stdout:
                return "printer columns after status: " + g.stdout
            e = k("explain", "lp.spec")
            if e.returncode or "FIELDS" not in e.stdout:
                return "explain lp.spec: " + e.stderr
            bad = json.loads(json.dumps(lp))
            bad["metadata"]["name"] = name + "-bad"
            bad["spec"]["notAField"] = True
            r = k("apply", "-f", "-", input=json.dumps(bad))
            if r.returncode == 0 or "notAField" not in r.stderr:
                return "unknown field accepted: " + r.stdout + r.stderr
            d = k("delete", "lp", name, "-n", ns)
            return d.returncode == 0 or d.stderr
        T.run("repo_logpipeline", t_repo_logpipeline)
    T.exit()


if __name__ == "__main__":
    main()
