"""Shared code of the kubesim tests: start a kubesim on a free port in a temp
dir (killed at exit, even on failure), run kubectl/helm with a fresh HOME, call
the API directly, and report PASS/FAIL lines."""
import atexit
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
TOP = os.environ.get("LP_TOP") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from lptest import Reporter, wait_until  # noqa: E402


def _die_with_parent():
    """In the child: get SIGTERM when the test process dies, however it dies."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)   # so atexit cleanups run under `timeout`


def helm_path():
    h = os.path.join(TOP, ".deps", "bin", "helm")
    if not os.access(h, os.X_OK):
        subprocess.run(["bash", os.path.join(TOP, "hack", "install-deps.sh")], check=False)
    return h


# The one harness (tests/lib/lptest.py): Report is its Reporter (check, run(name, fn), exit).
Report = Reporter


class Kubesim:
    """One kubesim process. Use as a context manager or call stop()."""

    def __init__(self, extra_args=(), tokens=("admintoken",), workdir=None, state=False, admin_port=True):
        self.dir = workdir or tempfile.mkdtemp(prefix="kubesim-test-")
        self.own_dir = workdir is None
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)
        self.tokens = list(tokens)
        self.token = self.tokens[0].split("=", 1)[0]
        self.state = os.path.join(self.dir, "state.json") if state else None
        args = [sys.executable, os.path.join(HERE, "kubesim"), "--port", "0", "--tls-dir",
                os.path.join(self.dir, "tls"), "--kubeconfig-out", self.kubeconfig]
        for t in self.tokens:
            args += ["--token", t]
        if self.state:
            args += ["--state", self.state]
        if admin_port:
            args += ["--admin-port", "0"]
        args += list(extra_args)
        for stale in (self.kubeconfig, self.kubeconfig + ".admin"):
            if os.path.exists(stale):
                os.unlink(stale)
        self.log = open(os.path.join(self.dir, "kubesim.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        atexit.register(self.stop)
        deadline = time.time() + 30
        while not os.path.exists(self.kubeconfig):
            if self.proc.poll() is not None or time.time() > deadline:
                self.log.flush()
                text = self.logtext()[-800:]
                self.stop()
                raise RuntimeError("kubesim did not start: %s" % text)
            time.sleep(0.05)
        with open(self.kubeconfig) as f:
            for line in f:
                if "server:" in line:
                    self.port = int(line.rsplit(":", 1)[1])
        self.admin_url = None
        if admin_port:
            with open(self.kubeconfig + ".admin") as f:
                self.admin_url = f.read().strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "tls", "ca.crt"))

    def logtext(self):
        try:
            with open(os.path.join(self.dir, "kubesim.log")) as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()

    def stop(self, sig=signal.SIGTERM):
        p = getattr(self, "proc", None)
        if p is not None and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        if self.own_dir and os.environ.get("KUBESIM_KEEP") is None and p is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.own_dir = False

    # ---------- clients ----------
    def env(self):
        e = dict(os.environ)
        e["HOME"] = self.home
        e["KUBECONFIG"] = self.kubeconfig
        e.pop("KUBERNETES_SERVICE_HOST", None)
        return e

    def kubectl(self, *args, input=None, timeout=60, check=False):
        r = subprocess.run(["kubectl"] + list(args), env=self.env(), input=input, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("kubectl %s failed: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def helm(self, *args, timeout=120):
        return subprocess.run([helm_path()] + list(args), env=self.env(), capture_output=True, text=True,
                              timeout=timeout)

    def conn(self, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, token=None, ctype="application/json", accept=None,
                raw=False, headers=None):
        """One request on a fresh connection. Returns (status, headers, parsed JSON or bytes)."""
        c = self.conn()
        h = {"Authorization": "Bearer " + (token or self.token)}
        if accept:
            h["Accept"] = accept
        if headers:
            h.update(headers)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = ctype
        if token == "":
            del h["Authorization"]
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            b = r.read()
            hdrs = dict(r.getheaders())
            if raw:
                return r.status, hdrs, b
            try:
                return r.status, hdrs, json.loads(b) if b else None
            except ValueError:
                return r.status, hdrs, b
        finally:
            c.close()

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.admin_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())


class RealKubesim(Kubesim):
    """The same client side (kubectl, helm, request, conn) against the real API
    server (tests/apiserver: etcd + kube-apiserver), for the shared kubectl and
    helm tests under LP_APISERVER=real. No admin API: faults and counters are
    kubesim's alone."""

    def __init__(self, tokens=(), **_ignored):
        sys.path.insert(0, os.path.join(TOP, "tests", "apiserver"))
        from apiserver import RealServer
        self.real = RealServer(tokens=[t for t in tokens if "=" in t])
        self.proc = None
        self.log = None
        self.own_dir = False
        self.dir = self.real.dir
        self.kubeconfig = self.real.kubeconfig
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)
        self.token = self.real.token
        self.tokens = [self.token]
        self.port = self.real.port
        self.admin_url = None
        self.ctx = self.real.ctx
        # no kube-controller-manager: workload status and namespace deletes by the stand-in
        self.real.start_workload_marker(None, interval=0.2)

    def logtext(self):
        return self.real.logtext("kube-apiserver", 1 << 20)

    def stop(self, sig=signal.SIGTERM):
        self.real.stop()

    def admin(self, method, path, body=None):
        raise RuntimeError("the real API server has no admin API (faults and counters are kubesim's)")


def server(**kw):
    """A Kubesim, or with LP_APISERVER=real a RealKubesim: for tests that run on both."""
    if os.environ.get("LP_APISERVER", "kubesim") == "real":
        return RealKubesim(**kw)
    return Kubesim(**kw)


class WatchStream:
    """A raw watch: reads chunked JSON lines from an HTTPS connection."""

    def __init__(self, sim, path, token=None, timeout=30):
        self.c = sim.conn(timeout=timeout)
        self.c.request("GET", path, headers={"Authorization": "Bearer " + (token or sim.token)})
        self.r = self.c.getresponse()
        self.status = self.r.status
        self.buf = b""

    def next(self):
        """The next event dict, or None at the end of the stream."""
        while b"\n" not in self.buf:
            try:
                d = self.r.read1(65536)
            except (OSError, http.client.HTTPException):
                d = b""
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        try:
            self.c.sock.shutdown(2)
        except (OSError, AttributeError):
            pass
        self.c.close()


def wait_for(fn, timeout=10.0, interval=0.05):
    """lptest.wait_until with kubesim tests' shorter default interval."""
    return wait_until(fn, timeout, interval)
