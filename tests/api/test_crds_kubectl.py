#!/usr/bin/env python3
"""The CRDs and examples with real kubectl against the in-repo API server
(tests/kubesim): CRDs register, `kubectl apply -f examples/` works, printer
columns and `kubectl explain` show our schema, the server rejects what the
schema forbids, and status goes through the /status subresource only.
Prints PASS/FAIL lines; the server is killed at exit even on failure.
Runs against kubesim and the real API server (LP_APISERVER=real)."""
# lp-apiserver: both
import os
import sys

TOP = os.environ.get("LP_TOP") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "kubesim"))
os.chdir(TOP)

from ks_testlib import Report, server  # noqa: E402

rep = Report("crds_kubectl")


def main(k):
    def crds():
        r = k.kubectl("apply", "-f", "crds/")
        if r.returncode != 0:
            return r.stderr
        r = k.kubectl("wait", "--for=condition=Established", "crd/logpipelines.logplane.io",
                      "crd/logoutputs.logplane.io", "--timeout=30s")
        return None if r.returncode == 0 else r.stderr
    if not rep.run("crds_established", crds):
        return

    def examples():
        r = k.kubectl("apply", "-f", "examples/")
        if r.returncode != 0:
            return r.stderr
        for want in ("logpipeline.logplane.io/eks-apps created",
                     "logoutput.logplane.io/team-a-s3 created", "secret/slack-webhook created"):
            if want not in r.stdout:
                return "missing %r in %r" % (want, r.stdout)
        return None
    rep.run("apply_examples", examples)

    def short_names_and_columns():
        r = k.kubectl("get", "lo", "-n", "logplane-system")
        if r.returncode != 0:
            return r.stderr
        head = r.stdout.splitlines()[0].split()
        if head[:6] != ["NAME", "TYPE", "READY", "REASON", "PIPELINES", "AGE"]:
            return "columns %s" % head
        if "app-stream" not in r.stdout or "kinesis" not in r.stdout:
            return r.stdout
        r = k.kubectl("get", "lp", "-A")
        if r.returncode != 0 or "team-a-logs" not in r.stdout or "READY" not in r.stdout:
            return r.stdout + r.stderr
        r = k.kubectl("get", "logplane", "-A", "-o", "name")
        if r.returncode != 0 or "logoutput.logplane.io/team-a-s3" not in r.stdout:
            return "category: " + r.stdout + r.stderr
        return None
    rep.run("short_names_columns_category", short_names_and_columns)

    def explain():
        r = k.kubectl("explain", "logoutput.spec.s3.totalFileSize")
        if r.returncode != 0:
            return r.stderr
        return None if "Object size to aim for" in r.stdout else r.stdout
    rep.run("explain", explain)

    def rejects_bad_twin():
        r = k.kubectl("apply", "-f", "tests/data/invalid/02-kinesis-firehose-s3.yaml")
        if r.returncode == 0:
            return "accepted"
        return None if "bufferingSizeMiB" in r.stderr and "retentionHours" in r.stderr else r.stderr
    rep.run("server_rejects_schema_violations", rejects_bad_twin)

    def rejects_unknown_field():
        doc = ("apiVersion: logplane.io/v1alpha1\nkind: LogOutput\n"
               "metadata: {name: typo, namespace: logplane-system}\n"
               "spec: {type: stdout, stdout: {formt: json}}\n")
        r = k.kubectl("apply", "-f", "-", input=doc)
        if r.returncode == 0:
            return "accepted: " + r.stdout
        return None if "formt" in r.stderr else r.stderr
    rep.run("server_rejects_unknown_field", rejects_unknown_field)

    def status_subresource():
        path = "/apis/logplane.io/v1alpha1/namespaces/team-a/logoutputs/team-a-s3"
        st, _, obj = k.request("GET", path)
        if st != 200:
            return "GET %s" % st
        obj["status"] = {"observedGeneration": obj["metadata"].get("generation", 1),
                         "conditions": [{"type": "Ready", "status": "True", "reason": "Provisioned",
                                         "message": "bucket ready",
                                         "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                         "target": {"type": "s3", "name": "example-corp-team-a-logs",
                                    "arn": "arn:aws:s3:::example-corp-team-a-logs",
                                    "region": "eu-central-1", "provisioned": True}}
        st, _, got = k.request("PUT", path + "/status", obj)
        if st != 200:
            return "PUT status %s %s" % (st, got)
        r = k.kubectl("get", "lo", "team-a-s3", "-n", "team-a")
        line = r.stdout.splitlines()[-1].split() if r.stdout else []
        if line[:4] != ["team-a-s3", "s3", "True", "Provisioned"]:
            return "row %s" % line
        st, _, got = k.request("GET", path)
        if got.get("status", {}).get("target", {}).get("arn") != "arn:aws:s3:::example-corp-team-a-logs":
            return "status.target not kept: %s" % got.get("status")
        return None
    rep.run("status_subresource_and_columns", status_subresource)


try:
    with server() as sim:
        main(sim)
except Exception as e:  # noqa: BLE001 - report instead of a traceback
    rep.check("kubesim", False, "%s: %s" % (type(e).__name__, e))
rep.exit()
