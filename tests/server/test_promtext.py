"""Checks the operator's /metrics output with a strict text-format parser.

1. The parser itself rejects malformed exposition (each case must raise).
2. build/asan/tests/test_server scrapes a real server over HTTP and writes the
   body (LP_METRICS_OUT); every logplane family must be there, typed, with
   plausible values, and the whole output must parse.
Prints PASS/FAIL lines per case.
"""
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promtext  # noqa: E402

TOP = os.environ.get("LP_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
failed = 0


def report(name, err):
    global failed
    if err:
        failed += 1
        print("FAIL promtext:%s: %s" % (name, err))
    else:
        print("PASS promtext:%s" % name)


BAD = {
    "no_final_newline": "# TYPE a counter\na 1",
    "bad_name": "# TYPE 1a counter\n",
    "bad_value": "a 1x\n",
    "bad_escape": 'a{l="\\t"} 1\n',
    "unterminated": 'a{l="x} 1\n',
    "dup_label": 'a{l="x",l="y"} 1\n',
    "dup_series": 'a{l="x"} 1\na{l="x"} 2\n',
    "type_after_sample": "a 1\n# TYPE a gauge\n",
    "two_types": "# TYPE a gauge\n# TYPE a gauge\n",
    "bad_type": "# TYPE a meter\n",
    "not_contiguous": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n",
    "negative_counter": "# TYPE a counter\na -1\n",
    "no_space": "a{}1\n",
    "hist_no_inf": '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    "hist_not_cumulative": ('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\n'
                            'h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'),
    "hist_count_mismatch": ('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\n'
                            'h_sum 1\nh_count 3\n'),
    "hist_le_order": ('# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\n'
                      'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    "hist_no_sum": '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n',
}

GOOD = ('# HELP a Help with \\\\ and \\n.\n# TYPE a counter\na{x="q\\"uote",y="\\\\"} 1.5e3\n'
        "# A plain comment\n# TYPE g gauge\ng NaN\ng{k=\"v\",} -Inf 1700000000000\n"
        '# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n')


def t_parser_rejects():
    accepted = []
    for name, text in sorted(BAD.items()):
        try:
            promtext.parse(text)
            accepted.append(name)
        except promtext.PromError:
            pass
    return "accepted malformed input: %s" % accepted if accepted else None


def t_parser_accepts():
    fams = promtext.parse(GOOD)
    a = fams["a"]
    if a.help != "Help with \\ and \n." or a.samples[0][1] != {"x": 'q"uote', "y": "\\"}:
        return "unescaping wrong: %r %r" % (a.help, a.samples)
    if a.samples[0][2] != 1500 or not math.isnan(fams["g"].samples[0][2]):
        return "values wrong"
    if fams["h"].type != "histogram" or len(fams["h"].samples) != 4:
        return "histogram wrong"
    return None


EXPECT = {
    "logplane_reconcile_total": "counter",
    "logplane_reconcile_duration_seconds": "histogram",
    "logplane_workqueue_depth": "gauge",
    "logplane_watch_restarts_total": "counter",
    "logplane_api_requests_total": "counter",
    "logplane_aws_requests_total": "counter",
    "logplane_rendered_config_bytes": "gauge",
    "logplane_pipelines": "gauge",
    "logplane_outputs": "gauge",
    "logplane_build_info": "gauge",
}


def check_operator_metrics(text, need_samples=True):
    """Shared with the scenario tests: returns an error string or None."""
    try:
        fams = promtext.parse(text)
    except promtext.PromError as e:
        return "does not parse: %s" % e
    for name, typ in EXPECT.items():
        f = fams.get(name)
        if f is None:
            return "family %s missing" % name
        if f.type != typ:
            return "family %s has TYPE %s, want %s" % (name, f.type, typ)
        if not f.help:
            return "family %s has no HELP" % name
        if need_samples and not f.samples:
            return "family %s has no samples" % name
    for sname, labels, value in fams["logplane_build_info"].samples:
        if value != 1 or not labels.get("version"):
            return "build_info not 1 with a version"
    for f in fams.values():
        for sname, labels, value in f.samples:
            if f.name.startswith("logplane_") and (math.isnan(value) or value < 0):
                return "implausible value %s%s %s" % (sname, labels, value)
    return None


def t_server_scrape():
    exe = os.path.join(TOP, "build", "asan", "tests", "test_server")
    if not os.access(exe, os.X_OK):
        return "%s not built" % exe
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "metrics.txt")
        env = dict(os.environ, LP_METRICS_OUT=out)
        p = subprocess.run([exe], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        if p.returncode != 0 or not os.path.exists(out):
            return "test_server failed: %s" % p.stdout.decode()[-500:]
        with open(out) as fh:
            text = fh.read()
    err = check_operator_metrics(text)
    if err:
        return err
    fams = promtext.parse(text)
    rec = {tuple(sorted(l.items())): v for _, l, v in fams["logplane_reconcile_total"].samples}
    if rec.get((("kind", "LogPipeline"), ("result", "success"))) != 2:
        return "reconcile_total{LogPipeline,success} is not 2"
    return None


if __name__ == "__main__":
    for name, fn in (("parser_rejects_malformed", t_parser_rejects),
                     ("parser_accepts_valid", t_parser_accepts),
                     ("server_scrape_all_families", t_server_scrape)):
        try:
            err = fn()
        except Exception as e:  # a crash is a failure with its reason
            err = "%s: %s" % (type(e).__name__, e)
        report(name, err)
    sys.exit(1 if failed else 0)
