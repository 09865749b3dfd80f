"""Secrets never reach status, Events, logs or ConfigMaps, even when an AWS
endpoint echoes them (docs/security.md, issue point 3), against kubesim.

Planted: an opted-in Secret's access key id, secret access key and session
token (a Kinesis output whose spec.aws.endpoint is a fake on 127.0.0.1 that
answers every request 400 with a JSON error body echoing the access key, the
whole Authorization header, the session token header and every other header
it got), and an http output header value from an opted-in Secret. The
operator runs at debug level. Then every channel is searched for each value:
the operator's log, the Events of every namespace, every LogPipeline's and
LogOutput's status, every ConfigMap, and the rendered configuration the
agents mount. None may appear; the fake must really have echoed them."""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition, config_data,  # noqa: E402
                     namespace, output, pipeline, secret, wait_until)

T = Reporter("secrets_echo")
NS = "tenant-echo"
PLANTED = {
    "access_key": "AKIDPLANTEDECHO7Q2X",
    "secret_key": "plantedSecretKeyEcho/9Zq+W3r",
    "session_token": "plantedSessionTokenEcho42xyz",
    "header_value": "plantedHeaderValueEcho77",
}


class Echo(BaseHTTPRequestHandler):
    seen = []  # (Authorization header, whole echoed body)

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        auth = self.headers.get("Authorization", "")
        key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
        hdrs = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        msg = (f"The security token included in the request is invalid. Key {key} "
               f"Authorization: {auth} Headers: {hdrs} Body: {body.decode(errors='replace')}")
        out = json.dumps({"__type": "UnrecognizedClientException", "message": msg}).encode()
        Echo.seen.append((auth, msg))
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_PUT = do_POST


def channels(env, op):
    """Every place a value could leak to, as text."""
    out = {"operator log": env.operator_log(op)}
    out["events"] = env.kubectl("get", "events", "-A", "-o", "json").stdout
    for kind in ("logpipelines", "logoutputs"):
        out[f"{kind} status"] = json.dumps([o.get("status") for o in env.list(kind)])
    out["configmaps"] = env.kubectl("get", "configmaps", "-A", "-o", "json").stdout
    out["rendered config"] = json.dumps(config_data(env) or {})
    return out


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = Env("secrets-echo")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), namespace(NS),
               secret(NS, "aws-echo", {"AWS_ACCESS_KEY_ID": PLANTED["access_key"],
                                       "AWS_SECRET_ACCESS_KEY": PLANTED["secret_key"],
                                       "AWS_SESSION_TOKEN": PLANTED["session_token"]}),
               secret(NS, "hdr", {"token": PLANTED["header_value"]}),
               output(NS, "stream", {"type": "kinesis", "kinesis": {
                   "stream": "echo-stream", "provision": {"mode": "provisioned", "shardCount": 1}},
                   "aws": {"region": "us-east-1", "endpoint": f"http://127.0.0.1:{port}",
                           "credentials": {"secretRef": {"name": "aws-echo",
                                                         "sessionTokenKey": "AWS_SESSION_TOKEN"}}}}),
               output(NS, "web", {"type": "http", "http": {
                   "host": "127.0.0.1", "port": port, "tls": {"enabled": False},
                   "headers": [{"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "hdr", "key": "token"}}}]}}),
               pipeline(NS, "p", ["stream", "web"])])
    op = env.start_operator("--resync", "0", "--log-level", "debug")

    def failed_cond():
        o = env.get("lo", "stream", NS)
        for t in ("Provisioned", "CredentialsResolved"):
            c = condition(o, t)
            if c and c.get("status") == "False" and "UnrecognizedClient" in c.get("message", ""):
                return c
        return None
    c = wait_until(failed_cond, 60)
    T.check("aws_error_in_status", bool(c),
            json.dumps((env.get("lo", "stream", NS) or {}).get("status"))[:600] + "; " + env.tail(op.log_path))
    echoed = " ".join(m for _, m in Echo.seen)
    T.check("fake_echoed_the_values",
            PLANTED["access_key"] in echoed and PLANTED["session_token"] in echoed and "Signature=" in echoed,
            f"{len(Echo.seen)} requests; {echoed[:300]}")
    # the agents' config is written and the http output is in it (so its header was rendered)
    ok = wait_until(lambda: "X-Token" in json.dumps(config_data(env) or {}), 30)
    T.check("header_output_rendered", ok, json.dumps(config_data(env) or {})[:300])
    # a retry or two more: the error has been logged, evented and written more than once
    wait_until(lambda: len(Echo.seen) >= 2, 20)
    ch = channels(env, op)
    for what, value in PLANTED.items():
        for name, text in ch.items():
            T.check(f"no_{what}_in_{name.replace(' ', '_')}", value not in text,
                    f"{what} found in {name}: ...{text[max(0, text.find(value) - 200):text.find(value) + 60]}...")
    sig = [m.split("Signature=", 1)[1][:16] for _, m in Echo.seen if "Signature=" in m]
    leaked = [s for s in sig if len(s) >= 16 and any(s in t for t in ch.values())]
    T.check("no_signature_anywhere", not leaked, f"signatures found: {leaked[:2]}")
    clean_exit(T, env, op, "clean_exit")
    srv.shutdown()
    env.close()


if __name__ == "__main__":
    T.run(main)
