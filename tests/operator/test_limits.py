"""Per-namespace limits against kubesim (docs/security.md, "Bounds per tenant"):
one tenant's 100 pipelines with large regexes and one LogOutput too many do not
grow the shipped configuration beyond --max-config-bytes-per-namespace; the
pipelines and outputs over a limit (the newest by creation time, then name) say
LimitExceeded naming the limit, its value and the count; another tenant's new
pipeline still becomes Ready."""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, config_data,  # noqa: E402
                     is_ready, namespace, output, pipeline, wait_until)

T = Reporter("limits")
N = 100          # the flooding tenant's pipelines
MAX_PL = 40      # --max-pipelines-per-namespace
MAX_OUT = 3      # --max-outputs-per-namespace
MAX_BYTES = 64 * 1024  # --max-config-bytes-per-namespace


def big_grep(i):
    """A ~2 KB regex (an alternation of literals: linear, accepted)."""
    words = "|".join("w%03d%04d" % (i, j) for j in range(220))
    return {"transforms": [{"grep": {"include": [{"key": "log", "regex": "level=(?:%s)" % words}]}}]}


def shipped_bytes(env):
    """Bytes of the configuration files the shipper DaemonSet (and the
    aggregator StatefulSet, when there is one) mounts."""
    total = 0
    for w in (("daemonset", "logplane-fluent-bit"), ("statefulset", "logplane-aggregator")):
        total += sum(len(v.encode()) for v in (config_data(env, w) or {}).values())
    return total


def cfg(obj):
    return condition(obj, "ConfigGenerated") or {}


def settled(obj):
    """ConfigGenerated decided (Applied or LimitExceeded) for the current generation."""
    c = cfg(obj)
    st = (obj or {}).get("status") or {}
    return (st.get("observedGeneration") == obj["metadata"].get("generation")
            and c.get("reason") in ("Applied", "LimitExceeded"))


def main():
    env = Env("limits")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("calm"), namespace("flood"),
               output("calm", "console", {"type": "stdout"}),
               pipeline("calm", "first", ["console"])] +
              [output("flood", "out-%d" % i, {"type": "stdout"}) for i in range(MAX_OUT + 1)])
    op = env.start_operator("--resync", "0", "--debounce", "300ms",
                            "--max-pipelines-per-namespace", str(MAX_PL),
                            "--max-outputs-per-namespace", str(MAX_OUT),
                            "--max-config-bytes-per-namespace", "64Ki")
    ok = wait_until(lambda: is_ready(env.get("lp", "first", "calm")), 60)
    T.check("calm_ready_at_start", ok, env.tail(op.log_path))
    before = shipped_bytes(env)

    # the flood: 100 pipelines of ~2 KB of regex each (~200 KB unbounded), all to
    # out-0, and one to the output over the limit
    env.apply([pipeline("flood", "p-%03d" % i, ["out-0"], big_grep(i)) for i in range(N)])

    def all_settled():
        items = env.list("lp", "flood")
        return len(items) == N and all(settled(o) for o in items)
    ok = wait_until(all_settled, 120, interval=1.0)
    items = env.list("lp", "flood")
    T.check("flood_settled", ok, json.dumps([cfg(o) for o in items if not settled(o)][:3])[:600]
            + "; " + env.tail(op.log_path))
    after = shipped_bytes(env)
    T.check("config_growth_bounded", after - before <= MAX_BYTES,
            f"shipped config grew by {after - before} bytes ({before} -> {after}), limit {MAX_BYTES}")

    # which are in: a prefix by (creationTimestamp, name)
    order = sorted(items, key=lambda o: (o["metadata"].get("creationTimestamp", ""), o["metadata"]["name"]))
    applied = [cfg(o).get("reason") == "Applied" for o in order]
    n_in = sum(applied)
    T.check("kept_are_first_by_creation", 0 < n_in < MAX_PL and applied == [True] * n_in + [False] * (N - n_in),
            f"{n_in} applied; pattern {''.join('1' if a else '0' for a in applied)}")
    # Ready follows ConfigGenerated once the DaemonSet's rollout is observed
    kept = {o["metadata"]["name"] for o in order[:n_in]}

    def kept_not_ready():
        return [o for o in env.list("lp", "flood") if o["metadata"]["name"] in kept and not is_ready(o)]
    wait_until(lambda: n_in > 0 and not kept_not_ready(), 60, interval=0.5)
    late = kept_not_ready()
    T.check("kept_are_ready", n_in > 0 and not late, json.dumps([o.get("status") for o in late][:2])[:500])

    over_count = [cfg(o) for o in order[MAX_PL:]]
    T.check("count_limit_condition",
            all(c.get("status") == "False" and c.get("reason") == "LimitExceeded"
                and "--max-pipelines-per-namespace" in c.get("message", "")
                and f"limit of {MAX_PL}" in c.get("message", "") and f"has {N} LogPipelines" in c.get("message", "")
                for c in over_count), json.dumps(over_count[:1]))
    over_bytes = [cfg(o) for o in order[n_in:MAX_PL]]
    T.check("bytes_limit_condition",
            len(over_bytes) > 0 and all(
                c.get("reason") == "LimitExceeded" and "--max-config-bytes-per-namespace" in c.get("message", "")
                and f"limit of {MAX_BYTES} bytes" in c.get("message", "")
                and f"the first {n_in} of {MAX_PL}" in c.get("message", "") for c in over_bytes),
            json.dumps(over_bytes[:1]))
    ready = condition(order[-1], "Ready") or {}
    T.check("over_limit_not_ready", ready.get("status") == "False", json.dumps(ready))
    valid = condition(order[-1], "Valid") or {}
    T.check("over_limit_still_valid", valid.get("status") == "True", json.dumps(valid))

    out3 = cfg(env.get("lo", "out-3", "flood"))
    T.check("output_limit_condition",
            out3.get("reason") == "LimitExceeded" and "--max-outputs-per-namespace" in out3.get("message", "")
            and f"limit of {MAX_OUT}" in out3.get("message", "")
            and f"has {MAX_OUT + 1} LogOutputs" in out3.get("message", ""),
            json.dumps(out3))
    out0 = cfg(env.get("lo", "out-0", "flood"))
    T.check("output_in_limit_applied", out0.get("reason") == "Applied", json.dumps(out0))
    ev = env.kubectl("get", "events", "-n", "flood", "-o", "json").stdout
    T.check("limit_event", "LimitExceeded" in ev, ev[:300])

    # another tenant is unaffected: a new pipeline becomes Ready
    env.apply(pipeline("calm", "second", ["console"]))
    ok = wait_until(lambda: is_ready(env.get("lp", "second", "calm")), 60)
    T.check("other_tenant_ready", ok, json.dumps((env.get("lp", "second", "calm") or {}).get("status"))[:500])
    T.check("other_tenant_first_still_ready", is_ready(env.get("lp", "first", "calm")), "")

    # room made: deleting the kept pipelines lets the next ones in, in order
    if n_in:
        env.kubectl("delete", "lp", "-n", "flood", *[o["metadata"]["name"] for o in order[:n_in]])

    def next_in():
        return all(cfg(env.get("lp", o["metadata"]["name"], "flood")).get("reason") == "Applied"
                   for o in order[n_in:n_in + 1])
    ok = wait_until(next_in, 60)
    T.check("room_lets_next_in", ok, json.dumps(cfg(env.get("lp", order[n_in]["metadata"]["name"], "flood"))))
    clean_exit(T, env, op, "clean_exit")
    env.close()


if __name__ == "__main__":
    T.run(main)
