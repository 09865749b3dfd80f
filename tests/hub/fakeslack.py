"""A fake Slack incoming webhook over HTTPS on 127.0.0.1: a certificate made
here with the openssl CLI (a CA and a serving certificate for 127.0.0.1), every
POST recorded with its arrival time, and scripted answers (for instance a 429
with Retry-After for the first post). Standard library only; used by
tests/hub/test_alerts.py and bench/hub_bench.py."""
import json
import os
import re
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNT = re.compile(r"^:rotating_light: \*(\d+) × ")
OTHER = re.compile(r"\n\+(\d+) other records")


def _openssl(d, *args):
    r = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (args[0], r.stderr.strip()[-400:]))


def make_certs(d):
    """ca.crt, server.crt, server.key in d (EC P-256, SAN IP:127.0.0.1)."""
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=fake-slack-ca")
    _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return os.path.join(d, "ca.crt")


class FakeSlack:
    """Serves https://127.0.0.1:<port>/hook/<anything>. posts: list of
    (time, path, status, parsed body). answers: path -> list of (status, headers)
    used in order for that path's posts, then 200 "ok"."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fakeslack-")
        self.ca = make_certs(self.dir)
        self.posts = []
        self.answers = {}
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = None
                with outer.lock:
                    script = outer.answers.get(self.path) or []
                    status, headers = script.pop(0) if script else (200, {})
                    outer.posts.append((time.time(), self.path, status, doc, self.headers.get("Content-Type")))
                out = b"ok" if status == 200 else b"rate_limited"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.dir, "server.crt"), os.path.join(self.dir, "server.key"))
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.th = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.th.start()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def delivered(self, path):
        """[(time, text)] of the posts to path answered 200."""
        with self.lock:
            return [(t, (d or {}).get("text", "")) for t, p, s, d, _ in self.posts if p == path and s == 200]

    def all_posts(self, path):
        with self.lock:
            return [(t, s, (d or {}).get("text", "")) for t, p, s, d, _ in self.posts if p == path]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def counts(text):
    """(count of the group, other records) of one posted message text; (None, 0) if not ours."""
    m = COUNT.match(text)
    o = OTHER.search(text)
    return (int(m.group(1)) if m else None), (int(o.group(1)) if o else 0)
