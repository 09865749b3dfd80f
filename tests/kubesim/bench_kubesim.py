#!/usr/bin/env python3
"""Benchmark of kubesim: write rate, list latency for 10,000 objects (plain,
paged, as a Table), watch fan-out and memory. Prints one `name: value unit`
line per figure (and a JSON object with --json). Asserts nothing about time."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ks_testlib import Kubesim, WatchStream  # noqa: E402
from test_kubesim_scale import create_namespace, rss_mb, writer  # noqa: E402


def timed(fn, repeat=3):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return best


def main():
    n = int(os.environ.get("KUBESIM_BENCH_OBJECTS", "10000"))
    watches = int(os.environ.get("KUBESIM_BENCH_WATCHES", "50"))
    out = {}
    with Kubesim(extra_args=["--history", str(2 * n + 1000)]) as ks:
        create_namespace(ks, "bench")
        names = [("bench", "cm-%05d" % i) for i in range(n)]
        errors = []
        t0 = time.perf_counter()
        ths = [threading.Thread(target=writer, args=(ks, names[i::4], errors)) for i in range(4)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        dt = time.perf_counter() - t0
        if errors:
            print("bench: create failed: %s" % errors[:3], file=sys.stderr)
            return 1
        out["create_rate_per_s"] = round(n / dt, 1)
        path = "/api/v1/namespaces/bench/configmaps"

        def plain():
            st, _, l = ks.request("GET", path)
            assert st == 200 and len(l["items"]) == n

        def paged():
            cont, got = "", 0
            while True:
                _, _, l = ks.request("GET", path + "?limit=500" + ("&continue=" + cont if cont else ""))
                got += len(l["items"])
                cont = l["metadata"].get("continue")
                if not cont:
                    break
            assert got == n

        def table():
            st, _, t = ks.request("GET", path, accept="application/json;as=Table;v=v1;g=meta.k8s.io")
            assert len(t["rows"]) == n

        out["list_%d_s" % n] = round(timed(plain), 3)
        out["list_%d_paged_500_s" % n] = round(timed(paged), 3)
        out["list_%d_table_s" % n] = round(timed(table), 3)
        _, _, l = ks.request("GET", path)
        rv = l["metadata"]["resourceVersion"]
        counts = [0] * watches

        def watch(i):
            ws = WatchStream(ks, path + "?watch=true&resourceVersion=%s&timeoutSeconds=300" % rv, timeout=300)
            buf = b""
            while counts[i] < n:
                d = ws.r.read1(1 << 20)
                if not d:
                    break
                lines = (buf + d).split(b"\n")
                buf = lines.pop()
                counts[i] += sum(1 for x in lines if x.startswith(b'{"type":"MODIFIED"'))
            ws.close()
        wts = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(watches)]
        for t in wts:
            t.start()
        time.sleep(0.5)
        c = ks.conn(timeout=120)
        h = {"Authorization": "Bearer " + ks.token, "Content-Type": "application/merge-patch+json"}
        t0 = time.perf_counter()
        for _, name in names:
            c.request("PATCH", path + "/" + name, body=b'{"data":{"touched":"yes"}}', headers=h)
            r = c.getresponse()
            r.read()
        for t in wts:
            t.join(120)
        dt = time.perf_counter() - t0
        c.close()
        out["watch_fanout_%d_updates_x_%d_watches_s" % (n, watches)] = round(dt, 2)
        out["watch_events_delivered"] = sum(counts)
        out["rss_mib"] = round(rss_mb(ks.proc.pid), 1)
    for k, v in out.items():
        print("kubesim %s: %s" % (k, v))
    if "--json" in sys.argv:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
