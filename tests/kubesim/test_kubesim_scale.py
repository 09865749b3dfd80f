#!/usr/bin/env python3
"""kubesim at scale: 20,000 objects and 50 concurrent watches on one machine.
Every watch must see every event; lists of 10,000 objects must be complete.
Times and memory are printed (as # lines), not asserted."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ks_testlib import Kubesim, Report, WatchStream, wait_for  # noqa: E402

T = Report("kubesim_scale")
N_OBJECTS = int(os.environ.get("KUBESIM_SCALE_OBJECTS", "20000"))
N_WATCHES = int(os.environ.get("KUBESIM_SCALE_WATCHES", "50"))
WRITERS = 4


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return -1.0


def create_namespace(ks, name):
    st, _, b = ks.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": name}})
    if st != 201:
        raise RuntimeError("namespace %s: %d %s" % (name, st, b))


def writer(ks, names, errors):
    c = ks.conn(timeout=120)
    h = {"Authorization": "Bearer " + ks.token, "Content-Type": "application/json"}
    try:
        for ns, name in names:
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": ns, "labels": {"app": "scale", "shard": name[-1]}},
                    "data": {"config.yaml": "key: %s\nvalue: %s\n" % (name, "x" * 64)}}
            c.request("POST", "/api/v1/namespaces/%s/configmaps" % ns, body=json.dumps(body).encode(), headers=h)
            r = c.getresponse()
            r.read()
            if r.status != 201:
                errors.append("%s/%s: %d" % (ns, name, r.status))
                return
    finally:
        c.close()


def main():
    with Kubesim(extra_args=["--history", str(N_OBJECTS + 1000)]) as ks:
        create_namespace(ks, "scale-a")
        create_namespace(ks, "scale-b")
        _, _, l0 = ks.request("GET", "/api/v1/configmaps")
        rv0 = l0["metadata"]["resourceVersion"]
        counts = [0] * N_WATCHES
        streams = []
        done = threading.Event()

        def watch(i):
            ws = WatchStream(ks, "/api/v1/configmaps?watch=true&resourceVersion=%s&timeoutSeconds=600" % rv0,
                             timeout=600)
            streams.append(ws)
            # count event lines without decoding them: the test process must not be the bottleneck
            buf = b""
            while counts[i] < N_OBJECTS:
                try:
                    d = ws.r.read1(1 << 20)
                except OSError:
                    d = b""
                if not d:
                    break
                lines = (buf + d).split(b"\n")
                buf = lines.pop()
                counts[i] += sum(1 for ln in lines if ln.startswith(b'{"type":"ADDED"'))
            ws.close()
        threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(N_WATCHES)]
        for t in threads:
            t.start()
        # all open (a bounded wait, not a fixed 0.5 s: 50 TLS handshakes take longer on a loaded machine)
        wc = wait_for(lambda: (lambda n: n if n == N_WATCHES else None)(ks.admin("GET", "/admin/counters")["watches"]),
                      30, 0.1) or ks.admin("GET", "/admin/counters")["watches"]
        T.check("watches_open", wc == N_WATCHES, "watch count %d" % wc)

        names = [("scale-a" if i < N_OBJECTS // 2 else "scale-b", "cm-%05d" % i) for i in range(N_OBJECTS)]
        errors = []
        t0 = time.time()
        ws_threads = [threading.Thread(target=writer, args=(ks, names[i::WRITERS], errors)) for i in range(WRITERS)]
        for t in ws_threads:
            t.start()
        for t in ws_threads:
            t.join()
        dt = time.time() - t0
        print("# created %d objects in %.1fs (%.0f/s) with %d watches open; kubesim RSS %.0f MiB" %
              (N_OBJECTS, dt, N_OBJECTS / dt, N_WATCHES, rss_mb(ks.proc.pid)))
        T.check("create_%d_objects" % N_OBJECTS, not errors, errors[:3])

        deadline = time.time() + 120
        for t in threads:
            t.join(max(0.1, deadline - time.time()))
        print("# all watches drained %.1fs after the first write" % (time.time() - t0))
        short = [c for c in counts if c != N_OBJECTS]
        T.check("every_watch_saw_every_object", not short,
                "%d watches short, e.g. %s of %d" % (len(short), short[:3], N_OBJECTS))
        done.set()

        def t_list_10k():
            t1 = time.time()
            st, _, l = ks.request("GET", "/api/v1/namespaces/scale-a/configmaps")
            dt1 = time.time() - t1
            t2 = time.time()
            st2, _, tbl = ks.request("GET", "/api/v1/namespaces/scale-a/configmaps",
                                     accept="application/json;as=Table;v=v1;g=meta.k8s.io")
            dt2 = time.time() - t2
            t3 = time.time()
            st3, _, lall = ks.request("GET", "/api/v1/configmaps?labelSelector=app%3Dscale")
            dt3 = time.time() - t3
            print("# list %d objects: %.3fs; as Table: %.3fs; %d objects cluster-wide with a selector: %.3fs" %
                  (len(l["items"]), dt1, dt2, len(lall["items"]), dt3))
            return (st == 200 and len(l["items"]) == N_OBJECTS // 2 and len(tbl["rows"]) == N_OBJECTS // 2 and
                    len(lall["items"]) == N_OBJECTS) or "%d %d %d" % (len(l["items"]), len(tbl["rows"]),
                                                                       len(lall["items"]))
        T.run("list_10000", t_list_10k)

        def t_watches_released():
            t_end = time.time() + 10
            while time.time() < t_end:
                wc = ks.admin("GET", "/admin/counters")["watches"]
                if wc == 0:
                    return True
                time.sleep(0.2)
            return "watches still open: %d" % wc
        T.run("watches_released", t_watches_released)
        print("# kubesim RSS at the end: %.0f MiB" % rss_mb(ks.proc.pid))
    T.exit()


if __name__ == "__main__":
    main()
