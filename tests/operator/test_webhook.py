"""The operator's validating admission webhook, end to end over TLS, against
kubesim: the operator makes its CA and serving certificate into the Secret,
sets the caBundle of the ValidatingWebhookConfiguration, and answers
AdmissionReview requests (POSTed here as the API server would, verified against
that caBundle) with the same verdicts `logplane validate` gives: every bad twin
under tests/data/invalid refused with the field named, every example allowed, a
pipeline applied before its output warned and allowed. Also: admissions counted
by verdict in /metrics, a restart reuses the certificate, a deleted Secret is
made again and the caBundle follows.

kubesim stores the ValidatingWebhookConfiguration but does not call webhooks
(tests/kubesim/README.md): `kubectl apply` refused through the API server needs
the real kube-apiserver. Run with Debian's python3 (python3-yaml)."""
import base64
import json
import os
import re
import socket
import ssl
import sys
import tempfile
import urllib.request

import yaml

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CTRL_NS, TOP, Env, Reporter, apply_crds, clean_exit, namespace, wait_until  # noqa: E402

T = Reporter("webhook")
SVC_NAME = "logplane-webhook.logplane-system.svc"


def vwc(url):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "logplane"},
            "webhooks": [{"name": "validate.logplane.io", "admissionReviewVersions": ["v1"],
                          "sideEffects": "None", "failurePolicy": "Ignore", "timeoutSeconds": 5,
                          "clientConfig": {"url": url},
                          "rules": [{"apiGroups": ["logplane.io"], "apiVersions": ["v1alpha1"],
                                     "operations": ["CREATE", "UPDATE"],
                                     "resources": ["logpipelines", "logoutputs"]}]}]}


def log_port(env, p, what):
    m = re.search(what + r" listening on 127\.0\.0\.1 port (\d+)", env.operator_log(p))
    return int(m.group(1)) if m else None


def secret_data(env):
    s = env.get("secret", "logplane-webhook-tls", CTRL_NS)
    if not s:
        return None
    d = s.get("data") or {}
    if not all(k in d for k in ("ca.crt", "ca.key", "tls.crt", "tls.key")):
        return None
    return s


def ca_bundle(env):
    c = env.get("validatingwebhookconfiguration", "logplane")
    try:
        return c["webhooks"][0]["clientConfig"]["caBundle"]
    except (KeyError, IndexError, TypeError):
        return None


class Client:
    """POSTs to the webhook over TLS, trusting only the caBundle."""

    def __init__(self, port, bundle_b64, hostname):
        self.port = port
        self.ctx = ssl.create_default_context(cadata=base64.b64decode(bundle_b64).decode())
        self.hostname = hostname

    def peer_cert(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            with self.ctx.wrap_socket(s, server_hostname=self.hostname) as t:
                return t.getpeercert(binary_form=True)

    def post(self, body, path="/validate"):
        """(status, body). 30 s: the oversized pipelines take ~3 s under ASan on a quiet
        machine, more with the operator's first reconcile and a loaded machine."""
        data = json.dumps(body).encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            with self.ctx.wrap_socket(s, server_hostname=self.hostname) as t:
                t.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                           "Content-Length: %d\r\nConnection: close\r\n\r\n" %
                           (path, self.hostname, len(data))).encode() + data)
                buf = b""
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        head, _, payload = buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        return status, payload.decode()


def review(obj, op="CREATE", uid="7f0c6c1e-0000-4000-8000-000000000001"):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "logplane.io", "version": "v1alpha1", "kind": obj["kind"]},
                        "resource": {"group": "logplane.io", "version": "v1alpha1",
                                     "resource": obj["kind"].lower() + "s"},
                        "namespace": obj["metadata"].get("namespace"), "operation": op,
                        "object": obj, "dryRun": False}}


def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def expect_lines(path):
    """(kind, ns, name, field, message) of every line of an .expect file."""
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^[^:]+:\d+: (\w+) ([^/]+)/([^:]+): ([^:]+): (.*)$", line.rstrip("\n"))
            if m:
                out.append(m.groups())
    return out


def ours(d):
    return d.get("apiVersion") == "logplane.io/v1alpha1" and d.get("kind") in ("LogPipeline", "LogOutput")


def main():
    env = Env("webhook")
    apply_crds(env)
    env.apply([namespace(CTRL_NS), vwc("https://127.0.0.1:9/validate")])
    examples = sorted(os.path.join(TOP, "examples", f) for f in os.listdir(os.path.join(TOP, "examples"))
                      if f.endswith(".yaml"))
    for f in examples:  # the world the bad twins are judged in
        env.kubectl("apply", "-f", f)
    op = env.start_operator("--webhook-addr", "127.0.0.1:0", "--webhook-cert-names", "127.0.0.1",
                            "--webhook-cert-check", "1s", "--aws=false", name="op1")

    # 1. certificate Secret and caBundle
    sec = wait_until(lambda: secret_data(env), 30)
    if not T.check("secret_created", sec is not None, env.tail(op.log_path)):
        return
    T.check("secret_labels_not_owned",
            (sec["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") != "logplane" and
            sec.get("type") == "kubernetes.io/tls", sec["metadata"])
    bundle = wait_until(lambda: ca_bundle(env) if ca_bundle(env) == sec["data"]["ca.crt"] else None, 30)
    T.check("cabundle_set", bundle == sec["data"]["ca.crt"], f"caBundle {str(ca_bundle(env))[:40]}")
    port = wait_until(lambda: log_port(env, op, "webhook"), 10)
    if not T.check("listening", port is not None, env.tail(op.log_path)):
        return
    ok = wait_until(lambda: "serving the certificate" in env.operator_log(op), 10)
    T.check("serving", ok, env.tail(op.log_path))
    bundle = ca_bundle(env)
    by_ip = Client(port, bundle, "127.0.0.1")
    by_svc = Client(port, bundle, SVC_NAME)
    try:
        by_svc.peer_cert()
        svc_ok = True
    except (ssl.SSLError, OSError) as e:
        svc_ok = repr(e)
    T.check("tls_verifies_service_name", svc_ok is True, svc_ok)
    # wait for the caches: an example pipeline is Ready-independent, the webhook
    # sees outputs once the informers synced (readyz)
    mport = log_port(env, op, "metrics")
    # one server for both at the same address: "health and metrics listening on ..."
    hport = log_port(env, op, "health") or mport
    ready = wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{hport}/readyz", timeout=5).status == 200,
                       30)
    T.check("ready_after_sync", ready, f"/readyz on port {hport} not 200 in 30 s")

    # 2. every bad twin refused with the field named (references: warnings)
    problems, refused, warned_refs = [], 0, 0
    inv = os.path.join(TOP, "tests", "data", "invalid")
    for f in sorted(os.listdir(inv)):
        if not f.endswith(".expect"):
            continue
        objs = [d for d in docs(os.path.join(inv, f[:-7] + ".yaml")) if ours(d)]
        for kind, ns, name, fld, msg in expect_lines(os.path.join(inv, f)):
            obj = next((d for d in objs if d["kind"] == kind and d["metadata"]["name"] == name and
                        d["metadata"].get("namespace", "default") == ns), None)
            if obj is None:
                problems.append(f"{f}: {kind} {ns}/{name} not in the yaml")
                continue
            status, text = by_ip.post(review(obj))
            resp = json.loads(text).get("response", {}) if status == 200 else {}
            # a reference to what may come later: a missing object, or an output
            # not (yet) shared with the pipeline's namespace
            if "not found" in msg or "is shared with namespace" in msg:
                if not any(fld in w for w in resp.get("warnings") or []):
                    problems.append(f"{f}: {name}: no warning for {fld}: {text[:300]}")
                warned_refs += 1
                continue
            m = (resp.get("status") or {}).get("message", "")
            if resp.get("allowed") is not False or f"{fld}: {msg}" not in m:
                problems.append(f"{f}: {name}: want refused with '{fld}: {msg}', got {text[:300]}")
            else:
                refused += 1
    T.check("invalid_twins_refused_with_field", not problems and refused >= 9 and warned_refs >= 1,
            problems or f"refused {refused}, warned {warned_refs}")

    # 3. every example allowed, without warnings (its outputs exist)
    problems, n = [], 0
    for f in examples:
        for d in docs(f):
            if not ours(d):
                continue
            status, text = by_ip.post(review(d, op="UPDATE"))
            resp = json.loads(text).get("response", {}) if status == 200 else {}
            n += 1
            if resp.get("allowed") is not True or resp.get("warnings"):
                problems.append(f"{os.path.basename(f)} {d['metadata']['name']}: {text[:300]}")
    T.check("examples_allowed", not problems and n >= 10, problems or f"{n} objects")

    # 4. a pipeline applied before its output: warned, allowed
    p = {"apiVersion": "logplane.io/v1alpha1", "kind": "LogPipeline",
         "metadata": {"name": "early", "namespace": CTRL_NS},
         "spec": {"routes": [{"outputRef": "not-yet"}]}}
    status, text = by_ip.post(review(p))
    resp = json.loads(text).get("response", {}) if status == 200 else {}
    T.check("pipeline_before_output_warned",
            resp.get("allowed") is True and
            any("spec.routes[0].outputRef" in w and "not-yet" in w for w in resp.get("warnings") or []) and
            resp.get("uid") == "7f0c6c1e-0000-4000-8000-000000000001", text[:400])

    # 4b. a pipeline whose own text is larger than a config part: refused (as
    # `logplane validate` and the operator do), with the field
    rules = [{"key": "f%d" % i, "regex": "x" * 500} for i in range(32)]
    big = {"apiVersion": "logplane.io/v1alpha1", "kind": "LogPipeline",
           "metadata": {"name": "big", "namespace": CTRL_NS},
           "spec": {"input": {"application": {}}, "routes": [{"outputRef": "out"}],
                    "transforms": [{"grep": {"exclude": rules}} for _ in range(64)]}}
    status, text = by_ip.post(review(big))
    resp = json.loads(text).get("response", {}) if status == 200 else {}
    T.check("too_large_alone_refused",
            resp.get("allowed") is False and "alone is larger than" in json.dumps(resp.get("status")),
            text[:400])

    # 4c. the same through an output the control namespace shares (example 06):
    # the size check renders it with that output, not a stand-in of its own namespace
    big_shared = json.loads(json.dumps(big))
    big_shared["metadata"] = {"name": "big", "namespace": "team-a"}
    big_shared["spec"]["routes"] = [{"outputRef": "central-loki", "outputNamespace": CTRL_NS}]
    status, text = by_ip.post(review(big_shared))
    resp = json.loads(text).get("response", {}) if status == 200 else {}
    T.check("too_large_alone_refused_shared_output",
            resp.get("allowed") is False and "alone is larger than" in json.dumps(resp.get("status")),
            text[:400])

    # 5. not an AdmissionReview: 400; another path: 404
    status, text = by_ip.post({"hello": 1})
    T.check("bad_request_400", status == 400, f"{status} {text[:200]}")
    status, text = by_ip.post(review(p), path="/other")
    T.check("unknown_path_404", status == 404, f"{status} {text[:200]}")

    # 6. metrics by verdict
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10) as r:
        metrics = r.read().decode()

    def sample(kind, verdict):
        m = re.search(r'^logplane_admission_reviews_total\{kind="%s",verdict="%s"\} (\d+)' % (kind, verdict),
                      metrics, re.M)
        return int(m.group(1)) if m else 0
    T.check("metrics_by_verdict",
            sample("LogPipeline", "refused") >= 5 and sample("LogOutput", "refused") >= 3 and
            sample("LogPipeline", "allowed") >= 1 and sample("LogPipeline", "warned") >= 1 and
            sample("other", "bad_request") >= 1 and
            "logplane_admission_duration_seconds_bucket" in metrics,
            [ln for ln in metrics.splitlines() if "admission" in ln][:12])

    # 7. a restart reuses the certificate (no write)
    rv = env.get("secret", "logplane-webhook-tls", CTRL_NS)["metadata"]["resourceVersion"]
    cert1 = by_ip.peer_cert()
    clean_exit(T, env, op, "clean_exit")
    op = env.start_operator("--webhook-addr", "127.0.0.1:0", "--webhook-cert-names", "127.0.0.1",
                            "--webhook-cert-check", "1s", "--aws=false", name="op2")
    port = wait_until(lambda: log_port(env, op, "webhook"), 10)
    wait_until(lambda: "serving the certificate" in env.operator_log(op), 15)
    same = False
    try:
        same = Client(port, ca_bundle(env), "127.0.0.1").peer_cert() == cert1
    except (ssl.SSLError, OSError, TypeError) as e:
        same = repr(e)
    T.check("restart_reuses_certificate",
            same is True and env.get("secret", "logplane-webhook-tls", CTRL_NS)["metadata"]["resourceVersion"] == rv,
            f"{same}; {env.tail(op.log_path)}")

    # 8. the Secret deleted: a new CA and certificate, the caBundle follows
    old_ca = sec["data"]["ca.crt"]
    env.kubectl("delete", "secret", "-n", CTRL_NS, "logplane-webhook-tls")
    new = wait_until(lambda: (lambda s: s if s and s["data"]["ca.crt"] != old_ca else None)(secret_data(env)), 20)
    ok = new is not None and wait_until(lambda: ca_bundle(env) == new["data"]["ca.crt"], 20)
    T.check("secret_remade_cabundle_follows", bool(ok), env.tail(op.log_path))
    if ok:
        fresh = wait_until(lambda: (lambda c: c if c != cert1 else None)(
            Client(port, ca_bundle(env), "127.0.0.1").peer_cert()), 20)
        T.check("new_certificate_served", fresh is not None, env.tail(op.log_path))
    clean_exit(T, env, op, "clean_exit_after_rotation")


if __name__ == "__main__":
    tempfile.tempdir = None
    T.run(main)
