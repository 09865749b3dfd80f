"""Alert outputs through the operator (kubesim; docs/alerts.md): an `alert`
LogOutput whose webhook Secret opted in and holds an https URL is rendered as
an http output to the hub's /alert/<ns>/<name> and its target (with the
URL) goes into the hub's Secret logplane-hub-alerts, never into a ConfigMap; a
Secret that did not opt in, or whose URL is not https, leaves its output out
with a Valid=False condition naming the field, the Secret and the key."""
import base64
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, credentials_data, is_ready,  # noqa: E402
                     namespace, output, pipeline, secret, wait_until)

T = Reporter("alerts_operator")
NS = "team-al"
HOOK = "https://hooks.example.com/services/T0/B0/PLANTEDxyz"


def alert(name, secret_name):
    return output(NS, name, {"type": "alert", "alert": {
        "slack": {"webhookSecretRef": {"name": secret_name, "key": "url"}},
        "windowSeconds": 30, "maxPerMinute": 4}})


def hub_targets(env):
    s = env.get("secret", "logplane-hub-alerts", CTRL_NS)
    data = ((s or {}).get("data") or {}).get("targets.json")
    return json.loads(base64.b64decode(data)) if data else None


def main():
    env = Env("alerts")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace(NS),
               secret(NS, "hook", {"url": HOOK + "\n"}),
               secret(NS, "hook-noopt", {"url": HOOK}, opt_in=False),
               secret(NS, "hook-plain", {"url": "http://hooks.example.com/services/x"}),
               alert("oncall", "hook"), alert("noopt", "hook-noopt"), alert("plain", "hook-plain"),
               pipeline(NS, "errors", ["oncall", "noopt", "plain"])])
    op = env.start_operator("--resync", "0")

    def valid_false(name):
        c = condition(env.get("lo", name, NS), "Valid")
        return c if c and c.get("status") == "False" else None

    field = "spec.alert.slack.webhookSecretRef"
    for name, words in (("noopt", ['Secret "hook-noopt" (key "url")', "has not opted in"]),
                        ("plain", ['Secret "hook-plain" key "url" is not an https:// URL'])):
        c = wait_until(lambda: valid_false(name), 40)
        msg = (c or {}).get("message", "")
        T.check("refused_" + name, field in msg and all(w in msg for w in words),
                json.dumps(c or (env.get("lo", name, NS) or {}).get("status"))[:600])
    ok = wait_until(lambda: is_ready(env.get("lo", "oncall", NS)), 40)
    T.check("valid_alert_ready", ok, json.dumps((env.get("lo", "oncall", NS) or {}).get("status"))[:400])

    t = wait_until(lambda: hub_targets(env), 40)
    T.check("hub_secret_targets", t == {"targets": [{"namespace": NS, "name": "oncall", "webhook": HOOK,
                                                     "windowSeconds": 30, "maxPerMinute": 4}]},
            json.dumps(t)[:400])
    cms = env.list("configmaps", CTRL_NS)
    text = "\n".join(v for o in cms for v in (o.get("data") or {}).values())
    T.check("agents_send_to_the_hub", "uri: /alert/%s/oncall" % NS in text and "lp_pipeline errors" in text
            and "/alert/%s/noopt" % NS not in text and "/alert/%s/plain" % NS not in text, text[:300])
    T.check("webhook_in_no_configmap", "PLANTEDxyz" not in text, "a ConfigMap carries the webhook URL")
    # the credentials the DaemonSet refers to (content-named Secrets)
    creds = {k: base64.b64decode(v).decode("latin-1") for k, v in (credentials_data(env) or {}).items()}
    T.check("webhook_not_given_to_agents", creds and "PLANTEDxyz" not in json.dumps(creds),
            "the agents' credentials carry the webhook URL (or none found: %d keys)" % len(creds))
    # an alert output alone (no livetail) still sends the hub's ingest token
    m = re.search(r"header: Authorization Bearer \$\{(LP_SECRET_[0-9A-F]+)\}", text)
    hub = env.get("secret", "logplane-hub-token", CTRL_NS) or {}
    tok = base64.b64decode(((hub.get("data") or {}).get("token")) or "").decode()
    T.check("alert_route_sends_hub_token", m is not None and tok and creds.get(m.group(1)) == tok,
            "header %s, token %s, in credentials %s" % (m and m.group(1), bool(tok), m and m.group(1) in creds))

    # the alert output goes: so does the hub's Secret
    env.kubectl("delete", "logpipeline", "errors", "-n", NS)
    gone = wait_until(lambda: env.get("secret", "logplane-hub-alerts", CTRL_NS) is None, 40)
    T.check("hub_secret_removed_when_unused", gone, json.dumps(hub_targets(env))[:200])
    clean_exit(T, env, op, "clean_exit")
    env.close()


if __name__ == "__main__":
    T.run(main)
