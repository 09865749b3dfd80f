"""The rollout guard against kubesim (docs/security.md): a configuration whose
agent pods do not become ready stops there. kubesim's fake workload controller
holds the DaemonSet unready (annotation kubesim.logplane.io/hold-unready) while
a tenant's change rolls out; after --rollout-timeout the operator leaves that
change out, the DaemonSet's pod template goes back to the configuration that
ran, the changed pipeline says RolledBack (naming both configurations), the
others stay in; a new change of that pipeline is tried again."""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, is_ready,  # noqa: E402
                     namespace, output, pipeline, wait_until)

T = Reporter("rollout_guard")
HOLD = "kubesim.logplane.io/hold-unready"


def ds(env):
    return env.get("daemonset", "logplane-fluent-bit", CTRL_NS)


def template_hash(d):
    return (((d or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {})
            .get("logplane.io/config-hash"))


def marked(mark):
    return {"transforms": [{"addFields": [{"key": "mark", "value": mark}]}]}


def main():
    env = Env("rollout")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("team-a"), namespace("team-b"),
               output("team-a", "console", {"type": "stdout"}),
               output("team-b", "console", {"type": "stdout"}),
               pipeline("team-a", "steady", ["console"]),
               pipeline("team-b", "changing", ["console"], marked("v1"))])
    op = env.start_operator("--resync", "0", "--rollout-timeout", "3s")
    ok = wait_until(lambda: is_ready(env.get("lp", "steady", "team-a"))
                    and is_ready(env.get("lp", "changing", "team-b")), 60)
    T.check("ready_at_start", ok, env.tail(op.log_path))
    good = template_hash(ds(env))

    # the next rollout will not become ready
    env.kubectl("annotate", "daemonset", "logplane-fluent-bit", "-n", CTRL_NS, f"{HOLD}=true")
    env.apply(pipeline("team-b", "changing", ["console"], marked("v2")))
    changed = wait_until(lambda: template_hash(ds(env)) not in (None, good), 20)
    T.check("new_config_applied", changed, env.tail(op.log_path))

    # not ready within 3 s: rolled back to the configuration that ran
    back = wait_until(lambda: template_hash(ds(env)) == good, 30)
    T.check("rolled_back_to_last_good", back,
            f"template {template_hash(ds(env))}, last good {good}; " + env.tail(op.log_path))

    def rolled_back_cond():
        c = condition(env.get("lp", "changing", "team-b"), "ConfigGenerated")
        return c if c and c.get("reason") == "RolledBack" else None
    c = wait_until(rolled_back_cond, 20)
    T.check("changed_resource_has_condition",
            bool(c) and c.get("status") == "False" and "did not become ready" in c.get("message", "")
            and good[:12] in c.get("message", ""),
            json.dumps(c or condition(env.get("lp", "changing", "team-b"), "ConfigGenerated")))
    ready = condition(env.get("lp", "changing", "team-b"), "Ready") or {}
    T.check("changed_resource_not_ready", ready.get("status") == "False"
            and ready.get("reason") == "RolledBack", json.dumps(ready))
    ev = env.kubectl("get", "events", "-n", "team-b", "-o", "json").stdout
    T.check("rolled_back_event", "RolledBack" in ev, ev[:400])
    steady = condition(env.get("lp", "steady", "team-a"), "ConfigGenerated") or {}
    T.check("other_tenant_untouched", steady.get("status") == "True", json.dumps(steady))

    # stays rolled back (no flapping back to the failed configuration)
    time.sleep(4)
    T.check("stays_rolled_back", template_hash(ds(env)) == good, str(template_hash(ds(env))))

    # the agents recover; a new change of the resource is tried again
    env.kubectl("annotate", "daemonset", "logplane-fluent-bit", "-n", CTRL_NS, f"{HOLD}-")
    env.apply(pipeline("team-b", "changing", ["console"], marked("v3")))
    ok = wait_until(lambda: is_ready(env.get("lp", "changing", "team-b"))
                    and template_hash(ds(env)) not in (None, good), 40)
    T.check("changed_again_is_tried", ok,
            json.dumps((env.get("lp", "changing", "team-b") or {}).get("status"))[:500])
    clean_exit(T, env, op, "clean_exit")
    env.close()


if __name__ == "__main__":
    T.run(main)
