"""The agents' open-files limit, operator side (docs/delivery.md): the DaemonSet
the operator writes has an init container of the helper image (by default the
operator's own) installing logplane-nofile into an emptyDir, and the Fluent Bit
container starts through it with N = twice the logplane.io/open-files
annotation rounded up to 1024, then the usual Fluent Bit command and args.

The pod spec is then run for real, the way a container runtime would: the init
container's command with the release logplane-nofile at the image path and a
temporary directory as the emptyDir, then the Fluent Bit container's command
under a soft limit of 1024, with a stand-in for /fluent-bit/bin/fluent-bit
that reports the limit it started with and its arguments. With
--nofile-image= (empty) the operator writes no init container and a plain
command.

Runs against kubesim and, with LP_APISERVER=real, against etcd + kube-apiserver
(tests/run.sh runs both: the real one validates the pod spec)."""
# lp-apiserver: both
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CTRL_NS, TOP, Env, Reporter, apply_crds, clean_exit, namespace, output,  # noqa: E402
                     pipeline, wait_until)

T = Reporter("operator_nofile")
REL_HELPER = os.path.join(os.environ.get("LP_REL_BIN") or os.path.join(TOP, "bin"), "logplane-nofile")
OPERATOR_IMAGE = "ghcr.io/logplane/logplane-operator:0.1.0"
N_OUTPUTS = 60  # enough routes that the config needs more than 512 open files: N > 1024


def pod_spec(env):
    d = env.get("daemonset", "logplane-fluent-bit", CTRL_NS) or {}
    return d.get("spec", {}).get("template", {})


def expected_n(need):
    return (2 * need + 1023) // 1024 * 1024 or 1024


def run_pod(tmpl):
    """Runs the init container then the Fluent Bit container of the template
    (paths mapped into a temporary directory); returns what the stand-in saw."""
    spec = tmpl["spec"]
    init = spec["initContainers"][0]
    main = spec["containers"][0]
    tmp = tempfile.mkdtemp(prefix="lp-nofile-pod-")
    try:
        empty_dir = os.path.join(tmp, "emptydir")
        os.makedirs(empty_dir)
        mount = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}["logplane-bin"]
        image_path = init["command"][0]

        def mapped(arg):
            if arg == image_path:
                return REL_HELPER
            if arg == mount or arg.startswith(mount + "/"):
                return empty_dir + arg[len(mount):]
            if arg == "/fluent-bit/bin/fluent-bit":
                return os.path.join(tmp, "fluent-bit")
            return arg
        r = subprocess.run([mapped(a) for a in init["command"]], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return "init container exited %d: %s" % (r.returncode, r.stderr)
        stub = os.path.join(tmp, "fluent-bit")
        with open(stub, "w") as f:
            f.write("#!%s\nimport json, resource, sys\n"
                    "print(json.dumps({'nofile': resource.getrlimit(resource.RLIMIT_NOFILE),"
                    " 'args': sys.argv[1:]}))\n" % sys.executable)
        os.chmod(stub, 0o755)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

        def limits():
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        argv = [mapped(a) for a in main["command"]] + list(main.get("args") or [])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, preexec_fn=limits)
        if r.returncode != 0:
            return "Fluent Bit container exited %d: %s" % (r.returncode, r.stderr)
        got = json.loads(r.stdout.strip().splitlines()[-1])
        got["hard"] = hard
        got["stderr"] = r.stderr
        return got
    finally:
        shutil.rmtree(tmp)


def main():
    env = Env("nofile")
    apply_crds(env)
    outs = ["web-%02d" % i for i in range(N_OUTPUTS)]
    env.apply([namespace(CTRL_NS)] +
              [output(CTRL_NS, o, {"type": "http", "http": {"host": "%s.example.com" % o}}) for o in outs] +
              [pipeline(CTRL_NS, "many-%d" % i, outs[i * 30:(i + 1) * 30]) for i in range(N_OUTPUTS // 30)])
    op = env.start_operator("--debounce", "300ms")

    def with_all_routes():
        t = pod_spec(env)
        cmd = ((t.get("spec") or {}).get("containers") or [{}])[0].get("command") or []
        need = int(((t.get("metadata") or {}).get("annotations") or {}).get("logplane.io/open-files", "0"))
        return t if len(cmd) > 1 and need > 512 else None
    tmpl = wait_until(with_all_routes, 60)
    if not T.check("daemonset_with_helper", tmpl is not None,
                   "no DaemonSet with the helper and a need > 512: %s %s" % (
                       json.dumps(pod_spec(env))[:600], env.tail(op.log_path))):
        return
    spec = tmpl["spec"]
    need = int(tmpl["metadata"]["annotations"]["logplane.io/open-files"])
    n = expected_n(need)
    init = (spec.get("initContainers") or [{}])[0]
    main_c = spec["containers"][0]
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    mounts = {m["name"]: m for m in main_c.get("volumeMounts") or []}
    T.check("init_container_installs_helper",
            init.get("image") == OPERATOR_IMAGE
            and init.get("command") == ["/usr/local/bin/logplane-nofile", "--install", "/logplane-bin"]
            and "emptyDir" in vols.get("logplane-bin", {})
            and init.get("securityContext", {}).get("readOnlyRootFilesystem") is True
            and init.get("securityContext", {}).get("runAsNonRoot") is True
            and init.get("securityContext", {}).get("capabilities", {}).get("drop") == ["ALL"],
            json.dumps(init))
    T.check("fluent_bit_runs_through_helper_with_n_from_config",
            main_c.get("command") == ["/logplane-bin/logplane-nofile", str(n), "--", "/fluent-bit/bin/fluent-bit"]
            and (main_c.get("args") or [None])[0] == "-c"
            and mounts.get("logplane-bin", {}).get("readOnly") is True,
            "need %d, want N %d; command %r args %r" % (need, n, main_c.get("command"), main_c.get("args")))

    def pod_runs():
        if not os.access(REL_HELPER, os.X_OK):
            return "%s not built" % REL_HELPER
        got = run_pod(tmpl)
        if isinstance(got, str):
            return got
        want = min(n, got["hard"])
        if got["nofile"][0] != want or got["args"] != main_c.get("args"):
            return "Fluent Bit started with soft limit %d (want %d), args %r (want %r); stderr %r" % (
                got["nofile"][0], want, got["args"], main_c.get("args"), got["stderr"])
        return None
    T.case("pod_spec_run_raises_the_limit", pod_runs)
    clean_exit(T, env, op, "operator_exits_clean")

    # no helper image: Fluent Bit starts directly (the annotation stays)
    op2 = env.start_operator("--debounce", "300ms", "--nofile-image=", name="op2")

    def plain():
        t = pod_spec(env)
        s = t.get("spec") or {}
        c = (s.get("containers") or [{}])[0]
        return t if c.get("command") == ["/fluent-bit/bin/fluent-bit"] else None
    t2 = wait_until(plain, 60)
    s2 = (t2 or {}).get("spec") or {}
    T.check("empty_nofile_image_no_helper",
            t2 is not None and not s2.get("initContainers")
            and "logplane-bin" not in [v["name"] for v in s2.get("volumes") or []]
            and (t2["metadata"].get("annotations") or {}).get("logplane.io/open-files") == str(need),
            "%s %s" % (json.dumps(pod_spec(env))[:600], env.tail(op2.log_path)))
    clean_exit(T, env, op2, "operator_exits_clean_without_helper")


if __name__ == "__main__":
    T.run(main)
