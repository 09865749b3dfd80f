"""An API server certificate the operator does not trust (docs/security.md):
the operator's kubeconfig names a freshly generated CA that did not sign the
server's certificate. The verification error is logged at error level once
(not at every retry) and /readyz answers 503 saying why."""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, Reporter, clean_exit, wait_until  # noqa: E402

T = Reporter("tls_untrusted")
LINE = "api server: TLS verification failed"


def other_ca(d):
    key, crt = os.path.join(d, "other-ca.key"), os.path.join(d, "other-ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=not-the-api-server-ca"],
                   check=True, capture_output=True, timeout=60)
    with open(crt, "rb") as f:
        return base64.b64encode(f.read()).decode()


def load(path):
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError:
        import yaml
        return yaml.safe_load(text)


def readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def main():
    env = Env("tls-untrusted")
    cfg = load(env.kubeconfig)
    for c in cfg["clusters"]:
        c["cluster"].pop("certificate-authority", None)
        c["cluster"]["certificate-authority-data"] = other_ca(env.tmp)
    bad = os.path.join(env.tmp, "kubeconfig-other-ca")
    with open(bad, "w") as f:
        json.dump(cfg, f)
    env.kubeconfig = bad
    op = env.start_operator()
    logged = wait_until(lambda: LINE in env.operator_log(op), 20)
    log = env.operator_log(op)
    T.check("error_logged", logged and any(LINE in ln and "error" in ln.lower()
                                           for ln in log.splitlines()), env.tail(op.log_path))
    time.sleep(6)  # the informers retry meanwhile
    log = env.operator_log(op)
    n = sum(LINE in ln for ln in log.splitlines())
    T.check("logged_once", n == 1, f"{n} lines: " + env.tail(op.log_path))
    port = env.operator_port(op)
    status, body = readyz(port) if port else (None, "no port in the log")
    T.check("readyz_says_why", status == 503 and LINE in body, f"{status} {body!r}")
    clean_exit(T, env, op, "clean_exit")
    env.close()


if __name__ == "__main__":
    T.run(main)
