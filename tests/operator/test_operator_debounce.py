"""The config debounce against kubesim: a lone change reaches the ConfigMap at
once, not after --debounce; the watch bringing back the operator's own writes
costs no second computation; statuses follow. (A burst merged into a handful of
writes: test_operator_scale.)"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, is_ready, namespace,  # noqa: E402
                     output, pipeline, wait_until)
from harness import config_data  # noqa: E402

T = Reporter("operator_debounce")
NS = "team-d"
# long, so that "at once" (under half of it) holds on a loaded machine while a
# trailing run (at least DEBOUNCE_S after the change) still fails the check
DEBOUNCE_S = 10


def marked(mark):
    return {"transforms": [{"addFields": [{"key": "mark", "value": mark}]}]}


def computations(env, op):
    return env.operator_log(op).count("configuration computed in")


def main():
    env = Env("debounce")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace(NS), output(NS, "console", {"type": "stdout"}),
               pipeline(NS, "p0", ["console"], marked("mark-0"))])
    op = env.start_operator("--resync", "0", "--debounce", f"{DEBOUNCE_S}s", "--log-level", "debug")
    ok = wait_until(lambda: is_ready(env.get("lp", "p0", NS)), 60)
    T.check("ready_at_start", ok, env.tail(op.log_path))
    time.sleep(2)  # the start's writes and their watch events are over

    for i in (1, 2):
        mark = f"mark-{i}"
        n0 = computations(env, op)
        t0 = time.monotonic()
        env.kubectl("patch", "lp", "p0", "-n", NS, "--type=merge", "-p", json.dumps({"spec": marked(mark)}))

        def in_configmap():
            data = config_data(env)
            return data is not None and mark in json.dumps(data)
        ok = wait_until(in_configmap, DEBOUNCE_S + 20, interval=0.05)
        dt = time.monotonic() - t0
        # the trailing debounce alone would take DEBOUNCE_S after the change
        T.check(f"lone_change_{i}_at_once", ok and dt < DEBOUNCE_S / 2, f"in ConfigMap {ok} after {dt:.2f}s")
        ok = wait_until(lambda: is_ready(env.get("lp", "p0", NS)), 20)
        T.check(f"lone_change_{i}_ready", ok, json.dumps((env.get("lp", "p0", NS) or {}).get("status"))[:400])
        time.sleep(1.5)  # the watch brings back our ConfigMap and DaemonSet writes
        n = computations(env, op) - n0
        T.check(f"lone_change_{i}_one_computation", n == 1,
                f"{n} computations for one change: " + env.tail(op.log_path, 12))
    # idle: the render cache (every config part's text) is not kept
    ok = wait_until(lambda: "render cache dropped" in env.operator_log(op), 10)
    T.check("render_cache_dropped_when_idle", ok, env.tail(op.log_path, 8))
    clean_exit(T, env, op, "sigterm_exit_0")


if __name__ == "__main__":
    T.run(main)
