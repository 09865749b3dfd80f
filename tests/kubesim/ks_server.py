"""HTTP(S) front end of kubesim: TLS, bearer tokens, RBAC, discovery, OpenAPI,
REST verbs, Tables, watches, fault injection and the admin endpoints."""
import argparse
import bisect
import datetime
import http.server
import json
import os
import select
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

import ks_proto
import ks_rbac
import ks_schema
from ks_api import Api, ApiError, bad_request, decode_continue, encode_continue, qualified
from ks_controller import Controller
from ks_select import (field_match, jsonpath, label_match, parse_field_selector,
                       parse_label_selector)
from ks_store import Expired, dumps

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

VERSION = {"major": "1", "minor": "32", "emulationMajor": "1", "emulationMinor": "32",
           "minCompatibilityMajor": "1", "minCompatibilityMinor": "31",
           "gitVersion": "v1.32.0", "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
           "gitTreeState": "clean", "buildDate": "2024-12-11T17:58:18Z", "goVersion": "go1.23.3",
           "compiler": "gc", "platform": "linux/amd64"}
DISCOVERY_CT = "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList"
TABLE_CT = "application/json;as=Table;v=%s;g=meta.k8s.io"
WATCH_LINGER_MS = 50   # default of --watch-linger


# ---------------- small utilities ----------------
def human_duration(seconds):
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd%dh" % (h // 24, h % 24) if h % 24 else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    y = h // (24 * 365)
    if y < 8:
        return "%dy%dd" % (y, (h // 24) % 365)
    return "%dy" % y


def age_of(ts):
    if not isinstance(ts, str) or not ts:
        return "<unknown>"
    try:
        t = datetime.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


def parse_tokens(specs):
    out = {}
    for s in specs:
        if "=" in s and s.split("=", 1)[1].startswith("system:serviceaccount:"):
            # system:serviceaccount:NS:NAME[:GROUP,...]: the user name has colons
            tok, who = s.split("=", 1)
            parts = who.split(":", 4)
            user = ":".join(parts[:4])
            gl = [g for g in parts[4].split(",") if g] if len(parts) > 4 else []
            gl += ["system:serviceaccounts", "system:serviceaccounts:" + parts[2]]
        elif "=" in s:
            tok, who = s.split("=", 1)
            user, _, groups = who.partition(":")
            gl = [g for g in groups.split(",") if g] if groups else []
        else:
            tok, user, gl = s, "kubesim-admin", ["system:masters"]
        out[tok] = (user, gl + ["system:authenticated"])
    return out


def ensure_tls(d):
    os.makedirs(d, exist_ok=True)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, crt = os.path.join(d, "server.key"), os.path.join(d, "server.crt")
    if all(os.path.exists(p) for p in (ca_key, ca_crt, key, crt)):
        return ca_crt, crt, key

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca_crt, "-days", "3650", "-subj", "/CN=kubesim-ca",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    csr = os.path.join(d, "server.csr")
    ext = os.path.join(d, "server.ext")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=kubesim")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "3650", "-extfile", ext)
    return ca_crt, crt, key


# ---------------- faults and counters ----------------

def qbool(q, key):
    """A boolean query parameter as a real server reads it: absent is false;
    "0", "f", "false", "n", "no" in any case are false; any other value, empty
    included, is true (so the Python client's watch=True is a watch)."""
    if key not in q:
        return False
    return str(q[key]).lower() not in ("0", "f", "false", "n", "no")

class Faults:
    """Injected faults. fail: answer the next N API requests (optionally those whose
    path contains `match`) with `code` (500 or 429 + Retry-After)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.fail_count = 0
        self.fail_code = 500
        self.retry_after = 1
        self.match = ""
        self.latency_ms = 0

    def state(self):
        with self.lock:
            return {"fail": {"count": self.fail_count, "code": self.fail_code,
                             "retryAfter": self.retry_after, "match": self.match},
                    "latencyMs": self.latency_ms}

    def take(self, path, verb):
        with self.lock:
            if self.fail_count <= 0:
                return None
            if self.match and self.match not in path and self.match != verb:
                return None
            self.fail_count -= 1
            return self.fail_code, self.retry_after


def parse_fault_spec(spec):
    """'close-watches,expire-history,fail=3:429,latency=50,restart,retry-after=2,match=configmaps'
    -> dict in the JSON form of POST /admin/faults."""
    out = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        if k in ("close-watches", "expire-history", "restart"):
            out[k.replace("-", "_")] = True
        elif k == "fail":
            n, _, code = v.partition(":")
            out["fail"] = {"count": int(n), "code": int(code or 500)}
        elif k == "latency":
            out["latency_ms"] = int(v)
        elif k == "retry-after":
            out.setdefault("fail", {})["retryAfter"] = int(v)
        elif k == "match":
            out.setdefault("fail", {})["match"] = v
        else:
            raise ValueError("unknown fault %r" % k)
    return out


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.requests = {}
            self.writes = {}
            self.changes = {}
            self.watches_total = 0
            self.errors = {}

    def req(self, verb, resource):
        with self.lock:
            d = self.requests.setdefault(verb, {})
            d[resource] = d.get(resource, 0) + 1

    def write(self, resource, changed):
        with self.lock:
            self.writes[resource] = self.writes.get(resource, 0) + 1
            if changed:
                self.changes[resource] = self.changes.get(resource, 0) + 1

    def error(self, code):
        with self.lock:
            self.errors[str(code)] = self.errors.get(str(code), 0) + 1

    def snapshot(self, watches):
        with self.lock:
            total = sum(sum(d.values()) for d in self.requests.values())
            return {"requests": {k: dict(v) for k, v in self.requests.items()}, "requestsTotal": total,
                    "writes": dict(self.writes), "writesTotal": sum(self.writes.values()),
                    "changes": dict(self.changes), "changesTotal": sum(self.changes.values()),
                    "errors": dict(self.errors), "watches": watches, "watchesTotal": self.watches_total}


# ---------------- the simulator ----------------
class Sim:
    def __init__(self, args):
        self.args = args
        self.tokens = parse_tokens(args.token or ["kubesim"])
        self.admin_tokens = {t for t, (u, g) in self.tokens.items() if "system:masters" in g}
        self.rbac = bool(args.rbac)
        self.api = Api(history=args.history, state_file=args.state)
        self.controller = Controller(self.api, nodes=args.nodes, delay=args.converge_delay)
        self.faults = Faults()
        self.counters = Counters()
        self.bookmark_interval = args.bookmark_interval
        self.watch_linger = max(0.0, args.watch_linger) / 1000.0
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = False
        self.restart_down = 0.3
        self.port = args.port
        self.openapi_cache = {}
        if args.rbac:
            self.load_rbac(args.rbac)
        if args.faults:
            self.apply_faults(parse_fault_spec(args.faults), at_start=True)
        self.ca, self.crt, self.key = ensure_tls(args.tls_dir)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.crt, self.key)
        self.ctx.set_alpn_protocols(["http/1.1"])

    def load_rbac(self, path):
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        items = []
        for d in docs:
            if d.get("kind", "").endswith("List") and isinstance(d.get("items"), list):
                items.extend(d["items"])
            else:
                items.append(d)
        with self.api.lock:
            for d in items:
                r = self.api.reg.for_kind(d.get("apiVersion", ""), d.get("kind", ""))
                if r is None or r.group != ks_rbac.RBAC:
                    continue
                ns = (d.get("metadata") or {}).get("namespace", "default") if r.namespaced else ""
                if r.namespaced and self.api.store.get(("", "namespaces"), "", ns) is None:
                    self.api._create_internal(self.api.reg.get("", "v1", "namespaces"),
                                              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                existing = self.api.store.get(r.key, ns, d["metadata"]["name"])
                if existing is None:
                    self.api._create(r, ns, d, {"internal": True})

    def apply_faults(self, f, at_start=False):
        done = []
        fl = f.get("fail")
        if fl:
            with self.faults.lock:
                self.faults.fail_count = int(fl.get("count", 1))
                self.faults.fail_code = int(fl.get("code", 500))
                self.faults.retry_after = int(fl.get("retryAfter", fl.get("retry_after", 1)))
                self.faults.match = fl.get("match", "") or ""
            done.append("fail")
        if "latency_ms" in f or "latencyMs" in f:
            with self.faults.lock:
                self.faults.latency_ms = int(f.get("latency_ms", f.get("latencyMs", 0)))
            done.append("latency")
        if f.get("close_watches") or f.get("closeWatches"):
            with self.api.lock:
                self.api.store.close_watches()
            done.append("close-watches")
        if f.get("expire_history") or f.get("expireHistory"):
            with self.api.lock:
                self.api.store.expire_history()
            done.append("expire-history")
        if (f.get("restart")) and not at_start:
            self.restart_down = float(f.get("down_ms", f.get("downMs", 300))) / 1000.0
            threading.Thread(target=self._request_restart, daemon=True).start()
            done.append("restart")
        if f.get("clear"):
            with self.faults.lock:
                self.faults.fail_count = 0
                self.faults.latency_ms = 0
            done.append("clear")
        return done

    def _request_restart(self):
        time.sleep(0.05)
        self.wake.set()

    # ---------- connections ----------
    def track(self, conn, add):
        with self.conns_lock:
            if add:
                self.conns.add(conn)
            else:
                self.conns.discard(conn)

    def drop_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ---------- kubeconfig ----------
    def write_kubeconfig(self, path):
        import base64
        with open(self.ca, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        tok = (self.args.token or ["kubesim"])[0].split("=", 1)[0]
        users = []
        contexts = []
        seen = set()
        for t in self.tokens:
            u = self.tokens[t][0]
            n = u
            while n in seen:        # two tokens of one user: distinct kubeconfig entries
                n += "-"
            seen.add(n)
            users.append({"name": n, "user": {"token": t}})
            contexts.append({"name": "kubesim" if t == tok else "kubesim-" + n,
                             "context": {"cluster": "kubesim", "user": n, "namespace": "default"}})
        cfg = {"apiVersion": "v1", "kind": "Config", "preferences": {},
               "clusters": [{"name": "kubesim", "cluster": {"server": "https://127.0.0.1:%d" % self.port,
                                                            "certificate-authority-data": ca}}],
               "users": users, "contexts": contexts, "current-context": "kubesim"}
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            if yaml is not None:
                yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
            else:
                json.dump(cfg, f, indent=2)
        os.replace(tmp, path)

    # ---------- main loop ----------
    def run(self):
        first = True
        admin = None
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        while True:
            httpd = self._bind()
            t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            t.start()
            if first:
                first = False
                if self.args.admin_port is not None:
                    admin = AdminServer(("127.0.0.1", self.args.admin_port), AdminHandler)
                    admin.sim = self
                    threading.Thread(target=admin.serve_forever, kwargs={"poll_interval": 0.2},
                                     daemon=True).start()
                    url = "http://127.0.0.1:%d" % admin.server_address[1]
                    with open(self.args.kubeconfig_out + ".admin.tmp", "w") as f:
                        f.write(url + "\n")
                    os.replace(self.args.kubeconfig_out + ".admin.tmp", self.args.kubeconfig_out + ".admin")
                self.write_kubeconfig(self.args.kubeconfig_out)
                print("kubesim: serving on https://127.0.0.1:%d" % self.port, file=sys.stderr, flush=True)
            while not self.wake.wait(0.5):
                pass
            self.wake.clear()
            httpd.shutdown()
            httpd.server_close()
            with self.api.lock:
                self.api.store.close_watches("server stopping")
            self.drop_connections()
            if self.stopping:
                break
            print("kubesim: restarting", file=sys.stderr, flush=True)
            self.api.reset_from_state()
            time.sleep(self.restart_down)
        self.controller.stop()
        self.api.save_state()
        if admin is not None:
            admin.shutdown()
        print("kubesim: stopped", file=sys.stderr, flush=True)

    def _on_signal(self, signum, frame):
        self.stopping = True
        self.wake.set()

    def _bind(self):
        srv = TLSServer(("127.0.0.1", self.port), Handler)
        srv.sim = self
        self.port = srv.server_address[1]
        return srv


class TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.sim.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass


class AdminServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---------------- request handling ----------------
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""

    def setup(self):
        self.sim = self.server.sim
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.handshake_failed = True
        else:
            self.handshake_failed = False
        self.request.settimeout(None)
        self.sim.track(self.request, True)
        super().setup()

    def handle(self):
        if self.handshake_failed:
            return
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, OSError):
            pass

    def finish(self):
        try:
            super().finish()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        self.sim.track(self.request, False)

    def log_message(self, fmt, *args):
        if os.environ.get("KUBESIM_LOG"):
            sys.stderr.write("kubesim: %s %s\n" % (self.address_string(), fmt % args))

    # ---------- io ----------
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                n = int(line.strip().split(b";")[0] or b"0", 16)
                if n == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(n))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_bytes(self, code, body, ctype="application/json", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for w in getattr(self, "warn_list", None) or []:
            self.send_header("Warning", '299 - %s' % json.dumps(w))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, code, obj, ctype="application/json", headers=None):
        self.send_bytes(code, dumps(obj), ctype, headers)

    def send_error_status(self, err):
        self.sim.counters.error(err.code)
        self.send_json(err.code, err.status(), headers=err.headers)

    # ---------- dispatch ----------
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def dispatch(self, method):
        self.warn_list = []
        u = urllib.parse.urlsplit(self.path)
        self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        path = u.path
        body = self.read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            user = self.authenticate()
            if path.startswith("/admin/"):
                if user is None or "system:masters" not in user[1]:
                    raise ApiError(403, "Forbidden", "admin endpoints need an admin token")
                return admin_dispatch(self, method, path, body)
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self.user = user
            self.route(method, path, body)
        except ApiError as e:
            self.send_error_status(e)
        except (ConnectionError, ssl.SSLError, BrokenPipeError):
            raise
        except Exception as e:  # noqa: BLE001 - report as a 500 Status, keep serving
            import traceback
            traceback.print_exc()
            self.send_error_status(ApiError(500, "InternalError", "Internal error occurred: %s" % e))

    def authenticate(self):
        h = self.headers.get("Authorization", "")
        if h.startswith("Bearer "):
            return self.sim.tokens.get(h[7:].strip())
        return None

    def route(self, method, path, body):
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/readyz", "/livez"):
            return self.send_bytes(200, b"ok", "text/plain")
        if path == "/version":
            return self.send_json(200, VERSION)
        if parts[:1] == ["openapi"]:
            return self.openapi(parts)
        if not parts or parts[0] not in ("api", "apis"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if parts == ["api"]:
            return self.discovery_root(legacy_core=True)
        if parts == ["apis"]:
            return self.discovery_root(legacy_core=False)
        if len(parts) >= 7 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "services" and \
                parts[6] == "proxy":
            return self.service_proxy(method, parts[3], parts[5], "/" + "/".join(parts[7:]))
        if parts[0] == "api":
            group, rest = "", parts[1:]
        else:
            group, rest = parts[1], parts[2:]
        if not rest:
            return self.group_doc(group)
        version, rest = rest[0], rest[1:]
        if not rest:
            return self.resource_list(group, version)
        # fault injection and latency apply to resource requests
        self.resource_request(method, group, version, rest, body)

    # ---------- services/proxy ----------
    def service_proxy(self, method, ns, ref, rest):
        """The API server's service proxy: /api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH.
        No pods run here, so the Service's annotation kubesim.io/proxy-to (HOST:PORT, loopback)
        stands in for its endpoints. As a real server does, RBAC checks `get services/proxy`
        (the name as written in the path) and the Authorization header is not forwarded.
        WebSocket upgrades are spliced both ways until either side closes."""
        user, groups = self.user
        verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method, "get")
        if self.sim.rbac:
            with self.sim.api.lock:
                ok = ks_rbac.allowed(self.sim.api.store, user, groups, verb, "", "services/proxy", ns, ref)
            if not ok:
                raise ApiError(403, "Forbidden", ks_rbac.forbidden_message(user, verb, "", "services", "proxy",
                                                                          ns, ref))
        bits = ref.split(":")
        name = bits[1] if len(bits) == 3 or (len(bits) == 2 and bits[0] in ("http", "https")) else bits[0]
        with self.sim.api.lock:
            e = self.sim.api.store.get(("", "services"), ns, name)
        if e is None:
            raise ApiError(404, "NotFound", 'services "%s" not found' % name)
        to = ((e.obj.get("metadata") or {}).get("annotations") or {}).get("kubesim.io/proxy-to", "")
        host, _, port = to.rpartition(":")
        if host not in ("127.0.0.1", "localhost") or not port.isdigit():
            raise ApiError(503, "ServiceUnavailable", 'no endpoints available for service "%s"' % name)
        up = socket.create_connection((host, int(port)), timeout=10)
        query = urllib.parse.urlsplit(self.path).query
        lines = ["%s %s%s HTTP/1.1" % (method, rest, "?" + query if query else "")]
        for k, v in self.headers.items():
            if k.lower() not in ("authorization", "host"):
                lines.append("%s: %s" % (k, v))
        lines.append("Host: %s" % to)
        up.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        if self.headers.get("Content-Length"):
            up.sendall(self.rfile.read(int(self.headers["Content-Length"])))
        self.close_connection = True
        self.wfile.flush()
        down = self.connection
        up.settimeout(None)
        down.settimeout(None)
        try:
            while True:
                ready = [down] if getattr(down, "pending", lambda: 0)() else []
                if not ready:
                    ready, _, _ = select.select([down, up], [], [], 300)
                    if not ready:
                        break
                if down in ready:
                    data = down.recv(65536)
                    if not data:
                        break
                    up.sendall(data)
                if up in ready:
                    data = up.recv(65536)
                    if not data:
                        break
                    down.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            up.close()

    # ---------- discovery ----------
    def _accepts_aggregated(self):
        acc = self.headers.get("Accept", "")
        for part in acc.split(","):
            p = part.replace(" ", "")
            if "as=APIGroupDiscoveryList" in p and "g=apidiscovery.k8s.io" in p and \
                    p.startswith("application/json"):
                if "v=v2beta1" in p:
                    return "v2beta1"
                if "v=v2" in p:
                    return "v2"
        return None

    def discovery_root(self, legacy_core):
        sim = self.sim
        agg = self._accepts_aggregated()
        with sim.api.lock:
            groups = sim.api.reg.groups()
            if agg:
                items = []
                for g, versions in groups:
                    if (g == "") != legacy_core:
                        continue
                    vers = []
                    for v in versions:
                        vers.append({"version": v, "resources": [self._agg_res(r) for r in
                                                                  sim.api.reg.resources(g, v)],
                                     "freshness": "Current"})
                    items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": vers})
                doc = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/" + agg,
                       "metadata": {}, "items": items}
                return self.send_json(200, doc, DISCOVERY_CT % agg)
            if legacy_core:
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [
                                                {"clientCIDR": "0.0.0.0/0",
                                                 "serverAddress": "127.0.0.1:%d" % sim.port}]})
            out = []
            for g, versions in groups:
                if g == "":
                    continue
                out.append(self._group_entry(g, versions))
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": out})

    @staticmethod
    def _group_entry(g, versions):
        return {"name": g, "versions": [{"groupVersion": g + "/" + v, "version": v} for v in versions],
                "preferredVersion": {"groupVersion": g + "/" + versions[0], "version": versions[0]}}

    def group_doc(self, group):
        with self.sim.api.lock:
            for g, versions in self.sim.api.reg.groups():
                if g == group and g:
                    return self.send_json(200, dict(kind="APIGroup", apiVersion="v1",
                                                    **self._group_entry(g, versions)))
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    @staticmethod
    def _agg_res(r):
        d = {"resource": r.plural, "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
             "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
             "verbs": r.verbs}
        if r.short:
            d["shortNames"] = r.short
        if r.categories:
            d["categories"] = r.categories
        subs = []
        if r.status:
            subs.append({"subresource": "status", "responseKind": {"group": r.group, "version": r.version,
                                                                    "kind": r.kind},
                         "verbs": ["get", "patch", "update"]})
        if r.scale:
            subs.append({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1",
                                                                   "kind": "Scale"},
                         "verbs": ["get", "patch", "update"]})
        if subs:
            d["subresources"] = subs
        return d

    def resource_list(self, group, version):
        with self.sim.api.lock:
            rs = self.sim.api.reg.resources(group, version)
        if not rs:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        out = []
        for r in rs:
            d = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": r.verbs}
            if r.short:
                d["shortNames"] = r.short
            if r.categories:
                d["categories"] = r.categories
            out.append(d)
            if r.status:
                out.append({"name": r.plural + "/status", "singularName": "", "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": ["get", "patch", "update"]})
            if r.scale:
                out.append({"name": r.plural + "/scale", "singularName": "", "namespaced": r.namespaced,
                            "group": "autoscaling", "version": "v1", "kind": "Scale",
                            "verbs": ["get", "patch", "update"]})
        gv = version if not group else group + "/" + version
        self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                             "resources": out})

    # ---------- OpenAPI ----------
    def openapi(self, parts):
        sim = self.sim
        if parts[:2] != ["openapi", "v3"]:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        with sim.api.lock:
            docs = {}
            for g, versions in sim.api.reg.groups():
                for v in versions:
                    key = "api/" + v if g == "" else "apis/%s/%s" % (g, v)
                    docs[key] = (g, v)
            if len(parts) == 2:
                paths = {}
                for key, (g, v) in docs.items():
                    doc = self._gv_doc(g, v)
                    paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, ks_schema.doc_hash(doc))}
                return self.send_json(200, {"paths": paths})
            key = "/".join(parts[2:])
            if key not in docs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            doc = self._gv_doc(*docs[key])
        self.send_json(200, doc)

    def _gv_doc(self, g, v):
        rs = self.sim.api.reg.resources(g, v)
        sig = tuple((r.plural, id(r)) for r in rs)
        c = self.sim.openapi_cache.get((g, v))
        if c and c[0] == sig:
            return c[1]
        doc = ks_schema.openapi_gv_doc(g, v, rs)
        self.sim.openapi_cache[(g, v)] = (sig, doc)
        return doc

    # ---------- resources ----------
    def resource_request(self, method, group, version, rest, body):
        sim = self.sim
        api = sim.api
        ns = None
        with api.lock:
            if rest[0] == "namespaces" and len(rest) >= 3 and api.reg.get(group, version, rest[2]) is not None \
                    and api.reg.get(group, version, rest[2]).namespaced:
                ns, rest = rest[1], rest[2:]
            res = api.reg.get(group, version, rest[0])
        if res is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub not in (None, "status", "scale") or (sub == "scale" and not res.scale) or \
                (sub == "status" and not res.status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not res.namespaced:
            ns = None
        q = self.q
        if method in ("GET", "HEAD"):
            if name is None:
                verb = "watch" if qbool(q, "watch") else "list"
            else:
                verb = "get"
        elif method == "POST":
            verb = "create"
            if name is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                        "requested resource")
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        else:
            verb = "delete" if name else "deletecollection"
        if name is None and method in ("PUT", "PATCH"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                    "resource")
        resname = qualified(res) + ("/" + sub if sub else "")
        sim.counters.req(verb, resname)
        # faults
        lat = sim.faults.latency_ms
        if lat:
            time.sleep(lat / 1000.0)
        f = sim.faults.take(self.path, verb)
        if f:
            code, retry = f
            if code == 429:
                raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                               {"retryAfterSeconds": retry}, {"Retry-After": str(retry)})
            raise ApiError(code, "InternalError", "Internal error occurred: injected fault",
                           {"causes": [{"message": "injected fault"}]})
        # authorization
        user, groups = self.user
        if sim.rbac:
            with api.lock:
                ok = ks_rbac.allowed(api.store, user, groups, verb, group,
                                     res.plural + ("/" + sub if sub else ""), ns or "", name or "")
            if not ok:
                raise ApiError(403, "Forbidden", ks_rbac.forbidden_message(user, verb, group, res.plural, sub,
                                                                           ns or "", name or ""),
                               {"name": name or "", "group": group, "kind": res.plural})
        if res.namespaced and ns is None and verb not in ("list", "watch"):
            if verb in ("create",):
                ns = None
            else:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        manager = q.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0].strip()
        opts = {"fieldManager": manager, "fieldValidation": q.get("fieldValidation"),
                "dryRun": q.get("dryRun") == "All", "force": qbool(q, "force"),
                "explicitManager": bool(q.get("fieldManager"))}
        api.warnings.list = self.warn_list
        if sub == "scale":
            if verb not in ("get", "update", "patch"):
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                        "requested resource")
            api.begin_changes()
            if verb == "get":
                return self.send_json(200, api.get_scale(res, ns or "", name))
            if verb == "update":
                out = api.update_scale(res, ns or "", name, self.decode_body(body), None, opts)
            else:
                out = api.update_scale(res, ns or "", name, body, self.headers.get("Content-Type"), opts)
            sim.counters.write(resname, api.changes() > 0)
            return self.send_json(200, out)
        if verb == "get":
            e = api.get(res, ns or "", name)
            if sub == "status" and not res.status:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.send_entry(200, res, api.entry_out(res, e))
        if verb == "list":
            return self.do_list(res, ns)
        if verb == "watch":
            return self.do_watch(res, ns)
        if res.group == "authorization.k8s.io":
            return self.access_review(res, verb, body)
        if res.group == "authentication.k8s.io":
            return self.token_review(res, verb, body)
        if verb in ("create", "update", "patch"):
            api.begin_changes()
            obj, code = self.do_write(verb, res, ns, name, sub, body, opts)
            sim.counters.write(resname, api.changes() > 0)
            return self.send_obj(code, res, obj)
        if verb == "delete":
            dopts = self.delete_opts(body)
            opts2 = dict(opts)
            opts2.update(dopts)
            api.begin_changes()
            obj = api.delete(res, ns or "", name, opts2)
            sim.counters.write(resname, api.changes() > 0)
            return self.send_obj(200, res, obj)
        if verb == "deletecollection":
            dopts = self.delete_opts(body)
            opts2 = dict(opts)
            opts2.update(dopts)
            lsel, fsel = self.selectors(res)
            api.begin_changes()
            with api.lock:
                for e in list(api.store.items(res.key, ns)):
                    md = e.obj["metadata"]
                    if label_match(lsel, md.get("labels")) and field_match(fsel, e.obj):
                        api.delete(res, md.get("namespace", ""), md["name"], opts2)
            sim.counters.write(resname, api.changes() > 0)
            return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Success"})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def access_review(self, res, verb, body):
        """SelfSubjectAccessReview / SubjectAccessReview: answered from the RBAC rules, never stored."""
        if verb != "create":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                    "resource")
        rev = self.decode_body(body)
        if not isinstance(rev, dict):
            raise bad_request("the body of the request was not an object")
        spec = rev.get("spec") or {}
        if res.kind == "SelfSubjectAccessReview":
            user, groups = self.user
        else:
            user, groups = spec.get("user", ""), list(spec.get("groups") or [])
            if not user and not groups:
                raise ApiError(422, "Invalid", 'SubjectAccessReview.authorization.k8s.io "" is invalid: '
                                               'spec.user: Invalid value: "": at least one of user or group '
                                               'must be specified')
        ra = spec.get("resourceAttributes")
        if ra:
            r = ra.get("resource", "") + ("/" + ra["subresource"] if ra.get("subresource") else "")
            if not self.sim.rbac:
                allowed = True
            else:
                with self.sim.api.lock:
                    allowed = ks_rbac.allowed(self.sim.api.store, user, groups, ra.get("verb", ""),
                                              ra.get("group", ""), r, ra.get("namespace", ""), ra.get("name", ""))
        else:
            allowed = True      # non-resource URLs (discovery, version, openapi) are open to all
        out = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"creationTimestamp": None},
               "spec": spec, "status": {"allowed": allowed}}
        self.send_json(201, out)

    def token_review(self, res, verb, body):
        """TokenReview: the token is looked up among --token identities, never stored."""
        if verb != "create":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                    "resource")
        rev = self.decode_body(body)
        if not isinstance(rev, dict):
            raise bad_request("the body of the request was not an object")
        spec = rev.get("spec") or {}
        tok = spec.get("token") or ""
        if not isinstance(tok, str) or not tok:
            raise ApiError(422, "Invalid", 'TokenReview.authentication.k8s.io "" is invalid: spec.token: '
                                           'Required value')
        who = self.sim.tokens.get(tok)
        if who is None:
            status = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        else:
            status = {"authenticated": True, "user": {"username": who[0], "groups": list(who[1])}}
            if spec.get("audiences"):
                status["audiences"] = list(spec["audiences"])
        out = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"creationTimestamp": None},
               "spec": spec, "status": status}
        self.send_json(201, out)

    def decode_body(self, body):
        ct = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        try:
            if ct == "application/vnd.kubernetes.protobuf":
                return ks_proto.decode(body)
            if ct in ("application/yaml", "application/x-yaml"):
                return yaml.safe_load(body.decode("utf-8"))
            if ct in ("application/json", ""):
                return json.loads(body.decode("utf-8"))
        except ValueError as e:
            if ct == "application/vnd.kubernetes.protobuf":
                raise ApiError(415, "UnsupportedMediaType", str(e))
            raise bad_request("the body of the request could not be decoded: %s" % e)
        except Exception as e:  # noqa: BLE001
            raise bad_request("the body of the request could not be decoded: %s" % e)
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                                                    "media types include: application/json, application/yaml, "
                                                    "application/vnd.kubernetes.protobuf")

    def delete_opts(self, body):
        d = {}
        if body:
            d = self.decode_body(body) or {}
        if "propagationPolicy" in self.q:
            d["propagationPolicy"] = self.q["propagationPolicy"]
        if self.q.get("dryRun") == "All" or "All" in (d.get("dryRun") or []):
            d["dryRun"] = True
        else:
            d.pop("dryRun", None)
        return d

    def do_write(self, verb, res, ns, name, sub, body, opts):
        api = self.sim.api
        if verb == "patch":
            return api.patch(res, ns or "", name, self.headers.get("Content-Type"), body, opts, sub)
        obj = self.decode_body(body)
        if verb == "create":
            return api.create(res, ns or "", obj, opts, sub), 201
        return api.update(res, ns or "", name, obj, opts, sub), 200

    # ---------- output ----------
    def table_version(self):
        acc = self.headers.get("Accept", "")
        for part in acc.split(","):
            p = part.replace(" ", "")
            if "as=Table" in p and "g=meta.k8s.io" in p:
                return "v1beta1" if "v=v1beta1" in p else "v1"
        return None

    def send_obj(self, code, res, obj):
        self.send_bytes(code, dumps(obj))

    def send_entry(self, code, res, e):
        tv = self.table_version()
        if tv:
            return self.send_json(code, self.table(res, [e], tv), TABLE_CT % tv)
        self.send_bytes(code, e.raw)

    def selectors(self, res):
        try:
            lsel = parse_label_selector(self.q.get("labelSelector", ""))
            fsel = parse_field_selector(self.q.get("fieldSelector", ""), res.key)
        except ValueError as e:
            raise bad_request(str(e))
        return lsel, fsel

    def do_list(self, res, ns):
        api = self.sim.api
        lsel, fsel = self.selectors(res)
        limit = int(self.q.get("limit") or 0)
        cont = self.q.get("continue")
        start = None
        pred = None
        if lsel or fsel:
            def pred(e):
                return label_match(lsel, e.obj["metadata"].get("labels")) and field_match(fsel, e.obj)
        with api.lock:
            list_rv = api.store.rv
            if cont:
                list_rv, start = decode_continue(cont)
            if list_rv == api.store.rv:
                entries = api.store.items(res.key, ns, after=start, limit=limit + 1 if limit else 0, pred=pred)
                total_after = None
            else:
                # a later page of a list: the state as of the first page's resourceVersion
                try:
                    snap = api.store.items_at(res.key, ns, list_rv, start)
                except Expired:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to display a "
                                                   "consistent list result. You can start a new list without the "
                                                   "continue parameter.")
                total_after = len(snap)
                entries = [e for e in snap if pred is None or pred(e)]
                if limit:
                    entries = entries[:limit + 1]
            meta = {"resourceVersion": str(list_rv)}
            if limit and len(entries) > limit:
                entries = entries[:limit]
                last = entries[-1].obj["metadata"]
                lk = (last.get("namespace", ""), last["name"])
                meta["continue"] = encode_continue(list_rv, lk[0], lk[1])
                if pred is None and total_after is not None:
                    meta["remainingItemCount"] = total_after - limit
                elif pred is None:
                    ks_ = api.store.sorted_keys(res.key)
                    hi = len(ks_) if ns is None else bisect.bisect_left(ks_, (ns + "\0",))
                    meta["remainingItemCount"] = hi - bisect.bisect_right(ks_, lk)
        entries = [api.entry_out(res, e) for e in entries]
        tv = self.table_version()
        if tv:
            t = self.table(res, entries, tv)
            t["metadata"] = meta
            return self.send_json(200, t, TABLE_CT % tv)
        head = dumps({"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(e.raw for e in entries) + b"]}"
        self.send_bytes(200, body)

    def table(self, res, entries, tv):
        cols = [{"name": "Name", "type": "string", "format": "name",
                 "description": "Name must be unique within a namespace. Is required when creating resources, "
                                "although some resources may allow a client to request the generation of an "
                                "appropriate name automatically.", "priority": 0}]
        rc = res.columns or []
        for c in rc:
            cols.append({"name": c["name"], "type": c["type"] if c["type"] != "date" else "string",
                         "format": c.get("format", "") if c.get("format") not in ("count", "object", "selector") and
                         not str(c.get("format", "")).startswith("ready:") else "",
                         "description": c.get("description", ""), "priority": c.get("priority", 0)})
        if res.key == ("", "events"):
            # a real server lists an Event's name last, as a wide column; the cells below match
            cols[0]["priority"] = 1
            cols.append(cols.pop(0))
        include = self.q.get("includeObject", "Metadata")
        rows = []
        for e in entries:
            o = e.obj
            cells = [o["metadata"]["name"]]
            for c in rc:
                cells.append(self.cell(c, o))
            if res.key == ("", "events"):
                cells.append(cells.pop(0))
            row = {"cells": cells}
            if include == "Object":
                row["object"] = o
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": o["metadata"]}
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/" + tv, "metadata": {},
                "columnDefinitions": cols, "rows": rows}

    @staticmethod
    def cell(c, o):
        fmt = c.get("format", "")
        if fmt.startswith("ready:"):
            _, a, b = fmt.split(":")
            st, sp = o.get("status") or {}, o.get("spec") or {}
            return "%d/%d" % (st.get(a, 0) or 0, sp.get(b, 1) if b in sp else 1)
        try:
            vals = jsonpath(o, c["jsonPath"])
        except ValueError:
            return None
        if not vals:
            if fmt == "count":
                return 0
            return "<unknown>" if c["type"] == "date" else None
        v = vals[0]
        if fmt == "count":
            return len(v) if isinstance(v, (dict, list)) else 0
        if fmt == "selector" and isinstance(v, dict):
            ml = v.get("matchLabels") or {}
            return ",".join("%s=%s" % kv for kv in sorted(ml.items())) or "<none>"
        if fmt == "object" and isinstance(v, dict):
            return "%s/%s" % (str(v.get("kind", "")).lower(), v.get("name", ""))
        if c["type"] == "date":
            return age_of(v)
        if fmt == "timestamp":
            return v
        if c["type"] == "string":
            if len(vals) > 1:
                return ",".join(x if isinstance(x, str) else json.dumps(x) for x in vals)
            return v if isinstance(v, str) else json.dumps(v)
        if c["type"] == "integer" and not isinstance(v, int):
            return None
        return v

    # ---------- watch ----------
    def do_watch(self, res, ns):
        sim = self.sim
        api = sim.api
        q = self.q
        lsel, fsel = self.selectors(res)
        rv_s = q.get("resourceVersion", "")
        bookmarks = qbool(q, "allowWatchBookmarks")
        initial_end = qbool(q, "sendInitialEvents")
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            raise bad_request("invalid timeoutSeconds")
        if rv_s in ("", "0") or initial_end:
            rv = None
        else:
            try:
                rv = int(rv_s)
            except ValueError:
                raise bad_request('invalid resource version "%s"' % rv_s)
        tv = self.table_version()
        expired = None
        with api.lock:
            try:
                w, init = api.store.watch(res.key, ns, lsel, fsel, rv)
            except Expired as e:
                expired = str(e)
            start_rv = api.store.rv
        ctype = TABLE_CT % tv if tv else "application/json"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if expired is not None:
            st = ApiError(410, "Expired", expired).status()
            self.chunk(b'{"type":"ERROR","object":' + dumps(st) + b"}\n")
            self.chunk(b"")
            return
        with sim.counters.lock:
            sim.counters.watches_total += 1
        try:
            self._watch_loop(res, w, init, tv, bookmarks, initial_end, start_rv, timeout)
        except (ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - headers are out: end the stream, never a second response
            import traceback
            traceback.print_exc()
            self.close_connection = True
        finally:
            with api.lock:
                api.store.unwatch(w)

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _event_line(self, res, type_, e, tv):
        if tv:
            obj = self.table(res, [self.sim.api.entry_out(res, e)], tv)
            return b'{"type":"' + type_.encode() + b'","object":' + dumps(obj) + b"}\n"
        e = self.sim.api.entry_out(res, e)
        return b'{"type":"' + type_.encode() + b'","object":' + e.raw + b"}\n"

    def _bookmark(self, res, rv, end=False):
        md = {"resourceVersion": str(rv)}
        if end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        return b'{"type":"BOOKMARK","object":' + dumps({"kind": res.kind, "apiVersion": res.api_version,
                                                         "metadata": md}) + b"}\n"

    def _client_gone(self):
        sock = self.request
        try:
            r, _, _ = select.select([sock], [], [], 0)
            if not r:
                return False
            data = sock.recv(1024)
            return data == b""
        except ssl.SSLWantReadError:
            return False
        except (OSError, ssl.SSLError, ValueError):
            return True

    def _watch_loop(self, res, w, init, tv, bookmarks, initial_end, start_rv, timeout):
        sim = self.sim
        deadline = time.monotonic() + timeout
        buf = [self._event_line(res, t, e, tv) for t, e in init]
        if initial_end and bookmarks:
            buf.append(self._bookmark(res, start_rv, end=True))
        if buf:
            self.chunk(b"".join(buf))
        last_bm = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            items = w.pop(min(0.5, deadline - now))
            if items:
                out = [self._event_line(res, t, e, tv) for t, e in items]
                self.chunk(b"".join(out))
                # coalesce bursts: with many watchers, one write per few ms per watcher
                # costs far less than one write per event (--watch-linger; a real
                # API server does not wait, so latency measurements set it to 0)
                if sim.watch_linger > 0:
                    time.sleep(sim.watch_linger)
            if w.closed:
                break
            now = time.monotonic()
            if bookmarks and now - last_bm >= sim.bookmark_interval:
                with sim.api.lock:
                    pending = bool(w.q)
                    rv = sim.api.store.rv
                if not pending:
                    self.chunk(self._bookmark(res, rv))
                last_bm = now
            if not items and self._client_gone():
                self.close_connection = True
                return
        self.chunk(b"")


# ---------------- admin ----------------
def admin_dispatch(h, method, path, body):
    sim = h.sim
    if path == "/admin/counters" and method == "GET":
        with sim.api.lock:
            wc = sim.api.store.watch_count()
        return h.send_json(200, sim.counters.snapshot(wc))
    if path == "/admin/counters/reset" and method == "POST":
        sim.counters.reset()
        return h.send_json(200, {"reset": True})
    if path == "/admin/faults" and method == "POST":
        try:
            spec = json.loads(body.decode() or "{}")
            if "spec" in spec:
                spec = parse_fault_spec(spec["spec"])
        except ValueError as e:
            raise bad_request("bad fault spec: %s" % e)
        done = sim.apply_faults(spec)
        return h.send_json(200, {"applied": done, "faults": sim.faults.state()})
    if path == "/admin/faults" and method == "GET":
        return h.send_json(200, sim.faults.state())
    if path == "/admin/state" and method == "GET":
        with sim.api.lock:
            return h.send_json(200, {"resourceVersion": str(sim.api.store.rv), "objects": sim.api.store.count(),
                                     "watches": sim.api.store.watch_count(),
                                     "historyFloor": str(sim.api.store.floor)})
    if path == "/admin/save" and method == "POST":
        sim.api.save_state()
        return h.send_json(200, {"saved": bool(sim.api.state_file)})
    raise ApiError(404, "NotFound", "unknown admin endpoint %s" % path)


class AdminHandler(http.server.BaseHTTPRequestHandler):
    """Plain HTTP on 127.0.0.1 (--admin-port): the same /admin/ endpoints, no token."""
    protocol_version = "HTTP/1.1"
    send_bytes = Handler.send_bytes
    send_json = Handler.send_json
    read_body = Handler.read_body
    warn_list = None

    def log_message(self, fmt, *args):
        pass

    def _go(self, method):
        self.sim = self.server.sim
        body = self.read_body() if method == "POST" else b""
        path = urllib.parse.urlsplit(self.path).path
        try:
            admin_dispatch(self, method, path, body)
        except ApiError as e:
            self.send_json(e.code, e.status())

    def do_GET(self):
        self._go("GET")

    def do_POST(self):
        self._go("POST")


def main(argv=None):
    p = argparse.ArgumentParser(prog="kubesim", description="A small Kubernetes API server for tests.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-dir", required=True)
    p.add_argument("--token", action="append", help="TOKEN (admin) or TOKEN=USER[:GROUP,...]; repeatable")
    p.add_argument("--kubeconfig-out", required=True)
    p.add_argument("--rbac", help="multi-document YAML of Roles/ClusterRoles/bindings; enables RBAC")
    p.add_argument("--state", help="JSON state file: loaded at start, saved on SIGTERM and restart")
    p.add_argument("--faults", help="fault spec, e.g. 'latency=50,fail=3:429'")
    p.add_argument("--admin-port", type=int, help="also serve /admin/ on plain HTTP 127.0.0.1:PORT "
                                                  "(0 = free port, URL written to KUBECONFIG_OUT.admin)")
    p.add_argument("--history", type=int, default=10000, help="watch event history length")
    p.add_argument("--bookmark-interval", type=float, default=2.0, help="seconds between BOOKMARK events")
    p.add_argument("--nodes", type=int, default=1, help="node count the DaemonSet controller assumes")
    p.add_argument("--converge-delay", type=float, default=0.1,
                   help="seconds before the workload controller writes status")
    p.add_argument("--watch-linger", type=float, default=WATCH_LINGER_MS, metavar="MS",
                   help="milliseconds a watch stream waits after sending events, so a burst of writes "
                        "goes out in few chunks (default %(default)s; 0 sends every event at once)")
    args = p.parse_args(argv)
    for stale in (args.kubeconfig_out, args.kubeconfig_out + ".admin"):
        try:
            os.unlink(stale)
        except FileNotFoundError:
            pass
    try:
        sim = Sim(args)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print("kubesim: %s" % e, file=sys.stderr)
        return 2
    sim.run()
    return 0
