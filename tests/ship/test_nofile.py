"""logplane-nofile, the open-files exec helper the agents' pods start Fluent Bit
through, run for real: it is started under a chosen soft/hard RLIMIT_NOFILE
(set in the child before exec) and runs a small Python program that reports the
limits it got, its arguments and an environment variable.

Checked for the ASan build ($LP_BIN) and the release build ($LP_REL_BIN, the one
the image carries): the soft limit raised to N; never lowered; a hard limit
below N gives soft = hard and one stderr line (or, where the test runs with
CAP_SYS_RESOURCE, a hard limit raised to N and no line); arguments, environment
and exit status pass through; bad arguments exit non-zero with one line naming
the argument and run nothing; a missing or non-executable program exits
127/126 with one line naming it; --install copies the binary (mode 0555) and
the copy works; the release binary is statically linked (no ELF interpreter,
no dynamic section), so it runs in any Fluent Bit image.
Prints PASS/FAIL lines."""
import json
import os
import resource
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

TOP = os.environ.get("LP_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
ASAN = os.path.join(os.environ.get("LP_BIN") or os.path.join(TOP, "build", "asan", "bin"),
                    "logplane-nofile")
REL = os.path.join(os.environ.get("LP_REL_BIN") or os.path.join(TOP, "bin"), "logplane-nofile")
PY = sys.executable
CHILD = ("import json, os, resource, sys\n"
         "s, h = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
         "print(json.dumps({'soft': s, 'hard': h, 'argv': sys.argv[1:],"
         " 'env': os.environ.get('LP_NOFILE_PROBE')}))\n"
         "sys.exit(int(os.environ.get('LP_NOFILE_EXIT', '0')))\n")
failed = 0


def report(name, err):
    global failed
    if err:
        failed += 1
        print("FAIL nofile:%s: %s" % (name, err))
    else:
        print("PASS nofile:%s" % name)


def can_raise_hard():
    """CAP_SYS_RESOURCE in the effective set: the helper may then raise the hard limit."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


def run(exe, args, soft=None, hard=None, env_extra=None):
    """(exit status, stdout, stderr lines) of exe args under the given limits."""
    def limits():
        if soft is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    env = dict(os.environ)
    env.update(env_extra or {})
    p = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=limits, env=env, timeout=60)
    lines = [l for l in p.stderr.decode(errors="replace").split("\n") if l.strip()]
    return p.returncode, p.stdout.decode(errors="replace"), lines


def child(exe, n, soft, hard, extra=(), env_extra=None):
    rc, out, err = run(exe, [str(n), "--", PY, "-c", CHILD] + list(extra), soft, hard, env_extra)
    try:
        got = json.loads(out.strip().split("\n")[-1])
    except (ValueError, IndexError):
        got = None
    return rc, got, err


def t_raises(exe):
    rc, got, err = child(exe, 3000, 64, 4096)
    if rc != 0 or not got:
        return "exit %d, child said %r, stderr %r" % (rc, got, err)
    if (got["soft"], got["hard"]) != (3000, 4096):
        return "child got soft/hard %d/%d, want 3000/4096" % (got["soft"], got["hard"])
    if err:
        return "stderr when the limit was reached: %r" % err
    return None


def t_never_lowers(exe):
    rc, got, err = child(exe, 100, 2048, 4096)
    if rc != 0 or not got:
        return "exit %d, child said %r, stderr %r" % (rc, got, err)
    if (got["soft"], got["hard"]) != (2048, 4096):
        return "child got soft/hard %d/%d, want 2048/4096 (never lowered)" % (got["soft"], got["hard"])
    return None


def t_hard_below(exe):
    rc, got, err = child(exe, 3000, 64, 2000)
    if rc != 0 or not got:
        return "exit %d, child said %r, stderr %r" % (rc, got, err)
    if can_raise_hard():
        if (got["soft"], got["hard"]) != (3000, 3000) or err:
            return "with CAP_SYS_RESOURCE: child got %d/%d, stderr %r; want 3000/3000 and no line" % (
                got["soft"], got["hard"], err)
        return None
    if (got["soft"], got["hard"]) != (2000, 2000):
        return "child got soft/hard %d/%d, want 2000/2000" % (got["soft"], got["hard"])
    if len(err) != 1 or "2000" not in err[0] or "3000" not in err[0]:
        return "want one stderr line naming the hard limit 2000 and the 3000 needed, got %r" % err
    return None


def t_passes_through(exe):
    rc, got, err = child(exe, 128, 64, 4096, extra=["a b", "--", "-c"],
                         env_extra={"LP_NOFILE_PROBE": "kept", "LP_NOFILE_EXIT": "7"})
    if rc != 7:
        return "exit %d, want the program's own 7 (stderr %r)" % (rc, err)
    if not got or got["argv"] != ["a b", "--", "-c"] or got["env"] != "kept":
        return "program saw %r, want argv ['a b', '--', '-c'] and LP_NOFILE_PROBE=kept" % got
    return None


def t_bad_args(exe):
    tmp = tempfile.mkdtemp(prefix="nofile-")
    try:
        marker = os.path.join(tmp, "ran")
        prog = ["/bin/sh", "-c", "echo > " + marker]
        cases = [([], "count"), (["abc", "--"] + prog, '"abc"'), (["0", "--"] + prog, '"0"'),
                 (["-5", "--"] + prog, '"-5"'), (["99999999999", "--"] + prog, '"99999999999"'),
                 (["12x", "--"] + prog, '"12x"'), (["10", "x"] + prog, '"x"'),
                 (["10"], '"--"'), (["10", "--"], "program"), (["--install"], "--install"),
                 (["--install", "a", "b"], "--install"), (["--install", ""], "directory")]
        bad = []
        for args, named in cases:
            rc, _, err = run(exe, args)
            if rc == 0 or len(err) != 1 or named not in err[0]:
                bad.append("%r: exit %d, stderr %r (want non-zero, one line naming %s)" % (
                    args, rc, err, named))
        if os.path.exists(marker):
            bad.append("a bad argument still ran the program")
        return "; ".join(bad) or None
    finally:
        shutil.rmtree(tmp)


def t_missing_program(exe):
    tmp = tempfile.mkdtemp(prefix="nofile-")
    try:
        missing = os.path.join(tmp, "no-such-fluent-bit")
        rc, _, err = run(exe, ["100", "--", missing, "-c", "x"])
        if rc != 127 or len(err) != 1 or missing not in err[0]:
            return "missing program: exit %d, stderr %r (want 127, one line naming it)" % (rc, err)
        noexec = os.path.join(tmp, "not-executable")
        with open(noexec, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(noexec, 0o644)
        rc, _, err = run(exe, ["100", "--", noexec])
        if rc != 126 or len(err) != 1 or noexec not in err[0]:
            return "non-executable program: exit %d, stderr %r (want 126, one line)" % (rc, err)
        return None
    finally:
        shutil.rmtree(tmp)


def t_install(exe):
    tmp = tempfile.mkdtemp(prefix="nofile-")
    try:
        rc, _, err = run(exe, ["--install", tmp])
        dst = os.path.join(tmp, "logplane-nofile")
        if rc != 0 or not os.path.exists(dst):
            return "--install: exit %d, stderr %r, file there: %s" % (rc, err, os.path.exists(dst))
        mode = stat.S_IMODE(os.stat(dst).st_mode)
        if mode != 0o555:
            return "installed mode %o, want 555" % mode
        with open(exe, "rb") as a, open(dst, "rb") as b:
            if a.read() != b.read():
                return "installed copy differs from the binary"
        if sorted(os.listdir(tmp)) != ["logplane-nofile"]:
            return "left behind: %r" % sorted(os.listdir(tmp))
        rc, got, err = child(dst, 3000, 64, 4096)
        if rc != 0 or not got or got["soft"] != 3000:
            return "the installed copy: exit %d, child %r, stderr %r" % (rc, got, err)
        # again over an existing copy (a restarted init container)
        rc, _, err = run(exe, ["--install", tmp])
        if rc != 0 or sorted(os.listdir(tmp)) != ["logplane-nofile"]:
            return "second --install: exit %d, stderr %r, dir %r" % (rc, err, os.listdir(tmp))
        gone = os.path.join(tmp, "missing", "dir")
        rc, _, err = run(exe, ["--install", gone])
        if rc == 0 or len(err) != 1 or gone not in err[0]:
            return "--install into a missing directory: exit %d, stderr %r" % (rc, err)
        return None
    finally:
        shutil.rmtree(tmp)


def t_static(exe):
    """No PT_INTERP (2: PT_DYNAMIC, 3: PT_INTERP) in the ELF program headers."""
    with open(exe, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return "%s is not a 64-bit ELF file" % exe
    end = "<" if data[5] == 1 else ">"
    phoff, = struct.unpack_from(end + "Q", data, 0x20)
    phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
    types = [struct.unpack_from(end + "I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    if 3 in types:
        return "%s has an ELF interpreter (dynamically linked): it needs a libc in the image" % exe
    if 2 in types:
        return "%s has a dynamic section (shared libraries)" % exe
    if 1 not in types:
        return "%s: no loadable segment read (bad parse?)" % exe
    return None


def main():
    tests = [("raises_soft", t_raises), ("never_lowers", t_never_lowers),
             ("hard_below_needed", t_hard_below), ("passes_through", t_passes_through),
             ("bad_arguments", t_bad_args), ("missing_program", t_missing_program),
             ("install", t_install)]
    for label, exe in (("asan", ASAN), ("release", REL)):
        if not os.access(exe, os.X_OK):
            report(label + "_built", "%s not built (make asan-bins all)" % exe)
            continue
        for name, fn in tests:
            try:
                err = fn(exe)
            except Exception as e:  # a crash in a check is a failure, not a pass
                err = "%s: %s" % (type(e).__name__, e)
            report("%s_%s" % (label, name), err)
    if os.access(REL, os.X_OK):
        report("release_static", t_static(REL))
        # and the check can fail: the ASan build is dynamically linked
        if os.access(ASAN, os.X_OK):
            report("static_check_can_fail",
                   None if t_static(ASAN) else "the static check passed a dynamic binary")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
