"""What every namespace's outputs fill together is shared out per namespace
(kubesim; docs/security.md, "Shares of what all namespaces fill"):

- The agents' AWS credentials file is one credential (Fluent Bit reads one
  file), at most one credentials Secret (1 MiB - 16 KiB). A tenant whose 130
  AWS-signed outputs each read their own Secret with an 8,000-byte session
  token (~1.06 MB of profiles) used to push the file over that bound: the whole
  file was left out, so every namespace's AWS outputs ran without credentials,
  with only a log line. Now the other tenant's profile is in the file, the
  file fits, and the greedy tenant's newest outputs say LimitExceeded naming
  the Secret, the keys and the bound; its pipelines routing to them say
  OutputNotReady.
- The hub's alert targets: a namespace has at most 16 alert outputs in use
  (--max-alert-outputs-per-namespace); its newer ones say LimitExceeded naming
  the flag, and another namespace's alert target still reaches the hub."""
import base64
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, Env, Reporter, apply_crds, clean_exit, condition,  # noqa: E402
                     credentials_data, is_ready, namespace, output, pipeline, secret, wait_until)

T = Reporter("shares")
N_AWS = 130            # the greedy tenant's AWS-signed outputs, each its own Secret
TOKEN = 8000           # bytes of each session token (the largest validation accepts is 8192)
N_ALERT = 20           # the noisy tenant's alert outputs in use
CREDS_MAX = 1024 * 1024 - 16 * 1024
HOOK = "https://hooks.example.com/services/T0/B0/x"


def aws_output(ns, name, sec):
    return output(ns, name, {"type": "opensearch", "opensearch": {"host": "127.0.0.1", "awsAuth": True},
                             "aws": {"region": "eu-west-1", "credentials": {"secretRef": {
                                 "name": sec, "sessionTokenKey": "AWS_SESSION_TOKEN"}}}})


def aws_secret(ns, name, akid):
    return secret(ns, name, {"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": "s" * 40,
                             "AWS_SESSION_TOKEN": "T" * TOKEN})


def alert(ns, name):
    return output(ns, name, {"type": "alert", "alert": {"slack": {"webhookSecretRef": {"name": "hook", "key": "url"}}}})


def cfg(env, kind, name, ns):
    return condition(env.get(kind, name, ns), "ConfigGenerated") or {}


def hub_targets(env):
    s = env.get("secret", "logplane-hub-alerts", CTRL_NS)
    data = ((s or {}).get("data") or {}).get("targets.json")
    return json.loads(base64.b64decode(data)) if data else None


def main():
    env = Env("shares")
    apply_crds(env)
    objs = [namespace(CTRL_NS), namespace("greedy"), namespace("calm"), namespace("noisy"),
            aws_secret("calm", "aws", "AKIACALM000000000001"), aws_output("calm", "os", "aws"),
            secret("calm", "hook", {"url": HOOK}), alert("calm", "oncall"),
            pipeline("calm", "app", ["os", "oncall"]), secret("noisy", "hook", {"url": HOOK})]
    for i in range(N_AWS):
        objs += [aws_secret("greedy", "aws-%03d" % i, "AKIAGREEDY%010d" % i), aws_output("greedy", "os-%03d" % i, "aws-%03d" % i)]
    for p in range(N_AWS // 10):
        objs.append(pipeline("greedy", "app-%02d" % p, ["os-%03d" % i for i in range(p * 10, p * 10 + 10)]))
    objs += [alert("noisy", "a-%02d" % i) for i in range(N_ALERT)]
    objs.append(pipeline("noisy", "errors", ["a-%02d" % i for i in range(N_ALERT)]))
    env.apply(objs)
    op = env.start_operator("--resync", "0", "--debounce", "300ms", "--max-outputs-per-namespace", "200")

    # ---- the AWS credentials file ----
    def aws_file():
        v = (credentials_data(env) or {}).get("aws-credentials")
        return base64.b64decode(v).decode() if v else None
    text = wait_until(lambda: (aws_file() or "") if "AKIACALM000000000001" in (aws_file() or "") else None, 60)
    T.check("other_tenant_profile_kept", text is not None,
            "the credentials the DaemonSet mounts hold no profile of namespace calm (aws-credentials %s)"
            % ("absent" if aws_file() is None else "present without it") + env.tail(op.log_path, 8))
    size = len((text or "").encode()) + len("aws-credentials")
    T.check("aws_file_fits_one_secret", text is not None and size <= CREDS_MAX, "%d bytes" % size)
    kept = (text or "").count("AKIAGREEDY")
    print("# AWS credentials file: %d bytes, %d of %d greedy profiles kept" % (size, kept, N_AWS), flush=True)

    def left_out():
        out = []
        for i in range(N_AWS):
            c = cfg(env, "lo", "os-%03d" % i, "greedy")
            if c.get("status") == "False" and c.get("reason") == "LimitExceeded":
                out.append((i, c.get("message", "")))
        return out if len(out) == N_AWS - kept and kept else None
    lo = wait_until(left_out, 60) or []
    first = lo[0] if lo else (None, "")
    T.check("greedy_outputs_limit_exceeded",
            lo and kept + len(lo) == N_AWS and min(i for i, _ in lo) == kept
            and 'Secret "aws-%03d"' % first[0] in first[1] and "AWS_SESSION_TOKEN" in first[1]
            and str(CREDS_MAX) in first[1],
            "kept %d, left out %d, first %s" % (kept, len(lo), json.dumps(first)[:700]))
    p = "app-%02d" % (N_AWS // 10 - 1)  # routes to the newest outputs: left out
    ready = condition(wait_until(lambda: env.get("lp", p, "greedy") if (condition(
        env.get("lp", p, "greedy"), "Ready") or {}).get("reason") in ("OutputNotReady", "RenderFailed") else None, 30),
        "Ready") or {}
    outs = ((env.get("lp", p, "greedy") or {}).get("status") or {}).get("outputs") or []
    T.check("greedy_pipeline_says_why", ready.get("status") == "False" and "LimitExceeded" in json.dumps(
        [ready, outs]), json.dumps([ready, outs[:2]])[:800])
    T.check("other_tenant_ready", wait_until(lambda: is_ready(env.get("lp", "app", "calm")), 30),
            json.dumps((env.get("lp", "app", "calm") or {}).get("status"))[:600])

    # ---- the hub's alert targets ----
    def targets():
        t = hub_targets(env) or {}
        names = sorted((x["namespace"], x["name"]) for x in t.get("targets", []))
        return names if ("calm", "oncall") in names and sum(1 for ns, _ in names if ns == "noisy") <= 16 else None
    names = wait_until(targets, 60) or []
    noisy = [n for ns, n in names if ns == "noisy"]
    T.check("alert_cap_per_namespace", noisy == ["a-%02d" % i for i in range(16)] and ("calm", "oncall") in names,
            json.dumps((hub_targets(env) or {}).get("targets") and
                       sorted((x["namespace"], x["name"]) for x in hub_targets(env)["targets"]))[:600])
    c = cfg(env, "lo", "a-19", "noisy")
    T.check("alert_over_cap_condition", c.get("reason") == "LimitExceeded"
            and "--max-alert-outputs-per-namespace" in c.get("message", "") and "16" in c.get("message", ""),
            json.dumps(c)[:500])
    T.check("calm_alert_ready", wait_until(lambda: is_ready(env.get("lo", "oncall", "calm")), 30),
            json.dumps((env.get("lo", "oncall", "calm") or {}).get("status"))[:400])
    clean_exit(T, env, op, "operator_exits_clean")


if __name__ == "__main__":
    T.run(main)
