#!/usr/bin/env python3
"""`make bench` scenario "shape": renders N tenant pipelines (one namespace and
one http LogOutput each, parse json + detectLevel + a grep) with bin/logplane
and prints the shape of the shipper config: the global filters and the
outputs a record of ONE namespace meets (and the processors it runs there),
the number of output instances, the worker threads and open files the config
implies, and the open-files figure the DaemonSet's pod carries
(logplane.io/open-files, the same estimate). Sizes: BENCH_SHAPE_SIZES
(default 1,10,100,1000). Needs PyYAML. No Fluent Bit is run here: these are
the config's figures, the per-record CPU is measured on a real Fluent Bit."""
import fnmatch
import os
import re
import subprocess
import sys
import tempfile
import time

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(TOP, "bin", "logplane")


def write_case(d, n):
    with open(os.path.join(d, "tenants.yaml"), "w") as f:
        for i in range(n):
            ns = "t%04d" % i
            f.write("---\napiVersion: logplane.io/v1alpha1\nkind: LogOutput\n"
                    "metadata: {name: sink, namespace: %s}\n"
                    "spec: {type: http, http: {host: sink-%d.example.com, uri: /in}}\n" % (ns, i))
            f.write("---\napiVersion: logplane.io/v1alpha1\nkind: LogPipeline\n"
                    "metadata: {name: apps, namespace: %s}\nspec:\n"
                    "  input: {application: {}}\n  parse: {format: json}\n"
                    "  transforms:\n    - detectLevel: {}\n"
                    "    - grep: {exclude: [{key: log, regex: healthz}]}\n"
                    "  routes:\n    - outputRef: sink\n" % ns)


def matches(plugin, tag):
    m = plugin.get("match")
    if m is not None:
        return fnmatch.fnmatchcase(tag, m)
    mr = plugin.get("match_regex")
    return mr is not None and re.search(mr, tag) is not None


def shape(n):
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "in"))
        write_case(os.path.join(d, "in"), n)
        t0 = time.monotonic()
        p = subprocess.run([BIN, "render", "-f", os.path.join(d, "in"), "-o",
                            os.path.join(d, "out")], capture_output=True, text=True)
        ms = (time.monotonic() - t0) * 1000
        if p.returncode != 0:
            sys.exit("shape: render of %d pipelines failed: %s" % (n, p.stderr.strip()))
        m = re.search(r"shipper shape: (\d+) output instance\(s\), (\d+) thread\(s\), "
                      r"(\d+) open files", p.stdout + p.stderr)
        if not m:
            sys.exit("shape: no shape line in the render summary")
        filters, outputs = [], []
        sd = os.path.join(d, "out", "shipper")
        for name in sorted(os.listdir(sd)):
            if not name.endswith(".yaml"):
                continue
            with open(os.path.join(sd, name)) as f:
                doc = yaml.safe_load(f) or {}
            pl = doc.get("pipeline") or {}
            filters += pl.get("filters") or []
            outputs += pl.get("outputs") or []
    tag = "kube.t0000.web-1.app"
    f_met = [x for x in filters if matches(x, tag)]
    o_met = [x for x in outputs if matches(x, tag)]
    procs = sum(len((x.get("processors") or {}).get("logs") or []) for x in o_met)
    real_outs = [x for x in o_met if x.get("name") != "null"]
    return {
        "n": n, "render_ms": ms, "filters_total": len(filters), "filters_met": len(f_met),
        "outputs_met": len(real_outs), "procs_met": procs, "outputs": int(m.group(1)),
        "threads": int(m.group(2)), "open_files": int(m.group(3)),
    }


def main():
    sizes = [int(s) for s in os.environ.get("BENCH_SHAPE_SIZES", "1,10,100,1000").split(",")]
    rows = [shape(n) for n in sizes]
    print("shape: the shipper config for N tenant pipelines; a record of namespace t0000 meets")
    print("%9s %9s %9s %9s %10s %9s %8s %10s %13s" % (
        "pipelines", "filters", "filters", "outputs", "processors", "outputs", "threads",
        "open files", "pod annotation"))
    print("%9s %9s %9s %9s %10s %9s %8s %10s %13s" % (
        "", "(global)", "(met)", "(met)", "(met)", "(total)", "", "(needed)", "open-files"))
    for r in rows:
        print("%9d %9d %9d %9d %10d %9d %8d %10d %13d" % (
            r["n"], r["filters_total"], r["filters_met"], r["outputs_met"], r["procs_met"],
            r["outputs"], r["threads"], r["open_files"], r["open_files"]))
    # the point of the shape: what one record meets does not grow with N
    first, last = rows[0], rows[-1]
    same = (first["filters_met"], first["outputs_met"], first["procs_met"]) == \
        (last["filters_met"], last["outputs_met"], last["procs_met"])
    print("shape: per-record work at %d pipelines %s at 1" % (
        last["n"], "equals that" if same else "DIFFERS from that"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
