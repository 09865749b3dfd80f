"""Two operators with --leader-elect: exactly one holds the Lease and writes;
SIGKILL it and the other takes over within the lease duration and applies
the next change; SIGTERM releases the Lease and exits 0.
Runs against kubesim and the real API server (LP_APISERVER=real)."""
# lp-apiserver: both
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, is_ready, namespace,  # noqa: E402
                     output, pipeline, wait_until)
from harness import config_data  # noqa: E402

T = Reporter("operator_leader")
LEASE_S = 6


def holder(env):
    lease = env.get("lease", "logplane-operator", CTRL_NS)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def config_text(env):
    return json.dumps(config_data(env) or {})


def main():
    env = Env("leader")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("team-l"), output("team-l", "console", {"type": "stdout"}),
               pipeline("team-l", "app", ["console"])])
    args = ["--leader-elect", "--lease-duration", f"{LEASE_S}s", "--resync", "5s", "--debounce", "200ms"]
    ops = {"op-1": env.start_operator(*args, "--id", "op-1", name="op-1"),
           "op-2": env.start_operator(*args, "--id", "op-2", name="op-2")}
    h = wait_until(lambda: holder(env) in ops and holder(env), 30)
    if not T.check("one_leader", bool(h), f"holder {holder(env)!r}"):
        return
    follower = "op-2" if h == "op-1" else "op-1"
    ok = wait_until(lambda: is_ready(env.get("lp", "app", "team-l")), 30)
    T.check("leader_reconciles", ok, env.tail(ops[h].log_path))
    time.sleep(2)
    flog = env.operator_log(ops[follower])
    T.check("follower_does_not_write", "applying" not in flog and "adding finalizer" not in flog,
            flog[-800:])
    T.check("leader_writes", "applying" in env.operator_log(ops[h]), env.tail(ops[h].log_path))

    # SIGKILL the leader: the follower takes over within the lease duration
    ops[h].send_signal(signal.SIGKILL)
    ops[h].wait(timeout=10)
    t0 = time.monotonic()
    env.kubectl("patch", "lp", "app", "-n", "team-l", "--type=merge", "-p",
                json.dumps({"spec": {"transforms": [{"addFields": [{"key": "mark", "value": "after-failover"}]}]}}))
    took = wait_until(lambda: holder(env) == follower, LEASE_S + 10, interval=0.1)
    t_take = time.monotonic() - t0
    print(f"# failover: {follower} took the Lease {t_take:.1f}s after SIGKILL (lease duration {LEASE_S}s)", flush=True)
    T.check("takeover_within_lease_duration", took and t_take <= LEASE_S + 3,
            f"holder {holder(env)!r} after {t_take:.1f}s")
    ok = wait_until(lambda: "after-failover" in config_text(env), 20)
    T.check("new_leader_applies_change", ok, env.tail(ops[follower].log_path))

    # SIGTERM releases the Lease (holder cleared at once) and exits 0
    clean_exit(T, env, ops[follower], "sigterm_exit_0")
    T.check("sigterm_releases_lease", holder(env) == "", f"holder still {holder(env)!r}")


if __name__ == "__main__":
    T.run(main)
