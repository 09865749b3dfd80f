"""Shared pieces of the operator integration tests: an API server on free
loopback ports (kubesim with TLS and a token, or with LP_APISERVER=real etcd +
kube-apiserver from tests/apiserver), kubectl with a fresh HOME, the operator
binary ($LP_BIN/logplane-operator, the ASan build), write counters (kubesim's
admin counters; the real server's audit log), kubesim's faults, and PASS/FAIL
reporting (tests/lib/lptest.py). Everything started here is killed at exit,
also on failure. Standard library only."""
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.environ.get("LP_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "apiserver"))
from lptest import APISERVER, KINDS, Api, Reporter, wait_until  # noqa: E402,F401
BIN = os.environ.get("LP_BIN") or os.path.join(TOP, "build", "asan", "bin")
OPERATOR = os.path.join(BIN, "logplane-operator")
CTRL_NS = "logplane-system"


class Env:
    def __init__(self, name, nodes=1, bookmark_interval=1):
        self.tmp = tempfile.mkdtemp(prefix=f"lp-{name}-")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        self.procs = []
        self.operators = []
        atexit.register(self.close)
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self._on_signal)
        self.real = None
        self.admin = None
        if APISERVER == "real":
            import shutil
            from apiserver import RealServer
            self.real = RealServer(workdir=os.path.join(self.tmp, "real"))
            shutil.copyfile(self.real.kubeconfig, self.kubeconfig)
            # no kube-controller-manager: the workloads' status is marked by hand
            self.real.start_workload_marker(CTRL_NS, interval=0.2, nodes=nodes)
        else:
            self.ks_log = open(os.path.join(self.tmp, "kubesim.log"), "w")
            self.kubesim = subprocess.Popen(
                [os.path.join(TOP, "tests", "kubesim", "kubesim"), "--port", "0",
                 "--tls-dir", os.path.join(self.tmp, "tls"), "--token", "admin-token",
                 "--kubeconfig-out", self.kubeconfig, "--admin-port", "0",
                 "--state", os.path.join(self.tmp, "state.json"),
                 "--bookmark-interval", str(bookmark_interval), "--nodes", str(nodes),
                 "--converge-delay", "0.2"],
                stdout=self.ks_log, stderr=subprocess.STDOUT, start_new_session=True)
            self.procs.append(self.kubesim)
            ok = wait_until(lambda: os.path.exists(self.kubeconfig) and os.path.exists(self.kubeconfig + ".admin"), 30)
            if not ok:
                raise RuntimeError("kubesim did not start: " + self.tail(os.path.join(self.tmp, "kubesim.log")))
            with open(self.kubeconfig + ".admin") as f:
                self.admin = f.read().strip().rstrip("/")
        self.api = Api(self.kubeconfig)

    def _on_signal(self, signum, frame):
        self.close()
        sys.exit(1)

    @staticmethod
    def tail(path, n=20):
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def close(self):
        for p in self.operators + self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        self.operators = []
        self.procs = []
        if self.real is not None:
            self.real.stop()
        if os.environ.get("LP_KEEP_TMP"):
            return
        subprocess.run(["rm", "-rf", self.tmp], check=False)

    # ---- kubectl ----
    def kubectl(self, *args, input=None, check=True, timeout=120):
        env = dict(os.environ, HOME=self.home, KUBECONFIG=self.kubeconfig)
        r = subprocess.run(["kubectl", "--request-timeout=30s", *args], input=input,
                           capture_output=True, text=True, env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
        return r

    def apply(self, objs):
        if isinstance(objs, dict):
            objs = [objs]
        doc = "\n".join(json.dumps(o) for o in objs)  # a JSON stream
        return self.kubectl("apply", "-f", "-", input=doc, timeout=600)

    def get(self, kind, name, ns=None):
        """The object or None; over HTTP (kubectl for a kind lptest.KINDS lacks)."""
        if kind in KINDS:
            return self.api.get(kind, name, ns)
        args = ["get", kind, name, "-o", "json"]
        if ns:
            args += ["-n", ns]
        r = self.kubectl(*args, check=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def list(self, kind, ns=None, selector=None):
        if kind in KINDS:
            return self.api.list(kind, ns, selector)
        args = ["get", kind, "-o", "json"]
        args += ["-n", ns] if ns else ["-A"]
        if selector:
            args += ["-l", selector]
        return json.loads(self.kubectl(*args).stdout)["items"]

    # ---- kubesim admin ----
    def _admin(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.admin + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            txt = r.read().decode()
        return json.loads(txt) if txt.strip() else {}

    def counters(self):
        """Requests and writes per resource since reset_counters() (kubesim's
        admin counters; on the real server, from its audit log)."""
        if self.real is not None:
            return self.real.counters()
        return self._admin("/admin/counters")

    def reset_counters(self):
        if self.real is not None:
            return self.real.reset_counters()
        return self._admin("/admin/counters/reset", {})

    def fault(self, spec):
        if self.real is not None:
            raise RuntimeError("faults need kubesim: a real API server cannot be steered")
        return self._admin("/admin/faults", spec)

    def writes(self, resource=None):
        c = self.counters()
        if resource is None:
            return c.get("writesTotal", 0)
        return c.get("writes", {}).get(resource, 0)

    # ---- the operator ----
    def start_operator(self, *extra, name="op"):
        log_path = os.path.join(self.tmp, f"{name}.log")
        log = open(log_path, "w")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        p = subprocess.Popen([OPERATOR, "--kubeconfig", self.kubeconfig, "--log-format", "text",
                              "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0", *extra],
                             stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        p.log_path = log_path
        p.name = name
        self.operators.append(p)
        return p

    def stop_operator(self, p, sig=signal.SIGTERM, timeout=30):
        """Signals p and waits; returns its exit code (None if it hung)."""
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except OSError:
                pass
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            return None

    def operator_port(self, p):
        """The port of the operator's health and metrics server (from its log)."""
        import re
        m = re.search(r"listening on 127\.0\.0\.1 port (\d+)", self.operator_log(p))
        return int(m.group(1)) if m else None

    def operator_log(self, p):
        try:
            with open(p.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def clean_exit(T, env, p, name):
    """Stops p with SIGTERM and checks exit 0 and no sanitizer report."""
    rc = env.stop_operator(p)
    log = env.operator_log(p)
    bad = "Sanitizer" in log or "runtime error" in log
    T.check(name, rc == 0 and not bad,
            f"exit {rc}; " + (log[log.find('Sanitizer') - 200:][:1500] if bad else env.tail(p.log_path)))


# ---- objects ----

def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def secret(ns, name, data, opt_in=True):
    """A Secret; opt_in labels it so logplane may read it (docs/security.md)."""
    import base64
    meta = {"name": name, "namespace": ns}
    if opt_in:
        meta["labels"] = {"logplane.io/secret-access": "allow"}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta,
            "type": "Opaque", "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def output(ns, name, spec):
    return {"apiVersion": "logplane.io/v1alpha1", "kind": "LogOutput",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def pipeline(ns, name, outputs, extra=None):
    spec = {"input": {"application": {}}, "routes": [{"outputRef": o} for o in outputs]}
    if extra:
        spec.update(extra)
    return {"apiVersion": "logplane.io/v1alpha1", "kind": "LogPipeline",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def condition(obj, ctype):
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_ready(obj):
    c = condition(obj, "Ready")
    st = (obj or {}).get("status") or {}
    return bool(c and c.get("status") == "True" and
                st.get("observedGeneration") == obj["metadata"].get("generation"))


def apply_crds(env):
    crds = sorted(os.path.join(TOP, "crds", f) for f in os.listdir(os.path.join(TOP, "crds"))
                  if f.endswith(".yaml"))
    if not crds:
        raise RuntimeError("no CRDs in crds/")
    for f in crds:
        env.kubectl("apply", "-f", f)
    env.kubectl("wait", "--for=condition=Established", "crd/logpipelines.logplane.io",
                "crd/logoutputs.logplane.io", "--timeout=30s")


# ---- what the agents see (the ConfigMaps and Secrets a workload template mounts) ----

def template_refs(w, kind):
    """Names of the ConfigMaps (kind "configMap") or Secrets ("secret") the
    pod template of workload object w refers to, in volume order."""
    spec = (((w or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    out = []
    for v in spec.get("volumes") or []:
        srcs = [v] + list((v.get("projected") or {}).get("sources") or [])
        for s in srcs:
            ref = s.get(kind)
            if ref:
                n = ref.get("name") or ref.get("secretName")
                if n and n not in out:
                    out.append(n)
    if kind == "secret":
        for c in spec.get("containers") or []:
            for e in c.get("env") or []:
                n = ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
                if n and n not in out:
                    out.append(n)
    return out


def agent_data(env, kind="configmap", workload=("daemonset", "logplane-fluent-bit")):
    """The data of every ConfigMap (or Secret) the workload's template refers
    to, merged into one dict; None when the workload or one of them is absent."""
    w = env.get(workload[0], workload[1], CTRL_NS)
    if not w:
        return None
    data = {}
    for n in template_refs(w, "configMap" if kind == "configmap" else "secret"):
        o = env.get(kind, n, CTRL_NS)
        if o is None:
            return None
        data.update(o.get("data") or {})
    return data


def config_data(env, workload=("daemonset", "logplane-fluent-bit")):
    """The files of the agents' configuration ({file: text}), or None."""
    return agent_data(env, "configmap", workload)


def credentials_data(env, workload=("daemonset", "logplane-fluent-bit")):
    """The agents' credentials (the data of the Secrets the template refers to), or None."""
    return agent_data(env, "secret", workload)
