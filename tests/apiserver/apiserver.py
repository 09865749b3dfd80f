"""A real Kubernetes API server for tests, like controller-runtime's envtest:
etcd on a loopback port with a temporary data dir, and kube-apiserver with its
secure port on 127.0.0.1, certificates made here with the openssl CLI, static
token authentication, RBAC authorization, service-account signing keys and the
default admission plugins. It writes a kubeconfig and stops cleanly (SIGTERM,
then SIGKILL after a grace period; the temp dir is removed).

No controllers run (there is no kube-controller-manager): nothing makes a
DaemonSet ready, collects garbage or finishes deleting a namespace. Tests mark
workload status by hand (mark_workloads_ready) or run start_workload_marker(),
a stand-in that also finishes namespace deletes. Anonymous requests are refused
with 401 (--anonymous-auth=false), as kubesim refuses them.

The binaries are .deps/bin/kube-apiserver and .deps/bin/etcd, built by
hack/build-apiserver.sh (make deps). Standard library only.

    from apiserver import RealServer
    with RealServer() as s:          # or s = RealServer(); ...; s.stop()
        s.kubeconfig                 # admin kubeconfig (token in system:masters)
        s.request("GET", "/api/v1/namespaces")

Every API request is written to an audit log; writes() and requests() count
them per resource (named like kubesim's counters: plural[.group][/subresource]),
so a test can ask "how many writes since reset_counters()" on both servers.

Standalone: python3 tests/apiserver/apiserver.py [--dir D] [--token T=USER[:G,...]]
prints the kubeconfig path and serves until SIGINT/SIGTERM.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import lptest  # noqa: E402  (the one request loop)
TOP = os.environ.get("LP_TOP") or os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.path.join(TOP, ".deps", "bin")
ADMIN_TOKEN = "admin-token"
# Identity of the tests' stand-in workload controller; its writes are not counted.
WORKLOAD_USER = "lp-test:workload-status"
WORKLOAD_TOKEN = "workload-status-token"
HOLD = "kubesim.logplane.io/hold-unready"  # the tests' way to keep a workload unready
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


class StartError(RuntimeError):
    pass


def binaries():
    """Paths of kube-apiserver and etcd; StartError naming the missing one and how to build it."""
    out = []
    for name in ("kube-apiserver", "etcd"):
        p = os.path.join(BIN_DIR, name)
        if not os.access(p, os.X_OK):
            raise StartError(f"{p} not found: run hack/build-apiserver.sh (make deps)")
        out.append(p)
    return out


def free_ports(n):
    """n distinct free loopback ports. The sockets are held together until all
    are chosen so one call never returns a port twice; another process can still
    take one before the server binds it, so start() retries on a bind failure."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    os.setpgrp()


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise StartError("openssl %s: %s" % (" ".join(args[:2]), r.stderr.strip()[-400:]))


def make_certs(d):
    """CA, serving certificate for 127.0.0.1/localhost, and the service-account
    signing key pair, in directory d (EC P-256 for TLS, RSA 2048 for tokens)."""
    os.makedirs(d, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=logplane-test-ca", cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "serving.key", "-out", "serving.csr", "-subj", "/CN=kube-apiserver", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
                "DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "serving.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "serving.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=d)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


def parse_token(spec):
    """"T" (an admin) or "T=USER[:G1,G2]" -> (token, user, [groups])."""
    if "=" not in spec:
        return spec, "admin-" + spec[:8], ["system:masters"]
    tok, rest = spec.split("=", 1)
    user, _, groups = rest.partition(":") if not rest.startswith("system:serviceaccount:") else (rest, "", "")
    return tok, user, [g for g in groups.split(",") if g]


class RealServer:
    """etcd + kube-apiserver on loopback. Raises StartError when a binary is
    missing or the server does not become ready within start_timeout."""

    def __init__(self, workdir=None, tokens=(), start_timeout=120, extra_args=(), keep=None):
        self.apiserver_bin, self.etcd_bin = binaries()
        self.dir = workdir or tempfile.mkdtemp(prefix="lp-apiserver-")
        self.own_dir = workdir is None
        self.keep = bool(os.environ.get("LP_KEEP_TMP")) if keep is None else keep
        self.tls = os.path.join(self.dir, "pki")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.audit_path = os.path.join(self.dir, "audit.log")
        self.token = ADMIN_TOKEN
        self.tokens = [(ADMIN_TOKEN, "admin", ["system:masters"]),
                       (WORKLOAD_TOKEN, WORKLOAD_USER, ["system:masters"])] + [parse_token(t) for t in tokens]
        self.procs = []
        self.extra_args = list(extra_args)
        self._audit_off = 0
        self._lock = threading.Lock()
        self._stopped = False
        make_certs(self.tls)
        self._write_static_files()
        last = ""
        for _attempt in range(3):  # a port taken between choosing and binding: choose again
            try:
                self._start(start_timeout)
                break
            except StartError as e:
                last = str(e)
                self._kill_procs()
                if "address already in use" not in last:
                    self.stop()
                    raise
        else:
            self.stop()
            raise StartError(last)
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.tls, "ca.crt"))
        self._write_kubeconfig()

    # ---- start ----
    def _write_static_files(self):
        with open(os.path.join(self.dir, "tokens.csv"), "w") as f:
            for i, (tok, user, groups) in enumerate(self.tokens):
                f.write('%s,%s,uid-%d,"%s"\n' % (tok, user, i, ",".join(groups)))
        # One audit event per request (at ResponseComplete; a watch when it ends),
        # metadata only: enough to count requests and writes per user and resource.
        with open(os.path.join(self.dir, "audit-policy.yaml"), "w") as f:
            f.write("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\n"
                    "rules:\n- level: None\n  users: [\"system:apiserver\"]\n- level: Metadata\n")

    def _log(self, name):
        return open(os.path.join(self.dir, name + ".log"), "ab")

    def logtext(self, name="kube-apiserver", n=4000):
        try:
            with open(os.path.join(self.dir, name + ".log"), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def _start(self, timeout):
        etcd_port, peer_port, self.port = free_ports(3)
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        data = os.path.join(self.dir, "etcd")
        shutil.rmtree(data, ignore_errors=True)
        peer = f"http://127.0.0.1:{peer_port}"
        etcd = subprocess.Popen(
            [self.etcd_bin, "--name", "default", "--data-dir", data,
             "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", "default=" + peer, "--unsafe-no-fsync", "--log-level", "warn",
             "--quota-backend-bytes", str(2 << 30)],
            stdout=self._log("etcd"), stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.procs.append(etcd)
        t = self.tls
        api = subprocess.Popen(
            [self.apiserver_bin, "--etcd-servers", self.etcd_url,
             "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(self.port),
             "--cert-dir", t, "--tls-cert-file", f"{t}/serving.crt", "--tls-private-key-file", f"{t}/serving.key",
             "--client-ca-file", f"{t}/ca.crt",
             "--token-auth-file", os.path.join(self.dir, "tokens.csv"),
             "--authorization-mode", "RBAC",
             "--service-account-key-file", f"{t}/sa.pub", "--service-account-signing-key-file", f"{t}/sa.key",
             "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
             "--service-cluster-ip-range", "10.0.0.0/24", "--allow-privileged=true",
             "--audit-policy-file", os.path.join(self.dir, "audit-policy.yaml"),
             "--audit-log-path", self.audit_path, "--audit-log-format", "json", "--audit-log-mode", "blocking",
             "--audit-log-maxbackup", "0",
             "--endpoint-reconciler-type", "none", "--anonymous-auth=false", "--profiling=false", "--v", "0", *self.extra_args],
            stdout=self._log("kube-apiserver"), stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.procs.append(api)
        ctx = ssl.create_default_context(cafile=os.path.join(t, "ca.crt"))
        deadline = time.monotonic() + timeout
        while True:
            for p, name in ((etcd, "etcd"), (api, "kube-apiserver")):
                if p.poll() is not None:
                    raise StartError(f"{name} exited {p.returncode}: {self.logtext(name, 1500)}")
            try:
                c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=5)
                c.request("GET", "/readyz", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise StartError(f"kube-apiserver not ready after {timeout} s: {self.logtext('kube-apiserver', 1500)}")
            time.sleep(0.2)

    def _write_kubeconfig(self):
        import base64
        with open(os.path.join(self.tls, "ca.crt"), "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        users, ctxs = [], []
        for tok, user, _ in self.tokens:
            users.append({"name": user, "user": {"token": tok}})
            ctxs.append({"name": user, "context": {"cluster": "real", "user": user}})
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "admin",
               "clusters": [{"name": "real", "cluster": {"server": f"https://127.0.0.1:{self.port}",
                                                         "certificate-authority-data": ca}}],
               "users": users, "contexts": ctxs}
        tmp = self.kubeconfig + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)  # JSON is YAML: every client reads it
        os.replace(tmp, self.kubeconfig)

    # ---- stop ----
    def _kill_procs(self, grace=10):
        for p in reversed(self.procs):  # kube-apiserver first, then etcd
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                    p.wait(grace)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
                except OSError:
                    pass
        self.procs = []

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        self._kill_procs()
        if self.own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()

    # ---- API ----
    def conn(self, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, token=None, ctype="application/json", accept=None):
        """One request. Returns (status, parsed JSON body or raw bytes)."""
        c = self.conn()
        h = {"Authorization": "Bearer " + (token or self.token)}
        if accept:
            h["Accept"] = accept
        try:
            st, b = lptest.send(c, method, path, body, h, ctype)
            try:
                return st, json.loads(b) if b else None
            except ValueError:
                return st, b
        finally:
            c.close()

    # ---- counters from the audit log ----
    def _events(self):
        with self._lock:
            try:
                with open(self.audit_path, "rb") as f:
                    f.seek(self._audit_off)
                    chunk = f.read()
            except OSError:
                return []
        out = []
        for line in chunk.split(b"\n"):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def reset_counters(self):
        """Counts start again from here (the audit log's current end)."""
        time.sleep(0.1)  # let requests in flight reach the log
        with self._lock:
            try:
                self._audit_off = os.path.getsize(self.audit_path)
            except OSError:
                self._audit_off = 0
        return {}

    def counters(self):
        """{"requests": {verb: {resource: n}}, "requestsTotal", "writes": {resource: n}, "writesTotal"}
        since reset_counters(): API requests of every client but the tests' workload
        stand-in, as kubesim's /admin/counters counts them."""
        req, writes = {}, {}
        nreq = nw = 0
        for e in self._events():
            if (e.get("user") or {}).get("username") == WORKLOAD_USER:
                continue
            ref = e.get("objectRef") or {}
            res = ref.get("resource") or e.get("requestURI", "").split("?")[0]
            if ref.get("apiGroup"):
                res += "." + ref["apiGroup"]
            if ref.get("subresource"):
                res += "/" + ref["subresource"]
            verb = e.get("verb", "")
            req.setdefault(verb, {})
            req[verb][res] = req[verb].get(res, 0) + 1
            nreq += 1
            if verb in WRITE_VERBS:
                writes[res] = writes.get(res, 0) + 1
                nw += 1
        return {"requests": req, "requestsTotal": nreq, "writes": writes, "writesTotal": nw}

    # ---- the missing controllers ----
    def mark_workloads_ready(self, namespace=None, nodes=1):
        """What a kube-controller-manager would do for the DaemonSets,
        StatefulSets and Deployments in namespace (None: every namespace): status
        says every pod is updated and ready at the current generation; a
        Deployment gets a ReplicaSet per pod template (older ones scaled to 0,
        the revision annotation set), as helm --wait and kubectl rollout read
        them. The annotation kubesim.logplane.io/hold-unready: "true" keeps a
        workload unready, as kubesim's fake controller does. Writes as
        WORKLOAD_USER (not counted). Returns the number of writes."""
        n = 0
        where = "/namespaces/%s" % namespace if namespace else ""
        for kind in ("daemonsets", "statefulsets", "deployments"):
            st, lst = self.request("GET", f"/apis/apps/v1{where}/{kind}", token=WORKLOAD_TOKEN)
            if st != 200:
                continue
            for o in lst.get("items") or []:
                md, s = o["metadata"], o.get("status") or {}
                gen = md.get("generation")
                held = (md.get("annotations") or {}).get(HOLD) == "true"
                ready = 0 if held else None
                if kind == "daemonsets":
                    want = {"observedGeneration": gen, "desiredNumberScheduled": nodes,
                            "currentNumberScheduled": nodes, "numberReady": nodes if ready is None else 0,
                            "numberAvailable": nodes if ready is None else 0,
                            "updatedNumberScheduled": nodes, "numberMisscheduled": 0}
                elif kind == "statefulsets":
                    r = (o.get("spec") or {}).get("replicas", 1)
                    rev = "%s-%s" % (md["name"], gen)
                    want = {"observedGeneration": gen, "replicas": r, "readyReplicas": r if ready is None else 0,
                            "currentReplicas": r, "updatedReplicas": r,
                            "availableReplicas": r if ready is None else 0,
                            "currentRevision": rev, "updateRevision": rev}
                else:
                    r = (o.get("spec") or {}).get("replicas", 1)
                    n += self._replicasets(o, r, held)
                    want = {"observedGeneration": gen, "replicas": r, "readyReplicas": r if ready is None else 0,
                            "updatedReplicas": r, "availableReplicas": r if ready is None else 0}
                if all(s.get(k) == v for k, v in want.items()):
                    continue
                self.request("PATCH", f"/apis/apps/v1/namespaces/{md['namespace']}/{kind}/{md['name']}/status",
                             {"status": want}, token=WORKLOAD_TOKEN, ctype="application/merge-patch+json")
                n += 1
            if kind == "deployments":
                n += self._collect_replicasets(where, {o["metadata"]["uid"] for o in lst.get("items") or []})
        return n

    def _collect_replicasets(self, where, live):
        """Garbage collection of ReplicaSets whose Deployment is gone."""
        st, lst = self.request("GET", f"/apis/apps/v1{where}/replicasets", token=WORKLOAD_TOKEN)
        n = 0
        for rs in (lst or {}).get("items") or [] if st == 200 else []:
            refs = [r for r in rs["metadata"].get("ownerReferences") or [] if r.get("kind") == "Deployment"]
            if refs and not any(r.get("uid") in live for r in refs):
                self.request("DELETE", "/apis/apps/v1/namespaces/%s/replicasets/%s" % (
                    rs["metadata"]["namespace"], rs["metadata"]["name"]), token=WORKLOAD_TOKEN)
                n += 1
        return n

    def _replicasets(self, d, replicas, held):
        """The deployment controller's part the tests need: the ReplicaSet of d's
        pod template at replicas (ready unless held), every other one at 0."""
        import hashlib
        md = d["metadata"]
        ns, name = md["namespace"], md["name"]
        tmpl = json.loads(json.dumps(d["spec"]["template"]))
        h = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:10]
        base = f"/apis/apps/v1/namespaces/{ns}/replicasets"
        st, lst = self.request("GET", base, token=WORKLOAD_TOKEN)
        mine = [rs for rs in ((lst or {}).get("items") or [] if st == 200 else [])
                if any(ref.get("uid") == md["uid"] for ref in rs["metadata"].get("ownerReferences") or [])]
        revs = [int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"))
                for rs in mine]
        cur = next((rs for rs in mine if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == h), None)
        n = 0
        if cur is None:
            rev = str(max(revs, default=0) + 1)
            tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            sel = json.loads(json.dumps(d["spec"]["selector"]))
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            cur = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{name}-{h}", "namespace": ns, "labels": tmpl["metadata"]["labels"],
                                "annotations": {"deployment.kubernetes.io/revision": rev,
                                                "deployment.kubernetes.io/desired-replicas": str(replicas)},
                                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                     "uid": md["uid"], "controller": True,
                                                     "blockOwnerDeletion": True}]},
                   "spec": {"replicas": replicas, "selector": sel, "template": tmpl}}
            st, cur = self.request("POST", base, cur, token=WORKLOAD_TOKEN)
            if st != 201:
                return n
            n += 1
        elif revs and int((cur["metadata"].get("annotations") or {}).get(
                "deployment.kubernetes.io/revision", "0")) != max(revs) and \
                (md.get("annotations") or {}).get("deployment.kubernetes.io/revision") != \
                (cur["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision"):
            # a rollback to an older template: that ReplicaSet becomes the newest revision
            self.request("PATCH", f"{base}/{cur['metadata']['name']}",
                         {"metadata": {"annotations": {"deployment.kubernetes.io/revision": str(max(revs) + 1)}}},
                         token=WORKLOAD_TOKEN, ctype="application/merge-patch+json")
            n += 1
            st, cur = self.request("GET", f"{base}/{cur['metadata']['name']}", token=WORKLOAD_TOKEN)
        rev = (cur["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "1")
        for rs in mine:
            rn = rs["metadata"]["name"]
            size = replicas if rn == cur["metadata"]["name"] else 0
            ready = 0 if held and size else size
            if (rs.get("spec") or {}).get("replicas") != size:
                self.request("PATCH", f"{base}/{rn}", {"spec": {"replicas": size}}, token=WORKLOAD_TOKEN,
                             ctype="application/merge-patch+json")
                n += 1
            want = {"replicas": size, "readyReplicas": ready, "availableReplicas": ready,
                    "fullyLabeledReplicas": size, "observedGeneration": rs["metadata"].get("generation")}
            if any((rs.get("status") or {}).get(k) != v for k, v in want.items()):
                self.request("PATCH", f"{base}/{rn}/status", {"status": want}, token=WORKLOAD_TOKEN,
                             ctype="application/merge-patch+json")
                n += 1
        if (md.get("annotations") or {}).get("deployment.kubernetes.io/revision") != rev:
            self.request("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
                         {"metadata": {"annotations": {"deployment.kubernetes.io/revision": rev}}},
                         token=WORKLOAD_TOKEN, ctype="application/merge-patch+json")
            n += 1
        return n

    NS_CONTENT = ("/api/v1/{}/configmaps", "/api/v1/{}/secrets", "/api/v1/{}/serviceaccounts",
                  "/api/v1/{}/events", "/api/v1/{}/pods", "/apis/apps/v1/{}/daemonsets",
                  "/apis/apps/v1/{}/statefulsets", "/apis/apps/v1/{}/deployments",
                  "/apis/apps/v1/{}/replicasets", "/apis/policy/v1/{}/poddisruptionbudgets",
                  "/apis/rbac.authorization.k8s.io/v1/{}/roles",
                  "/apis/rbac.authorization.k8s.io/v1/{}/rolebindings",
                  "/apis/coordination.k8s.io/v1/{}/leases")

    def finish_namespace_deletes(self):
        """What the namespace controller would do for a Terminating namespace:
        delete its content (the common kinds; Services one by one, they have no
        collection delete) and then remove the "kubernetes" finalizer."""
        st, lst = self.request("GET", "/api/v1/namespaces", token=WORKLOAD_TOKEN)
        for ns in (lst or {}).get("items") or [] if st == 200 else []:
            md = ns["metadata"]
            if not md.get("deletionTimestamp") or "kubernetes" not in (ns.get("spec") or {}).get("finalizers", []):
                continue
            where = "namespaces/" + md["name"]
            for tmpl in self.NS_CONTENT:
                self.request("DELETE", tmpl.format(where), token=WORKLOAD_TOKEN)
            st2, svcs = self.request("GET", f"/api/v1/{where}/services", token=WORKLOAD_TOKEN)
            for svc in (svcs or {}).get("items") or [] if st2 == 200 else []:
                self.request("DELETE", f"/api/v1/{where}/services/{svc['metadata']['name']}", token=WORKLOAD_TOKEN)
            ns["spec"]["finalizers"] = [f for f in ns["spec"]["finalizers"] if f != "kubernetes"]
            self.request("PUT", f"/api/v1/{where}/finalize", ns, token=WORKLOAD_TOKEN)

    def start_workload_marker(self, namespace=None, interval=0.2, nodes=1):
        """The tests' stand-in for kube-controller-manager, in a daemon thread
        until stop(): mark_workloads_ready every interval seconds, and finish
        namespace deletes."""
        kick = threading.Event()

        def loop():
            while not self._stopped:
                try:
                    self.mark_workloads_ready(namespace, nodes)
                    self.finish_namespace_deletes()
                except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
                    pass
                kick.wait(interval)
                kick.clear()

        def watch(kind):
            # A change to a workload wakes the loop at once, as the real
            # controller reacts to a watch event (the poll is the fallback).
            where = "/namespaces/%s" % namespace if namespace else ""
            while not self._stopped:
                c = self.conn(timeout=5)
                try:
                    c.request("GET", f"/apis/apps/v1{where}/{kind}?watch=1&timeoutSeconds=30",
                              headers={"Authorization": "Bearer " + WORKLOAD_TOKEN})
                    r = c.getresponse()
                    while not self._stopped and r.status == 200:
                        if not r.readline():
                            break
                        kick.set()
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    c.close()
                if not self._stopped:
                    time.sleep(interval)
        th = threading.Thread(target=loop, daemon=True)
        th.start()
        for kind in ("daemonsets", "statefulsets"):
            threading.Thread(target=watch, args=(kind,), daemon=True).start()
        return th


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run etcd + kube-apiserver on loopback until SIGINT/SIGTERM.")
    ap.add_argument("--dir", help="working directory (default: a new temp dir, removed at exit)")
    ap.add_argument("--token", action="append", default=[], help="extra token: T (admin) or T=USER[:G1,G2]")
    ap.add_argument("--kubeconfig-out", help="also copy the kubeconfig here")
    a = ap.parse_args(argv)
    if a.dir:
        os.makedirs(a.dir, exist_ok=True)
    try:
        s = RealServer(workdir=a.dir, tokens=a.token)
    except StartError as e:
        print(f"apiserver: {e}", file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    if a.kubeconfig_out:
        shutil.copyfile(s.kubeconfig, a.kubeconfig_out + ".tmp")
        os.replace(a.kubeconfig_out + ".tmp", a.kubeconfig_out)
    print(f"kubeconfig: {a.kubeconfig_out or s.kubeconfig}", flush=True)
    print(f"server: https://127.0.0.1:{s.port}  etcd: {s.etcd_url}  dir: {s.dir}", flush=True)
    while not done.wait(1):
        if any(p.poll() is not None for p in s.procs):
            print("apiserver: a server process exited; see " + s.dir, file=sys.stderr)
            s.stop()
            return 1
    s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
