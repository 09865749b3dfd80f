#!/usr/bin/env python3
"""The hub's browser page (cmd/logplane-hub/tail.html, served at /) in Debian's
chromium headless, driven by playwright-core from npm (tests/hub/page_driver.js):
records sent as Fluent Bit's websocket output sends them appear as rows with the
filters applied and the match highlighted; a burst larger than the subscriber's
queue shows the hub's dropped count; pause holds rows and resume shows them; after
the hub restarts the page reconnects and receives again."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from hublib import HERE, TOP, FluentBitWebsocket, Hub, Report, _die_with_parent, rec  # noqa: E402

T = Report("page")
NODE_MODULES = os.path.join(TOP, ".deps", "npm", "node_modules")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Page:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="page-profile-")     # a fresh --user-data-dir
        env = dict(os.environ, NODE_PATH=NODE_MODULES, PAGE_PROFILE=self.profile, CHROMIUM=CHROMIUM)
        self.p = subprocess.Popen(["node", os.path.join(HERE, "page_driver.js")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                  preexec_fn=_die_with_parent)

    def do(self, **cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("page driver died: %s" % self.p.stderr.read()[-800:])
        r = json.loads(line)
        if not r.get("ok"):
            raise RuntimeError("%s: %s" % (cmd.get("op"), r.get("error")))
        return r.get("value")

    def rows(self):
        return self.do(op="eval", js="[...document.querySelectorAll('#rows tr')].map(tr => "
                                     "({msg: tr.querySelector('.msg').textContent, "
                                     "mark: (tr.querySelector('mark') || {}).textContent || '', "
                                     "src: tr.querySelector('.src').textContent, cls: tr.className}))")

    def text(self, sel):
        return self.do(op="eval", js="document.querySelector(%s).textContent" % json.dumps(sel))

    def close(self):
        try:
            self.do(op="quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if not os.path.exists(os.path.join(NODE_MODULES, "playwright-core")) or not os.path.exists(CHROMIUM):
        T.check("setup", False, "playwright-core or chromium missing (run hack/install-deps.sh)")
        T.exit()
    port = free_port()
    hub = Hub(args=["--queue", "64"], port=port)
    page = Page()
    try:
        def t_rows_filtered_and_highlighted():
            page.do(op="open", url="http://127.0.0.1:%d/" % port)
            page.do(op="fill", sel="#namespace", value="team-a")
            page.do(op="select", sel="#level", value="warn")
            page.do(op="fill", sel="#grep", value="pay")
            page.do(op="click", sel="#connect")
            page.do(op="wait", js="document.querySelector('#status').textContent === 'live'")
            a = FluentBitWebsocket(port, "/ingest/logplane-system/live")
            a.flush([rec("team-a", "web-1", "payment failed: card declined", "error"),
                     rec("team-b", "web-1", "payment in team-b", "error"),
                     rec("team-a", "web-1", "payment page viewed", "info"),
                     rec("team-a", "web-2", "retrying payment provider", "warn"),
                     rec("team-a", "web-2", "disk almost full", "warn")])
            page.do(op="wait", js="document.querySelectorAll('#rows tr').length >= 2")
            rows = page.rows()
            a.close()
            want = [{"msg": "payment failed: card declined", "mark": "pay", "src": "team-a/web-1/app", "cls": "error"},
                    {"msg": "retrying payment provider", "mark": "pay", "src": "team-a/web-2/app", "cls": "warn"}]
            return rows == want or "rows %s" % rows
        T.run("rows_filtered_and_highlighted", t_rows_filtered_and_highlighted)

        def t_dropped_counter():
            page.do(op="click", sel="#clear")
            a = FluentBitWebsocket(port, "/ingest/logplane-system/live")
            # one flush of 300 matching records: the hub fans a message out at once, so a
            # queue of 64 keeps the newest 64 and drops 236 for this subscriber
            a.flush([rec("team-a", "web-3", "payment burst %d" % i, "error") for i in range(300)])
            page.do(op="wait", js="document.querySelector('#dropped').textContent === '236' && "
                                  "document.querySelectorAll('#rows tr').length === 64")
            rows = page.rows()
            a.close()
            return (rows[0]["msg"] == "payment burst 236" and rows[-1]["msg"] == "payment burst 299") or \
                "first %s last %s dropped %s" % (rows[0], rows[-1], page.text("#dropped"))
        T.run("dropped_counter_shows_what_the_hub_lost", t_dropped_counter)

        def t_pause_resume():
            page.do(op="click", sel="#clear")
            page.do(op="click", sel="#pause")
            a = FluentBitWebsocket(port, "/ingest/logplane-system/live")
            a.flush([rec("team-a", "web-1", "paused payment %d" % i, "error") for i in range(3)])
            page.do(op="wait", js="document.querySelector('#held').textContent === '3'")
            during = len(page.rows())
            page.do(op="click", sel="#pause")
            after = [r["msg"] for r in page.rows()]
            a.close()
            return (during == 0 and after == ["paused payment 0", "paused payment 1", "paused payment 2"] and
                    page.text("#held") == "0") or "during %d after %s" % (during, after)
        T.run("pause_holds_rows_resume_shows_them", t_pause_resume)

        def t_reconnect():
            nonlocal hub
            page.do(op="click", sel="#clear")
            rc = hub.stop()
            page.do(op="wait", js="document.querySelector('#status').textContent.startsWith('reconnecting')")
            hub = Hub(args=["--queue", "64"], port=port)
            page.do(op="wait", js="document.querySelector('#status').textContent === 'live'", timeout=20000)
            a = FluentBitWebsocket(port, "/ingest/logplane-system/live")
            a.flush([rec("team-a", "web-1", "payment after restart", "error")])
            page.do(op="wait", js="document.querySelectorAll('#rows tr').length === 1")
            rows = page.rows()
            a.close()
            return (rc == 0 and rows[0]["msg"] == "payment after restart") or "rc %s rows %s" % (rc, rows)
        T.run("reconnects_after_the_hub_restarts", t_reconnect)
    finally:
        page.close()
        rc = hub.stop()
        T.check("hub_exits_clean", rc == 0, "exit %s" % rc)
    T.exit()


if __name__ == "__main__":
    main()
