"""The real API server launcher (tests/apiserver/apiserver.py): etcd +
kube-apiserver start on loopback, the kubeconfig works for kubectl, token
authentication and RBAC authorization are on (an unbound user is refused until
a binding lets it in), service-account tokens from the TokenRequest API
authenticate, the default admission plugins run (NamespaceLifecycle refuses an
object in a missing namespace), the audit-log counters count writes, the
workload stand-in marks a DaemonSet rolled out, the CLI serves until SIGTERM,
and stop() leaves no process, port or directory behind.
A missing binary is a FAIL naming how to build it, never a skip."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
from apiserver import RealServer, StartError  # noqa: E402
from lptest import Reporter, wait_until  # noqa: E402

T = Reporter("apiserver")


def kubectl(s, *args, token=None, input=None):
    env = dict(os.environ, HOME=s.dir, KUBECONFIG=s.kubeconfig)
    cmd = ["kubectl", "--request-timeout=30s", *args]
    if token:
        cmd.insert(1, "--token=" + token)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, input=input, timeout=60)


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def main():
    t0 = time.monotonic()
    try:
        s = RealServer(tokens=["dev-token=dev-user:developers"])
    except StartError as e:
        T.check("starts", False, str(e))
        return
    T.check("starts", True)
    print("started in %.1f s" % (time.monotonic() - t0))
    try:
        r = kubectl(s, "get", "namespace", "default", "-o", "json")
        T.check("kubectl_with_kubeconfig", r.returncode == 0 and json.loads(r.stdout)["metadata"]["name"] == "default",
                r.stderr)
        v = kubectl(s, "version", "-o", "json")
        minor = json.loads(v.stdout).get("serverVersion", {}).get("minor", "") if v.returncode == 0 else ""
        T.check("server_is_1_32", minor.startswith("32"), v.stdout[-300:] + v.stderr)

        # token authentication: a bad token is 401
        st, _ = s.request("GET", "/api/v1/namespaces", token="no-such-token")
        T.check("bad_token_401", st == 401, st)
        # RBAC: dev-user may not list secrets until a RoleBinding says so
        st1, _ = s.request("GET", "/api/v1/namespaces/default/secrets", token="dev-token")
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "secret-reader", "namespace": "default"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}
        rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
              "metadata": {"name": "dev-secret-reader", "namespace": "default"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
              "subjects": [{"kind": "Group", "name": "developers", "apiGroup": "rbac.authorization.k8s.io"}]}
        a = s.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", role)[0]
        b = s.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", rb)[0]
        st2 = wait_until(lambda: s.request("GET", "/api/v1/namespaces/default/secrets", token="dev-token")[0] == 200, 10)
        st3, _ = s.request("GET", "/api/v1/namespaces/default/configmaps", token="dev-token")
        T.check("rbac_denies_then_binding_allows", st1 == 403 and (a, b) == (201, 201) and st2 and st3 == 403,
                (st1, a, b, st2, st3))

        # service accounts: a TokenRequest token authenticates as the account
        kubectl(s, "create", "serviceaccount", "robot", "-n", "default")
        tok = kubectl(s, "create", "token", "robot", "-n", "default", "--duration=10m")
        who = kubectl(s, "auth", "whoami", "-o", "json", token=tok.stdout.strip()) if tok.returncode == 0 else tok
        user = json.loads(who.stdout).get("status", {}).get("userInfo", {}).get("username") if who.returncode == 0 else None
        T.check("serviceaccount_token_authenticates", user == "system:serviceaccount:default:robot",
                tok.stderr + who.stderr + str(user))

        # admission: NamespaceLifecycle refuses an object in a namespace that does not exist
        st, o = s.request("POST", "/api/v1/namespaces/nowhere/configmaps",
                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
        T.check("admission_namespace_lifecycle", st == 404 and "nowhere" in json.dumps(o), (st, o))

        # counters from the audit log: one create is one write
        s.reset_counters()
        st, _ = s.request("POST", "/api/v1/namespaces/default/configmaps",
                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "counted"}})
        s.request("GET", "/api/v1/namespaces/default/configmaps/counted")
        c = wait_until(lambda: (lambda c: c if c["writesTotal"] >= 1 else None)(s.counters()), 5) or s.counters()
        T.check("audit_counters", st == 201 and c["writes"] == {"configmaps": 1}
                and c["requests"].get("get", {}).get("configmaps") == 1, c)

        # the workload stand-in: a DaemonSet's status says rolled out at its generation
        kubectl(s, "create", "namespace", "apps-test")
        ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "apps-test"},
              "spec": {"selector": {"matchLabels": {"a": "b"}},
                       "template": {"metadata": {"labels": {"a": "b"}},
                                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
        st, _ = s.request("POST", "/apis/apps/v1/namespaces/apps-test/daemonsets", ds)
        n = s.mark_workloads_ready("apps-test")
        _, got = s.request("GET", "/apis/apps/v1/namespaces/apps-test/daemonsets/d")
        stt = (got or {}).get("status", {})
        T.check("workload_status_marked", st == 201 and n == 1 and stt.get("numberReady") == 1
                and stt.get("observedGeneration") == got["metadata"]["generation"], (st, n, stt))
    finally:
        ports = (s.port, int(s.etcd_url.rsplit(":", 1)[1]))
        pids = [p.pid for p in s.procs]
        d = s.dir
        s.stop()
    gone = wait_until(lambda: not any(os.path.exists("/proc/%d" % p) and
                                      "zombie" not in open("/proc/%d/status" % p).read() for p in pids), 10)
    T.check("stops_cleanly", gone and not any(port_open(p) for p in ports) and not os.path.exists(d),
            (gone, [port_open(p) for p in ports], os.path.exists(d)))

    # the CLI: serves until SIGTERM, then exits 0
    cli = subprocess.Popen([sys.executable, os.path.join(HERE, "apiserver.py")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    line = cli.stdout.readline()
    kc = line.split("kubeconfig:", 1)[1].strip() if line.startswith("kubeconfig:") else None
    ok = False
    if kc:
        env = dict(os.environ, KUBECONFIG=kc, HOME=os.path.dirname(kc))
        r = subprocess.run(["kubectl", "get", "ns", "kube-system", "-o", "name"], env=env, capture_output=True,
                           text=True, timeout=60)
        ok = r.returncode == 0 and "namespace/kube-system" in r.stdout
    cli.send_signal(signal.SIGTERM)
    try:
        rc = cli.wait(30)
    except subprocess.TimeoutExpired:
        cli.kill()
        rc = None
    T.check("cli_serves_until_sigterm", ok and rc == 0 and kc and not os.path.exists(kc), (line, ok, rc))


if __name__ == "__main__":
    T.run(main)
