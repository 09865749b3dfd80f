"""Tenant security against kubesim and a recording HTTP server on 127.0.0.1
(docs/security.md): a Secret that did not opt in (label
logplane.io/secret-access=allow) is never read: its values reach no request,
no ConfigMap, no Secret of the operator, and the LogOutput says which field and
which rule; once labelled, it is used. Secret values that would stop Fluent Bit
at start or inject a header line (a slack webhook that is not an https URL, a
CA that is not PEM, an access key with CR LF) leave their output out with a
condition naming Secret, key and problem, and are sent nowhere.
--allow-plain-http is warned about at start."""
import base64
import http.server
import json
import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, is_ready,  # noqa: E402
                     namespace, output, pipeline, secret, wait_until)
from harness import config_data  # noqa: E402

T = Reporter("security_operator")
NS = "team-s"
PLANTED = ["db-password-PLANTED-7f3a", "AKIDPLANTEDKEY0001", "aws-secret-PLANTED-9c1d",
           "AKIDCRLF\r\nX-Injected: 1"]


class Recorder(http.server.BaseHTTPRequestHandler):
    seen = []

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        Recorder.seen.append(str(self.headers) + self.path + body.decode("latin-1"))
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.end_headers()
        self.wfile.write(b'{"__type":"ValidationException","message":"recorded"}')

    do_GET = do_POST = do_PUT = do_HEAD = _any

    def log_message(self, *a):
        pass


def everything_the_operator_wrote(env):
    """Text of every ConfigMap and Secret in the control namespace (decoded)."""
    out = []
    for kind in ("configmaps", "secrets"):
        for o in env.list(kind, CTRL_NS):
            for v in (o.get("data") or {}).values():
                if kind == "secrets":
                    try:
                        v = base64.b64decode(v).decode("latin-1")
                    except Exception:  # noqa: BLE001
                        pass
                out.append(v)
    return "\n".join(out)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    env = Env("security")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace(NS),
               # not opted in
               secret(NS, "db", {"password": PLANTED[0]}, opt_in=False),
               secret(NS, "aws-x", {"AWS_ACCESS_KEY_ID": PLANTED[1],
                                    "AWS_SECRET_ACCESS_KEY": PLANTED[2]}, opt_in=False),
               # opted in, but values the agents or a header cannot take
               secret(NS, "hook", {"url": "hooks.example.com/services/T0/B0/x"}),
               secret(NS, "ca", {"ca.crt": "not a certificate"}),
               secret(NS, "aws-crlf", {"AWS_ACCESS_KEY_ID": PLANTED[3],
                                       "AWS_SECRET_ACCESS_KEY": "fine-secret"}),
               output(NS, "console", {"type": "stdout"}),
               output(NS, "web", {"type": "http", "http": {
                   "host": "127.0.0.1", "port": port, "tls": {"enabled": False},
                   "headers": [{"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}}),
               output(NS, "stream", {"type": "kinesis", "kinesis": {"stream": "s1"}, "aws": {
                   "region": "us-east-1", "endpoint": f"http://127.0.0.1:{port}",
                   "credentials": {"secretRef": {"name": "aws-x"}}}}),
               output(NS, "crlf", {"type": "kinesis", "kinesis": {"stream": "s2"}, "aws": {
                   "region": "us-east-1", "endpoint": f"http://127.0.0.1:{port}",
                   "credentials": {"secretRef": {"name": "aws-crlf"}}}}),
               output(NS, "slack", {"type": "slack", "slack": {"webhookSecretRef": {"name": "hook", "key": "url"}}}),
               output(NS, "tlsout", {"type": "http", "http": {"host": "logs.example.com",
                                                             "tls": {"caSecretRef": {"name": "ca"}}}}),
               pipeline(NS, "p", ["console", "web", "stream", "crlf", "slack", "tlsout"])])
    op = env.start_operator("--resync", "0", "--allow-plain-http", "--log-level", "debug")
    T.check("plain_http_flag_warned", wait_until(
        lambda: "--allow-plain-http" in env.operator_log(op) and " warn " in env.operator_log(op), 20),
        env.tail(op.log_path))

    def valid_msg(name):
        c = condition(env.get("lo", name, NS), "Valid")
        return c if c and c.get("status") == "False" else None

    cases = [("web", "spec.http.headers[0].valueFrom.secretKeyRef", "has not opted in"),
             ("stream", "spec.aws.credentials.secretRef", "has not opted in"),
             ("slack", "spec.slack.webhookSecretRef", 'key "url" is not an https:// URL'),
             ("tlsout", "spec.http.tls.caSecretRef", 'key "ca.crt" holds no PEM certificate'),
             ("crlf", "spec.aws.credentials.secretRef", 'key "AWS_ACCESS_KEY_ID" contains a line break')]
    for name, field, words in cases:
        c = wait_until(lambda: valid_msg(name), 40)
        T.check(f"condition_{name}", bool(c) and field in c.get("message", "") and words in c.get("message", ""),
                json.dumps(c or (env.get("lo", name, NS) or {}).get("status"))[:600])
    ok = wait_until(lambda: is_ready(env.get("lo", "console", NS)), 30)
    T.check("valid_output_still_ready", ok, json.dumps((env.get("lo", "console", NS) or {}).get("status"))[:400])

    # nothing planted went anywhere: requests, the operator's objects, statuses, events, logs
    wrote = everything_the_operator_wrote(env)
    statuses = json.dumps(env.list("lo", NS)) + json.dumps(env.list("lp", NS))
    events = env.kubectl("get", "events", "-A", "-o", "json").stdout
    log = env.operator_log(op)
    for i, v in enumerate(PLANTED):
        for chan, text in (("requests", "\n".join(Recorder.seen)), ("configmaps_secrets", wrote),
                           ("status", statuses), ("events", events), ("log", log)):
            T.check(f"no_value_{i}_in_{chan}", v not in text and v.split("\r")[0] not in text,
                    f"{chan} carries planted value {i}")
    cfg = config_data(env) or {}
    cfgtext = "\n".join(cfg.values())
    T.check("bad_outputs_left_out_of_config", "slack" not in cfgtext and "logs.example.com" not in cfgtext,
            cfgtext[:300])

    # opting in makes the Secret usable: its value reaches the operator's copy for the agents
    lab = env.get("secret", "db", NS)
    lab["metadata"].setdefault("labels", {})["logplane.io/secret-access"] = "allow"
    lab["metadata"].pop("resourceVersion", None)
    env.apply(lab)
    ok = wait_until(lambda: condition(env.get("lo", "web", NS), "Valid")
                    and condition(env.get("lo", "web", NS), "Valid").get("status") == "True"
                    and PLANTED[0] in everything_the_operator_wrote(env), 40)
    T.check("opted_in_secret_used", ok,
            json.dumps(condition(env.get("lo", "web", NS), "Valid")))
    clean_exit(T, env, op, "clean_exit")
    env.close()
    srv.shutdown()


if __name__ == "__main__":
    T.run(main)
