"""Faults during a stream of changes: every watch dropped, the watch history
expired (410 -> relist), and a kubesim restart. The final state must be right
(no lost update: the config has every pipeline's last value and every status
observed the last generation) without a write storm."""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, is_ready, namespace,  # noqa: E402
                     output, pipeline, wait_until)
from harness import config_data  # noqa: E402

T = Reporter("operator_faults")
NP = 8
STEPS = 16
FAULTS = {3: {"close_watches": True},
          7: {"expire_history": True, "close_watches": True},
          11: {"restart": True, "down_ms": 700}}


def value(p, step):
    return "v-%s-%02d" % (p, step)


def config_text(env):
    return json.dumps(config_data(env) or {})


def patch_retry(env, name, val):
    body = json.dumps({"spec": {"transforms": [{"addFields": [{"key": "mark", "value": val}]}]}})
    for _ in range(40):  # kubesim may be down for a moment
        r = env.kubectl("patch", "lp", name, "-n", "team-f", "--type=merge", "-p", body, check=False)
        if r.returncode == 0:
            return True
        time.sleep(0.25)
    return False


def main():
    env = Env("faults")
    apply_crds(env)
    names = ["p%d" % i for i in range(NP)]
    env.apply([namespace(CTRL_NS), namespace("team-f"), output("team-f", "console", {"type": "stdout"})] +
              [pipeline("team-f", n, ["console"], {"transforms": [{"addFields": [{"key": "mark", "value": value(n, 0)}]}]})
               for n in names])
    op = env.start_operator("--resync", "10s", "--debounce", "200ms")
    ok = wait_until(lambda: all(is_ready(o) for o in env.list("lp", "team-f")) and len(env.list("lp", "team-f")) == NP, 60)
    if not T.check("initial_ready", ok, env.tail(op.log_path)):
        return
    env.reset_counters()
    last = {n: value(n, 0) for n in names}
    patched = True
    for step in range(1, STEPS + 1):
        if step in FAULTS:
            try:
                env.fault(FAULTS[step])
            except Exception as e:  # the admin port stays up; report anyway
                T.check(f"fault_{step}", False, repr(e))
        n = names[step % NP]
        last[n] = value(n, step)
        patched &= patch_retry(env, n, last[n])
        time.sleep(0.4)
    T.check("changes_applied_by_client", patched, "kubectl patch kept failing")

    def converged():
        text = config_text(env)
        if not all(v in text for v in last.values()):
            return False
        return all(is_ready(o) for o in env.list("lp", "team-f"))

    ok = wait_until(converged, 90, interval=1.0)
    text = config_text(env)
    missing = [v for v in last.values() if v not in text]
    T.check("final_config_right", not missing, f"missing {missing}; " + env.tail(op.log_path, 10))
    items = env.list("lp", "team-f")
    stale = [o["metadata"]["name"] for o in items if not is_ready(o)]
    T.check("final_status_right", ok and not stale, f"not Ready/observed: {stale}")
    time.sleep(3)
    c = env.counters()
    w = c.get("writes", {})
    changes = STEPS
    print(f"# {STEPS} changes with 3 faults: ConfigMap writes {w.get('configmaps', 0)}, DaemonSet writes "
          f"{w.get('daemonsets.apps', 0)}, status writes {w.get('logpipelines.logplane.io/status', 0)}, "
          f"all writes {c.get('writesTotal')}", flush=True)
    # a change is two ConfigMap writes: its content-named part created, the old one deleted
    T.check("no_configmap_write_storm", w.get("configmaps", 0) <= 2 * (changes + 2), f"writes={w}")
    T.check("no_daemonset_write_storm", w.get("daemonsets.apps", 0) <= changes + 2, f"writes={w}")
    T.check("no_status_write_storm", w.get("logpipelines.logplane.io/status", 0) <= 4 * changes + NP, f"writes={w}")
    # the operator keeps working after all that
    t0 = time.monotonic()
    patch_retry(env, "p0", "after-faults")
    ok = wait_until(lambda: "after-faults" in config_text(env), 20)
    T.check("works_after_faults", ok, f"not applied after {time.monotonic() - t0:.0f}s; " + env.tail(op.log_path, 10))
    T.check("operator_alive", op.poll() is None, f"exited {op.returncode}")
    clean_exit(T, env, op, "sigterm_exit_0")


if __name__ == "__main__":
    T.run(main)
