"""The live-tail hub's ingest token, operator side: the operator creates the
Secret <hub service>-token (64 hex characters) in the control namespace when it
is absent and keeps an existing one across restarts; a livetail LogOutput (also
a tenant's) is rendered as an http output to <hub service>.<ns>.svc sending
"Authorization: Bearer ${VAR}", where VAR comes from the agents' credentials
Secret holding that token, and the token never appears in a ConfigMap.
--hub-service moves the host, the token Secret and the Secret of alert targets
(<hub service>-alerts); a bad one exits 2 with one line.

Runs against kubesim and, with LP_APISERVER=real, against etcd + kube-apiserver
(tests/run.sh runs both)."""
# lp-apiserver: both
import base64
import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, OPERATOR, Env, Reporter, apply_crds, clean_exit, config_data,  # noqa: E402
                     credentials_data, namespace, output, pipeline, secret, template_refs, wait_until)

T = Reporter("hub_token")


def token(env, name):
    s = env.get("secret", name, CTRL_NS)
    v = ((s or {}).get("data") or {}).get("token")
    return base64.b64decode(v).decode() if v else None


def config_text(env):
    return "\n".join(v for _, v in sorted((config_data(env) or {}).items()))


def main():
    r = subprocess.run([OPERATOR, "--hub-service", "Not_A_Label"], capture_output=True, text=True, timeout=30)
    T.check("bad_hub_service_refused", r.returncode == 2 and "--hub-service" in r.stderr
            and len(r.stderr.strip().splitlines()) == 1, "rc %s: %s" % (r.returncode, r.stderr))

    env = Env("hubtoken")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace("team-a"),
               output("team-a", "tail", {"type": "livetail"}),
               secret("team-a", "hook", {"url": "https://hooks.example.com/services/T0/B0/x"}),
               output("team-a", "oncall", {"type": "alert", "alert": {
                   "slack": {"webhookSecretRef": {"name": "hook", "key": "url"}}}}),
               pipeline("team-a", "app", ["tail", "oncall"])])
    op = env.start_operator("--debounce", "300ms", "--hub-service", "lp-hub")

    tok = wait_until(lambda: token(env, "lp-hub-token"), 30)
    T.check("token_secret_created", tok is not None and re.fullmatch(r"[0-9a-f]{64}", tok or ""),
            "token %r; %s" % (tok, env.tail(op.log_path)))

    def rendered():
        text = config_text(env)
        return text if "/ingest/team-a/tail" in text else None
    text = wait_until(rendered, 30) or ""
    m = re.search(r"header: Authorization Bearer \$\{(LP_SECRET_[0-9A-F]+)\}", text)
    T.check("livetail_rendered_as_http_with_token_header",
            m is not None and "name: http" in text and "host: lp-hub.%s.svc" % CTRL_NS in text
            and "websocket" not in text, text[-1200:])
    var = m.group(1) if m else "?"

    def creds_have_token():
        v = (credentials_data(env) or {}).get(var)
        return base64.b64decode(v).decode() if v else None
    got = wait_until(creds_have_token, 30)

    def ds_env():
        d = env.get("daemonset", "logplane-fluent-bit", CTRL_NS) or {}
        e = {e["name"]: e for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
             for e in c.get("env", [])}
        return e if var in e else None
    envs = wait_until(ds_env, 30) or {}
    ref = (envs.get(var, {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    owned = template_refs(env.get("daemonset", "logplane-fluent-bit", CTRL_NS), "secret")
    T.check("token_reaches_agents_through_credentials_secret",
            got == tok and ref.get("name") in owned and ref.get("name") != "lp-hub-token" and ref.get("key") == var,
            "credentials value %r, env %s" % (got, json.dumps(envs.get(var))))
    cms = env.list("configmap", CTRL_NS)
    T.check("token_never_in_a_configmap", tok and cms and not any(tok in json.dumps(c) for c in cms),
            "the token is in a ConfigMap (or no ConfigMap listed: %d)" % len(cms))

    def alert_targets():
        s = env.get("secret", "lp-hub-alerts", CTRL_NS)
        v = ((s or {}).get("data") or {}).get("targets.json")
        return json.loads(base64.b64decode(v)) if v else None
    t = wait_until(alert_targets, 30) or {}
    T.check("alerts_secret_follows_hub_service",
            [(x.get("namespace"), x.get("name")) for x in t.get("targets", [])] == [("team-a", "oncall")]
            and env.get("secret", "logplane-hub-alerts", CTRL_NS) is None,
            "lp-hub-alerts: %s; logplane-hub-alerts present: %s" % (
                json.dumps([(x.get("namespace"), x.get("name")) for x in t.get("targets", [])]),
                env.get("secret", "logplane-hub-alerts", CTRL_NS) is not None))

    clean_exit(T, env, op, "operator_exits_clean")
    op2 = env.start_operator("--debounce", "300ms", "--hub-service", "lp-hub", name="op2")
    wait_until(lambda: "hub ingest token" in env.operator_log(op2), 30)
    T.check("token_kept_across_restart", token(env, "lp-hub-token") == tok
            and "lp-hub-token exists" in env.operator_log(op2), env.tail(op2.log_path))
    clean_exit(T, env, op2, "operator_exits_clean_after_restart")


if __name__ == "__main__":
    T.run(main)
