"""The one Python test harness of logplane's tests: PASS/FAIL reporting, the one
wait helper, and a small API client that reads a kubeconfig (kubesim's or the
real API server's) and talks HTTPS to the server, so pollers do not start a
kubectl process per look. Standard library only (PyYAML when a kubeconfig is
YAML rather than JSON).

Which API server a shared test runs against: LP_APISERVER=kubesim (default) or
real (tests/apiserver: etcd + kube-apiserver)."""
import base64
import http.client
import json
import os
import ssl
import sys
import tempfile
import time

APISERVER = os.environ.get("LP_APISERVER", "kubesim")
if APISERVER not in ("kubesim", "real"):
    sys.exit("LP_APISERVER must be kubesim or real, not %r" % APISERVER)


def send(conn, method, path, body=None, headers=None, ctype="application/json"):
    """One request on conn (http.client): body is bytes, or JSON-encoded with
    ctype; returns (status, raw response bytes). The one request loop of the
    harness, the real-server launcher and the bench."""
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = ctype
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    return r.status, r.read()


class Reporter:
    """One PASS/FAIL line per check; the exit code says whether any failed.
    Against the real API server the suite name gets "@real", so both runs of a
    shared test have distinct check names."""

    def __init__(self, suite):
        self.suite = suite + ("@real" if APISERVER == "real" else "")
        self.failed = 0
        self.passed = 0

    def check(self, name, ok, why=""):
        if ok:
            print("PASS %s:%s" % (self.suite, name), flush=True)
            self.passed += 1
        else:
            why = " ".join(str(why).split())[:600]
            print("FAIL %s:%s: %s" % (self.suite, name, why), flush=True)
            self.failed += 1
        return ok

    def case(self, name, fn):
        """Runs fn(): None or True passes, another value or an exception fails naming it."""
        try:
            r = fn()
            if r is None or r is True:
                return self.check(name, True)
            return self.check(name, False, r)
        except Exception as e:  # noqa: BLE001 - the test reports and goes on
            import traceback
            tb = traceback.format_exc().strip().splitlines()
            return self.check(name, False, "%s: %s (%s)" % (type(e).__name__, e, tb[-3] if len(tb) > 2 else ""))

    def run(self, main, fn=None):
        """run(main): runs main(), an exception is a failed "harness" check, then
        exits with the verdict. run(name, fn): the same as case(name, fn)."""
        if fn is not None:
            return self.case(main, fn)
        try:
            main()
        except Exception as e:  # noqa: BLE001 - reported as a failure
            import traceback
            traceback.print_exc()
            self.check("harness", False, repr(e))
        self.exit()

    def exit(self):
        sys.exit(1 if self.failed or not self.passed else 0)


def wait_until(fn, timeout, interval=0.1):
    """Calls fn until it returns a truthy value or timeout seconds pass (bounded
    by the clock, whatever fn does); returns the last value. An exception from
    fn counts as "not yet"."""
    end = time.monotonic() + timeout
    while True:
        try:
            v = fn()
        except Exception:  # noqa: BLE001 - a failing probe is "not yet"
            v = None
        if v:
            return v
        if time.monotonic() >= end:
            _gave_up(timeout)
            return v
        time.sleep(interval)


def _gave_up(timeout):
    """A "# " line (run.sh ignores it) naming the caller of a wait that ran out:
    a wait nobody checks costs its whole timeout, and this shows where."""
    f = sys._getframe(2)
    while f is not None and os.path.basename(f.f_code.co_filename) in ("lptest.py", "ks_testlib.py"):
        f = f.f_back
    where = "%s:%d" % (os.path.basename(f.f_code.co_filename), f.f_lineno) if f is not None else "?"
    sys.stderr.write("# wait_until: gave up after %gs at %s\n" % (timeout, where))
    sys.stderr.flush()


# kubectl's names of the kinds the tests look at -> (path prefix, plural, namespaced)
KINDS = {}
for _names, _prefix, _plural, _nsd in (
        (("namespace", "namespaces", "ns"), "/api/v1", "namespaces", False),
        (("configmap", "configmaps", "cm"), "/api/v1", "configmaps", True),
        (("secret", "secrets"), "/api/v1", "secrets", True),
        (("serviceaccount", "serviceaccounts", "sa"), "/api/v1", "serviceaccounts", True),
        (("service", "services", "svc"), "/api/v1", "services", True),
        (("event", "events", "ev"), "/api/v1", "events", True),
        (("pod", "pods", "po"), "/api/v1", "pods", True),
        (("daemonset", "daemonsets", "ds"), "/apis/apps/v1", "daemonsets", True),
        (("statefulset", "statefulsets", "sts"), "/apis/apps/v1", "statefulsets", True),
        (("deployment", "deployments", "deploy"), "/apis/apps/v1", "deployments", True),
        (("poddisruptionbudget", "poddisruptionbudgets", "pdb"), "/apis/policy/v1", "poddisruptionbudgets", True),
        (("clusterrole", "clusterroles"), "/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
        (("clusterrolebinding", "clusterrolebindings"), "/apis/rbac.authorization.k8s.io/v1",
         "clusterrolebindings", False),
        (("role", "roles"), "/apis/rbac.authorization.k8s.io/v1", "roles", True),
        (("rolebinding", "rolebindings"), "/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
        (("lease", "leases"), "/apis/coordination.k8s.io/v1", "leases", True),
        (("lp", "logpipeline", "logpipelines"), "/apis/logplane.io/v1alpha1", "logpipelines", True),
        (("lo", "logoutput", "logoutputs"), "/apis/logplane.io/v1alpha1", "logoutputs", True)):
    for _n in _names:
        KINDS[_n] = (_prefix, _plural, _nsd)


class Api:
    """HTTPS to the server of a kubeconfig (its current context: CA data and a
    bearer token), one connection per request."""

    def __init__(self, kubeconfig):
        with open(kubeconfig) as f:
            text = f.read()
        try:
            cfg = json.loads(text)
        except ValueError:
            import yaml
            cfg = yaml.safe_load(text)
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
        cl = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.token = user.get("token")
        hostport = cl["server"].split("://", 1)[1].rstrip("/")
        self.host, _, port = hostport.rpartition(":")
        self.port = int(port)
        self.ctx = ssl.create_default_context()
        ca = cl.get("certificate-authority-data")
        if ca:
            self.ctx.load_verify_locations(cadata=base64.b64decode(ca).decode())
        elif cl.get("certificate-authority"):
            self.ctx.load_verify_locations(cafile=cl["certificate-authority"])

    def request(self, method, path, body=None, ctype="application/json", timeout=30):
        """(status, parsed JSON body or None)."""
        c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        try:
            st, b = send(c, method, path, body, h, ctype)
            try:
                return st, (json.loads(b) if b else None)
            except ValueError:
                return st, None
        finally:
            c.close()

    @staticmethod
    def path(kind, name=None, ns=None):
        """The URL path of kind (a kubectl name: "ds", "lp", ...); KeyError for one not in KINDS."""
        prefix, plural, nsd = KINDS[kind]
        p = prefix + ("/namespaces/%s" % ns if nsd and ns else "") + "/" + plural
        return p + ("/" + name if name else "")

    def get(self, kind, name, ns=None):
        """The object, or None when absent (or any error)."""
        st, o = self.request("GET", self.path(kind, name, ns))
        return o if st == 200 else None

    def list(self, kind, ns=None, selector=None):
        p = self.path(kind, None, ns)
        if selector:
            import urllib.parse
            p += "?labelSelector=" + urllib.parse.quote(selector)
        st, o = self.request("GET", p)
        if st != 200:
            raise RuntimeError("GET %s: %s %s" % (p, st, o))
        return o.get("items") or []


def tmpdir(name):
    return tempfile.mkdtemp(prefix="lp-%s-" % name)
