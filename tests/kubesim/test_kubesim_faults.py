#!/usr/bin/env python3
"""kubesim fault injection, counters and state: 500/429 + Retry-After, latency,
restart with the same state, SIGTERM saving --state, faults at start, and the
counters that prove "no write when nothing changed"."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ks_testlib import Kubesim, Report, WatchStream, wait_for  # noqa: E402

T = Report("kubesim_faults")
CM = "/api/v1/namespaces/default/configmaps"


def cm(name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def main():
    work = tempfile.mkdtemp(prefix="kubesim-faults-")
    import atexit
    import shutil
    atexit.register(shutil.rmtree, work, True)
    with Kubesim(workdir=work, state=True, extra_args=["--faults", "fail=1:500"]) as ks:
        def t_fault_at_start():
            st, _, b = ks.request("GET", CM)
            st2, _, _ = ks.request("GET", CM)
            return (st == 500 and b["reason"] == "InternalError" and st2 == 200) or "%d %s %d" % (st, b, st2)
        T.run("fault_spec_at_start", t_fault_at_start)

        def t_429():
            ks.admin("POST", "/admin/faults", {"fail": {"count": 2, "code": 429, "retryAfter": 3}})
            a = ks.request("GET", CM)
            b = ks.request("GET", CM)
            c = ks.request("GET", CM)
            return (a[0] == 429 and b[0] == 429 and c[0] == 200 and a[1].get("Retry-After") == "3" and
                    a[2]["details"]["retryAfterSeconds"] == 3 and a[2]["reason"] == "TooManyRequests") or \
                "%s %s %s" % (a[:2], b[0], c[0])
        T.run("fail_429_retry_after", t_429)

        def t_match():
            ks.admin("POST", "/admin/faults", {"spec": "fail=1:500,match=secrets"})
            a = ks.request("GET", CM)[0]
            b = ks.request("GET", "/api/v1/namespaces/default/secrets")[0]
            c = ks.request("GET", "/api/v1/namespaces/default/secrets")[0]
            return (a, b, c) == (200, 500, 200) or "%s %s %s" % (a, b, c)
        T.run("fail_500_matching_path", t_match)

        def t_latency():
            ks.admin("POST", "/admin/faults", {"latency_ms": 600})
            t0 = time.time()
            ks.request("GET", CM)
            dt = time.time() - t0
            ks.admin("POST", "/admin/faults", {"clear": True})
            t0 = time.time()
            ks.request("GET", CM)
            dt2 = time.time() - t0
            return (dt >= 0.6 and dt2 < 0.5) or "%.3f %.3f" % (dt, dt2)
        T.run("latency", t_latency)

        def t_counters_noop():
            st, _, o = ks.request("POST", CM, cm("c1", {"a": "1"}))
            ks.admin("POST", "/admin/counters/reset")
            st1, _, same = ks.request("PUT", CM + "/c1", o)
            st2, _, p = ks.request("PATCH", CM + "/c1", {"data": {"a": "1"}}, ctype="application/merge-patch+json")
            ks.request("GET", CM + "/c1")
            ks.request("GET", CM)
            c = ks.admin("GET", "/admin/counters")
            ok = (st1 == 200 and st2 == 200 and same["metadata"]["resourceVersion"] == o["metadata"]["resourceVersion"]
                  and p["metadata"]["resourceVersion"] == o["metadata"]["resourceVersion"] and
                  c["writes"].get("configmaps") == 2 and c["changesTotal"] == 0 and
                  c["requests"]["get"]["configmaps"] == 1 and c["requests"]["list"]["configmaps"] == 1 and
                  c["requests"]["update"]["configmaps"] == 1 and c["requests"]["patch"]["configmaps"] == 1)
            ks.request("PATCH", CM + "/c1", {"data": {"a": "2"}}, ctype="application/merge-patch+json")
            c2 = ks.admin("GET", "/admin/counters")
            return (ok and c2["changes"].get("configmaps") == 1) or json.dumps(c)
        T.run("counters_no_change_no_write", t_counters_noop)

        def t_restart():
            ks.request("POST", CM, cm("keep", {"k": "v"}))
            _, _, lst = ks.request("GET", CM)
            rv = lst["metadata"]["resourceVersion"]
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s&timeoutSeconds=60" % rv)
            ks.admin("POST", "/admin/faults", {"restart": True, "down_ms": 300})
            ended = ws.next() is None
            ws.close()
            up = wait_for(lambda: _try_get(ks, CM + "/keep") == 200, 10)
            if not (ended and up):
                return "watch ended=%s server back=%s" % (ended, up)
            _, _, lst2 = ks.request("GET", CM)
            names = sorted(i["metadata"]["name"] for i in lst2["items"])
            ws = WatchStream(ks, CM + "?watch=true&resourceVersion=%s" % str(int(rv) - 1))
            ev = ws.next()
            ws.close()
            st, _, o = ks.request("POST", CM, cm("after", {}))
            return (lst2["metadata"]["resourceVersion"] == rv and "keep" in names and "c1" in names and
                    ev and ev["type"] == "ERROR" and ev["object"]["code"] == 410 and
                    int(o["metadata"]["resourceVersion"]) > int(rv)) or "%s %s %s %s" % (
                lst2["metadata"]["resourceVersion"], names, ev, o["metadata"])
        T.run("restart_same_state", t_restart)

        rv_before_stop = ks.request("GET", CM)[2]["metadata"]["resourceVersion"]
    # SIGTERM saved the state: a new kubesim on the same files has it
    with Kubesim(workdir=work, state=True) as ks2:
        def t_state_file():
            _, _, lst = ks2.request("GET", CM)
            names = sorted(i["metadata"]["name"] for i in lst["items"])
            return ("keep" in names and "after" in names and
                    lst["metadata"]["resourceVersion"] == rv_before_stop) or "%s %s" % (names, lst["metadata"])
        T.run("sigterm_saves_state", t_state_file)
    T.exit()


def _try_get(ks, path):
    try:
        return ks.request("GET", path)[0]
    except OSError:
        return None


if __name__ == "__main__":
    main()
