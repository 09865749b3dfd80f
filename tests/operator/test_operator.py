"""The operator against kubesim over TLS: owned objects appear with the expected
content, Ready once the DaemonSet rolled out, a pipeline change is one
ConfigMap write and one DaemonSet template change, a Secret change rolls the
pods, deletes update and finally remove everything, an idle resync writes
nothing, an invalid pipeline does not hold back a valid one.

Runs against kubesim and, with LP_APISERVER=real, against etcd + kube-apiserver
(tests/run.sh runs both)."""
# lp-apiserver: both
import base64
import json
import os
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, config_data,  # noqa: E402
                     credentials_data, is_ready, namespace, output, pipeline, secret, wait_until)

T = Reporter("operator")
# The idle check: with a 1 s resync, IDLE_S seconds are IDLE_S full re-checks of
# everything, each of which must write nothing (the same proof as 30 s at 5 s).
RESYNC_S = 1
IDLE_S = int(os.environ.get("LP_IDLE_SECONDS", "6"))


def ds(env):
    return env.get("daemonset", "logplane-fluent-bit", CTRL_NS)


def template_hash(d):
    return (((d or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {})
            .get("logplane.io/config-hash"))


def config_text(env):
    data = config_data(env)  # the ConfigMaps the DaemonSet mounts
    if not data:
        return None
    return "\n".join(v for _, v in sorted(data.items()))


def reconciles(port):
    """The sum of logplane_reconcile_total on the operator's /metrics, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.split("\n") if ln.startswith("logplane_reconcile_total{"))


def container(d):
    return d["spec"]["template"]["spec"]["containers"][0]


def main():
    env = Env("operator")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("team-a"),
               secret("team-a", "loki-auth", {"username": "writer", "password": "s3cret-one"}),
               output("team-a", "loki", {"type": "loki", "loki": {"host": "loki.example.com",
                                                                  "auth": {"secretRef": {"name": "loki-auth"}}}}),
               output("team-a", "console", {"type": "stdout"}),
               pipeline("team-a", "app", ["loki"])])
    op = env.start_operator("--resync", f"{RESYNC_S}s", "--debounce", "300ms")

    # 1. owned objects with the expected content
    d = wait_until(lambda: ds(env), 30)
    if not T.check("daemonset_created", d is not None, "no DaemonSet after 30 s: " + env.tail(op.log_path)):
        return
    c = container(d)
    envs = {e["name"]: e for e in c.get("env", [])}
    secret_vars = [n for n, e in envs.items() if "secretKeyRef" in (e.get("valueFrom") or {})]
    T.check("daemonset_content",
            c["image"] == "fluent/fluent-bit:5.1.1"
            and all((c[k]["httpGet"]["path"], c[k]["httpGet"]["port"]) == ("/metrics", "lp-metrics")
                    for k in ("livenessProbe", "readinessProbe"))
            and any(p.get("containerPort") == 2021 and p.get("name") == "lp-metrics" for p in c.get("ports", []))
            and not any(p.get("containerPort") == 2020 for p in c.get("ports", []))
            and envs.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName"
            and len(secret_vars) >= 1
            and all(envs[v]["valueFrom"]["secretKeyRef"]["name"].startswith("logplane-credentials-")
                    for v in secret_vars)
            and template_hash(d)
            and d["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "logplane",
            json.dumps(c)[:800])
    text = wait_until(lambda: config_text(env), 10) or ""
    # every ${VAR} the config uses is set in the pod spec
    import re
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    T.check("configmap_content", "loki.example.com" in text and used and used <= set(envs),
            f"vars used {sorted(used)}, set {sorted(envs)}; config starts {text[:300]!r}")
    T.check("no_secret_in_configmap", "s3cret-one" not in text and "writer" not in text, "secret value in ConfigMap")
    creds = {"data": credentials_data(env)} if credentials_data(env) is not None else None
    vals = {base64.b64decode(v).decode() for v in ((creds or {}).get("data") or {}).values()}
    T.check("credentials_secret", creds is not None and "s3cret-one" in vals, json.dumps(creds)[:300])
    sa = env.get("serviceaccount", "logplane-fluent-bit", CTRL_NS)
    cr = env.get("clusterrole", "logplane-fluent-bit")
    crb = env.get("clusterrolebinding", "logplane-fluent-bit")
    rules = (cr or {}).get("rules") or []
    T.check("rbac", sa is not None and cr is not None and crb is not None
            and any(set(r.get("resources", [])) >= {"pods", "namespaces"} and set(r.get("verbs", [])) == {"get", "list", "watch"}
                    for r in rules)
            and crb["roleRef"]["name"] == "logplane-fluent-bit"
            and crb["subjects"][0]["namespace"] == CTRL_NS,
            json.dumps([sa, cr, crb])[:600])

    # 2. kubectl wait --for=condition=Ready
    r = env.kubectl("wait", "--for=condition=Ready", "lp/app", "-n", "team-a", "--timeout=60s", check=False)
    T.check("wait_ready", r.returncode == 0, r.stderr + env.tail(op.log_path))
    lo = env.get("lo", "loki", "team-a")
    T.check("output_ready", is_ready(lo), json.dumps((lo or {}).get("status"))[:500])

    # health, readiness and metrics on the operator's HTTP server
    port = env.operator_port(op)
    got = {}
    # readiness follows the caches on a 500 ms tick: a fast server can make the
    # pipeline Ready before the tick
    wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).status == 200, 5)
    for path in ("/healthz", "/readyz", "/metrics"):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                got[path] = (r.status, r.read().decode())
        except Exception as e:
            got[path] = (0, repr(e))
    T.check("health_ready_metrics", port and got["/healthz"][0] == 200 and got["/readyz"][0] == 200
            and got["/metrics"][0] == 200 and "logplane_build_info" in got["/metrics"][1]
            and 'logplane_pipelines{condition="Ready",status="True"} 1' in got["/metrics"][1]
            and 'logplane_reconcile_total{kind="LogPipeline",result="success"}' in got["/metrics"][1],
            f"port {port}: " + json.dumps({k: [v[0], v[1][:200]] for k, v in got.items()}))
    # LogOutputs by condition: as many Ready=True as the cluster has Ready outputs, none False
    text = got["/metrics"][1]
    ready_los = sum(1 for o in env.list("lo") if is_ready(o))
    want = f'logplane_outputs{{condition="Ready",status="True"}} {ready_los}'
    T.check("outputs_gauge", ready_los >= 1 and want in text.splitlines()
            and 'logplane_outputs{condition="Ready",status="False"} 0' in text.splitlines(),
            f"want {want!r}: " + " | ".join(l for l in text.splitlines() if l.startswith("logplane_outputs")))
    # the config reconcile's duration is measured: its histogram sum is > 0 once a config was applied
    csum = [float(l.split()[-1]) for l in text.splitlines()
            if l.startswith('logplane_reconcile_duration_seconds_sum{kind="config"}')]
    ccount = [float(l.split()[-1]) for l in text.splitlines()
              if l.startswith('logplane_reconcile_duration_seconds_count{kind="config"}')]
    T.check("config_duration_measured", csum and ccount and ccount[0] >= 1 and csum[0] > 0,
            f"sum {csum} count {ccount}")

    # let statuses settle, then change the pipeline
    time.sleep(2)
    env.reset_counters()
    h1 = template_hash(ds(env))
    env.kubectl("patch", "lp", "app", "-n", "team-a", "--type=merge", "-p",
                json.dumps({"spec": {"transforms": [{"addFields": [{"key": "cluster", "value": "blue"}]}]}}))
    ok = wait_until(lambda: "blue" in (config_text(env) or "") and template_hash(ds(env)) != h1, 20)
    wait_until(lambda: is_ready(env.get("lp", "app", "team-a")), 30)
    time.sleep(2)
    c1 = env.counters()
    w = c1.get("writes", {})
    # the new content-named part is created, then (after the DaemonSet moved) the old one deleted
    T.check("change_one_configmap_write", ok and w.get("configmaps", 0) == 2,
            f"config changed={bool(ok)} writes={w}")
    T.check("change_one_daemonset_write", w.get("daemonsets.apps", 0) == 1 and template_hash(ds(env)) != h1,
            f"writes={w} hash {h1} -> {template_hash(ds(env))}")
    T.check("change_no_other_owned_writes",
            all(w.get(k, 0) == 0 for k in ("secrets", "serviceaccounts", "clusterroles.rbac.authorization.k8s.io",
                                           "clusterrolebindings.rbac.authorization.k8s.io")), f"writes={w}")
    T.check("change_ready_again", is_ready(env.get("lp", "app", "team-a")),
            json.dumps(env.get("lp", "app", "team-a").get("status"))[:400])

    # 3. a referenced Secret changes -> rollout (template hash), not the ConfigMap
    env.reset_counters()
    h2 = template_hash(ds(env))
    env.apply(secret("team-a", "loki-auth", {"username": "writer", "password": "s3cret-two"}))
    ok = wait_until(lambda: template_hash(ds(env)) != h2, 20)
    time.sleep(1.5)
    vals = {base64.b64decode(v).decode() for v in (credentials_data(env) or {}).values()}
    w = env.counters().get("writes", {})
    T.check("secret_change_rolls", ok and "s3cret-two" in vals and w.get("configmaps", 0) == 0,
            f"hash {h2} -> {template_hash(ds(env))}; writes={w}")
    wait_until(lambda: is_ready(env.get("lp", "app", "team-a")), 30)

    # 4. idle with a fast resync: re-checks run, and write nothing at all
    time.sleep(2)
    env.reset_counters()
    r0 = reconciles(port)
    time.sleep(IDLE_S)
    c2 = env.counters()
    r1 = reconciles(port)
    T.check(f"idle_{IDLE_S}s_zero_writes", c2.get("writesTotal", 0) == 0,
            f"writes={c2.get('writes')} (requests {c2.get('requestsTotal')})")
    T.check("idle_resyncs_ran", r0 is not None and r1 is not None and r1 - r0 >= IDLE_S // RESYNC_S - 1,
            f"logplane_reconcile_total {r0} -> {r1} in {IDLE_S}s at a {RESYNC_S}s resync")
    T.check("idle_requests_bounded", c2.get("requestsTotal", 0) < 2 * IDLE_S,
            f"{c2.get('requestsTotal')} requests in {IDLE_S}s: {c2.get('requests')}")

    # 5. an invalid pipeline next to a valid one
    env.apply([pipeline("team-a", "bad", ["does-not-exist"]), pipeline("team-a", "good", ["console"])])
    good = wait_until(lambda: (lambda o: o if is_ready(o) else None)(env.get("lp", "good", "team-a")), 30)
    T.check("valid_next_to_invalid_ready", good is not None, json.dumps((env.get("lp", "good", "team-a") or {}).get("status"))[:400])
    bad = wait_until(lambda: (lambda o: o if condition(o, "Valid") else None)(env.get("lp", "bad", "team-a")), 20)
    v = condition(bad, "Valid") or {}
    T.check("invalid_valid_false_names_field",
            v.get("status") == "False" and "spec.routes[0].outputRef" in v.get("message", "")
            and (condition(bad, "Ready") or {}).get("status") == "False",
            json.dumps(v))
    ev = wait_until(lambda: json.loads(env.kubectl("get", "events", "-n", "team-a", "-o", "json",
                                                   "--field-selector", "involvedObject.name=bad,type=Warning").stdout)["items"], 15)
    T.check("invalid_event_recorded", bool(ev) and "spec.routes[0].outputRef" in (ev or [{}])[0].get("message", ""),
            json.dumps(ev)[:400])

    # 5b. a route to an output that exists but is invalid names the output's problem
    env.apply([output("team-a", "broken", {"type": "loki", "loki": {"host": "loki.example.com",
                                                                    "auth": {"secretRef": {"name": "no-such-secret"}}}}),
               pipeline("team-a", "to-broken", ["broken"])])
    want = 'LogOutput "broken" is invalid: spec.loki.auth.secretRef: Secret "no-such-secret" not found'

    def to_broken_msgs():
        o = env.get("lp", "to-broken", "team-a") or {}
        msgs = [c.get("message", "") for c in (o.get("status") or {}).get("conditions") or []]
        return msgs if any(want in m for m in msgs) else None
    msgs = wait_until(to_broken_msgs, 20)
    T.check("route_to_invalid_output_says_why", msgs is not None,
            json.dumps((env.get("lp", "to-broken", "team-a") or {}).get("status"))[:500])
    env.kubectl("delete", "lp", "to-broken", "-n", "team-a")

    # 6. a pipeline through the aggregator: StatefulSet, headless Service, PDB
    env.apply(pipeline("team-a", "agg", ["console"], {"aggregator": {"enabled": True}}))
    ok = wait_until(lambda: is_ready(env.get("lp", "agg", "team-a")), 40)
    sts = env.get("statefulset", "logplane-aggregator", CTRL_NS)
    svc = env.get("service", "logplane-aggregator", CTRL_NS)
    pdb = env.get("poddisruptionbudget", "logplane-aggregator", CTRL_NS)
    acm = config_data(env, ("statefulset", "logplane-aggregator"))
    T.check("aggregator_objects", ok and sts and svc and pdb and acm
            and sts["spec"]["replicas"] == 2 and svc["spec"].get("clusterIP") == "None"
            and (sts["spec"]["template"]["metadata"].get("annotations") or {}).get("logplane.io/config-hash")
            == template_hash(ds(env)),
            json.dumps([bool(x) for x in (ok, sts, svc, pdb, acm)]) + json.dumps(
                (env.get("lp", "agg", "team-a") or {}).get("status"))[:400])

    # 6. delete a pipeline -> the config no longer has it
    text_before = config_text(env) or ""
    env.kubectl("delete", "lp", "good", "-n", "team-a")
    ok = wait_until(lambda: (config_text(env) or "") != text_before, 20)
    T.check("delete_pipeline_updates_config", ok and "blue" in (config_text(env) or ""),
            (config_text(env) or "")[:300])

    # 7. delete everything -> the owned workloads go away
    env.kubectl("delete", "lp", "--all", "-n", "team-a")
    env.kubectl("delete", "lo", "--all", "-n", "team-a", "--timeout=60s")
    owned = "app.kubernetes.io/managed-by=logplane"
    gone = wait_until(lambda: ds(env) is None and not env.list("configmap", CTRL_NS, owned)
                      and env.get("serviceaccount", "logplane-fluent-bit", CTRL_NS) is None
                      and env.get("clusterrole", "logplane-fluent-bit") is None
                      and not env.list("secret", CTRL_NS, owned)
                      and env.get("statefulset", "logplane-aggregator", CTRL_NS) is None
                      and env.get("service", "logplane-aggregator", CTRL_NS) is None, 30)
    left = env.list("all", CTRL_NS) if not gone else []
    T.check("delete_all_removes_owned", bool(gone), json.dumps([o["kind"] + "/" + o["metadata"]["name"] for o in left]))
    T.check("outputs_deleted", not env.list("lo"), "LogOutputs still there (finalizer not removed?)")

    clean_exit(T, env, op, "sigterm_exit_0")


if __name__ == "__main__":
    T.run(main)
