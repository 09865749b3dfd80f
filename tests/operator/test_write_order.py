"""Write order, proven at every observed state: a watch recorder
(tests/operator/recorder.py) records every state of the control namespace's
ConfigMaps, Secrets, DaemonSet and StatefulSet while the operator goes through
large changes (the config's part count grows and shrinks, outputs with
credentials come and go, the aggregator StatefulSet comes and goes) and is killed with SIGKILL at a random point of each,
some of them while kubesim drops every watch. On every recorded state: every
ConfigMap, Secret and key the workload templates refer to exists, and every
file the main config includes is in a mounted ConfigMap that exists. Each run
converges (the config has exactly the pipelines of that run; no ConfigMap or
Secret of ours is left that no template refers to).

Short form in make test (LP_WRITE_ORDER_RUNS, default 3); the long form is
LP_WRITE_ORDER_RUNS=20 (README, "Tests"). Prints one line with the recorder's
counts (runs, states observed, kills, invariant violations) and the writes of
one change without a kill."""
import json
import os
import random
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, config_data, namespace,  # noqa: E402
                     output, pipeline, secret, template_refs, wait_until)
from recorder import Recorder  # noqa: E402

T = Reporter("write_order")
RUNS = int(os.environ.get("LP_WRITE_ORDER_RUNS", "3"))
SEED = int(os.environ.get("LP_WRITE_ORDER_SEED", str(int(time.time()))))
TEAMS = ["wo-a", "wo-b", "wo-c"]
MARK = re.compile(r"m[abc][0-9]{3}g[0-9]{4}")
BIG = 40000  # bytes of one pipeline's marker field: ~25 pipelines fill a part


def marker(team, i, gen):
    return "m%s%03dg%04d" % (team[-1], i, gen)


def pipe(team, i, gen, creds):
    m = marker(team, i, gen)
    pad = [{"key": "pad%02d" % k, "value": ((m + "x") * 90)[:1000]} for k in range(BIG // 1000)]
    routes = ["loki"] if creds and i % 3 == 0 else ["console"]
    extra = {"transforms": [{"addFields": [{"key": "mark", "value": m}]},
                            {"addFields": pad[:20]}, {"addFields": pad[20:]}]}
    if team == TEAMS[-1] and i == 0 and gen % 2 == 1 and gen > 1:
        extra["aggregator"] = {"enabled": True}  # the StatefulSet comes and goes
    return pipeline(team, "p%03d" % i, routes, extra)


def want_state(rng, gen):
    """One run's target: per team, how many pipelines and whether some route
    to an output with credentials (an env secretKeyRef each)."""
    big = gen % 2 == 1
    # (at most 24 of ~41 KB a namespace: under the default per-namespace limit of 1 MiB of config)
    return {t: (rng.randint(16, 24) if big else rng.randint(1, 6), rng.random() < 0.6) for t in TEAMS}


def apply_state(env, state, prev, gen):
    objs = []
    for t, (n, creds) in state.items():
        objs += [pipe(t, i, gen, creds) for i in range(n)]
    env.apply(objs)
    for t, (n, _) in state.items():
        gone = ["p%03d" % i for i in range(n, prev.get(t, (0, False))[0])]
        if gone:
            env.kubectl("delete", "lp", "-n", t, "--wait=false", *gone)


def converged(env, state, gen):
    data = config_data(env)
    if not data:
        return False
    seen = set(MARK.findall("\n".join(data.values())))
    want = {marker(t, i, gen) for t, (n, _) in state.items() for i in range(n)}
    return seen == want and not garbage(env)


def garbage(env):
    """Owned ConfigMaps and Secrets no workload template refers to."""
    used = set()
    for kind, name in (("daemonset", "logplane-fluent-bit"), ("statefulset", "logplane-aggregator")):
        w = env.get(kind, name, CTRL_NS)
        used |= set(template_refs(w, "configMap")) | set(template_refs(w, "secret"))
    left = []
    for kind in ("configmap", "secret"):
        for o in env.list(kind, CTRL_NS, "app.kubernetes.io/managed-by=logplane"):
            n = o["metadata"]["name"]
            if n not in used and n != "logplane-forward":
                left.append(f"{kind}/{n}")
    return left


def main():
    rng = random.Random(SEED)
    print(f"# seed {SEED} (LP_WRITE_ORDER_SEED), {RUNS} runs", flush=True)
    env = Env("write-order")
    apply_crds(env)
    base = [namespace(CTRL_NS)]
    for t in TEAMS:
        base += [namespace(t), secret(t, "loki-auth", {"username": "u-" + t, "password": "pw-" + t}),
                 output(t, "console", {"type": "stdout"}),
                 output(t, "loki", {"type": "loki", "loki": {"host": "loki.example.com",
                                                             "auth": {"secretRef": {"name": "loki-auth"}}}})]
    env.apply(base)
    rec = Recorder(env.api, CTRL_NS)
    rec.start()
    op = env.start_operator("--resync", "5s", "--debounce", "200ms")
    prev = {}
    # generation 0: a small state, then one measured change (no kill)
    state = {t: (3, True) for t in TEAMS}
    apply_state(env, state, prev, 0)
    prev = state
    if not T.check("initial_converged", wait_until(lambda: converged(env, state, 0), 60, 0.5),
                   env.tail(op.log_path)):
        rec.close()
        return
    time.sleep(1)
    env.reset_counters()
    state = {t: (3, t != "wo-a") for t in TEAMS}
    state["wo-b"] = (4, True)
    apply_state(env, state, prev, 1)
    prev = state
    ok = wait_until(lambda: converged(env, state, 1), 30, 0.5)
    time.sleep(1.5)
    w = env.counters().get("writes", {})
    print("# one change (a pipeline added, one output with credentials unused): writes "
          + json.dumps({k: v for k, v in sorted(w.items()) if not k.endswith("/status") and k != "events"}),
          flush=True)
    T.check("measured_change_converged", ok, env.tail(op.log_path, 10))

    kills, mid, failed = 0, 0, []
    for run in range(RUNS):
        gen = run + 2
        state = want_state(rng, gen)
        drop = run % 3 == 2
        n0 = rec.count()
        apply_state(env, state, prev, gen)
        prev = state
        if drop:
            env.fault({"close_watches": True})
        # kill at a random point of the change: after the k-th write the
        # recorder saw, or (one run in four) after a random time
        if run % 4 == 3:
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            k = rng.randint(1, 10)
            wait_until(lambda: rec.count() >= n0 + k, 10, 0.005)
        if drop:
            env.fault({"close_watches": True})
        env.stop_operator(op, signal.SIGKILL, timeout=10)
        kills += 1
        mid += not converged(env, state, gen)
        op = env.start_operator("--resync", "5s", "--debounce", "200ms", name=f"op{run}")
        t0 = time.monotonic()
        ok = wait_until(lambda: converged(env, state, gen), 90, 0.5)
        print(f"# run {run}: {sum(n for n, _ in state.values())} pipelines, watches dropped {drop}, "
              f"converged {ok} in {time.monotonic() - t0:.1f}s after the kill", flush=True)
        if not ok:
            data = config_data(env)
            seen = set(MARK.findall("\n".join((data or {}).values())))
            want = {marker(t, i, gen) for t, (n, _) in state.items() for i in range(n)}
            log = env.operator_log(op).splitlines()
            failed.append(f"run {run} (gen {gen}, {state}): config {'absent' if data is None else 'present'}, "
                          f"missing {sorted(want - seen)[:5]} ({len(want - seen)}), extra {sorted(seen - want)[:5]} "
                          f"({len(seen - want)}); garbage {garbage(env)}; warnings: "
                          + " | ".join([ln for ln in log if " warn " in ln or " error " in ln][-6:])
                          + " | last: " + " | ".join(log[-4:]))
    time.sleep(1)
    rec.close()
    states, bad = rec.check()
    print(f"# write order: runs {RUNS}, states observed {states}, kills {kills} ({mid} before the change "
          f"was complete), "
          f"invariant violations {len(bad)}, most config parts {rec.max_parts}, "
          f"StatefulSet seen {bool(rec.max_sts)}, "
          f"watch reconnects {rec.reconnects}, relists {rec.relists}",
          flush=True)
    kinds = {}
    for _, m in bad:
        kk = ("include" if " includes " in m else "env key" if " lacks key " in m
              else "missing object" if " names missing " in m else "other")
        kinds[kk] = kinds.get(kk, 0) + 1
    if bad:
        print(f"# violations by kind: {json.dumps(kinds, sort_keys=True)}", flush=True)
    T.check("recorded_states", states > 10 * RUNS, f"only {states} states")
    T.check("invariant_every_state", not bad,
            f"{len(bad)} violations, first: " + "; ".join(f"rv {rv}: {m}" for rv, m in bad[:6]))
    T.check("every_run_converged", not failed, "; ".join(failed)[:3000])
    clean_exit(T, env, op, "sigterm_exit_0")


if __name__ == "__main__":
    T.run(main)
