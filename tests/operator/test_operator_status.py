"""Status that tells the truth (issue "the first hour"): a LogPipeline's
status.configHash is the agents' configuration hash and status.outputs[] says per
LogOutput whether records reach it and why not; a route to an invalid LogOutput
makes the pipeline OutputNotReady (naming the output and its problem) while the
pipeline runs to its other outputs, with no contradicting conditions; a
LogOutput lists the pipelines that feed it (and `kubectl get lo` counts them);
every problem is listed in status.problems (bounded, with a count) and gets a
Warning Event; an idle operator writes nothing.

Runs against kubesim and, with LP_APISERVER=real, against etcd + kube-apiserver."""
# lp-apiserver: both
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, is_ready,  # noqa: E402
                     namespace, output, pipeline, wait_until)

T = Reporter("operator_status")
NS = "team-s"
MANY = 20  # problems of one pipeline: more than the 16 listed


def status(obj):
    return (obj or {}).get("status") or {}


def conds(obj):
    return {c["type"]: c for c in status(obj).get("conditions") or []}


def contradictions(obj):
    """What two conditions of obj say against each other."""
    c = conds(obj)
    bad = []
    ready = (c.get("Ready") or {}).get("status")
    for t, v in c.items():
        if t != "Ready" and ready == "True" and v.get("status") != "True":
            bad.append(f"Ready True but {t} {v.get('status')}")
    if (c.get("Valid") or {}).get("status") == "False" and (c.get("ConfigGenerated") or {}).get("status") == "True":
        bad.append("Valid False but ConfigGenerated True")
    if (c.get("ConfigGenerated") or {}).get("status") == "False" and (c.get("AgentsReady") or {}).get("status") == "True":
        bad.append("ConfigGenerated False but AgentsReady True")
    return bad


def main():
    env = Env("status")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace(NS),
               output(NS, "good", {"type": "stdout"}),
               output(NS, "idle", {"type": "stdout"}),
               output(NS, "broken", {"type": "loki", "loki": {"host": "loki.example.com",
                                                              "auth": {"secretRef": {"name": "no-such-secret"}}}}),
               pipeline(NS, "solo", ["good"]),
               pipeline(NS, "two", ["good", "broken"]),
               pipeline(NS, "multi", ["nope-a", "nope-b"]),
               pipeline(NS, "many", [f"nope-{i:02d}" for i in range(MANY)]),
               output(NS, "traces-out", {"type": "stdout"}),
               pipeline(NS, "traces", ["traces-out"], {"multiline": {"parsers": ["java"]}})])
    op = env.start_operator("--resync", "1s", "--debounce", "200ms")

    solo = wait_until(lambda: (lambda o: o if is_ready(o) else None)(env.get("lp", "solo", NS)), 60)
    if not T.check("solo_ready", solo is not None,
                   json.dumps(status(env.get("lp", "solo", NS)))[:600] + env.tail(op.log_path)):
        return
    solo = wait_until(lambda: (lambda o: o if status(o).get("configHash") else None)(env.get("lp", "solo", NS)),
                      10) or solo
    d = env.get("daemonset", "logplane-fluent-bit", CTRL_NS) or {}
    tmpl = ((d.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations")) or {})
    T.check("config_hash_is_agents_hash", status(solo).get("configHash") == tmpl.get("logplane.io/config-hash"),
            f"{status(solo).get('configHash')} vs pod template {tmpl.get('logplane.io/config-hash')}")
    outs = status(solo).get("outputs")
    T.check("outputs_delivered", isinstance(outs, list) and len(outs) == 1 and outs[0].get("name") == "good"
            and outs[0].get("delivered") == "True", json.dumps(outs))

    # the delivery a shape gives where it is less than the outputs' modes: a buffered multiline
    # stage (java) loses its open group on an agent crash, and ConfigGenerated says so; a
    # pipeline without one gets each output's mode and says nothing
    def traces_applied():
        o = env.get("lp", "traces", NS)
        return o if (conds(o).get("ConfigGenerated") or {}).get("reason") == "Applied" else None
    traces = wait_until(traces_applied, 30) or env.get("lp", "traces", NS)
    tmsg = (conds(traces).get("ConfigGenerated") or {}).get("message", "")
    smsg = (conds(solo).get("ConfigGenerated") or {}).get("message", "")
    T.check("weaker_delivery_in_status",
            "delivery: each output's mode, except an open multiline group" in tmsg
            and "agent crash" in tmsg and "delivery" not in smsg,
            f"traces: {tmsg!r}; solo: {smsg!r}")

    # a route to an invalid output: the pipeline runs to "good"; Ready names "broken" and why
    def two_down():
        o = env.get("lp", "two", NS)
        r = conds(o).get("Ready") or {}
        return o if r.get("reason") == "OutputNotReady" else None
    two = wait_until(two_down, 30) or env.get("lp", "two", NS)
    c = conds(two)
    r = c.get("Ready") or {}
    T.check("invalid_output_makes_pipeline_not_ready",
            r.get("status") == "False" and r.get("reason") == "OutputNotReady"
            and f"{NS}/broken" in r.get("message", "") and "no-such-secret" in r.get("message", ""),
            json.dumps(status(two))[:800])
    T.check("pipeline_with_one_invalid_output_still_runs",
            (c.get("Valid") or {}).get("status") == "True" and (c.get("ConfigGenerated") or {}).get("status") == "True",
            json.dumps(c)[:800])
    by = {o.get("name"): o for o in status(two).get("outputs") or []}
    T.check("outputs_say_why_not",
            (by.get("good") or {}).get("delivered") == "True"
            and (by.get("broken") or {}).get("delivered") == "False"
            and (by.get("broken") or {}).get("reason") == "OutputInvalid"
            and "no-such-secret" in (by.get("broken") or {}).get("message", ""), json.dumps(by)[:800])

    # an output lists the pipelines that feed it; kubectl get lo counts them
    def good_listed():
        o = env.get("lo", "good", NS)
        return o if status(o).get("pipelineCount") == 2 else None
    good = wait_until(good_listed, 20) or env.get("lo", "good", NS)
    T.check("output_lists_pipelines", status(good).get("pipelines") == ["solo", "two"]
            and status(good).get("pipelineCount") == 2, json.dumps(status(good))[:500])
    idle = env.get("lo", "idle", NS)
    T.check("unused_output_counts_zero", status(idle).get("pipelineCount") == 0 and not status(idle).get("pipelines"),
            json.dumps(status(idle))[:500])
    table = env.kubectl("get", "lo", "-n", NS).stdout
    rows = {ln.split()[0]: ln.split() for ln in table.strip().splitlines()}
    hdr = rows.get("NAME") or []
    col = hdr.index("PIPELINES") if "PIPELINES" in hdr else -1
    T.check("kubectl_get_lo_pipelines_column",
            col > 0 and rows.get("good", [])[col:col + 1] == ["2"] and rows.get("idle", [])[col:col + 1] == ["0"],
            table)

    # every problem listed, bounded, with a count; an Event each
    multi = wait_until(lambda: (lambda o: o if status(o).get("problemCount") else None)(env.get("lp", "multi", NS)), 20)
    probs = status(multi).get("problems") or []
    T.check("every_problem_listed",
            status(multi).get("problemCount") == 2
            and [p.get("field") for p in probs] == ["spec.routes[0].outputRef", "spec.routes[1].outputRef"]
            and all("not found" in p.get("message", "") for p in probs), json.dumps(status(multi))[:800])
    many = wait_until(lambda: (lambda o: o if status(o).get("problemCount") else None)(env.get("lp", "many", NS)), 20)
    T.check("problems_bounded_with_count",
            status(many).get("problemCount") == MANY and len(status(many).get("problems") or []) == 16,
            json.dumps({k: v for k, v in status(many).items() if k != "problems"})[:400]
            + f" listed {len(status(many).get('problems') or [])}")

    def multi_events():
        items = json.loads(env.kubectl("get", "events", "-n", NS, "-o", "json", "--field-selector",
                                       "involvedObject.name=multi,type=Warning").stdout)["items"]
        fields = {f for f in ("spec.routes[0].outputRef", "spec.routes[1].outputRef")
                  if any(e.get("message", "").startswith(f + ":") for e in items)}
        return items if len(fields) == 2 else None
    ev = wait_until(multi_events, 20)
    T.check("event_per_problem", ev is not None, "Warning Events of multi: " + json.dumps(
        [e.get("message") for e in json.loads(env.kubectl("get", "events", "-n", NS, "-o", "json", "--field-selector",
                                                          "involvedObject.name=multi").stdout)["items"]])[:600])

    def two_events():
        items = json.loads(env.kubectl("get", "events", "-n", NS, "-o", "json", "--field-selector",
                                       "involvedObject.name=two,type=Warning").stdout)["items"]
        return [e for e in items if e.get("reason") == "OutputNotReady" and "broken" in e.get("message", "")] or None
    T.check("event_for_route_to_invalid_output", wait_until(two_events, 20) is not None,
            "no Warning OutputNotReady Event on LogPipeline two naming broken")

    bad = {f"{kind}/{o['metadata']['name']}": contradictions(o)
           for kind in ("lp", "lo") for o in env.list(kind, NS) if contradictions(o)}
    T.check("no_contradicting_conditions", not bad, json.dumps(bad)[:800])

    # idle: a 1 s resync re-checks everything and writes nothing
    time.sleep(2)
    env.reset_counters()
    time.sleep(5)
    w = env.counters()
    T.check("idle_zero_writes", w.get("writesTotal", 0) == 0, f"writes={w.get('writes')}")

    # the broken output fixed: the pipeline is Ready, every output delivered
    env.kubectl("patch", "lo", "broken", "-n", NS, "--type=json", "-p",
                json.dumps([{"op": "remove", "path": "/spec/loki/auth"}]))
    two = wait_until(lambda: (lambda o: o if is_ready(o) else None)(env.get("lp", "two", NS)), 30)
    outs = status(two).get("outputs") or []
    T.check("fixed_output_delivered", two is not None and [o.get("delivered") for o in outs] == ["True", "True"]
            and status(two).get("configHash"), json.dumps(status(env.get("lp", "two", NS)))[:600])

    def settled():  # no status write for 2 s
        env.reset_counters()
        time.sleep(2)
        return not any(k.startswith(("logpipelines", "logoutputs")) for k in env.counters().get("writes", {}))
    wait_until(settled, 30)
    clean_exit(T, env, op, "sigterm_exit_0")

    # a restart writes no status: solo keeps the configHash of the configuration that first
    # carried it (the fix above made a newer one)
    hash_before = status(env.get("lp", "solo", NS)).get("configHash")
    d = env.get("daemonset", "logplane-fluent-bit", CTRL_NS) or {}
    now_hash = ((d.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations")) or {}).get(
        "logplane.io/config-hash")
    env.reset_counters()
    op2 = env.start_operator("--resync", "1s", "--debounce", "200ms", name="op2")
    wait_until(lambda: "pipelines, " in env.operator_log(op2), 20)
    time.sleep(4)
    w = env.counters().get("writes", {})
    lp_writes = sum(v for k, v in w.items() if k.startswith("logpipelines"))
    # on the real server a restart rewrites a few statuses for other reasons (also before
    # configHash existed): there only the kept hash is checked
    T.check("restart_keeps_config_hash_no_writes",
            hash_before and hash_before != now_hash and (lp_writes == 0 or env.real is not None)
            and status(env.get("lp", "solo", NS)).get("configHash") == hash_before,
            f"solo configHash {hash_before} (agents now {now_hash}) -> "
            f"{status(env.get('lp', 'solo', NS)).get('configHash')}; writes {w}")
    clean_exit(T, env, op2, "sigterm_exit_0_after_restart")


if __name__ == "__main__":
    T.run(main)
