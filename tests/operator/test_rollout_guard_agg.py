"""The rollout guard (docs/security.md) beyond the shipper DaemonSet, against
kubesim: (1) the aggregator StatefulSet does not become ready with a tenant's
change (kubesim holds it unready): the operator rolls both workloads back to
the configuration that ran and the changed pipeline's condition names the
StatefulSet; (2) the failing change is a Secret value: the operator does not
keep Secret values, so it cannot restore the old one; the output that
references the Secret is left out (the agents run the last configuration
without it) and its condition says so; a new value is tried again."""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, config_data,  # noqa: E402
                     is_ready, namespace, output, pipeline, secret, wait_until)

T = Reporter("rollout_guard_agg")
HOLD = "kubesim.logplane.io/hold-unready"
STS = ("statefulset", "logplane-aggregator")
DS = ("daemonset", "logplane-fluent-bit")


def template_hash(env, w):
    o = env.get(w[0], w[1], CTRL_NS)
    return (((o or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {})
            .get("logplane.io/config-hash"))


def via_aggregator(mark):
    return {"aggregator": {"enabled": True},
            "transforms": [{"addFields": [{"key": "mark", "value": "agg-mark-" + mark}]}]}


def cfg_reason(env, kind, name, ns, reason):
    c = condition(env.get(kind, name, ns), "ConfigGenerated")
    return c if c and c.get("reason") == reason else None


def aggregator_case(env, op):
    env.apply(pipeline("team-a", "agg", ["console"], via_aggregator("v1")))
    ok = wait_until(lambda: is_ready(env.get("lp", "agg", "team-a")) and template_hash(env, STS), 60)
    T.check("aggregator_ready_at_start", ok, env.tail(op.log_path))
    good = template_hash(env, STS)
    env.kubectl("annotate", *STS, "-n", CTRL_NS, f"{HOLD}=true")
    env.apply(pipeline("team-a", "agg", ["console"], via_aggregator("v2")))
    changed = wait_until(lambda: template_hash(env, STS) not in (None, good), 20)
    T.check("aggregator_new_config_applied", changed, env.tail(op.log_path))
    back = wait_until(lambda: template_hash(env, STS) == good and template_hash(env, DS) == good, 30)
    T.check("aggregator_rolled_back_to_last_good", back,
            f"StatefulSet {template_hash(env, STS)}, DaemonSet {template_hash(env, DS)}, last good {good}; "
            + env.tail(op.log_path))
    c = wait_until(lambda: cfg_reason(env, "lp", "agg", "team-a", "RolledBack"), 20)
    T.check("aggregator_condition_names_statefulset",
            bool(c) and c.get("status") == "False"
            and f"StatefulSet {CTRL_NS}/logplane-aggregator" in c.get("message", "")
            and good[:12] in c.get("message", ""),
            json.dumps(c or condition(env.get("lp", "agg", "team-a"), "ConfigGenerated")))
    text = json.dumps(config_data(env, DS) or {}) + json.dumps(config_data(env, STS) or {})
    T.check("aggregator_runs_previous_version", "agg-mark-v1" in text and "agg-mark-v2" not in text,
            text[:300])
    steady = condition(env.get("lp", "steady", "team-a"), "ConfigGenerated") or {}
    T.check("aggregator_other_pipeline_untouched", steady.get("status") == "True", json.dumps(steady))
    env.kubectl("annotate", *STS, "-n", CTRL_NS, f"{HOLD}-")
    env.apply(pipeline("team-a", "agg", ["console"], via_aggregator("v3")))
    ok = wait_until(lambda: is_ready(env.get("lp", "agg", "team-a"))
                    and template_hash(env, STS) not in (None, good), 40)
    T.check("aggregator_changed_again_is_tried", ok,
            json.dumps((env.get("lp", "agg", "team-a") or {}).get("status"))[:500])


def secret_case(env, op):
    env.apply([secret("team-s", "loki-auth", {"username": "writer", "password": "first-value"}),
               output("team-s", "loki", {"type": "loki", "loki": {"host": "loki.example.com",
                                                                  "auth": {"secretRef": {"name": "loki-auth"}}}}),
               pipeline("team-s", "to-loki", ["loki"])])
    ok = wait_until(lambda: is_ready(env.get("lp", "to-loki", "team-s"))
                    and is_ready(env.get("lo", "loki", "team-s")), 60)
    T.check("secret_ready_at_start", ok, env.tail(op.log_path))
    good = template_hash(env, DS)
    env.kubectl("annotate", *DS, "-n", CTRL_NS, f"{HOLD}=true")
    env.apply(secret("team-s", "loki-auth", {"username": "writer", "password": "second-value"}))
    bad = [None]

    def changed():
        h = template_hash(env, DS)
        if h not in (None, good):
            bad[0] = h
            return True
        return False
    T.check("secret_change_rolls", wait_until(changed, 20), env.tail(op.log_path))
    c = wait_until(lambda: cfg_reason(env, "lo", "loki", "team-s", "RolledBack"), 30)
    msg = (c or {}).get("message", "")
    T.check("secret_condition_says_not_restorable",
            bool(c) and "Secret" in msg and "cannot be rolled back" in msg and "without this resource" in msg
            and good[:12] in msg,
            json.dumps(c or condition(env.get("lo", "loki", "team-s"), "ConfigGenerated")))
    left = wait_until(lambda: template_hash(env, DS) not in (None, bad[0])
                      and (lambda c: bool(c) and "loki.example.com" not in json.dumps(c))(config_data(env, DS)), 30)
    T.check("secret_output_left_out", left,
            f"template {template_hash(env, DS)}, failing {bad[0]}; " + env.tail(op.log_path))
    ready = condition(env.get("lp", "to-loki", "team-s"), "ConfigGenerated") or {}
    T.check("secret_pipeline_says_why", ready.get("status") == "False" and "loki" in ready.get("message", ""),
            json.dumps(ready))
    T.check("secret_other_tenant_untouched", is_ready(env.get("lp", "steady", "team-a")),
            json.dumps(condition(env.get("lp", "steady", "team-a"), "Ready")))
    env.kubectl("annotate", *DS, "-n", CTRL_NS, f"{HOLD}-")
    env.apply(secret("team-s", "loki-auth", {"username": "writer", "password": "third-value"}))
    ok = wait_until(lambda: is_ready(env.get("lo", "loki", "team-s"))
                    and is_ready(env.get("lp", "to-loki", "team-s")), 40)
    T.check("secret_changed_again_is_tried", ok,
            json.dumps((env.get("lo", "loki", "team-s") or {}).get("status"))[:500])


def main():
    env = Env("rollout-agg")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("team-a"), namespace("team-s"),
               output("team-a", "console", {"type": "stdout"}),
               pipeline("team-a", "steady", ["console"])])
    op = env.start_operator("--resync", "0", "--rollout-timeout", "3s")
    ok = wait_until(lambda: is_ready(env.get("lp", "steady", "team-a")), 60)
    T.check("ready_at_start", ok, env.tail(op.log_path))
    aggregator_case(env, op)
    secret_case(env, op)
    clean_exit(T, env, op, "clean_exit")
    env.close()


if __name__ == "__main__":
    T.run(main)
