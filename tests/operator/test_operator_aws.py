"""The operator's AWS wiring end to end against kinesalite: a Kinesis output
with provision gets its stream created on the worker thread (the event loop
keeps answering meanwhile), CredentialsResolved and Provisioned True, Ready;
its finalizer holds the delete until the deletion policy (Delete) removed the
stream, then lets the object go.

Credentials per output: two tenants' Kinesis outputs with their own Secrets
give one shared-credentials file with two profiles in the operator-owned
Secret, mounted read-only with AWS_SHARED_CREDENTIALS_FILE set and no
AWS_ACCESS_KEY_ID in the pod spec; rotating one key rolls the pods.
Runs against kubesim and the real API server (LP_APISERVER=real)."""
# lp-apiserver: both
import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, TOP, Env, Reporter, apply_crds, clean_exit, condition, is_ready,  # noqa: E402
                     namespace, output, pipeline, secret, wait_until)
from harness import config_data, credentials_data  # noqa: E402

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


def events(env, ns, name):
    r = env.kubectl("get", "events", "-n", ns, "-o", "json", "--field-selector",
                    f"involvedObject.name={name},involvedObject.kind=LogOutput", check=False)
    return json.loads(r.stdout)["items"] if r.returncode == 0 else []


def ds_template(env):
    d = env.get("daemonset", "logplane-fluent-bit", CTRL_NS) or {}
    return (d.get("spec") or {}).get("template") or {}


def aws_file(env):
    v = (credentials_data(env) or {}).get("aws-credentials")
    return base64.b64decode(v).decode() if v else ""


def tenants(env, port):
    endpoint = f"http://127.0.0.1:{port}"
    objs = [namespace("team-a"), namespace("team-b"),
            secret("team-a", "aws-a", {"AWS_ACCESS_KEY_ID": "AKIDTEAMA", "AWS_SECRET_ACCESS_KEY": "team-a-secret-1"}),
            secret("team-b", "aws-b", {"id": "AKIDTEAMB", "key": "team-b-secret-1"})]
    for t, cred in (("a", {"name": "aws-a"}),
                    ("b", {"name": "aws-b", "accessKeyIdKey": "id", "secretAccessKeyKey": "key"})):
        objs.append(output(f"team-{t}", "stream", {
            "type": "kinesis", "aws": {"region": "us-east-1", "endpoint": endpoint,
                                       "credentials": {"secretRef": cred}},
            "kinesis": {"stream": f"lp-team-{t}", "provision": {"mode": "provisioned", "shardCount": 1}}}))
        objs.append(pipeline(f"team-{t}", "app", ["stream"]))
    env.apply(objs)
    text = wait_until(lambda: (lambda t: t if t.count("[lp-") == 2 else None)(aws_file(env)), 60) or ""
    T.check("credentials_file_two_profiles",
            "aws_access_key_id = AKIDTEAMA" in text and "aws_secret_access_key = team-a-secret-1" in text
            and "aws_access_key_id = AKIDTEAMB" in text and "aws_secret_access_key = team-b-secret-1" in text,
            f"file has {text.count('[lp-')} profiles")
    profiles = set(re.findall(r"\[(lp-[0-9a-f]+)\]", text))
    # the credentials and the config the DaemonSet mounts move together
    conf = "\n".join((config_data(env) or {}).values())
    T.check("config_names_profiles", len(profiles) == 2 and all(p in conf for p in profiles)
            and "team-a-secret-1" not in conf and "AKIDTEAMA" not in conf,
            f"profiles {sorted(profiles)}")
    # the Secret is written before the DaemonSet: wait for the DaemonSet to mount it
    wait_until(lambda: any(m.get("mountPath") == "/etc/logplane/aws/credentials"
                           for m in ((ds_template(env).get("spec") or {}).get("containers") or [{}])[0]
                           .get("volumeMounts", [])), 20)
    tmpl = ds_template(env)
    c = ((tmpl.get("spec") or {}).get("containers") or [{}])[0]
    envs = {e["name"]: e for e in c.get("env", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    m = mounts.get("/etc/logplane/aws/credentials") or {}
    vol = {v["name"]: v for v in (tmpl.get("spec") or {}).get("volumes", [])}.get(m.get("name")) or {}
    T.check("daemonset_mounts_credentials_file",
            m.get("readOnly") is True and m.get("subPath") == "aws-credentials"
            and any((s.get("secret") or {}).get("name", "").startswith("logplane-credentials-")
                    and {"key": "aws-credentials", "path": "aws-credentials"} in (s["secret"].get("items") or [])
                    for s in (vol.get("projected") or {}).get("sources") or [])
            and (envs.get("AWS_SHARED_CREDENTIALS_FILE") or {}).get("value") == "/etc/logplane/aws/credentials",
            json.dumps([m, vol, envs.get("AWS_SHARED_CREDENTIALS_FILE")]))
    T.check("daemonset_no_process_wide_keys",
            bool(envs) and not any(k in envs for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")),
            sorted(envs))
    h1 = (tmpl.get("metadata") or {}).get("annotations", {}).get("logplane.io/config-hash")
    env.apply(secret("team-b", "aws-b", {"id": "AKIDTEAMB", "key": "team-b-secret-2"}))
    h2 = wait_until(lambda: (lambda h: h if h and h != h1 and "team-b-secret-2" in aws_file(env) else None)(
        (ds_template(env).get("metadata") or {}).get("annotations", {}).get("logplane.io/config-hash")), 30)
    T.check("secret_rotation_rolls_pods", h1 and h2 and "team-b-secret-2" in aws_file(env)
            and "team-b-secret-1" not in aws_file(env), f"hash {h1} -> {h2}")


AWS_SAMPLE = re.compile(r'^logplane_aws_requests_total\{service="([^"]*)",operation="([^"]*)",code="[^"]*"\} (\S+)$')


def aws_calls(env, op):
    """{(service, operation)} the operator counted on its /metrics (None if unreadable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{env.operator_port(op)}/metrics", timeout=10) as r:
            text = r.read().decode()
    except Exception:
        return None
    return {(m.group(1), m.group(2)) for m in map(AWS_SAMPLE.match, text.splitlines())
            if m and float(m.group(3)) > 0}


def iam_table():
    """{(service, operation)} the IAM policy table (logplane iam-policy --calls) allows."""
    bin_dir = os.environ.get("LP_BIN") or os.path.join(TOP, "build", "asan", "bin")
    r = subprocess.run([os.path.join(bin_dir, "logplane"), "iam-policy", "--calls"], capture_output=True,
                       text=True, timeout=60)
    return {tuple(line.split("\t")[1:3]) for line in r.stdout.splitlines() if line.count("\t") == 2}


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
                                                                        "retentionHours": 48,
                                                                        "deletionPolicy": "Delete"}}}),
                   pipeline(CTRL_NS, "to-stream", ["stream"])])
        os.environ.update({"AWS_ACCESS_KEY_ID": "AKIDLOGPLANETEST", "AWS_SECRET_ACCESS_KEY": "not-checked",
                           "AWS_SESSION_TOKEN": "", "AWS_PROFILE": ""})
        op = env.start_operator("--resync", "10s", "--debounce", "200ms", "--aws-requeue", "200ms")
        lo = wait_until(lambda: (lambda o: o if is_ready(o) else None)(env.get("lo", "stream", CTRL_NS)), 60)
        calls = aws_calls(env, op) or set()
        prov = condition(lo, "Provisioned") or {}
        creds = condition(lo, "CredentialsResolved") or {}
        T.check("provisioned_ready", lo is not None and prov.get("status") == "True" and creds.get("status") == "True",
                json.dumps((env.get("lo", "stream", CTRL_NS) or {}).get("status"))[:600])
        T.check("provisioned_message_singular", "1 open shard," in prov.get("message", ""), prov.get("message"))
        # the stream is listed (a bounded wait for it, not for its absence)
        streams = wait_until(lambda: (lambda n: n if STREAM in n else None)(
            kinesis(port, "ListStreams", {}).get("StreamNames", [])), 10) or \
            kinesis(port, "ListStreams", {}).get("StreamNames", [])
        T.check("stream_created", STREAM in streams, f"streams {streams}")
        fin = (env.get("lo", "stream", CTRL_NS) or {}).get("metadata", {}).get("finalizers") or []
        T.check("finalizer_added", "logplane.io/finalizer" in fin, f"finalizers {fin}")
        T.check("pipeline_ready", is_ready(env.get("lp", "to-stream", CTRL_NS)),
                json.dumps((env.get("lp", "to-stream", CTRL_NS) or {}).get("status"))[:300])

        target = ((env.get("lo", "stream", CTRL_NS) or {}).get("status") or {}).get("target") or {}
        T.check("status_target", target.get("type") == "kinesis" and target.get("name") == STREAM
                and target.get("arn", "").endswith(":stream/" + STREAM) and target.get("region") == "us-east-1"
                and target.get("state") == "ACTIVE" and target.get("provisioned") is True, json.dumps(target))
        evs = events(env, CTRL_NS, "stream")
        T.check("event_provisioned", any(e.get("type") == "Normal" and e.get("reason") == "Provisioned"
                                         and "created Kinesis stream " + STREAM in e.get("message", "") for e in evs),
                json.dumps([(e.get("reason"), e.get("message")) for e in evs])[:600])
        T.check("provisioned_message_stable", "changed:" not in prov.get("message", ""), prov.get("message"))

        # an output the operator cannot reach: the pipeline routing to it is not Ready, names it and why,
        # and `kubectl get lp` shows it in the Ready/Reason columns
        env.apply([output(CTRL_NS, "down", {"type": "kinesis", "aws": {"region": "us-east-1",
                                                                      "endpoint": "http://127.0.0.1:1"},
                                            "kinesis": {"stream": "lp-test-down"}}),
                   pipeline(CTRL_NS, "to-down", ["down"])])
        lpd = wait_until(lambda: (lambda p: p if (condition(p, "Ready") or {}).get("reason") == "OutputNotReady"
                                  else None)(env.get("lp", "to-down", CTRL_NS)), 60)
        rd = condition(lpd, "Ready") or {}
        T.check("pipeline_not_ready_output_down", rd.get("status") == "False"
                and f"LogOutput {CTRL_NS}/down is not Ready" in rd.get("message", "")
                and "EndpointUnreachable" in rd.get("message", ""),
                json.dumps((env.get("lp", "to-down", CTRL_NS) or {}).get("status"))[:600])
        got = env.kubectl("get", "lp", "to-down", "-n", CTRL_NS, check=False).stdout
        T.check("kubectl_get_lp_shows_output_down", re.search(r"to-down\s+False\s+OutputNotReady", got) is not None, got)
        env.kubectl("delete", "lp", "to-down", "-n", CTRL_NS, "--wait=false")

        # drift: retention set back outside logplane; a fresh operator (no cached
        # verification) sets it back and says so in a Normal Event
        rc = env.stop_operator(op)
        kinesis(port, "DecreaseStreamRetentionPeriod", {"StreamName": STREAM, "RetentionPeriodHours": 24})
        before = kinesis(port, "DescribeStream", {"StreamName": STREAM})["StreamDescription"]["RetentionPeriodHours"]
        op = env.start_operator("--resync", "10s", "--debounce", "200ms", "--aws-requeue", "200ms", name="op2")
        ev = wait_until(lambda: [e for e in events(env, CTRL_NS, "stream")
                                 if e.get("reason") == "DriftCorrected" and "retention" in e.get("message", "")], 60)
        after = wait_until(lambda: (lambda h: h if h == 48 else None)(
            kinesis(port, "DescribeStream", {"StreamName": STREAM})["StreamDescription"]["RetentionPeriodHours"]), 15)
        T.check("drift_corrected_event", rc == 0 and before == 24 and after == 48 and ev and ev[0].get("type") == "Normal",
                f"stop rc={rc} retention {before} -> {after}; events "
                + json.dumps([(e.get("reason"), e.get("message")) for e in events(env, CTRL_NS, "stream")])[:500])

        tenants(env, port)

        # delete: the finalizer waits for the Delete policy, then the object goes
        t0 = time.monotonic()
        env.kubectl("delete", "lo", "stream", "-n", CTRL_NS, "--wait=false")
        gone = wait_until(lambda: env.get("lo", "stream", CTRL_NS) is None, 60)
        # DeleteStream is asynchronous (DELETING, then gone), in kinesalite as in AWS
        streams = wait_until(lambda: (lambda n: n if STREAM not in n else None)(
            kinesis(port, "ListStreams", {}).get("StreamNames", [])), 10) or \
            kinesis(port, "ListStreams", {}).get("StreamNames", [])
        T.check("delete_policy_applied", gone and STREAM not in streams,
                f"gone={bool(gone)} after {time.monotonic() - t0:.0f}s, streams {streams}; " + env.tail(op.log_path, 8))
        # the operator sees the delete after the test does: give it its debounce and a status write
        wait_until(lambda: (condition(env.get("lp", "to-stream", CTRL_NS), "Valid") or {}).get("status") == "False", 10)
        bad = condition(env.get("lp", "to-stream", CTRL_NS), "Valid") or {}
        T.check("pipeline_invalid_after_output_gone", bad.get("status") == "False" and "outputRef" in bad.get("message", ""),
                json.dumps(bad))
        # every AWS operation the two operators counted is in the IAM policy table
        calls |= aws_calls(env, op) or set()
        allowed = iam_table()
        T.check("aws_calls_in_policy", ("kinesis", "CreateStream") in calls and ("kinesis", "DeleteStream") in calls
                and len(allowed) >= 30 and not calls - allowed,
                f"counted {sorted(calls)}; not in `logplane iam-policy`: {sorted(calls - allowed)}")
        clean_exit(T, env, op, "sigterm_exit_0")
    finally:
        subprocess.run(["bash", os.path.join(TOP, "tests", "aws", "servers.sh"), "stop", aws_dir],
                       capture_output=True, timeout=60)


if __name__ == "__main__":
    T.run(main)
