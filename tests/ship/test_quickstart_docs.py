"""The quickstart as written: every ```sh block of README.md and docs/helm.md is
read from the document and run, in document order, with bash against the
in-repo API server (tests/kubesim) using the real kubectl and helm, so the
documents cannot drift from what works.

Markers (HTML comments, invisible on GitHub) steer the run:
  <!-- doc-test: new-cluster -->      before a block: a fresh API server first
  <!-- doc-test: skip: REASON -->     before a block: not run (the reason is printed)
  <!-- doc-test: expect-ready -->     after a block: every LogPipeline and LogOutput
                                      in the cluster is Ready (at least one exists)

There is no kubelet: when a block leaves an operator Deployment in the cluster,
the test plays the kubelet and starts the operator binary with that
Deployment's own arguments and environment (the agents ConfigMap written to the
file the Deployment mounts), with the AWS endpoints pointed at kinesalite on
127.0.0.1 through the standard AWS_ENDPOINT_URL_KINESIS. When the Deployment
goes (helm uninstall), the operator is stopped.

Also: the YAML block of docs/helm.md step 3 is the same objects as
config/samples; helm install prints the chart's notes; the logplane chart with
its defaults installs after the logplane-crds chart (CRD ownership)."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "operator"))
from harness import TOP, Env, Reporter, is_ready, wait_until  # noqa: E402

import yaml  # noqa: E402  (Debian's python3-yaml)

T = Reporter("quickstart_docs")
DOCS = ["README.md", "docs/helm.md"]
BLOCK_TIMEOUT = 300


def blocks(doc):
    """[(line, markers, text)] for every ```sh block; markers are the doc-test
    comments right before it, plus "expect-ready" when one follows it."""
    lines = open(os.path.join(TOP, doc)).read().split("\n")
    out = []
    i = 0
    pending = []
    while i < len(lines):
        ln = lines[i]
        m = re.match(r"\s*<!-- doc-test: (.*?) -->\s*$", ln)
        if m:
            pending.append(m.group(1))
        elif ln.strip() == "```sh":
            start = i + 1
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            marks = pending
            pending = []
            k = j + 1
            while k < len(lines) and re.match(r"\s*<!-- doc-test: (.*?) -->\s*$", lines[k]):
                mm = re.match(r"\s*<!-- doc-test: (.*?) -->\s*$", lines[k]).group(1)
                if mm == "expect-ready":
                    marks = marks + ["expect-ready"]
                    lines[k] = ""
                k += 1
            out.append((start, marks, "\n".join(lines[start:j])))
            i = j
        elif ln.strip():
            pending = []
        i += 1
    return out


class Cluster:
    def __init__(self, name, aws_port):
        self.env = Env(name)
        self.aws_port = aws_port
        self.work = os.path.join(self.env.tmp, "work")
        os.makedirs(self.work)
        # the commands run from a clone's root: a scratch directory whose
        # entries point at the repository (so `-o out/` writes into scratch)
        for e in os.listdir(TOP):
            if e in (".git", "out", "build"):
                continue
            os.symlink(os.path.join(TOP, e), os.path.join(self.work, e))
        self.op = None
        self.op_deploy = None
        self.sh_env = dict(os.environ, HOME=self.env.home, KUBECONFIG=self.env.kubeconfig,
                           HELM_CACHE_HOME=os.path.join(self.env.tmp, "helm", "cache"),
                           HELM_CONFIG_HOME=os.path.join(self.env.tmp, "helm", "config"),
                           HELM_DATA_HOME=os.path.join(self.env.tmp, "helm", "data"),
                           PATH=os.path.join(TOP, ".deps", "bin") + ":" + os.environ.get("PATH", ""))

    def run(self, text):
        """Runs one block; meanwhile plays the kubelet for the operator
        Deployment (a block may wait for what the operator does)."""
        out = os.path.join(self.env.tmp, "block.out")
        with open(out, "w") as f:
            p = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", text], cwd=self.work, env=self.sh_env,
                                 stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + BLOCK_TIMEOUT
        while p.poll() is None and time.monotonic() < end:
            self.sync_operator()
            time.sleep(0.5)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        self.sync_operator()
        with open(out, errors="replace") as f:
            return subprocess.CompletedProcess(text, p.returncode, f.read(), "")

    def operator_deployment(self):
        """The Deployment whose container runs the operator (its arguments name
        the control namespace), from the chart or from kustomize."""
        try:  # over HTTP: this runs every 0.5 s while a block runs (no kubectl process each time)
            deployments = self.env.list("deployments")
        except Exception:  # noqa: BLE001 - no answer: no Deployment seen this time
            return None
        items = [d for d in deployments if not d["metadata"].get("deletionTimestamp")
                 and any(a.startswith("--control-namespace=")
                         for a in d["spec"]["template"]["spec"]["containers"][0].get("args", []))]
        return items[0] if items else None

    def sync_operator(self):
        """Starts the operator as its Deployment says when one exists and none
        runs; stops it when the Deployment is gone."""
        d = self.operator_deployment()
        if d is None:
            if self.op is not None:
                self.env.stop_operator(self.op)
                self.op = None
            return
        if self.op is not None and self.op.poll() is None:
            return
        ns = d["metadata"]["namespace"]
        spec = d["spec"]["template"]["spec"]
        c = spec["containers"][0]
        # every listener on 127.0.0.1 and a free port (the harness adds the
        # metrics and health addresses)
        args = ["--webhook-addr=127.0.0.1:0" if a.startswith("--webhook-addr") else a
                for a in c.get("args", []) if not a.startswith(("--metrics-addr", "--health-addr"))]
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        extra_env = {}
        for e in c.get("env", []):
            if "value" in e:
                v = e["value"]
                for mp, vname in mounts.items():
                    cm = (vols.get(vname) or {}).get("configMap")
                    if cm and v.startswith(mp.rstrip("/") + "/"):
                        obj = self.env.get("configmap", cm["name"], ns) or {}
                        data = (obj.get("data") or {}).get(os.path.basename(v))
                        if data is not None:
                            local = os.path.join(self.env.tmp, "mnt" + v)
                            os.makedirs(os.path.dirname(local), exist_ok=True)
                            with open(local, "w") as f:
                                f.write(data)
                            v = local
                extra_env[e["name"]] = v
            elif (e.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                extra_env[e["name"]] = d["metadata"]["name"] + "-doc-test"
        extra_env.update({"AWS_ENDPOINT_URL_KINESIS": f"http://127.0.0.1:{self.aws_port}",
                          "AWS_ACCESS_KEY_ID": "AKIDLOGPLANETEST", "AWS_SECRET_ACCESS_KEY": "not-checked",
                          "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true"})
        saved = dict(os.environ)
        os.environ.update(extra_env)
        try:
            self.op = self.env.start_operator(*args, "--debounce", "200ms", "--aws-requeue", "200ms", name=f"op-{len(self.env.operators)}")
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def all_ready(self):
        objs = []
        for kind in ("logpipelines", "logoutputs"):
            objs += self.env.list(kind)
        bad = [f"{o['kind']} {o['metadata']['namespace']}/{o['metadata']['name']}: "
               + json.dumps(((o.get('status') or {}).get('conditions') or [])[-1:]) for o in objs if not is_ready(o)]
        return objs, bad

    def close(self):
        self.env.close()


def alert_expr():
    """The LogplaneAWSErrors expression of the chart's PrometheusRule."""
    env = dict(os.environ, HOME=tempfile.mkdtemp(prefix="lp-helm-home-"))
    r = subprocess.run([os.path.join(TOP, ".deps", "bin", "helm"), "template", "logplane",
                        os.path.join(TOP, "charts", "logplane"), "-n", "logplane-system",
                        "--set", "prometheusRule.enabled=true"], capture_output=True, text=True, env=env, timeout=120)
    subprocess.run(["rm", "-rf", env["HOME"]], check=False)
    for d in yaml.safe_load_all(r.stdout):
        if d and d.get("kind") == "PrometheusRule":
            for g in d["spec"]["groups"]:
                for rule in g["rules"]:
                    if rule.get("alert") == "LogplaneAWSErrors":
                        return rule["expr"]
    return ""


def aws_codes_alerted(cluster, name):
    """After a normal create, no AWS request the operator made counts toward
    LogplaneAWSErrors: the expected NotFound answers of a create are left out."""
    import urllib.request
    port = cluster.env.operator_port(cluster.op)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    expr = alert_expr()
    m = re.search(r'code!~"([^"]*)"', expr)
    excluded = re.compile("^(?:" + m.group(1) + ")$") if m else None
    alerted = [ln for ln in text.splitlines() if ln.startswith("logplane_aws_requests_total{")
               and excluded and not excluded.match(re.search(r'code="([^"]*)"', ln).group(1))
               and float(ln.rsplit(" ", 1)[1]) > 0]
    T.check(f"{name}:aws_alert_quiet_after_create", excluded is not None and not alerted,
            f"expr {expr!r}; counted by the alert: {alerted[:5]}")


def samples_match_doc(T):
    """The YAML block of docs/helm.md step 3 is config/samples."""
    text = open(os.path.join(TOP, "docs", "helm.md")).read()
    m = re.search(r"### 3\..*?```yaml\n(.*?)```", text, re.S)
    doc = [o for o in yaml.safe_load_all(m.group(1)) if o] if m else []
    kust = yaml.safe_load(open(os.path.join(TOP, "config", "samples", "kustomization.yaml")))
    files = []
    for r in kust.get("resources", []):
        files += [o for o in yaml.safe_load_all(open(os.path.join(TOP, "config", "samples", r))) if o]
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    T.check("helm_md_yaml_is_config_samples", doc and sorted(doc, key=key) == sorted(files, key=key),
            f"docs/helm.md step 3 has {[key(o) for o in doc]}, config/samples {[key(o) for o in files]}")


def main():
    samples_match_doc(T)
    aws_dir = None
    cluster = None
    env0 = None
    n_clusters = 0
    try:
        import tempfile
        aws_dir = tempfile.mkdtemp(prefix="lp-docs-aws-")
        r = subprocess.run(["bash", os.path.join(TOP, "tests", "aws", "servers.sh"), "start", aws_dir,
                            str(os.getpid())], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, LP_AWS_LIFETIME="600"))
        if not T.check("emulators_start", r.returncode == 0, r.stderr[-400:]):
            return
        with open(os.path.join(aws_dir, "ports.json")) as f:
            port = json.load(f)["kinesalite"]
        for doc in DOCS:
            bl = blocks(doc)
            T.check(f"{doc}:has_blocks", len(bl) > 0, "no ```sh block found")
            ready_checks = 0
            for line, marks, text in bl:
                name = f"{doc}:{line}"
                skip = [m for m in marks if m.startswith("skip")]
                if skip:
                    reason = skip[0].partition(":")[2].strip()
                    T.check(f"{name}:skip_has_reason", bool(reason), "a skip marker needs a reason")
                    print(f"# {name} skipped: {reason}", flush=True)
                    continue
                if "new-cluster" in marks or cluster is None:
                    if cluster:
                        cluster.close()
                    n_clusters += 1
                    cluster = Cluster(f"docs{n_clusters}", port)
                    env0 = cluster.env
                if "expect-ready" in marks:
                    ready_checks += 1
                r = cluster.run(text)
                first = text.strip().split("\n")[0][:60]
                if not T.check(f"{name}:runs", r.returncode == 0,
                               f"`{first}...` exit {r.returncode}: {(r.stdout + r.stderr)[-300:]}"
                               + f" not Ready: {cluster.all_ready()[1][:4]}"
                               + (" operator: " + env0.tail(cluster.op.log_path, 6) if cluster.op else "")):
                    continue
                if "helm install logplane " in text or "helm install logplane ./" in text:
                    T.check(f"{name}:notes_printed", "Next steps:" in r.stdout and "kubectl apply -k config/samples"
                            in r.stdout, r.stdout[-500:])
                if "expect-ready" in marks:
                    res = wait_until(lambda: (lambda ob: ob if ob[0] and not ob[1] else None)(cluster.all_ready()),
                                     90, interval=0.5)
                    objs, bad = res or cluster.all_ready()
                    evs = json.loads(cluster.env.kubectl("get", "events", "-A", "-o", "json",
                                                         "--field-selector", "involvedObject.kind=LogOutput",
                                                         check=False).stdout or '{"items": []}')["items"]
                    msgs = [(e.get("reason"), e.get("message", "")) for e in evs]
                    # a stream the operator just created is not drift; plurals agree
                    T.check(f"{name}:no_drift_right_after_create",
                            # (the emulator outlives the clusters: the stream is new only for the first)
                            (doc != DOCS[0] or any(r == "Provisioned" and "created Kinesis stream" in m
                                                   for r, m in msgs))
                            and not any(r == "DriftCorrected" for r, m in msgs)
                            and not re.search(r"\b1 (open )?shards\b", " ".join(m for _, m in msgs)),
                            json.dumps(msgs)[:500])
                    if cluster.op is not None and cluster.op.poll() is None:
                        aws_codes_alerted(cluster, name)
                    T.check(f"{name}:everything_ready", objs and not bad,
                            f"{len(objs)} objects, not Ready: {bad[:4]}"
                            + (" operator: " + env0.tail(cluster.op.log_path, 8) if cluster.op else ""))
                if cluster.op is not None and cluster.op.poll() is not None:
                    T.check(f"{name}:operator_running", False, f"operator exited {cluster.op.returncode}: "
                            + env0.tail(cluster.op.log_path, 10))
            T.check(f"{doc}:checks_readiness", ready_checks > 0, "no expect-ready marker: nothing is checked")
    finally:
        if cluster:
            cluster.close()
        if aws_dir:
            subprocess.run(["bash", os.path.join(TOP, "tests", "aws", "servers.sh"), "stop", aws_dir],
                           capture_output=True, timeout=60)
            subprocess.run(["rm", "-rf", aws_dir], check=False)


if __name__ == "__main__":
    T.run(main)
