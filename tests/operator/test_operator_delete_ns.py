"""Finalizers never block a namespace deletion: a namespace holding LogPipelines
and LogOutputs (with the logplane.io/finalizer: a loki output for its Secret
copied into the control namespace, a Kinesis output with provision and
deletionPolicy Retain, whose endpoint answers nothing: Retain needs no AWS call)
goes away within a bound while every config application
fails (kubesim refuses the writes of the agents' ConfigMap, as a terminating
control namespace refuses them). An output deleted by a user in a namespace that
is not terminating keeps its finalizer until an application succeeds.

kubesim only: the failing writes are a kubesim fault."""
import json
import os
import re
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, is_ready, namespace,  # noqa: E402
                     output, pipeline, secret, wait_until)
from harness import config_data  # noqa: E402

T = Reporter("operator_delete_ns")
GONE_WITHIN_S = 30
FINALIZER = "logplane.io/finalizer"


def loki(ns, name, secret_name):
    return output(ns, name, {"type": "loki", "loki": {"host": f"{name}.{ns}.example.com",
                                                      "auth": {"secretRef": {"name": secret_name}}}})


def finalizers(obj):
    return ((obj or {}).get("metadata") or {}).get("finalizers") or []


def aws_operations(env, op):
    """The AWS operations the operator counted on its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{env.operator_port(op)}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {m.group(1) for m in re.finditer(r'^logplane_aws_requests_total\{[^}]*operation="([A-Za-z]+)"[^}]*\} ([0-9.e+]+)$',
                                            text, re.M) if float(m.group(2)) > 0}


def agents_clean(env):
    """No agent configuration names lx: no pipeline is left, so the DaemonSet goes, or
    it mounts configuration that can be read and does not name it (a DaemonSet whose
    ConfigMaps cannot be read is not clean)."""
    if env.get("daemonset", "logplane-fluent-bit", CTRL_NS) is None:
        return True
    c = config_data(env)
    return bool(c) and "lx.team-x" not in json.dumps(c)


def main():
    env = Env("delete-ns")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("team-x"), namespace("team-y"),
               secret("team-x", "auth", {"username": "u", "password": "p-x"}),
               secret("team-y", "auth", {"username": "u", "password": "p-y"}),
               secret("team-x", "aws", {"AWS_ACCESS_KEY_ID": "AKIDX", "AWS_SECRET_ACCESS_KEY": "x-secret"}),
               output("team-x", "kx", {"type": "kinesis", "aws": {"region": "us-east-1", "endpoint": "http://127.0.0.1:1",
                                                                  "credentials": {"secretRef": {"name": "aws"}}},
                                       "kinesis": {"stream": "kx", "provision": {"mode": "provisioned", "shardCount": 1,
                                                                                 "deletionPolicy": "Retain"}}}),
               loki("team-x", "lx", "auth"), output("team-x", "console", {"type": "stdout"}),
               pipeline("team-x", "app", ["lx", "console"]),
               loki("team-y", "ly", "auth"), loki("team-y", "ly2", "auth"),
               pipeline("team-y", "app", ["ly", "ly2"])])
    op = env.start_operator("--resync", "5s", "--debounce", "200ms")
    ok = wait_until(lambda: is_ready(env.get("lp", "app", "team-x")) and is_ready(env.get("lp", "app", "team-y"))
                    and FINALIZER in finalizers(env.get("lo", "lx", "team-x"))
                    and FINALIZER in finalizers(env.get("lo", "kx", "team-x"))
                    and FINALIZER in finalizers(env.get("lo", "ly2", "team-y")), 60)
    if not T.check("initial_ready_with_finalizers", ok,
                   json.dumps([finalizers(env.get("lo", "lx", "team-x")),
                               (env.get("lp", "app", "team-x") or {}).get("status")])[:600] + env.tail(op.log_path)):
        return

    # every write of the agents' ConfigMap fails from now on
    env.fault({"fail": {"count": 1000000, "code": 500, "match": "logplane-fluent-bit-config"}})
    before = env._admin("/admin/faults")["fail"]["count"]
    env.kubectl("delete", "namespace", "team-x", "--wait=false")
    t0 = time.monotonic()
    gone = wait_until(lambda: env.get("namespace", "team-x") is None, GONE_WITHIN_S)
    took = time.monotonic() - t0
    refused = before - env._admin("/admin/faults")["fail"]["count"]
    left = env.list("lo", "team-x") if not gone else []
    T.check("config_apply_failed_meanwhile", refused > 0,
            f"{refused} ConfigMap writes refused")
    T.check(f"namespace_gone_within_{GONE_WITHIN_S}s", bool(gone),
            f"team-x still there after {took:.1f} s; LogOutputs left: "
            + json.dumps([[o["metadata"]["name"], finalizers(o)] for o in left]) + env.tail(op.log_path))

    ops = aws_operations(env, op)
    T.check("retain_no_aws_delete", bool(ops) and "DeleteStream" not in ops, f"AWS operations counted: {sorted(ops)}")

    # a user deletes an output in a live namespace: it waits for a successful application
    env.kubectl("delete", "lp", "app", "-n", "team-y")
    env.kubectl("delete", "lo", "ly2", "-n", "team-y", "--wait=false")
    time.sleep(4)
    lo = env.get("lo", "ly2", "team-y")
    T.check("live_namespace_output_waits_for_apply",
            lo is not None and FINALIZER in finalizers(lo) and lo["metadata"].get("deletionTimestamp"),
            json.dumps((lo or {}).get("metadata"))[:400])

    # writes succeed again: the configuration catches up and the output goes
    env.fault({"clear": True})
    cm_clean = wait_until(lambda: env.get("lo", "ly2", "team-y") is None
                          and agents_clean(env), 60)
    T.check("recovers_after_faults", bool(cm_clean),
            json.dumps((env.get("lo", "ly2", "team-y") or {}).get("metadata"))[:300] + env.tail(op.log_path))
    clean_exit(T, env, op, "sigterm_exit_0")


if __name__ == "__main__":
    T.run(main)
