"""500 LogPipelines applied at once: all become Ready, and the burst costs a
handful of ConfigMap writes, not 500 (the controller's trailing debounce)."""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, config_data, is_ready,  # noqa: E402
                     namespace, output, pipeline, secret, wait_until)

T = Reporter("operator_scale")
N = int(os.environ.get("LP_SCALE_PIPELINES", "500"))
NS = ["scale-%d" % i for i in range(5)]
HANDFUL = 6


def ready_count(env):
    items = env.list("lp")
    return sum(1 for o in items if is_ready(o)), len(items)


def main():
    env = Env("scale")
    apply_crds(env)
    env.apply([namespace(CTRL_NS)] + [namespace(n) for n in NS] +
              [output(n, "console", {"type": "stdout"}) for n in NS])
    op = env.start_operator("--resync", "30s", "--debounce", "1s")
    wait_until(lambda: env.get("lo", "console", NS[0]) and is_ready(env.get("lo", "console", NS[0])), 30)
    env.reset_counters()
    objs = [pipeline(NS[i % len(NS)], "p-%04d" % i, ["console"],
                     {"transforms": [{"addFields": [{"key": "mark", "value": "mark-%04d" % i}]}]}) for i in range(N)]
    t0 = time.monotonic()
    env.apply(objs)
    t_apply = time.monotonic() - t0
    last = [0, 0]

    def all_ready():
        last[:] = ready_count(env)
        return last[0] == N

    ok = wait_until(all_ready, 180, interval=1.0)
    t_ready = time.monotonic() - t0
    time.sleep(2)
    c = env.counters()
    w = c.get("writes", {})
    print(f"# {N} pipelines: kubectl apply {t_apply:.1f}s, all Ready after {t_ready:.1f}s; "
          f"ConfigMap writes {w.get('configmaps', 0)}, DaemonSet writes {w.get('daemonsets.apps', 0)}, "
          f"status writes {w.get('logpipelines.logplane.io/status', 0)}", flush=True)
    T.check(f"all_{N}_ready", ok, f"{last[0]} of {last[1]} Ready after {t_ready:.0f}s; " + env.tail(op.log_path, 5))
    # each config written is a new content-named part plus the delete of the one before
    T.check("handful_of_configmap_writes", 1 <= w.get("configmaps", 0) <= 2 * HANDFUL, f"writes={w}")
    T.check("handful_of_daemonset_writes", 1 <= w.get("daemonsets.apps", 0) <= HANDFUL, f"writes={w}")
    T.check("status_writes_bounded", w.get("logpipelines.logplane.io/status", 0) <= 4 * N, f"writes={w}")
    text = json.dumps(config_data(env))
    T.check("config_has_every_pipeline", all(f"mark-{i:04d}" in text for i in (0, N // 2, N - 1)),
            text[:300])

    # many referenced Secrets in one namespace: one namespace-wide watch, not one each
    ns, n_out = "many-secrets", 12
    env.reset_counters()
    env.apply([namespace(ns)] +
              [secret(ns, "auth-%02d" % i, {"username": "u%d" % i, "password": "p%d" % i}) for i in range(n_out)] +
              [output(ns, "loki-%02d" % i, {"type": "loki", "loki": {"host": "loki-%d.example.com" % i,
                                                                     "auth": {"secretRef": {"name": "auth-%02d" % i}}}})
               for i in range(n_out)] +
              [pipeline(ns, "fanout", ["loki-%02d" % i for i in range(n_out)])])
    ok = wait_until(lambda: is_ready(env.get("lp", "fanout", ns)), 60)
    watches = env.counters().get("requests", {}).get("watch", {}).get("secrets", 0)
    T.check("many_secrets_ready", ok, json.dumps((env.get("lp", "fanout", ns) or {}).get("status"))[:400])
    T.check("many_secrets_few_watches", 1 <= watches <= 3, f"{watches} Secret watches for {n_out} Secrets")
    ds = env.get("daemonset", "logplane-fluent-bit", CTRL_NS)
    h = ds["spec"]["template"]["metadata"]["annotations"]["logplane.io/config-hash"]
    env.apply(secret(ns, "auth-07", {"username": "u7", "password": "rotated"}))
    ok = wait_until(lambda: env.get("daemonset", "logplane-fluent-bit", CTRL_NS)["spec"]["template"]["metadata"]
                    ["annotations"]["logplane.io/config-hash"] != h, 20)
    T.check("many_secrets_rotation_rolls", ok, "config hash unchanged after a Secret change")
    clean_exit(T, env, op, "sigterm_exit_0")


if __name__ == "__main__":
    T.run(main)
