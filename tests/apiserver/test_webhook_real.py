"""Refused at apply time, against the real kube-apiserver (tests/apiserver/apiserver.py):
the CRDs with their CEL rules are accepted by the real server; the operator runs
its admission webhook on loopback (clientConfig.url https://127.0.0.1:PORT,
the certificate with an IP SAN), makes its certificate and sets the caBundle,
and the real API server calls it:

- every example: `kubectl apply -f examples/` succeeds;
- every bad twin under tests/data/invalid: `kubectl apply` fails naming a field of
  each refused object (schema and CEL errors come first, the webhook's after);
- a pipeline applied before its output: accepted with a warning naming the
  field, and `kubectl apply -f dir/` with the pipeline sorting first works;
- with the operator stopped (failurePolicy Ignore): applying still works, a
  tenancy problem is stored (the operator reports it in status when back), and
  the CEL rules still refuse what is wrong in the object alone.

Run with Debian's python3 (python3-yaml). A missing binary is a FAIL naming how
to build it, never a skip."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apiserver import RealServer, StartError  # noqa: E402

TOP = os.environ.get("LP_TOP") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("LP_BIN") or os.path.join(TOP, "build", "asan", "bin")
CTRL_NS = "logplane-system"
failed = 0
passed = 0


def check(name, ok, why=""):
    global failed, passed
    if ok:
        passed += 1
        print("PASS webhook_real:%s" % name, flush=True)
    else:
        failed += 1
        print("FAIL webhook_real:%s: %s" % (name, " ".join(str(why).split())[:700]), flush=True)
    return ok


def wait_until(fn, timeout, interval=0.2):
    end = time.monotonic() + timeout
    while True:
        try:
            v = fn()
        except Exception:  # noqa: BLE001 - a failing probe is "not yet"
            v = None
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Kubectl:
    def __init__(self, s):
        self.env = dict(os.environ, HOME=s.dir, KUBECONFIG=s.kubeconfig)

    def __call__(self, *args, input=None):
        return subprocess.run(["kubectl", "--request-timeout=30s", *args], input=input, capture_output=True,
                              text=True, env=self.env, timeout=120)


def vwc(port):
    with open(os.path.join(TOP, "config", "webhook", "validating_webhook.yaml")) as f:
        c = yaml.safe_load(f)
    for h in c["webhooks"]:
        h["clientConfig"] = {"url": "https://127.0.0.1:%d/validate" % port}
    return c


def expect_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^[^:]+:\d+: (\w+) ([^/]+)/([^:]+): ([^:]+): (.*)$", line.rstrip("\n"))
            if m:
                out.append(m.groups())
    return out


def start_operator(s, port, tmp, name):
    log = open(os.path.join(tmp, name + ".log"), "w")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    p = subprocess.Popen([os.path.join(BIN, "logplane-operator"), "--kubeconfig", s.kubeconfig,
                          "--log-format", "text", "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0",
                          "--aws=false", "--webhook-addr", "127.0.0.1:%d" % port,
                          "--webhook-cert-names", "127.0.0.1", "--webhook-cert-check", "2s"],
                         stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    p.log_path = log.name
    return p


def oplog(p):
    try:
        with open(p.log_path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        return p.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)
        return None


procs = []  # operators started, killed at the end whatever happens


def main():
    try:
        s = RealServer()
    except StartError as e:
        check("real_apiserver_starts", False, e)
        return
    tmp = tempfile.mkdtemp(prefix="lp-webhook-real-")
    try:
        run(s, tmp)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        s.stop()
        subprocess.run(["rm", "-rf", tmp], check=False)


def run(s, tmp):
    k = Kubectl(s)
    # 1. the CRDs, CEL rules included, are accepted by the real server
    r = k("apply", "-f", os.path.join(TOP, "crds"))
    check("crds_with_cel_accepted", r.returncode == 0, r.stderr)
    r = k("wait", "--for=condition=Established", "crd/logpipelines.logplane.io", "crd/logoutputs.logplane.io",
          "--timeout=60s")
    if not check("crds_established", r.returncode == 0, r.stderr):
        return
    for ns in (CTRL_NS, "team-a", "order-test"):
        k("create", "namespace", ns)
    port = free_port()
    r = k("apply", "-f", "-", input=json.dumps(vwc(port)))
    check("webhook_configuration_applied", r.returncode == 0, r.stderr)
    op = start_operator(s, port, tmp, "op1")
    procs.append(op)

    def bundle():
        c = json.loads(k("get", "validatingwebhookconfiguration", "logplane", "-o", "json").stdout)
        return all(h["clientConfig"].get("caBundle") for h in c["webhooks"])
    ok = wait_until(bundle, 60) and wait_until(lambda: "serving the certificate" in oplog(op), 30)
    if not check("operator_sets_cabundle", ok, oplog(op)[-1500:]):
        return
    # the API server reads webhook configurations through an informer: wait until
    # it calls ours (a refused tenancy pipeline proves it)
    probe = {"apiVersion": "logplane.io/v1alpha1", "kind": "LogPipeline",
             "metadata": {"name": "probe", "namespace": "team-a"},
             "spec": {"input": {"system": {"enabled": True}}, "routes": [{"outputRef": "x"}]}}
    called = wait_until(lambda: "only pipelines in the control namespace" in k(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps(probe)).stderr, 60, 0.5)
    if not check("api_server_calls_webhook", called,
                 k("apply", "--dry-run=server", "-f", "-", input=json.dumps(probe)).stderr + " | " +
                 s.logtext(n=30)[-1500:]):
        return

    # 2. every example accepted
    r = k("apply", "-f", os.path.join(TOP, "examples"))
    check("examples_accepted", r.returncode == 0 and "invalid" not in r.stderr, r.stderr or r.stdout)

    # 3. every bad twin refused with a field named
    inv = os.path.join(TOP, "tests", "data", "invalid")
    problems, refused = [], 0
    for f in sorted(os.listdir(inv)):
        if not f.endswith(".expect"):
            continue
        lines = expect_lines(os.path.join(inv, f))
        r = k("apply", "-f", os.path.join(inv, f[:-7] + ".yaml"))
        if os.environ.get("LP_SHOW_KUBECTL"):
            print(r.stderr)
        by_obj = {}
        for kind, ns, name, fld, msg in lines:
            # references to what may come later are warnings at admission
            if "not found" in msg or "is shared with namespace" in msg:
                continue
            by_obj.setdefault((kind, ns, name), []).append(fld)
        if r.returncode == 0:
            problems.append("%s: applied without error" % f)
            continue
        for (kind, ns, name), fields in by_obj.items():
            errs = [ln for ln in r.stderr.splitlines() if ('"%s"' % name) in ln or ("/%s " % name) in ln or
                    (" %s/%s" % (ns, name)) in ln]
            if not any(fl in ln for ln in errs for fl in fields):
                problems.append("%s: %s %s/%s: no error naming %s in: %s" % (f, kind, ns, name, fields,
                                                                           " | ".join(errs)[:300]))
            else:
                refused += 1
    check("invalid_twins_refused_with_field", not problems and refused >= 8, problems or "refused %d" % refused)

    # 4. a pipeline before its output: a warning, accepted; a directory in any order
    d = os.path.join(tmp, "dir")
    os.makedirs(d)
    with open(os.path.join(d, "a-pipeline.yaml"), "w") as f:
        yaml.safe_dump({"apiVersion": "logplane.io/v1alpha1", "kind": "LogPipeline",
                        "metadata": {"name": "app", "namespace": "order-test"},
                        "spec": {"routes": [{"outputRef": "later"}]}}, f)
    with open(os.path.join(d, "b-output.yaml"), "w") as f:
        yaml.safe_dump({"apiVersion": "logplane.io/v1alpha1", "kind": "LogOutput",
                        "metadata": {"name": "later", "namespace": "order-test"},
                        "spec": {"type": "stdout"}}, f)
    r = k("apply", "-f", os.path.join(d, "a-pipeline.yaml"))
    check("pipeline_before_output_warned_and_accepted",
          r.returncode == 0 and "Warning:" in r.stderr and "spec.routes[0].outputRef" in r.stderr and
          "later" in r.stderr, r.stderr or r.stdout)
    k("delete", "logpipeline", "-n", "order-test", "app")
    r = k("apply", "-f", d)
    check("apply_dir_any_order", r.returncode == 0 and "invalid" not in r.stderr, r.stderr)

    # 5. the operator stopped: failurePolicy Ignore
    rc = stop(op)
    log = oplog(op)
    check("operator_clean_exit", rc == 0 and "Sanitizer" not in log and "runtime error" not in log,
          "exit %s %s" % (rc, log[-800:]))
    t0 = time.monotonic()
    r = k("apply", "-f", "-", input=json.dumps(dict(probe, metadata={"name": "stored-while-down",
                                                                        "namespace": "team-a"})))
    took = time.monotonic() - t0
    check("operator_down_apply_works", r.returncode == 0, r.stderr)
    check("operator_down_apply_quick", took < 10, "took %.1f s" % took)
    bad_cel = {"apiVersion": "logplane.io/v1alpha1", "kind": "LogPipeline",
               "metadata": {"name": "two-ops", "namespace": "team-a"},
               "spec": {"routes": [{"outputRef": "x"}], "transforms": [{"flatten": {}, "dropFields": ["a"]}]}}
    r = k("apply", "-f", "-", input=json.dumps(bad_cel))
    check("operator_down_cel_still_refuses", r.returncode != 0 and "spec.transforms[0]" in r.stderr and
          "exactly one of" in r.stderr, r.stderr or r.stdout)
    # 6. the operator back: it reports the pipeline stored while it was down
    op2 = start_operator(s, port, tmp, "op2")
    procs.append(op2)

    def invalid_status():
        o = json.loads(k("get", "logpipeline", "-n", "team-a", "stored-while-down", "-o", "json").stdout)
        for c in (o.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Valid" and c.get("status") == "False" and "spec.input.system" in c.get("message", ""):
                return True
        return False
    check("stored_while_down_reported_in_status", wait_until(invalid_status, 60), oplog(op2)[-800:])
    rc = stop(op2)
    check("operator_clean_exit_2", rc == 0 and "Sanitizer" not in oplog(op2), oplog(op2)[-800:])


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check("harness", False, repr(e))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)
