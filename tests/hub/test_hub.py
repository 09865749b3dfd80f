#!/usr/bin/env python3
"""The live-tail hub (bin/logplane-hub) and `logplane tail`: records sent exactly as
Fluent Bit's http output (as rendered for livetail), its websocket output and
Fluentd's http output send them reach the
tail client with its filters applied; a stalled subscriber loses records and is
told while the others get everything; ingest needs the agents' token; who may
watch what is decided by
TokenReview + SubjectAccessReview against kubesim's RBAC."""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from hublib import (BIN, HUB_RBAC, HUB_SA, FluentBitHttp, FluentBitWebsocket, Hub, Kubesim, Report,  # noqa: E402
                    WSClient, rec, wait_for)

T = Report("hub")
TAIL = os.path.join(BIN, "logplane")


def tail(hub, *args, limit=None, token="x"):
    cmd = [TAIL, "tail", "--hub", "ws://127.0.0.1:%d" % hub.port, "-o", "json", "--token", token]
    if limit:
        cmd += ["--limit", str(limit)]
    return subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def subscribed(hub, n):
    return wait_for(lambda: hub.metrics().get("logplane_hub_subscribers") == n, 15)


def finish(p, timeout=15):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += " (killed after %ds)" % timeout
    return [json.loads(x) for x in out.splitlines() if x.strip()], err, p.returncode


MIXED = [
    rec("team-a", "web-1", "GET /cart 200", "info"),
    rec("team-a", "web-1", "payment failed: card declined", "error"),
    rec("team-b", "web-1", "team-b secret error", "error"),
    rec("team-a", "db-0", "slow query 2100ms", "warn", container="postgres", labels={"app": "db"}),
    rec("team-a", "web-2", "timeout calling payments", "error", container="sidecar"),
    rec("team-a", "web-2", "debug noise", "debug"),
]


def standalone():
    hub = Hub()
    try:
        def filters(name, args, want_msgs):
            p = tail(hub, *args, limit=len(want_msgs) if want_msgs else None)
            if not subscribed(hub, 1):
                p.kill()
                return "%s: no subscription: %s" % (name, p.communicate()[1])
            a = FluentBitWebsocket(hub.port, "/ingest/logplane-system/live")
            a.flush(MIXED)
            if not want_msgs:
                time.sleep(1)
                p.terminate()
            got, err, rc = finish(p)
            a.close()
            subscribed(hub, 0)
            msgs = [g["message"] for g in got]
            return msgs == want_msgs or "%s: got %s (%s, rc %s)" % (name, msgs, err.strip(), rc)

        cases = [
            ("namespace", ["-n", "team-a"], [m["log"] for m in MIXED if m["kubernetes"]["namespace_name"] == "team-a"]),
            ("pod_glob", ["-n", "team-a", "--pod", "web-*", "--level", "error"],
             ["payment failed: card declined", "timeout calling payments"]),
            ("container", ["-n", "team-a", "--container", "postgres"], ["slow query 2100ms"]),
            ("selector", ["-n", "team-a", "-l", "app in (db),tier!=x"], ["slow query 2100ms"]),
            ("level", ["-n", "team-a", "--level", "warn"],
             ["payment failed: card declined", "slow query 2100ms", "timeout calling payments"]),
            ("grep", ["-n", "team-a", "--grep", "pay"], ["payment failed: card declined", "timeout calling payments"]),
            ("regex", ["-n", "team-a", "--regex", "^(slow|timeout) "], ["slow query 2100ms", "timeout calling payments"]),
            ("all_namespaces", ["-n", "*", "--grep", "secret"], ["team-b secret error"]),
        ]
        for name, args, want in cases:
            T.run("tail_filter_" + name, lambda n=name, a=args, w=want: filters(n, a, w))

        def t_record_shape():
            p = tail(hub, "-n", "team-a", limit=1)
            subscribed(hub, 1)
            a = FluentBitWebsocket(hub.port, "/ingest/logplane-system/live")
            a.flush([rec("team-a", "web-1", "shape", "ERROR")], t=1764000000.25)
            got, err, rc = finish(p)
            a.close()
            subscribed(hub, 0)
            g = got[0] if got else {}
            return (a.status == 101 and rc == 0 and g.get("time") == 1764000000.25 and g.get("level") == "error" and
                    g.get("record", {}).get("kubernetes", {}).get("pod_name") == "web-1") or "%s %s %s" % (got, err, rc)
        T.run("fluentbit_websocket_frames_parsed", t_record_shape)

        def t_keepalive_flushes():
            """Fluent Bit sends every later flush on the same upgraded connection."""
            p = tail(hub, "-n", "team-a", limit=300)
            subscribed(hub, 1)
            a = FluentBitWebsocket(hub.port, "/ingest/logplane-system/live")
            for i in range(3):
                a.flush([rec("team-a", "web-1", "flush %d rec %d %s" % (i, j, "x" * (j * 3)))
                         for j in range(100)])
                time.sleep(0.2)
            got, err, rc = finish(p)
            a.close()
            subscribed(hub, 0)
            return (len(got) == 300 and got[-1]["message"].startswith("flush 2 rec 99")) or \
                "%d records, %s" % (len(got), err)
        T.run("fluentbit_keepalive_flushes", t_keepalive_flushes)

        def t_fluentd_http():
            p = tail(hub, "-n", "team-a", limit=2)
            subscribed(hub, 1)
            body = "\n".join(json.dumps(r) for r in MIXED[:2]) + "\n"
            s = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
            s.sendall(("POST /ingest/logplane-system/live HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson"
                       "\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
            resp = s.recv(4096)
            s.close()
            got, err, rc = finish(p)
            subscribed(hub, 0)
            return (resp.startswith(b"HTTP/1.1 200") and [g["message"] for g in got] ==
                    [MIXED[0]["log"], MIXED[1]["log"]]) or "%r %s %s" % (resp[:40], got, err)
        T.run("fluentd_http_post_ingest", t_fluentd_http)

        def t_tenant_cannot_spoof():
            p = tail(hub, "-n", "*", limit=1)
            subscribed(hub, 1)
            before = hub.metrics()["logplane_hub_records_spoofed_total"]
            a = FluentBitWebsocket(hub.port, "/ingest/team-a/live")
            a.flush([rec("team-b", "web-1", "claims team-b"), rec("team-a", "web-1", "own record")])
            got, err, rc = finish(p)
            a.close()
            subscribed(hub, 0)
            after = hub.metrics()["logplane_hub_records_spoofed_total"]
            return ([g["message"] for g in got] == ["own record"] and after == before + 1) or \
                "%s spoofed %s->%s" % (got, before, after)
        T.run("tenant_output_carries_only_its_namespace", t_tenant_cannot_spoof)

        def t_bad_filters():
            out = []
            for args, want in ((["--level", "loud"], "level:"), (["--regex", "(ab"], "regex: invalid regular"),
                               (["-l", "a in b"], "selector:")):
                p = tail(hub, "-n", "team-a", *args)
                _, err, rc = finish(p)
                if rc != 1 or want not in err:
                    out.append("%s -> rc %s %s" % (args, rc, err.strip()))
            return not out or "; ".join(out)
        T.run("bad_filter_refused_naming_the_field", t_bad_filters)

        def t_regex_backtracking_refused():
            """The same backtracking check as every user regex of a pipeline; the hub's
            searches also run under a retry limit (defence in depth)."""
            c = WSClient(hub.port)
            m = c.subscribe(namespace="team-a", regex="(a+)+$")
            c.close()
            ok = WSClient(hub.port)
            m2 = ok.subscribe(namespace="team-a", regex="(?>a+)$")
            ok.close()
            return (m and m.get("type") == "error" and m["message"].startswith("regex: ") and
                    "backtrack" in m["message"] and m2.get("type") == "subscribed") or "%s / %s" % (m, m2)
        T.run("regex_that_backtracks_is_refused", t_regex_backtracking_refused)
    finally:
        rc = hub.stop()
        T.check("hub_exits_clean", rc == 0, "exit %s: %s" % (rc, hub.logtext()[-1500:]))


def slow_subscriber():
    hub = Hub(args=["--queue", "256"])
    try:
        def t_stalled():
            n = 30000
            fast = WSClient(hub.port)
            fast.subscribe(namespace="team-a")
            stalled = socket.socket()
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", hub.port))
            slow = WSClient.__new__(WSClient)
            slow.s = stalled
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            stalled.sendall(("GET /tail HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
            hdr = b""
            while b"\r\n\r\n" not in hdr:
                hdr += stalled.recv(1)
            sub = slow.subscribe(namespace="team-a")
            a = FluentBitWebsocket(hub.port, "/ingest/logplane-system/live")
            got = 0
            dropped_fast = 0
            t0 = time.time()
            sent = 0
            while sent < n:
                a.flush([rec("team-a", "web-1", "record %d %s" % (sent + j, "y" * 200)) for j in range(200)])
                sent += 200
                while got < sent - 100:      # the fast reader keeps up as it goes
                    m = fast.recv(10)
                    if m is None:
                        break
                    if m["type"] == "record":
                        got += 1
                    elif m["type"] == "dropped":
                        dropped_fast = m["dropped"]
            while got < n:
                m = fast.recv(10)
                if m is None:
                    break
                if m["type"] == "record":
                    got += 1
                elif m["type"] == "dropped":
                    dropped_fast = m["dropped"]
            fast_secs = time.time() - t0
            # now the stalled one reads what it has: a dropped notice with the count
            slow_records, told = 0, 0
            while True:
                m = slow.recv(3)
                if m is None:
                    break
                if m["type"] == "record":
                    slow_records += 1
                elif m["type"] == "dropped":
                    told = m["dropped"]
            met = hub.metrics()
            fast.close()
            slow.close()
            a.close()
            ok = (sub.get("type") == "subscribed" and got == n and dropped_fast == 0 and told > 0 and
                  slow_records + told == n and met["logplane_hub_records_dropped_total"] == told)
            return ok or "fast %d/%d (dropped %d) in %.1fs; stalled got %d, told %d dropped; metrics %s" % (
                got, n, dropped_fast, fast_secs, slow_records, told, met["logplane_hub_records_dropped_total"])
        T.run("stalled_subscriber_loses_and_is_told_others_get_all", t_stalled)
    finally:
        rc = hub.stop()
        T.check("hub_exits_clean_after_slow_subscriber", rc == 0, "exit %s: %s" % (rc, hub.logtext()[-1500:]))


RBAC = HUB_RBAC + """---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: log-reader}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-logs, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: log-reader}
subjects:
- {kind: User, name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-logs, namespace: team-b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: log-reader}
subjects:
- {kind: Group, name: team-b-devs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: sre-logs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: log-reader}
subjects:
- {kind: User, name: carol}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: logplane-tail, namespace: logplane-system}
rules:
- apiGroups: [""]
  resources: [services/proxy]
  resourceNames: [logplane-hub, "logplane-hub:8081", "http:logplane-hub:8081"]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-tail, namespace: logplane-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: logplane-tail}
subjects:
- {kind: User, name: alice}
"""


def authz():
    d = os.path.join(os.environ.get("TMPDIR", "/tmp"), "hub-authz-%d" % os.getpid())
    os.makedirs(d, exist_ok=True)
    rbac = os.path.join(d, "rbac.yaml")
    with open(rbac, "w") as f:
        f.write(RBAC)
    ks = Kubesim(extra_args=["--rbac", rbac],
                 tokens=("hubtoken=" + HUB_SA, "admintoken", "alicetoken=alice", "bobtoken=bob:team-b-devs",
                         "caroltoken=carol", "malloryToken=mallory"))
    hub = Hub(kubeconfig=ks.kubeconfig)
    try:
        def t_tenant_isolation():
            pa = tail(hub, "-n", "team-a", token="alicetoken", limit=2)
            pb = tail(hub, "-n", "team-b", token="bobtoken", limit=1)
            if not subscribed(hub, 2):
                return "subscriptions: %s / %s" % (finish(pa, 2)[1], finish(pb, 2)[1])
            a = FluentBitWebsocket(hub.port, "/ingest/logplane-system/live")
            a.flush([rec("team-b", "db-1", "B only"), rec("team-a", "web-1", "A one"), rec("team-a", "web-1", "A two")])
            ga, ea, ra = finish(pa)
            gb, eb, rb = finish(pb)
            a.close()
            subscribed(hub, 0)
            return ([g["message"] for g in ga] == ["A one", "A two"] and [g["message"] for g in gb] == ["B only"]
                    and all(g["namespace"] == "team-a" for g in ga)) or "%s %s / %s %s" % (ga, ea, gb, eb)
        T.run("authz_tenant_sees_only_its_namespace", t_tenant_isolation)

        def t_denied():
            outs = []
            for token, ns, want in (("alicetoken", "team-b", "alice may not get pods/log in team-b"),
                                    ("alicetoken", "*", "alice may not get pods/log in every namespace"),
                                    ("nosuchtoken", "team-a", "not accepted by the API server"),
                                    ("malloryToken", "team-a", "mallory may not")):
                _, err, rc = finish(tail(hub, "-n", ns, token=token))
                if rc != 1 or want not in err:
                    outs.append("%s/%s: rc %s %s" % (token, ns, rc, err.strip()))
            return not outs or "; ".join(outs)
        T.run("authz_denied_subscriptions_refused", t_denied)

        def t_group_and_cluster_wide():
            pb = tail(hub, "-n", "team-b", token="bobtoken", limit=1)     # bound through a Group
            pc = tail(hub, "-n", "*", token="caroltoken", limit=2)        # ClusterRoleBinding
            if not subscribed(hub, 2):
                return "subscriptions: %s / %s" % (finish(pb, 2)[1], finish(pc, 2)[1])
            a = FluentBitWebsocket(hub.port, "/ingest/logplane-system/live")
            a.flush([rec("team-b", "db-1", "B"), rec("team-a", "web-1", "A")])
            gb, eb, _ = finish(pb)
            gc, ec, _ = finish(pc)
            a.close()
            subscribed(hub, 0)
            return ([g["message"] for g in gb] == ["B"] and [g["message"] for g in gc] == ["B", "A"]) or \
                "%s %s / %s %s" % (gb, eb, gc, ec)
        T.run("authz_group_binding_and_cluster_wide", t_group_and_cluster_wide)

        def t_missing_token_raw():
            c = WSClient(hub.port)
            m = c.subscribe(namespace="team-a")
            c.close()
            return (m and m["type"] == "error" and "token" in m["message"]) or str(m)
        T.run("authz_token_required", t_missing_token_raw)

        def t_through_service_proxy():
            """logplane tail's default path: the kubeconfig's API server, its service proxy
            (kubesim splices to the hub), the kubeconfig user's token in the subscription."""
            ks.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "logplane-system"}}, token="admintoken")
            st, _, _ = ks.request("POST", "/api/v1/namespaces/logplane-system/services", {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "logplane-hub", "annotations": {"kubesim.io/proxy-to": "127.0.0.1:%d" % hub.port}},
                "spec": {"ports": [{"name": "http-hub", "port": 8081}]}}, token="admintoken")
            env = dict(os.environ, HOME=ks.home)
            pa = subprocess.Popen([TAIL, "tail", "-n", "team-a", "--kubeconfig", ks.kubeconfig, "--context",
                                   "kubesim-alice", "--limit", "1", "-o", "json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
            if not subscribed(hub, 1):
                return "alice did not subscribe: %s" % (finish(pa, 2)[1],)
            a = FluentBitWebsocket(hub.port, "/ingest/logplane-system/live")
            a.flush([rec("team-b", "db-1", "B"), rec("team-a", "web-1", "A via proxy")])
            ga, ea, ra = finish(pa)
            a.close()
            subscribed(hub, 0)
            # bob may not use the service proxy: the API server refuses before the hub sees him
            _, eb, rb = finish(subprocess.Popen([TAIL, "tail", "-n", "team-b", "--kubeconfig", ks.kubeconfig,
                                                 "--context", "kubesim-bob"], stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True, env=env), 30)
            return (st == 201 and ra == 0 and [g["message"] for g in ga] == ["A via proxy"] and rb == 1) or \
                "svc %s; alice %s %s rc %s; bob rc %s %s" % (st, ga, ea.strip(), ra, rb, eb.strip()[-300:])
        T.run("tail_through_the_api_server_service_proxy", t_through_service_proxy)
    finally:
        rc = hub.stop()
        T.check("hub_exits_clean_with_authz", rc == 0, "exit %s: %s" % (rc, hub.logtext()[-1500:]))
        ks.stop()


def ingest_token():
    """With --ingest-token-file, /ingest (POST as the rendered http output sends it,
    and the websocket upgrade) needs the agents' token: without it or with another
    one the request is refused and nothing reaches a subscriber; with it the
    records do, on the same kept-alive connection flush after flush."""
    d = os.path.join(os.environ.get("TMPDIR", "/tmp"), "hub-ingest-%d" % os.getpid())
    os.makedirs(d, exist_ok=True)
    tok = "3f" * 32
    path = os.path.join(d, "token")
    with open(path, "w") as f:
        f.write(tok + "\n")      # as a Secret volume file may end
    hub = Hub(args=["--ingest-token-file", path])
    uri = "/ingest/logplane-system/live"
    try:
        def t_refused():
            p = tail(hub, "-n", "team-a")
            subscribed(hub, 1)
            got_status = []
            for token in (None, "", "3f" * 31, tok + "x", tok.upper()):
                a = FluentBitHttp(hub.port, uri, token)
                got_status.append(a.flush([rec("team-a", "web-1", "sneaked in %r" % token)]))
                a.close()
            w = FluentBitWebsocket(hub.port, uri)
            w.close()
            time.sleep(1)
            p.terminate()
            got, err, rc = finish(p)
            m = hub.metrics()
            return (got_status == [401] * 5 and w.status != 101 and got == [] and
                    m.get("logplane_hub_ingest_refused_total") == 6 and
                    m.get("logplane_hub_records_in_total") == 0) or \
                "statuses %s, upgrade %s, tail got %s, metrics %s" % (got_status, w.status, got, m)
        T.run("ingest_without_token_refused", t_refused)

        def t_accepted():
            p = tail(hub, "-n", "team-a", limit=30)
            subscribed(hub, 1)
            a = FluentBitHttp(hub.port, uri, tok)
            statuses = [a.flush([rec("team-a", "web-1", "flush %d rec %d" % (i, j)) for j in range(10)])
                        for i in range(3)]
            a.close()
            got, err, rc = finish(p)
            want = ["flush %d rec %d" % (i, j) for i in range(3) for j in range(10)]
            return (statuses == [200] * 3 and [g["message"] for g in got] == want and rc == 0) or \
                "statuses %s, got %s (%s, rc %s)" % (statuses, [g["message"] for g in got], err, rc)
        T.run("ingest_with_token_accepted_http_keepalive", t_accepted)

        def t_ws_with_token():
            p = tail(hub, "-n", "team-a", limit=1)
            subscribed(hub, 1)
            w = FluentBitWebsocket(hub.port, uri, headers="Authorization: Bearer %s\r\n" % tok)
            w.flush([rec("team-a", "web-1", "over websocket")])
            got, err, rc = finish(p)
            w.close()
            return (w.status == 101 and [g["message"] for g in got] == ["over websocket"]) or \
                "upgrade %s, got %s (%s)" % (w.status, got, err)
        T.run("ingest_websocket_with_token_accepted", t_ws_with_token)

        def t_bad_token_file():
            short = os.path.join(d, "short")
            with open(short, "w") as f:
                f.write("abc\n")
            r = subprocess.run([os.path.join(BIN, "logplane-hub"), "--insecure-no-auth", "--port", "0",
                                "--ingest-token-file", short], capture_output=True, text=True, timeout=20)
            r2 = subprocess.run([os.path.join(BIN, "logplane-hub"), "--insecure-no-auth", "--port", "0",
                                 "--ingest-token-file", os.path.join(d, "absent")],
                                capture_output=True, text=True, timeout=20)
            return (r.returncode != 0 and "--ingest-token-file" in r.stderr and
                    r2.returncode != 0 and "--ingest-token-file" in r2.stderr) or \
                "short: rc %s %s; absent: rc %s %s" % (r.returncode, r.stderr[-300:], r2.returncode, r2.stderr[-300:])
        T.run("ingest_token_file_checked", t_bad_token_file)
    finally:
        rc = hub.stop()
        T.check("hub_exits_clean_with_ingest_token", rc == 0, "exit %s: %s" % (rc, hub.logtext()[-1500:]))


def main():
    standalone()
    ingest_token()
    slow_subscriber()
    authz()
    T.exit()


if __name__ == "__main__":
    main()
