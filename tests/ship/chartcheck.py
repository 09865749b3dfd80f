"""Checks of rendered manifests for tests/integration/chart.sh (Debian python3 + PyYAML).

  chartcheck.py defaults FILE           default render: objects, restricted pod security, probes
  chartcheck.py switches FILE           every optional switch on: extra objects, leader election
  chartcheck.py control FILE NS         a separate control namespace reaches the Role, args, PodMonitor
  chartcheck.py crds RENDER CRD_DIR     CRDs in a render equal crds/*.yaml in substance
  chartcheck.py same HELM KUSTOMIZE     two renders hold the same objects with the same key fields
  chartcheck.py values VALUES DOC       every values.yaml key is commented and named in DOC
  chartcheck.py rules FILE OUT          write the ClusterRole/Role rules of a render as JSON
  chartcheck.py limits FILE P,O,A,B     the per-namespace bounds reach the operator's arguments
  chartcheck.py hubnames FILE           the hub mounts the Secrets the operator's --hub-service names

Each prints nothing and exits 0 on success, or prints the reason and exits 1.
"""
import copy
import json
import re
import sys

import yaml

KEEP = "helm.sh/resource-policy"


def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "metadata" not in d:
            raise SystemExit("%s: a document without kind/metadata: %r" % (path, d)[:300])
    return docs


def key(o):
    api = o.get("apiVersion", "")
    group = api.split("/")[0] if "/" in api else ""
    m = o["metadata"]
    return (group, o["kind"], m.get("namespace", ""), m["name"])


def index(docs, path):
    out = {}
    for d in docs:
        k = key(d)
        if k in out:
            raise SystemExit("%s: duplicate object %s" % (path, k))
        out[k] = d
    return out


def fail(msg):
    print(msg)
    sys.exit(1)


def find(docs, kind, name=None):
    for d in docs:
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def check_pod_security(dep):
    spec = dep["spec"]["template"]["spec"]
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        return "pod securityContext.runAsNonRoot is not true"
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        return "pod seccompProfile is not RuntimeDefault"
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            return "container %s: readOnlyRootFilesystem is not true" % c["name"]
        if sc.get("allowPrivilegeEscalation") is not False:
            return "container %s: allowPrivilegeEscalation is not false" % c["name"]
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            return "container %s: capabilities.drop is not [ALL]" % c["name"]
        if sc.get("capabilities", {}).get("add"):
            return "container %s adds capabilities" % c["name"]
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            return "container %s: livenessProbe is not GET /healthz" % c["name"]
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            return "container %s: readinessProbe is not GET /readyz" % c["name"]
        if not c.get("resources", {}).get("limits", {}).get("memory"):
            return "container %s has no memory limit" % c["name"]
    uid = psc.get("runAsUser")
    if uid is not None and uid == 0:
        return "pod runs as uid 0"
    return None


def args_of(dep):
    return dep["spec"]["template"]["spec"]["containers"][0].get("args", [])


def cmd_defaults(path):
    docs = load(path)
    want = [("ServiceAccount", "logplane"), ("ClusterRole", "logplane"),
            ("ClusterRoleBinding", "logplane"), ("Role", "logplane"),
            ("RoleBinding", "logplane"), ("Deployment", "logplane"),
            ("Service", "logplane-metrics"), ("ConfigMap", "logplane-agents")]
    for kind, name in want:
        if not find(docs, kind, name):
            fail("default render has no %s %s" % (kind, name))
    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule", "PodDisruptionBudget",
                 "NetworkPolicy"):
        if find(docs, kind):
            fail("default render has an optional %s" % kind)
    dep = find(docs, "Deployment", "logplane")
    err = check_pod_security(dep)
    if err:
        fail(err)
    if "--leader-elect" in args_of(dep):
        fail("--leader-elect with one replica")
    crb = find(docs, "ClusterRoleBinding", "logplane")
    sub = crb["subjects"][0]
    if (sub["kind"], sub["name"], sub.get("namespace")) != ("ServiceAccount", "logplane", "logplane-system"):
        fail("ClusterRoleBinding subject is %r" % sub)
    if dep["spec"]["template"]["spec"]["serviceAccountName"] != "logplane":
        fail("Deployment does not run as the chart's ServiceAccount")
    svc = find(docs, "Service", "logplane-metrics")
    if svc["spec"]["selector"] != dep["spec"]["selector"]["matchLabels"]:
        fail("metrics Service selector does not select the operator pods")
    json.loads(find(docs, "ConfigMap", "logplane-agents")["data"]["agents.json"])


def cmd_switches(path):
    docs = load(path)
    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule", "PodDisruptionBudget",
                 "NetworkPolicy"):
        if not find(docs, kind):
            fail("all-switches render has no %s" % kind)
    dash = find(docs, "ConfigMap", "logplane-dashboard")
    if not dash:
        fail("no dashboard ConfigMap")
    board = json.loads(dash["data"]["logplane.json"])
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for metric in ("logplane_reconcile_total", "logplane_reconcile_duration_seconds_bucket",
                   "logplane_workqueue_depth", "logplane_watch_restarts_total",
                   "logplane_api_requests_total", "logplane_aws_requests_total",
                   "logplane_rendered_config_bytes", "logplane_pipelines",
                   "fluentbit_output_dropped_records_total", "fluentbit_output_retries_total",
                   "fluentbit_output_chunk_available_capacity_percent",
                   "fluentbit_output_proc_records_total"):
        if not any(metric in e for e in exprs):
            fail("dashboard has no panel on %s" % metric)
    rule = find(docs, "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    for a in ("LogplaneOperatorDown", "LogplaneReconcileErrors", "LogplaneAgentDroppedRecords",
              "LogplaneAgentRetrying", "LogplaneAgentBufferFilling", "LogplaneNoLogsDelivered"):
        if a not in alerts:
            fail("PrometheusRule has no alert %s" % a)
    for a, r in alerts.items():
        if "{{" in r["expr"] or not r["expr"].strip():
            fail("alert %s has an unrendered expression" % a)
        if r.get("labels", {}).get("severity") not in ("warning", "critical"):
            fail("alert %s has no severity" % a)
    dep = find(docs, "Deployment", "logplane")
    if dep["spec"]["replicas"] < 2 or "--leader-elect" not in args_of(dep):
        fail("replicas > 1 without --leader-elect")
    err = check_pod_security(dep)
    if err:
        fail(err)
    hub = find(docs, "Deployment", "logplane-hub")
    err = check_pod_security(hub) if hub else "no live-tail hub Deployment"
    if err:
        fail("hub: " + err)
    sa = find(docs, "ServiceAccount", "logplane")
    if "eks.amazonaws.com/role-arn" not in (sa["metadata"].get("annotations") or {}):
        fail("ServiceAccount lacks the IRSA annotation given in values")
    sm = find(docs, "ServiceMonitor")
    svc = find(docs, "Service", "logplane-metrics")
    if sm["spec"]["endpoints"][0]["port"] not in [p["name"] for p in svc["spec"]["ports"]]:
        fail("ServiceMonitor port is not a port of the metrics Service")


def cmd_control(path, control_ns):
    docs = load(path)
    role = find(docs, "Role")
    rb = find(docs, "RoleBinding")
    dep = find(docs, "Deployment")
    if role["metadata"]["namespace"] != control_ns or rb["metadata"]["namespace"] != control_ns:
        fail("Role/RoleBinding not in the control namespace %s" % control_ns)
    if rb["subjects"][0]["namespace"] != dep["metadata"]["namespace"]:
        fail("RoleBinding subject is not the ServiceAccount in the release namespace")
    if "--control-namespace=%s" % control_ns not in args_of(dep):
        fail("the operator is not told its control namespace: %s" % args_of(dep))
    pm = find(docs, "PodMonitor")
    if pm and pm["spec"]["namespaceSelector"]["matchNames"] != [control_ns]:
        fail("PodMonitor does not look in the control namespace")


def strip_keep(o):
    o = copy.deepcopy(o)
    ann = o["metadata"].get("annotations")
    if ann is not None:
        ann.pop(KEEP, None)
        if not ann:
            del o["metadata"]["annotations"]
    return o


def cmd_crds(render, crd_dir):
    import glob
    import os
    want = {}
    for p in sorted(glob.glob(os.path.join(crd_dir, "*.yaml"))):
        for d in load(p):
            want[d["metadata"]["name"]] = d
    if not want:
        fail("no CRDs in %s" % crd_dir)
    got = {d["metadata"]["name"]: d for d in load(render)
           if d["kind"] == "CustomResourceDefinition"}
    if set(got) != set(want):
        fail("CRDs differ: render has %s, crds/ has %s" % (sorted(got), sorted(want)))
    for name in want:
        if strip_keep(got[name]) != want[name]:
            fail("CRD %s differs from crds/" % name)
        if got[name]["metadata"].get("annotations", {}).get(KEEP) != "keep":
            fail("CRD %s lacks %s: keep" % (name, KEEP))


def normalize(o):
    o = copy.deepcopy(o)
    m = o["metadata"]
    m.pop("labels", None)
    m.pop("annotations", None)
    tmpl = o.get("spec", {}).get("template") if isinstance(o.get("spec"), dict) else None
    if isinstance(tmpl, dict) and "metadata" in tmpl:
        tmpl["metadata"].pop("annotations", None)
    if o["kind"] == "ConfigMap":
        for k, v in (o.get("data") or {}).items():
            if k.endswith(".json"):
                o["data"][k] = json.loads(v)
    return o


def diff(a, b, path=""):
    if type(a) != type(b):
        return "%s: %r != %r" % (path or ".", a, b)
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return "%s.%s only in %s" % (path, k, "chart" if k in a else "kustomize")
            r = diff(a[k], b[k], "%s.%s" % (path, k))
            if r:
                return r
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: %d items != %d items" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            r = diff(x, y, "%s[%d]" % (path, i))
            if r:
                return r
        return None
    return None if a == b else "%s: %r != %r" % (path, a, b)


def cmd_same(helm_path, kust_path):
    h = index(load(helm_path), helm_path)
    k = index(load(kust_path), kust_path)
    # helm install --create-namespace makes the namespace; kustomize ships it
    k = {kk: v for kk, v in k.items() if kk[1] != "Namespace"}
    if set(h) != set(k):
        fail("object sets differ: only chart %s; only kustomize %s"
             % (sorted(set(h) - set(k)), sorted(set(k) - set(h))))
    for kk in sorted(h):
        r = diff(normalize(h[kk]), normalize(k[kk]))
        if r:
            fail("%s %s: %s" % (kk[1], kk[3], r))


def documented_keys(text):
    """Walks values.yaml: a key with a comment right above it is documented as a
    whole (a free-form map below it, like resources, needs no more comments); a
    key without one must be a group whose children are documented. Returns the
    documented key paths; fails on an undocumented key."""
    lines = text.split("\n")
    stack, keys = [], []  # stack of (indent, key, documented)
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9_]*):(.*)$", line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if any(doc for _, _, doc in stack):
            continue
        path = ".".join([k for _, k, _ in stack] + [m.group(2)])
        prev = lines[i - 1].strip() if i else ""
        if prev.startswith("#"):
            keys.append(path)
            stack.append((indent, m.group(2), True))
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        nind = len(nxt) - len(nxt.lstrip())
        if m.group(3).strip() == "" and nind > indent:
            stack.append((indent, m.group(2), False))
            continue
        fail("values.yaml line %d: key %s has no comment" % (i + 1, path))
    return keys


def cmd_values(values_path, doc_path):
    with open(values_path) as f:
        text = f.read()
    yaml.safe_load(text)
    keys = documented_keys(text)
    if len(keys) < 10:
        fail("only %d documented keys found" % len(keys))
    with open(doc_path) as f:
        doc = f.read()
    missing = [k for k in keys if "`%s`" % k not in doc]
    if missing:
        fail("%s does not document: %s" % (doc_path, ", ".join(missing)))


def cmd_nofile(path, want):
    """--nofile-image of the operator: want, or "@operator" for the operator's own
    image (the one that carries logplane-nofile); "" for none (helper off)."""
    dep = find(load(path), "Deployment", "logplane")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    if want == "@operator":
        want = c["image"]
    got = [a[len("--nofile-image="):] for a in c.get("args", []) if a.startswith("--nofile-image=")]
    if got != [want]:
        fail("--nofile-image is %r, want %r" % (got, want))


def cmd_limits(path, want):
    """The per-namespace bounds reach the operator as flags: want is
    "pipelines,outputs,alerts,bytes" as the operator's arguments should say."""
    args = args_of(find(load(path), "Deployment", "logplane"))
    flags = ("--max-pipelines-per-namespace=", "--max-outputs-per-namespace=",
             "--max-alert-outputs-per-namespace=", "--max-config-bytes-per-namespace=")
    got = [",".join(a[len(f):] for a in args if a.startswith(f)) for f in flags]
    if got != want.split(","):
        fail("per-namespace bounds in the operator's arguments are %r, want %r" % (got, want.split(",")))


def cmd_hubnames(path):
    """The operator writes <hub service>-token and <hub service>-alerts; the hub
    Deployment must mount exactly those (any release name)."""
    docs = load(path)
    svc = [a.split("=", 1)[1] for d in docs if d["kind"] == "Deployment"
           for a in args_of(d) if a.startswith("--hub-service=")]
    if len(svc) != 1:
        fail("no single operator --hub-service argument: %r" % svc)
    hub = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == svc[0]]
    if not hub:
        fail("no hub Deployment named %s" % svc[0])
    mounted = sorted((v.get("secret") or {}).get("secretName", "")
                     for v in hub[0]["spec"]["template"]["spec"].get("volumes") or [] if v.get("secret"))
    want = sorted([svc[0] + "-token", svc[0] + "-alerts"])
    if mounted != want:
        fail("the hub mounts Secrets %r, the operator writes %r" % (mounted, want))


def cmd_rules(path, out):
    docs = load(path)
    rules = {"clusterRoles": [], "roles": []}
    for d in docs:
        if d["kind"] == "ClusterRole":
            rules["clusterRoles"].append(d)
        elif d["kind"] == "Role":
            rules["roles"].append(d)
    with open(out, "w") as f:
        json.dump(rules, f)


if __name__ == "__main__":
    cmds = {"defaults": (cmd_defaults, 1), "switches": (cmd_switches, 1), "crds": (cmd_crds, 2),
            "control": (cmd_control, 2), "nofile": (cmd_nofile, 2),
            "limits": (cmd_limits, 2),
            "same": (cmd_same, 2), "values": (cmd_values, 2), "rules": (cmd_rules, 2),
            "hubnames": (cmd_hubnames, 1)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != 2 + cmds[sys.argv[1]][1]:
        fail(__doc__)
    try:
        cmds[sys.argv[1]][0](*sys.argv[2:])
    except SystemExit:
        raise
    except Exception as e:  # malformed input is a failure with its reason, not a traceback
        fail("%s: %s" % (type(e).__name__, e))
