"""Shared code of the live-tail hub tests: start logplane-hub on a free port,
speak to it exactly as Fluent Bit 5.1.1's `http` output (what logplane renders for a
livetail output) and its `websocket` output (what it rendered before) do (format json),
and a small WebSocket client for subscribers. Standard library only."""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.realpath(__file__))
TOP = os.environ.get("LP_TOP") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("LP_BIN") or os.path.join(TOP, "build", "asan", "bin")
sys.path.insert(0, os.path.join(TOP, "tests", "kubesim"))
from ks_testlib import Kubesim, Report, _die_with_parent, wait_for  # noqa: E402,F401

# What the hub's own ServiceAccount needs (the chart grants the same).
HUB_SA = "system:serviceaccount:logplane-system:logplane-hub"
HUB_RBAC = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: logplane-hub}
rules:
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: logplane-hub}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: logplane-hub}
subjects:
- {kind: ServiceAccount, name: logplane-hub, namespace: logplane-system}
"""


class Hub:
    """One logplane-hub process on 127.0.0.1 (killed at exit)."""

    def __init__(self, kubeconfig=None, args=(), binary=None, port=0):
        self.dir = tempfile.mkdtemp(prefix="hub-test-")
        self.port_file = os.path.join(self.dir, "port")
        cmd = [binary or os.path.join(BIN, "logplane-hub"), "--listen", "127.0.0.1", "--port", str(port),
               "--port-file", self.port_file, "--control-namespace", "logplane-system"]
        if kubeconfig:
            cmd += ["--kubeconfig", kubeconfig]
        else:
            cmd += ["--insecure-no-auth"]
        cmd += list(args)
        self.log = open(os.path.join(self.dir, "hub.log"), "w")
        env = dict(os.environ)
        env.pop("KUBERNETES_SERVICE_HOST", None)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=_die_with_parent)
        deadline = time.time() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("logplane-hub did not start: %s" % self.logtext()[-800:])
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())

    def logtext(self):
        with open(os.path.join(self.dir, "hub.log")) as f:
            return f.read()

    def metrics(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        out = {}
        for line in data.decode().split("\r\n\r\n", 1)[-1].splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self):
        """SIGTERM, wait; returns the exit code (a sanitizer report makes it non-zero)."""
        rc = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        else:
            rc = self.proc.returncode
        self.log.close()
        return rc


def _recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed")
        b += c
    return b


def dated(records, t=None):
    """The records as Fluent Bit sends a chunk: each with "date" (a double, now
    when t is None) ahead of its own keys."""
    t = time.time() if t is None else t
    arr = []
    for r in records:
        d = {"date": t}
        d.update(r)
        arr.append(d)
    return arr


class FluentBitWebsocket:
    """The byte stream of Fluent Bit 5.1.1's websocket output (plugins/out_websocket)
    with `format: json`: one HTTP/1.1 upgrade with its fixed key, the Host and
    Content-Length: 0 headers of its HTTP client and the keep-alive Connection
    header added after the upgrade ones; then per flush one text frame, FIN set,
    masked with the fixed key 12 34 56 78, holding the JSON array of the chunk's
    records with the time as "date" (double). It never reads after the 101."""

    def __init__(self, port, uri, headers=""):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n%sConnection: keep-alive\r\n\r\n" % (uri, port, headers))
        self.s.sendall(req.encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            c = self.s.recv(4096)
            if not c:
                break
            resp += c
        self.status = int(resp.split(b" ", 2)[1]) if resp else 0

    def flush(self, records, t=None):
        arr = dated(records, t)
        payload = bytearray(json.dumps(arr, separators=(",", ":")).encode())
        mask = b"\x12\x34\x56\x78"
        n = len(payload)
        if n < 126:
            head = bytes([0x81, n | 0x80])
        elif n < 65536:
            head = bytes([0x81, 126 | 0x80]) + struct.pack(">H", n)
        else:
            head = bytes([0x81, 127 | 0x80]) + struct.pack(">Q", n)
        for i in range(n):
            payload[i] ^= mask[i % 4]
        self.s.sendall(head + mask)     # header, then the body: two writes as Fluent Bit does
        self.s.sendall(bytes(payload))

    def close(self):
        self.s.close()


class FluentBitHttp:
    """The byte stream of Fluent Bit 5.1.1's `http` output as logplane renders it
    for a livetail LogOutput (plugins/out_http + src/flb_http_client.c): per
    flush one POST on a kept-alive connection with Host, Content-Length, the
    keep-alive Connection header, User-Agent: Fluent-Bit, Content-Type:
    application/json and the rendered `header` (Authorization: Bearer <token>);
    the body is the JSON array of the chunk's records with "date" (double). It
    reads the status: 2xx is delivered, anything else is retried later."""

    def __init__(self, port, uri, token=None):
        self.port, self.uri, self.token = port, uri, token
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)

    def flush(self, records, t=None):
        """Returns the response status (0 when the connection was closed)."""
        arr = dated(records, t)
        body = json.dumps(arr, separators=(",", ":")).encode()
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
                "Connection: keep-alive\r\nUser-Agent: Fluent-Bit\r\nContent-Type: application/json\r\n"
                % (self.uri, self.port, len(body)))
        if self.token is not None:
            head += "Authorization: Bearer %s\r\n" % self.token
        self.s.sendall((head + "\r\n").encode() + body)
        resp = b""
        while b"\r\n\r\n" not in resp:
            c = self.s.recv(4096)
            if not c:
                return 0
            resp += c
        hdr, rest = resp.split(b"\r\n\r\n", 1)
        n = 0
        for line in hdr.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip())
        while len(rest) < n:
            c = self.s.recv(4096)
            if not c:
                break
            rest += c
        return int(hdr.split(b" ", 2)[1])

    def close(self):
        self.s.close()


def rec(ns, pod, msg, level="info", container="app", labels=None):
    """A record as the shipper has it after the kubernetes filter."""
    return {"log": msg, "level": level, "stream": "stdout",
            "kubernetes": {"namespace_name": ns, "pod_name": pod, "container_name": container,
                           "labels": labels or {"app": pod.split("-")[0]}}}


class WSClient:
    """A minimal RFC 6455 client for subscribers."""

    def __init__(self, port, path="/tail", timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            c = self.s.recv(1)
            if not c:
                break
            resp += c
        self.status = int(resp.split(b" ", 2)[1]) if resp else 0

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81, (n | 0x80) if n < 126 else (126 | 0x80)])
        if n >= 126:
            head += struct.pack(">H", n)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self, timeout=10):
        """The next text message parsed as JSON, or None on close/timeout."""
        self.s.settimeout(timeout)
        buf = b""
        try:
            while True:
                h = _recv_exact(self.s, 2)
                op, n = h[0] & 0x0F, h[1] & 0x7F
                if n == 126:
                    n = struct.unpack(">H", _recv_exact(self.s, 2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", _recv_exact(self.s, 8))[0]
                data = _recv_exact(self.s, n) if n else b""
                if op == 8:
                    return None
                if op in (9, 10):
                    continue
                buf += data
                if h[0] & 0x80:
                    return json.loads(buf.decode())
        except (socket.timeout, ConnectionError, OSError):
            return None

    def subscribe(self, **filters):
        self.send(filters)
        return self.recv()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
