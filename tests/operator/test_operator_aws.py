"""The operator's AWS wiring end to end against kinesalite: a Kinesis output
with provision gets its stream created on the worker thread (the event loop
keeps answering meanwhile), CredentialsResolved and Provisioned True, Ready;
its finalizer holds the delete until the deletion policy (Delete) removed the
stream, then lets the object go."""
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, TOP, Env, Reporter, apply_crds, clean_exit, condition, is_ready,  # noqa: E402
                     namespace, output, pipeline, wait_until)

T = Reporter("operator_aws")
STREAM = "lp-test-stream"


def kinesis(port, op, body):
    """kinesalite does not check signatures: a plain JSON call is enough."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/x-amz-json-1.1",
                                          "X-Amz-Target": "Kinesis_20131202." + op,
                                          "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                                          "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
                                                           "SignedHeaders=host;x-amz-date, Signature=0"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def main():
    env = Env("aws")
    aws_dir = os.path.join(env.tmp, "aws")
    r = subprocess.run(["bash", os.path.join(TOP, "tests", "aws", "servers.sh"), "start", aws_dir, str(os.getpid())],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, LP_AWS_LIFETIME="300"))
    if not T.check("emulators_start", r.returncode == 0, r.stderr[-400:]):
        return
    try:
        with open(os.path.join(aws_dir, "ports.json")) as f:
            port = json.load(f)["kinesalite"]
        apply_crds(env)
        env.apply([namespace(CTRL_NS),
                   output(CTRL_NS, "stream", {"type": "kinesis", "aws": {"region": "us-east-1",
                                                                         "endpoint": f"http://127.0.0.1:{port}"},
                                              "kinesis": {"stream": STREAM,
                                                          "provision": {"mode": "provisioned", "shardCount": 1,
                                                                        "deletionPolicy": "Delete"}}}),
                   pipeline(CTRL_NS, "to-stream", ["stream"])])
        os.environ.update({"AWS_ACCESS_KEY_ID": "AKIDLOGPLANETEST", "AWS_SECRET_ACCESS_KEY": "not-checked",
                           "AWS_SESSION_TOKEN": "", "AWS_PROFILE": ""})
        op = env.start_operator("--resync", "10s", "--debounce", "200ms")
        lo = wait_until(lambda: (lambda o: o if is_ready(o) else None)(env.get("lo", "stream", CTRL_NS)), 60)
        prov = condition(lo, "Provisioned") or {}
        creds = condition(lo, "CredentialsResolved") or {}
        T.check("provisioned_ready", lo is not None and prov.get("status") == "True" and creds.get("status") == "True",
                json.dumps((env.get("lo", "stream", CTRL_NS) or {}).get("status"))[:600])
        streams = kinesis(port, "ListStreams", {}).get("StreamNames", [])
        T.check("stream_created", STREAM in streams, f"streams {streams}")
        fin = (env.get("lo", "stream", CTRL_NS) or {}).get("metadata", {}).get("finalizers") or []
        T.check("finalizer_added", "logplane.io/finalizer" in fin, f"finalizers {fin}")
        T.check("pipeline_ready", is_ready(env.get("lp", "to-stream", CTRL_NS)),
                json.dumps((env.get("lp", "to-stream", CTRL_NS) or {}).get("status"))[:300])

        # delete: the finalizer waits for the Delete policy, then the object goes
        t0 = time.monotonic()
        env.kubectl("delete", "lo", "stream", "-n", CTRL_NS, "--wait=false")
        gone = wait_until(lambda: env.get("lo", "stream", CTRL_NS) is None, 60)
        streams = kinesis(port, "ListStreams", {}).get("StreamNames", [])
        T.check("delete_policy_applied", gone and STREAM not in streams,
                f"gone={bool(gone)} after {time.monotonic() - t0:.0f}s, streams {streams}; " + env.tail(op.log_path, 8))
        bad = condition(env.get("lp", "to-stream", CTRL_NS), "Valid") or {}
        T.check("pipeline_invalid_after_output_gone", bad.get("status") == "False" and "outputRef" in bad.get("message", ""),
                json.dumps(bad))
        clean_exit(T, env, op, "sigterm_exit_0")
    finally:
        subprocess.run(["bash", os.path.join(TOP, "tests", "aws", "servers.sh"), "stop", aws_dir],
                       capture_output=True, timeout=60)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        import traceback
        traceback.print_exc()
        T.check("harness", False, repr(e))
    T.exit()
