"""Per-namespace config bytes bound against kubesim for a tenant whose
pipelines route only to an output the control namespace shares with it
(spec.sharedWith, routes[].outputNamespace): its pipelines are measured with
that output, so the shipped configuration grows by at most
--max-config-bytes-per-namespace and the newest pipelines say LimitExceeded
(before: measured alone each route was to a missing output, the namespace
counted ~0 bytes and all 40 pipelines were applied)."""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, config_data,  # noqa: E402
                     is_ready, namespace, output, pipeline, wait_until)

T = Reporter("limits_shared")
N = 40
MAX_BYTES = 32 * 1024  # --max-config-bytes-per-namespace


def big_grep(i):
    """A ~2 KB regex (an alternation of literals: linear, accepted)."""
    words = "|".join("w%03d%04d" % (i, j) for j in range(220))
    return {"transforms": [{"grep": {"include": [{"key": "log", "regex": "level=(?:%s)" % words}]}}],
            "routes": [{"outputRef": "central", "outputNamespace": CTRL_NS}]}


def shipped_bytes(env):
    total = 0
    for w in (("daemonset", "logplane-fluent-bit"), ("statefulset", "logplane-aggregator")):
        total += sum(len(v.encode()) for v in (config_data(env, w) or {}).values())
    return total


def reason(obj):
    return (condition(obj, "ConfigGenerated") or {}).get("reason")


def main():
    env = Env("limits_shared")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("calm"), namespace("flood"),
               output(CTRL_NS, "central", {"type": "stdout", "sharedWith": {"namespaces": ["flood"]}}),
               output("calm", "console", {"type": "stdout"}),
               pipeline("calm", "first", ["console"])])
    op = env.start_operator("--resync", "0", "--debounce", "300ms",
                            "--max-config-bytes-per-namespace", str(MAX_BYTES))
    ok = wait_until(lambda: is_ready(env.get("lp", "first", "calm")), 60)
    T.check("calm_ready_at_start", ok, env.tail(op.log_path))
    before = shipped_bytes(env)
    env.apply([pipeline("flood", "p-%03d" % i, [], big_grep(i)) for i in range(N)])

    def all_settled():
        items = env.list("lp", "flood")
        return len(items) == N and all(reason(o) in ("Applied", "LimitExceeded") for o in items)
    ok = wait_until(all_settled, 120, interval=1.0)
    items = env.list("lp", "flood")
    T.check("flood_settled", ok, json.dumps([o.get("status") for o in items][:2])[:600])
    after = shipped_bytes(env)
    T.check("config_growth_bounded", after - before <= MAX_BYTES,
            f"shipped config grew by {after - before} bytes ({before} -> {after}), limit {MAX_BYTES}")
    over = [o for o in items if reason(o) == "LimitExceeded"]
    T.check("shared_routes_counted", 0 < len(over) < N,
            f"{len(over)} of {N} LimitExceeded")
    clean_exit(T, env, op, "clean_exit")
    env.close()


if __name__ == "__main__":
    T.run(main)
