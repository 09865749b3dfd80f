"""Outputs shared from the control namespace (docs/resources.md "Shared outputs"),
end to end with the operator: a LogOutput of logplane-system lists team-a in
spec.sharedWith; team-a's pipeline routes to it with outputNamespace and goes
Ready, and the agents' config gets an output instance for it that matches only
team-a's tags, with the Secret read from logplane-system (nothing of it is
copied into a tenant namespace); team-c, not named, gets Valid=False on its
route and nothing in the config; adding team-c to sharedWith lets it in, and
removing it again takes it out. A tenant's own output with sharedWith is
refused. The shared output's status lists the tenant pipelines that feed it.

Runs against kubesim and, with LP_APISERVER=real, against etcd + kube-apiserver
(tests/run.sh runs both)."""
# lp-apiserver: both
import base64
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, config_data,  # noqa: E402
                     credentials_data, is_ready, namespace, output, secret, wait_until)

T = Reporter("operator_shared")
PASSWORD = "shared-pw-7f3a"


def config_text(env):
    data = config_data(env)  # the ConfigMaps the DaemonSet mounts
    if not data:
        return None
    return "\n".join(v for _, v in sorted(data.items()))


def tenant_pipeline(ns, name, out, out_ns=CTRL_NS):
    route = {"outputRef": out}
    if out_ns:
        route["outputNamespace"] = out_ns
    return {"apiVersion": "logplane.io/v1alpha1", "kind": "LogPipeline",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"input": {"application": {}}, "routes": [route]}}


def shared_output(namespaces):
    return output(CTRL_NS, "central", {"type": "loki", "sharedWith": {"namespaces": namespaces},
                                        "loki": {"host": "loki.shared.example.com",
                                                 "auth": {"secretRef": {"name": "central-auth"}}}})


def loki_sections(text):
    """The output sections of the config that send to the shared Loki: their match lines."""
    out = []
    for sec in re.split(r"\n  - name: ", text or ""):
        if "host: loki.shared.example.com" in sec:
            m = re.search(r"\n    (match(?:_regex)?): (\S+)", sec)
            out.append(m.group(2) if m else "?")
    return sorted(out)


def main():
    env = Env("operator_shared")
    op = None
    try:
        apply_crds(env)
        env.apply([namespace(CTRL_NS), namespace("team-a"), namespace("team-c"),
                   # the platform team's Secret: no opt-in label needed in the control namespace
                   secret(CTRL_NS, "central-auth", {"username": "writer", "password": PASSWORD}, opt_in=False),
                   shared_output(["team-a"]),
                   tenant_pipeline("team-a", "app", "central"),
                   tenant_pipeline("team-c", "app", "central"),
                   output("team-c", "mine", {"type": "stdout", "sharedWith": {"namespaces": ["team-a"]}})])
        op = env.start_operator("--resync", "2s", "--debounce", "300ms")

        # 1. the named tenant routes to the shared output
        r = env.kubectl("wait", "--for=condition=Ready", "lp/app", "-n", "team-a", "--timeout=60s", check=False)
        lp_a = env.get("lp", "app", "team-a")
        T.check("tenant_routes_to_shared", r.returncode == 0 and is_ready(lp_a),
                json.dumps((lp_a or {}).get("status"))[:600] + env.tail(op.log_path))
        text = wait_until(lambda: (lambda t: t if t and "loki.shared.example.com" in t else None)(config_text(env)),
                          30) or ""
        # exactly one output instance to the shared Loki, and it takes only team-a's tags
        T.check("config_matches_only_tenant", loki_sections(text) == ["kube.team-a.*"],
                f"shared Loki sections match {loki_sections(text)}")
        # the credentials come from logplane-system's Secret, through the agents' credentials Secret
        vals = {base64.b64decode(v).decode() for v in (credentials_data(env) or {}).values()}
        leaked = [s["metadata"]["namespace"] + "/" + s["metadata"]["name"]
                  for ns in ("team-a", "team-c") for s in env.list("secret", ns)
                  if PASSWORD in {base64.b64decode(v).decode() for v in (s.get("data") or {}).values()}]
        T.check("secret_stays_in_control_namespace",
                PASSWORD in vals and PASSWORD not in text and not leaked,
                f"credentials has it: {PASSWORD in vals}; in config: {PASSWORD in text}; copies: {leaked}")

        # the shared output lists the tenant pipelines feeding it (namespace/name)
        def listed():
            st = (env.get("lo", "central", CTRL_NS) or {}).get("status") or {}
            return st if st.get("pipelines") == ["team-a/app"] and st.get("pipelineCount") == 1 else None
        st = wait_until(listed, 30)
        T.check("shared_output_lists_tenant_pipelines", st is not None,
                json.dumps((env.get("lo", "central", CTRL_NS) or {}).get("status"))[:600])
        outs = ((env.get("lp", "app", "team-a") or {}).get("status") or {}).get("outputs") or []
        T.check("tenant_status_names_shared_output",
                [o.get("name") for o in outs] == [CTRL_NS + "/central"], json.dumps(outs)[:400])

        # 2. a tenant not named is refused, naming the field, and sends nothing
        def refused():
            c = condition(env.get("lp", "app", "team-c"), "Valid")
            return c if c and c.get("status") == "False" else None
        c = wait_until(refused, 30)
        T.check("unnamed_tenant_refused",
                c is not None and "spec.routes[0].outputRef" in c.get("message", "")
                and 'is shared with namespace "team-c"' in c.get("message", "")
                and (lambda s: bool(s) and "team-c" not in "".join(s))(loki_sections(config_text(env))),
                json.dumps(c) + " " + str(loki_sections(config_text(env))))
        c = wait_until(lambda: (lambda x: x if x and x.get("status") == "False" else None)(
            condition(env.get("lo", "mine", "team-c"), "Valid")), 30)
        T.check("tenant_output_not_shareable", c is not None and "spec.sharedWith" in c.get("message", ""),
                json.dumps(c))

        # 3. naming team-c lets it in; removing it takes it out again
        env.apply([shared_output(["team-a", "team-c"])])
        r = env.kubectl("wait", "--for=condition=Ready", "lp/app", "-n", "team-c", "--timeout=60s", check=False)
        got = wait_until(lambda: (lambda s: s if len(s) == 2 else None)(loki_sections(config_text(env))), 30)
        T.check("named_later_routes", r.returncode == 0 and got == ["kube.team-a.*", "kube.team-c.*"],
                f"wait rc={r.returncode} {r.stderr[-200:]}; sections {got}")
        env.apply([shared_output(["team-a"])])
        c = wait_until(refused, 30)
        got = wait_until(lambda: (lambda s: s if len(s) == 1 else None)(loki_sections(config_text(env))), 30)
        T.check("unshared_again_removed", c is not None and got == ["kube.team-a.*"],
                f"{json.dumps(c)}; sections {got}")
    finally:
        if op is not None:
            clean_exit(T, env, op, "clean_exit")
        env.close()


if __name__ == "__main__":
    T.run(main)
