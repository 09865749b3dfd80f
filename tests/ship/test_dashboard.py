"""The chart's Grafana dashboard: it renders (helm template, the ConfigMap the
Grafana sidecar reads, under two release names), its JSON is valid and well
formed (unique panel ids, a query on every panel), it has the panels the
issue asks for (errors per minute per namespace, top noisy pods, the agents'
records in/out, retries and drops), and every query names only series that
something logplane runs actually exports:

- the logplane_counter_* / logplane_histogram_* series of spec.metrics, taken
  from the render goldens (tests/data/render/golden: metric_namespace,
  metric_mode, metric_name and the add_label names of every log_to_metrics
  processor); a query on them may only use their declared labels and the
  scrape's own (instance, job, endpoint, agent_pod), since the PodMonitor drops
  the agents' namespace/pod/container target labels (also checked here);
- the operator's families, from the /metrics of a logplane-operator started
  against kubesim, and the live-tail hub's, from a logplane-hub's /metrics;
- Fluent Bit 5.1.1's own metrics (tests/data/fluent-bit-5.1.1-metrics.txt).

Run with Debian's python3 (python3-yaml). Prints PASS/FAIL lines."""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

import yaml

sys.dont_write_bytecode = True
TOP = os.environ.get("LP_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "operator"))
from harness import CTRL_NS, Env, Reporter, apply_crds, clean_exit, namespace, wait_until  # noqa: E402

T = Reporter("dashboard")
HELM = os.path.join(TOP, ".deps", "bin", "helm")
SCRAPE_LABELS = {"instance", "job", "endpoint", "agent_pod"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan"}
GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"


def helm_template(release, *sets):
    tmp = tempfile.mkdtemp(prefix="lp-dash-")
    env = dict(os.environ, HOME=tmp, HELM_CACHE_HOME=tmp + "/c", HELM_CONFIG_HOME=tmp + "/f",
               HELM_DATA_HOME=tmp + "/d")
    args = [HELM, "template", release, os.path.join(TOP, "charts", "logplane"), "-n", "logplane-system"]
    for s in sets:
        args += ["--set", s]
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("helm template: " + r.stderr[-500:])
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def golden_log_metrics():
    """{series name: set of labels} of every log_to_metrics processor in the goldens."""
    out = {}
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "data", "render", "golden", "*.txt"))):
        with open(path) as f:
            parts = re.split(r"^== (\S+).*$", f.read(), flags=re.M)
        for name, body in zip(parts[1::2], parts[2::2]):
            if not name.endswith(".yaml"):
                continue
            stack = [yaml.safe_load(body)]
            while stack:
                v = stack.pop()
                if isinstance(v, list):
                    stack.extend(v)
                elif isinstance(v, dict):
                    stack.extend(v.values())
                    if v.get("name") == "log_to_metrics":
                        labels = {str(a).split()[0] for a in v.get("add_label") or []}
                        labels |= set(v.get("label_field") or [])
                        base = "%s_%s_%s" % (v["metric_namespace"], v["metric_mode"], v["metric_name"])
                        names = [base] if v["metric_mode"] != "histogram" else \
                            [base + "_bucket", base + "_sum", base + "_count"]
                        for n in names:
                            out.setdefault(n, set()).update(labels | ({"le"} if n.endswith("_bucket") else set()))
    return out


def fluentbit_metrics():
    out = set()
    with open(os.path.join(TOP, "tests", "data", "fluent-bit-5.1.1-metrics.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                out.add(line.split()[0])
    return out


def operator_metrics():
    """Family names on a running operator's /metrics (histograms with their series)."""
    env = Env("dashboard")
    apply_crds(env)
    env.apply([namespace(CTRL_NS)])
    op = env.start_operator()
    try:
        port = wait_until(lambda: env.operator_port(op), 30)
        text = wait_until(lambda: urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                                         timeout=5).read().decode(), 30) or ""
    finally:
        clean_exit(T, env, op, "operator_exits_clean")
    out = set()
    for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, flags=re.M):
        out.add(m.group(1))
        if m.group(2) == "histogram":
            out |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    return out


def hub_metrics():
    sys.path.insert(0, os.path.join(TOP, "tests", "hub"))
    from hublib import Hub
    hub = Hub()
    try:
        return {k.split("{")[0] for k in hub.metrics()}
    finally:
        rc = hub.stop()
        T.check("hub_exits_clean", rc == 0, "exit %s" % rc)


def analyse(expr):
    """(metric names, label names) a PromQL expression uses."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels = set()
    for m in re.finditer(r"\{([^}]*)\}", s):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(1)))
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    for g in re.finditer(GROUPING, s):
        labels |= {x.strip() for x in g.group(1).split(",") if x.strip()}
    s = re.sub(GROUPING, " ", s)
    metrics = set()
    for t in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", s):
        if not t.group(2) and t.group(1) not in KEYWORDS:
            metrics.add(t.group(1))
    return metrics, labels


def queries(board):
    """(where, expr) of every panel target, and the metric-naming variable queries."""
    out = []
    for p in board.get("panels", []):
        for t in p.get("targets", []):
            out.append(("panel %r" % p.get("title"), t.get("expr", "")))
    for v in board.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            m = re.fullmatch(r"label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", v.get("query", ""))
            if not m:
                out.append(("variable %r" % v.get("name"), "unparsed: " + v.get("query", "")))
                continue
            # the variable's label is used on the series named
            out.append(("variable %r" % v.get("name"), "sum by (%s) (%s)" % (m.group(2), m.group(1))))
    return out


def problems(board, log_metrics, other):
    bad = []
    for where, expr in queries(board):
        if expr.startswith("unparsed: "):
            bad.append("%s: %s" % (where, expr))
            continue
        metrics, labels = analyse(expr)
        if not metrics:
            bad.append("%s names no metric: %s" % (where, expr))
        for m in sorted(metrics - set(log_metrics) - other):
            bad.append("%s: %s is exported by nothing logplane runs" % (where, m))
        logm = metrics & set(log_metrics)
        if logm:
            allowed = set().union(*(log_metrics[m] for m in logm)) | SCRAPE_LABELS
            for lb in sorted(labels - allowed):
                bad.append("%s: label %r is not a label of %s" % (where, lb, ", ".join(sorted(logm))))
    return bad


def main():
    docs = helm_template("logplane", "grafanaDashboard.enabled=true", "serviceMonitor.enabled=true",
                         "prometheusRule.enabled=true")
    cm = next((d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "logplane-dashboard"), None)
    if not T.check("renders_as_configmap", cm is not None and cm["metadata"]["labels"].get("grafana_dashboard") == "1",
                   "no ConfigMap logplane-dashboard labelled grafana_dashboard"):
        return
    other = helm_template("obs", "grafanaDashboard.enabled=true")
    T.check("renders_under_another_release", any(d["kind"] == "ConfigMap" and d["metadata"]["name"] == "obs-logplane-dashboard"
                                                 for d in other), [d["metadata"]["name"] for d in other][:20])
    try:
        board = json.loads(cm["data"]["logplane.json"])
    except ValueError as e:
        T.check("json_valid", False, e)
        return
    panels = board.get("panels", [])
    ids = [p.get("id") for p in panels]
    T.check("json_valid", isinstance(board.get("title"), str) and len(ids) == len(set(ids)) and all(
        "gridPos" in p and (p.get("type") == "row" or p.get("targets")) for p in panels),
        "ids %s" % ids)
    titles = {p.get("title") for p in panels}
    want = ["Errors per minute per namespace", "Top noisy pods", "Records in / delivered",
            "Retries and failed retries", "Dropped records by output", "Live tail: records in, out, dropped"]
    T.check("has_the_panels", all(t in titles for t in want), "missing %s" % [t for t in want if t not in titles])

    pm = next((d for d in docs if d["kind"] == "PodMonitor"), {})
    eps = pm.get("spec", {}).get("podMetricsEndpoints", [])

    def keeps(e, name):
        """Does endpoint e keep the series name (its metricRelabelings' keep rules)?"""
        rules = [r for r in e.get("metricRelabelings", []) if r.get("action") == "keep"]
        return all(re.fullmatch(r["regex"], name) for r in rules)
    ep = next((e for e in eps if e.get("port") == "lp-metrics" and keeps(e, "logplane_counter_records_total")), None)
    fb = [e for e in eps if keeps(e, "fluentbit_input_records_total")]
    drops = [r for r in (ep or {}).get("relabelings", []) if r.get("action") == "labeldrop"]
    # Fluent Bit's built-in HTTP server (2020) is off: the agents' own metrics come
    # from the exporter on lp-metrics, once, with the agent's namespace and pod kept
    # (the alerts and panels select namespace="<control namespace>")
    T.check("podmonitor_scrapes_fluentbit_metrics_on_the_exporter",
            len(fb) == 1 and fb[0].get("port") == "lp-metrics" and fb[0].get("path") == "/metrics"
            and not any(r.get("action") == "labeldrop" for r in fb[0].get("relabelings", []))
            and not keeps(fb[0], "logplane_counter_records_total")
            and (ep is None or not keeps(ep, "fluentbit_input_records_total"))
            and not any(e.get("port") == "http" for e in eps),
            json.dumps(eps)[:600])
    sm = next((d for d in docs if d["kind"] == "ServiceMonitor"), {})
    T.check("servicemonitor_scrapes_the_hub",
            any(e.get("port") == "http-hub" for e in sm.get("spec", {}).get("endpoints", [])) and any(
                d["kind"] == "Service" and any(p.get("name") == "http-hub" for p in d["spec"]["ports"]) for d in docs),
            json.dumps(sm)[:400])
    T.check("podmonitor_scrapes_log_metrics_keeping_their_labels",
            ep is not None and drops and all(re.fullmatch(drops[0]["regex"], x) for x in ("namespace", "pod", "container")),
            json.dumps(pm)[:600])

    # backpressure: the agents' inputs use filesystem storage, which pauses on
    # storage.max_chunks_up; Fluent Bit 5.1.1 says so only in
    # fluentbit_input_ingestion_paused (fluentbit_input_storage_overlimit is the
    # memory limit's, src/flb_storage.c, and stays 0 then: seen on a real run)
    rule = next((d for d in docs if d["kind"] == "PrometheusRule"), {})
    exprs = [r.get("expr", "") for g in rule.get("spec", {}).get("groups", []) for r in g.get("rules", [])
             if r.get("alert") == "LogplaneAgentBufferFilling"]
    paused_panel = [p for p in panels for t in p.get("targets", []) if "fluentbit_input_ingestion_paused" in t.get("expr", "")]
    T.check("backpressure_is_ingestion_paused",
            len(exprs) == 1 and "fluentbit_input_ingestion_paused" in exprs[0] and paused_panel,
            "rule %s; panels %s" % (exprs, [p.get("title") for p in paused_panel]))

    log_metrics = golden_log_metrics()
    T.check("goldens_have_the_dashboard_counter",
            log_metrics.get("logplane_counter_records_total", set()) >= {"level", "namespace", "workload", "pod"},
            log_metrics)
    # the checker itself: an unknown name and an undeclared label are caught
    fake = {"panels": [{"title": "x", "targets": [
        {"expr": 'sum by (node) (rate(logplane_counter_records_total{level="error"}[5m])) + nope_total'}]}]}
    caught = problems(fake, log_metrics, set())
    T.check("checker_catches_unknown_names_and_labels",
            any("nope_total" in p for p in caught) and any("'node'" in p for p in caught), caught)

    exported = operator_metrics() | fluentbit_metrics() | hub_metrics()
    T.check("operator_and_hub_metrics_read", {"logplane_reconcile_total", "logplane_hub_records_in_total"} <= exported,
            sorted(exported)[:20])
    bad = problems(board, log_metrics, exported)
    T.check("queries_name_only_exported_series", not bad, "; ".join(bad))


if __name__ == "__main__":
    T.run(main)
