"""The Dockerfile cannot be built here (no container runtime), so its
essentials are checked by parsing it:
- multi-stage: a debian:12 build stage with the -dev packages and make, and a
  debian:12-slim (or distroless cc) runtime stage;
- the runtime stage installs no compiler and no -dev package, and every shared
  library the release binary links directly (readelf NEEDED, resolved with ldd
  and dpkg -S on this Debian 12 host) is provided by a package it installs (or
  by the base image: libc6); apt brings the packages' own dependencies;
- it runs as USER 65532 (numeric, so runAsNonRoot can verify it), after the last
  RUN, with an exec-form ENTRYPOINT of a binary copied from the build stage;
- .dockerignore keeps .git, build outputs and .deps out of the context;
- the runtime stage carries logplane-nofile at the path the agents' init
  container runs (LP_NOFILE_IMAGE_PATH in pkg/reconcile/desired.h), copied
  from the build stage (tests/ship/test_nofile.py checks it is static).
Prints PASS/FAIL lines."""
import os
import re
import shlex
import subprocess
import sys

TOP = os.environ.get("LP_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
failed = 0


def report(name, err):
    global failed
    if err:
        failed += 1
        print("FAIL dockerfile:%s: %s" % (name, err))
    else:
        print("PASS dockerfile:%s" % name)


def instructions(text):
    """[(lineno, INSTRUCTION, args)] with continuations joined and comments dropped."""
    out, buf, start = [], "", 0
    for n, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue
        if not buf:
            start = n
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        m = re.match(r"^([A-Za-z]+)\s+(.*)$", buf)
        if not m:
            raise ValueError("line %d: not an instruction: %r" % (start, buf))
        out.append((start, m.group(1).upper(), m.group(2).strip()))
        buf = ""
    if buf:
        raise ValueError("dangling line continuation at the end")
    return out


def stages(ins):
    st = []
    for n, op, args in ins:
        if op == "FROM":
            m = re.match(r"^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", args, re.I)
            if not m:
                raise ValueError("line %d: bad FROM" % n)
            st.append({"image": m.group(1), "name": m.group(2), "ins": []})
        elif not st:
            if op != "ARG":
                raise ValueError("line %d: %s before FROM" % (n, op))
        else:
            st[-1]["ins"].append((n, op, args))
    return st


def apt_packages(stage):
    pkgs = []
    for _, op, args in stage["ins"]:
        if op != "RUN":
            continue
        for cmd in re.split(r"&&|;", args):
            words = shlex.split(cmd)
            words = [w for w in words if "=" not in w or w.startswith("-")]
            if "apt-get" in words and "install" in words:
                i = words.index("install")
                pkgs += [w for w in words[i + 1:] if not w.startswith("-")]
    return pkgs


def load():
    with open(os.path.join(TOP, "Dockerfile")) as f:
        return stages(instructions(f.read()))


def t_stages():
    st = load()
    if len(st) < 2:
        return "not multi-stage"
    b, r = st[0], st[-1]
    if b["image"] != "debian:12" or not b["name"]:
        return "first stage is %s (name %s), want a named debian:12 build stage" % (b["image"], b["name"])
    if r["image"] not in ("debian:12-slim",) and not r["image"].startswith("gcr.io/distroless/cc-debian12"):
        return "runtime stage is %s" % r["image"]
    dev = apt_packages(b)
    for p in ("libcurl4-openssl-dev", "libssl-dev", "libyaml-dev", "libjansson-dev",
              "libwebsockets-dev", "libonig-dev", "pkg-config"):
        if p not in dev:
            return "build stage does not install %s" % p
    if not any(op == "RUN" and re.search(r"\bmake\b", a) for _, op, a in b["ins"]):
        return "build stage does not run make"
    return None


def t_runtime_minimal():
    r = load()[-1]
    pkgs = apt_packages(r)
    bad = [p for p in pkgs if p.endswith("-dev") or p in ("build-essential", "gcc", "clang", "make", "pkg-config")]
    if bad:
        return "runtime stage installs build tools: %s" % bad
    runs = [a for _, op, a in r["ins"] if op == "RUN"]
    if any("apt-get install" in a and "rm -rf /var/lib/apt/lists" not in a for a in runs):
        return "runtime apt-get install leaves the package lists in the image"
    if any(op == "ADD" and re.search(r"https?://", a) for _, op, a in r["ins"]):
        return "ADD from a URL"
    return None


def t_runtime_libraries():
    r = load()[-1]
    pkgs = set(apt_packages(r))
    exe = os.path.join(TOP, "bin", "logplane-operator")
    if not os.access(exe, os.X_OK):
        return "%s not built" % exe
    out = subprocess.run(["ldd", exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=30).stdout.decode()
    # the binary's own NEEDED entries (the rest comes with the packages' dependencies)
    dyn = subprocess.run(["readelf", "-d", exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=30).stdout.decode()
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn))
    if not needed:
        return "readelf found no NEEDED libraries in %s" % exe
    missing = []
    for line in out.split("\n"):
        m = re.match(r"^\s*(\S+) => (\S+)", line)
        if not m or m.group(1) not in needed:
            continue
        so = os.path.realpath(m.group(2))
        q = subprocess.run(["dpkg", "-S", so], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
        if not q:
            q = subprocess.run(["dpkg", "-S", m.group(2)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
        pkg = q.split(":")[0].strip() if q else ""
        if not pkg:
            missing.append("%s (no package owns it)" % m.group(1))
        elif pkg not in pkgs and pkg not in ("libc6", "libgcc-s1", "libstdc++6", "zlib1g"):
            missing.append("%s from %s" % (m.group(1), pkg))
    if missing:
        return "runtime stage lacks: %s" % ", ".join(missing)
    return None


def t_user_entrypoint():
    r = load()[-1]
    ins = r["ins"]
    users = [(i, a) for i, (_, op, a) in enumerate(ins) if op == "USER"]
    if not users:
        return "no USER in the runtime stage"
    idx, user = users[-1]
    if not re.fullmatch(r"65532(:65532)?", user):
        return "USER is %r, want the numeric 65532" % user
    if any(op == "RUN" for _, op, _ in ins[idx:]):
        return "a RUN after USER"
    eps = [a for _, op, a in ins if op == "ENTRYPOINT"]
    if not eps:
        return "no ENTRYPOINT"
    m = re.fullmatch(r'\[\s*"([^"]+)"(?:\s*,\s*"[^"]*")*\s*\]', eps[-1])
    if not m:
        return "ENTRYPOINT is not in exec form"
    copied = [a.split()[-1] for _, op, a in ins if op == "COPY" and "--from=" in a]
    if m.group(1) not in copied:
        return "ENTRYPOINT %s is not copied from the build stage" % m.group(1)
    if any(op == "VOLUME" for _, op, _ in ins):
        return "VOLUME in the runtime stage (the root filesystem is read-only; use emptyDirs)"
    return None


def t_dockerignore():
    try:
        with open(os.path.join(TOP, ".dockerignore")) as f:
            ign = {l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")}
    except OSError as e:
        return str(e)
    need = {".git", "build", "bin", ".deps"} - ign
    return "missing %s" % sorted(need) if need else None


def t_nofile_helper():
    with open(os.path.join(TOP, "pkg", "reconcile", "desired.h")) as f:
        m = re.search(r'#define LP_NOFILE_IMAGE_PATH\s+"([^"]+)"', f.read())
    if not m:
        return "no LP_NOFILE_IMAGE_PATH in pkg/reconcile/desired.h"
    want = m.group(1)
    r = load()[-1]
    copies = [a.split() for _, op, a in r["ins"] if op == "COPY" and "--from=" in a]
    if not any(c[-1] == want and c[-2].endswith("/bin/logplane-nofile") for c in copies):
        return "the runtime stage does not copy bin/logplane-nofile to %s" % want
    return None


def t_parser_catches_errors():
    """The checks above must be able to fail: feed known-bad Dockerfiles."""
    bad = {
        "root": 'FROM debian:12 AS build\nRUN make\nFROM debian:12-slim\nUSER root\nENTRYPOINT ["/x"]\n',
        "shell_entry": 'FROM debian:12 AS b\nFROM debian:12-slim\nUSER 65532\nENTRYPOINT /x\n',
        "continuation": "FROM debian:12\nRUN a \\\n",
    }
    global load
    saved = load
    try:
        results = {}
        for name, text in bad.items():
            load = lambda t=text: stages(instructions(t))  # noqa: E731
            try:
                results[name] = t_user_entrypoint()
            except ValueError as e:
                results[name] = str(e)
        ok = [n for n, r in results.items() if not r]
        return "accepted bad Dockerfiles: %s" % ok if ok else None
    finally:
        load = saved


if __name__ == "__main__":
    for name, fn in (("stages", t_stages), ("runtime_minimal", t_runtime_minimal),
                     ("runtime_libraries", t_runtime_libraries),
                     ("user_entrypoint", t_user_entrypoint), ("dockerignore", t_dockerignore),
                     ("nofile_helper", t_nofile_helper),
                     ("checks_can_fail", t_parser_catches_errors)):
        try:
            err = fn()
        except Exception as e:
            err = "%s: %s" % (type(e).__name__, e)
        report(name, err)
    sys.exit(1 if failed else 0)
