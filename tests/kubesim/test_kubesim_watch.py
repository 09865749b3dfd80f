#!/usr/bin/env python3
"""Watch semantics of kubesim: resume from a resourceVersion across 1,000
writes without loss or duplicates, BOOKMARKs, 410 after history expiry then a
relist, selector transitions, dead clients dropped, faults closing watches."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ks_testlib import Kubesim, Report, WatchStream, wait_for  # noqa: E402

T = Report("kubesim_watch")
CM = "/api/v1/namespaces/default/configmaps"


class Writer:
    """Keep-alive client that writes ConfigMaps and records each write's resourceVersion."""

    def __init__(self, ks):
        self.ks = ks
        self.c = ks.conn()
        self.rvs = []

    def req(self, method, path, body):
        self.c.request(method, path, body=json.dumps(body).encode(),
                       headers={"Authorization": "Bearer " + self.ks.token, "Content-Type": "application/json"})
        r = self.c.getresponse()
        b = json.loads(r.read())
        if r.status not in (200, 201):
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status, b))
        self.rvs.append((b["metadata"]["name"], b["metadata"]["resourceVersion"]))
        return b

    def create(self, name, data, labels=None):
        md = {"name": name}
        if labels:
            md["labels"] = labels
        return self.req("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data})

    def merge(self, name, patch):
        self.c.request("PATCH", CM + "/" + name, body=json.dumps(patch).encode(),
                       headers={"Authorization": "Bearer " + self.ks.token,
                                "Content-Type": "application/merge-patch+json"})
        r = self.c.getresponse()
        b = json.loads(r.read())
        if r.status != 200:
            raise RuntimeError("patch %s: %d %s" % (name, r.status, b))
        self.rvs.append((b["metadata"]["name"], b["metadata"]["resourceVersion"]))
        return b

    def close(self):
        self.c.close()


def main():
    with Kubesim(extra_args=["--bookmark-interval", "0.5", "--history", "5000"]) as ks:
        def t_resume_1000():
            st, _, lst = ks.request("GET", CM)
            start_rv = lst["metadata"]["resourceVersion"]
            w = Writer(ks)
            n_writes = 1000

            def produce():
                for i in range(100):
                    w.create("r%03d" % i, {"v": "0"})
                for j in range(1, 10):
                    for i in range(100):
                        w.merge("r%03d" % i, {"data": {"v": str(j)}})
            th = threading.Thread(target=produce)
            th.start()
            seen = []
            rv = start_rv
            breaks = 0
            deadline = time.time() + 60
            while len(seen) < n_writes and time.time() < deadline:
                ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s&timeoutSeconds=30" % rv)
                got = 0
                limit = 137 + 50 * breaks      # drop the connection every few hundred events
                while True:
                    ev = ws.next()
                    if ev is None:
                        break
                    if ev["type"] == "ERROR":
                        ws.close()
                        return "ERROR event: %s" % ev
                    seen.append((ev["type"], ev["object"]["metadata"]["name"],
                                 ev["object"]["metadata"]["resourceVersion"]))
                    rv = ev["object"]["metadata"]["resourceVersion"]
                    got += 1
                    if got >= limit or len(seen) >= n_writes:
                        break
                ws.close()
                breaks += 1
            th.join()
            w.close()
            want = [(n, r) for n, r in w.rvs]
            got = [(n, r) for _, n, r in seen]
            types = [t for t, _, _ in seen]
            if got != want:
                miss = set(want) - set(got)
                dup = len(got) - len(set(got))
                return "mismatch: %d events vs %d writes, %d missing, %d duplicates" % (len(got), len(want),
                                                                                        len(miss), dup)
            ok = types[:100] == ["ADDED"] * 100 and set(types[100:]) == {"MODIFIED"} and breaks >= 3
            return ok or "types/breaks wrong: %d breaks" % breaks
        T.run("resume_1000_writes_no_loss_no_dup", t_resume_1000)

        def t_bookmarks():
            _, _, lst = ks.request("GET", CM)
            rv = lst["metadata"]["resourceVersion"]
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=2"
                             % rv)
            evs = []
            while True:
                ev = ws.next()
                if ev is None:
                    break
                evs.append(ev)
            ws.close()
            bms = [e for e in evs if e["type"] == "BOOKMARK"]
            if not bms:
                return "no BOOKMARK in 2s: %s" % evs
            o = bms[0]["object"]
            ok = set(o) == {"kind", "apiVersion", "metadata"} and set(o["metadata"]) == {"resourceVersion"} \
                and o["kind"] == "ConfigMap"
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s&timeoutSeconds=2" % rv)
            plain = []
            while True:
                ev = ws.next()
                if ev is None:
                    break
                plain.append(ev)
            ws.close()
            return (ok and not plain) or "bookmark %s / without asking: %s" % (o, plain)
        T.run("bookmarks_only_when_asked", t_bookmarks)

        def t_expired_relist():
            _, _, lst = ks.request("GET", CM)
            old_rv = lst["metadata"]["resourceVersion"]
            w = Writer(ks)
            w.merge("r000", {"data": {"v": "after"}})
            ks.admin("POST", "/admin/faults", {"expire_history": True})
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s" % old_rv)
            ev = ws.next()
            end = ws.next()
            ws.close()
            if not ev or ev["type"] != "ERROR" or ev["object"].get("code") != 410 or \
                    ev["object"].get("reason") != "Expired" or end is not None:
                return "expected ERROR 410 then end, got %s / %s" % (ev, end)
            st, _, lst2 = ks.request("GET", CM + "?limit=500")
            r0 = [i for i in lst2["items"] if i["metadata"]["name"] == "r000"]
            if not r0 or r0[0]["data"]["v"] != "after":
                return "relist not latest: %s" % r0
            new_rv = lst2["metadata"]["resourceVersion"]
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s&timeoutSeconds=5" % new_rv)
            w.merge("r001", {"data": {"v": "x"}})
            ev = ws.next()
            ws.close()
            w.close()
            return (ev is not None and ev["type"] == "MODIFIED" and ev["object"]["metadata"]["name"] == "r001") \
                or "watch after relist: %s" % ev
        T.run("expired_410_then_relist", t_expired_relist)

        def t_selector_transitions():
            w = Writer(ks)
            ws = WatchStream(ks, CM + "?watch=true&labelSelector=%s&timeoutSeconds=10" % "tier%3Dgold")
            w.create("sel1", {"a": "1"}, {"tier": "gold"})
            w.merge("sel1", {"metadata": {"labels": {"tier": "silver"}}})
            w.merge("sel1", {"data": {"a": "2"}})
            w.merge("sel1", {"metadata": {"labels": {"tier": "gold"}}})
            w.close()
            evs = [ws.next() for _ in range(3)]
            ws.close()
            types = [e["type"] if e else None for e in evs]
            return types == ["ADDED", "DELETED", "ADDED"] or "types %s" % types
        T.run("selector_transitions", t_selector_transitions)

        def t_initial_state():
            ws = WatchStream(ks, CM + "?watch=true&fieldSelector=metadata.name%3Dr005&timeoutSeconds=1")
            ev = ws.next()
            ws.close()
            return (ev and ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "r005") or ev
        T.run("watch_without_rv_starts_with_state", t_initial_state)

        def t_initial_events_end():
            ws = WatchStream(ks, CM + "?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&"
                                      "resourceVersionMatch=NotOlderThan&labelSelector=tier&timeoutSeconds=1")
            a, b = ws.next(), ws.next()
            ws.close()
            return (a and a["type"] == "ADDED" and b and b["type"] == "BOOKMARK" and
                    b["object"]["metadata"].get("annotations", {}).get("k8s.io/initial-events-end") == "true") \
                or "%s %s" % (a, b)
        T.run("send_initial_events_bookmark", t_initial_events_end)

        def t_dead_client():
            ks.admin("POST", "/admin/counters/reset")
            if not wait_for(lambda: ks.admin("GET", "/admin/counters")["watches"] == 0, 5):
                return "earlier closed watches were not dropped"
            base = 0
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=0")
            if not wait_for(lambda: ks.admin("GET", "/admin/counters")["watches"] == base + 1, 5):
                return "watch not counted"
            # the client dies without a goodbye: reset the TCP connection
            ws.c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            ws.r.close()
            ws.c.sock.close()
            ws.c.close()
            dropped = wait_for(lambda: ks.admin("GET", "/admin/counters")["watches"] == base, 5)
            return dropped or "dead watch still counted: %s" % ks.admin("GET", "/admin/counters")["watches"]
        T.run("dead_client_dropped", t_dead_client)

        def t_close_watches():
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=0&timeoutSeconds=60")
            t0 = time.time()
            ks.admin("POST", "/admin/faults", {"spec": "close-watches"})
            n = 0
            while ws.next() is not None:
                n += 1
            ws.close()
            return time.time() - t0 < 5 or "watch not closed"
        T.run("fault_close_watches", t_close_watches)

        def t_timeout():
            t0 = time.time()
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s&timeoutSeconds=1" %
                             ks.request("GET", CM)[2]["metadata"]["resourceVersion"])
            end = ws.next()
            ws.close()
            dt = time.time() - t0
            return (end is None and 0.8 < dt < 4) or "ended after %.1fs with %s" % (dt, end)
        T.run("timeout_seconds", t_timeout)

    with Kubesim(extra_args=["--history", "50"]) as ks:
        def t_history_bound():
            _, _, lst = ks.request("GET", CM)
            rv0 = lst["metadata"]["resourceVersion"]
            w = Writer(ks)
            for i in range(60):
                w.create("h%02d" % i, {"i": str(i)})
            w.close()
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s" % rv0)
            ev = ws.next()
            ws.close()
            mid = w.rvs[20][1]
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s&timeoutSeconds=1" % mid)
            evs = []
            while True:
                e = ws.next()
                if e is None:
                    break
                evs.append(e)
            ws.close()
            return (ev and ev["type"] == "ERROR" and ev["object"]["code"] == 410 and len(evs) == 39 and
                    evs[0]["object"]["metadata"]["name"] == "h21") or "%s / %d events" % (ev, len(evs))
        T.run("bounded_history_410", t_history_bound)

    def linger_delays(ks, n=6):
        """ms from each write to its watch event, each write issued as soon as
        the previous write's event arrived (so inside any linger)."""
        w = Writer(ks)
        w.create("lg", {"v": "0"})
        rv = w.rvs[-1][1]
        ws = WatchStream(ks, CM + "?watch=true&fieldSelector=metadata.name%%3Dlg&resourceVersion=%s"
                         "&timeoutSeconds=30" % rv)
        delays = []
        try:
            for i in range(1, n + 1):
                t0 = time.monotonic()
                w.merge("lg", {"data": {"v": str(i)}})
                ev = ws.next()
                if ev is None or ev["object"]["data"]["v"] != str(i):
                    raise RuntimeError("event %d: %s" % (i, ev))
                delays.append((time.monotonic() - t0) * 1000)
        finally:
            ws.close()
            w.close()
        return sorted(delays)[len(delays) // 2]

    with Kubesim(extra_args=["--watch-linger", "0"]) as ks:
        def t_linger_0():
            med = linger_delays(ks)
            return med < 150 or "median write -> event %.0f ms with --watch-linger 0" % med
        T.run("watch_linger_0_sends_at_once", t_linger_0)

    with Kubesim(extra_args=["--watch-linger", "400"]) as ks:
        def t_linger_400():
            med = linger_delays(ks)
            return 300 <= med < 2000 or "median write -> event %.0f ms with --watch-linger 400" % med
        T.run("watch_linger_400_holds_the_stream", t_linger_400)
    T.exit()


if __name__ == "__main__":
    main()
