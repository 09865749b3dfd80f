"""A watch recorder for the operator's write order (tests/operator).

Watches ConfigMaps, Secrets, DaemonSets and StatefulSets of one namespace, one
watch per kind (resumed from the last resourceVersion when the server drops
it; relisted on 410), and keeps every event with its resourceVersion. The
resourceVersion of kubesim (and of etcd) is one counter for all kinds, so
replaying the events of the four watches sorted by it gives every state the
namespace went through, in order; check() asserts the invariant on each:

- every ConfigMap and Secret the workload templates (DaemonSet, StatefulSet)
  refer to exists (volumes, projected sources, env valueFrom, envFrom);
- every key a template names exists: env secretKeyRef / configMapKeyRef,
  volume items, subPath mounts of a Secret or ConfigMap volume;
- the configuration file the container runs (the `-c` argument) is in the
  config volume, and every file it includes (`includes:` of Fluent Bit YAML,
  `@include` of Fluentd) is in the config volume too: in a ConfigMap that
  exists in that state and that the template mounts.

Objects are kept as summaries (names, data keys, references, includes), not
whole. Standard library only."""
import http.client
import json
import re
import threading
import time

KINDS = {"configmaps": "/api/v1", "secrets": "/api/v1", "daemonsets": "/apis/apps/v1",
         "statefulsets": "/apis/apps/v1"}


def includes_of(text):
    """Files a Fluent Bit YAML entry (`includes:` list) or a Fluentd config
    (`@include x`) includes."""
    out = []
    lines = text.split("\n")
    for i, ln in enumerate(lines):
        if ln.rstrip() == "includes:":
            for nx in lines[i + 1:]:
                m = re.match(r"^\s*-\s*['\"]?([^'\"]+?)['\"]?\s*$", nx)
                if not m:
                    break
                out.append(m.group(1))
        m = re.match(r"^\s*@include\s+(\S+)\s*$", ln)
        if m:
            out.append(m.group(1))
    return out


def summarize(kind, obj):
    """What the invariant needs of an object."""
    if kind in ("configmaps", "secrets"):
        data = obj.get("data") or {}
        s = {"keys": sorted(list(data) + list(obj.get("binaryData") or {}))}
        if kind == "configmaps":
            s["includes"] = {k: includes_of(v) for k, v in data.items()
                             if isinstance(v, str) and ("includes:" in v or "@include" in v)}
        return s
    tpl = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {"volumes": tpl.get("volumes") or [], "containers": tpl.get("containers") or []}


class Recorder:
    def __init__(self, api, ns):
        self.api, self.ns = api, ns
        self.events = []  # (rv, kind, type, name, summary or None); "SYNC" = a relist snapshot
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.reconnects = 0
        self.relists = 0
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in KINDS]
        self.synced = {k: threading.Event() for k in KINDS}

    def start(self):
        for t in self.threads:
            t.start()
        for e in self.synced.values():
            e.wait(30)

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(40)

    def count(self):
        """Events recorded so far."""
        with self.lock:
            return len(self.events)

    def _path(self, kind):
        return f"{KINDS[kind]}/namespaces/{self.ns}/{kind}"

    def _list(self, kind):
        st, o = self.api.request("GET", self._path(kind))
        if st != 200:
            raise RuntimeError(f"list {kind}: {st}")
        rv = int(o["metadata"]["resourceVersion"])
        snap = {i["metadata"]["name"]: summarize(kind, i) for i in o.get("items") or []}
        with self.lock:
            self.events.append((rv, kind, "SYNC", None, snap))
        return rv

    def _run(self, kind):
        rv = None
        while not self.stop.is_set():
            try:
                if rv is None:
                    rv = self._list(kind)
                    self.synced[kind].set()
                rv = self._watch(kind, rv)
                self.reconnects += 1  # ended or dropped: resumed from rv
            except _Expired:
                self.relists += 1
                rv = None
            except (OSError, http.client.HTTPException, ValueError, RuntimeError):
                self.reconnects += 1
                time.sleep(0.05)

    def _watch(self, kind, rv):
        a = self.api
        c = http.client.HTTPSConnection(a.host, a.port, context=a.ctx, timeout=10)
        try:
            c.request("GET", self._path(kind) + f"?watch=true&resourceVersion={rv}&allowWatchBookmarks=true"
                      "&timeoutSeconds=20", headers={"Authorization": "Bearer " + a.token,
                                                     "Accept": "application/json"})
            r = c.getresponse()
            if r.status == 410:
                raise _Expired()
            if r.status != 200:
                raise RuntimeError(f"watch {kind}: {r.status}")
            while not self.stop.is_set():
                try:
                    ln = r.readline()
                except TimeoutError:
                    continue  # no event for a while: the stream is still open
                if not ln:
                    return rv  # ended (timeoutSeconds, or dropped by the server)
                ev = json.loads(ln)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise _Expired()
                    return rv
                nrv = int(obj["metadata"]["resourceVersion"])
                if ev["type"] != "BOOKMARK":
                    name = obj["metadata"]["name"]
                    summ = None if ev["type"] == "DELETED" else summarize(kind, obj)
                    with self.lock:
                        self.events.append((nrv, kind, ev["type"], name, summ))
                rv = nrv
            return rv
        finally:
            c.close()

    def check(self):
        """Replays every recorded state in resourceVersion order. Returns
        (states, violations: [(rv, message)])."""
        with self.lock:
            evs = sorted(self.events, key=lambda e: (e[0], e[2] != "SYNC"))
        state = {k: {} for k in KINDS}
        states, bad = 0, []
        self.max_parts = 0
        self.max_sts = 0
        for rv, kind, typ, name, summ in evs:
            if typ == "SYNC":
                state[kind] = dict(summ)
            elif typ == "DELETED":
                state[kind].pop(name, None)
            else:
                state[kind][name] = summ
            states += 1
            self.max_sts = max(self.max_sts, len(state["statefulsets"]))
            for w in state["daemonsets"].values():
                n = sum(len([s for s in (v.get("projected") or {}).get("sources") or [] if "configMap" in s])
                        for v in w["volumes"])
                self.max_parts = max(self.max_parts, n)
            for why in violations(state):
                bad.append((rv, why))
        return states, bad


class _Expired(Exception):
    pass


def _volume_files(vol, state, problems, wname):
    """The files a config or Secret volume shows ({file: (kind, name)}), and
    problems for every object or key it names that is missing."""
    files = {}
    srcs = []
    if "configMap" in vol:
        srcs.append(("configmaps", vol["configMap"]))
    if "secret" in vol:
        s = dict(vol["secret"])
        s["name"] = s.get("secretName")
        srcs.append(("secrets", s))
    for p in (vol.get("projected") or {}).get("sources") or []:
        if "configMap" in p:
            srcs.append(("configmaps", p["configMap"]))
        if "secret" in p:
            srcs.append(("secrets", p["secret"]))
    for kind, ref in srcs:
        obj = state[kind].get(ref.get("name"))
        if obj is None:
            if not ref.get("optional"):
                problems.append(f"{wname}: volume {vol.get('name')} names missing {kind[:-1]} {ref.get('name')}")
            continue
        keys = set(obj["keys"])
        items = ref.get("items")
        if items:
            for it in items:
                if it["key"] not in keys:
                    problems.append(f"{wname}: {kind[:-1]} {ref['name']} lacks key {it['key']}")
                files[it.get("path") or it["key"]] = (kind, ref["name"])
        else:
            for k in keys:
                files[k] = (kind, ref["name"])
    return files


def violations(state):
    out = []
    for wkind in ("daemonsets", "statefulsets"):
        for wname, w in state[wkind].items():
            vols = {}
            for v in w["volumes"]:
                if any(s in v for s in ("configMap", "secret", "projected")):
                    vols[v.get("name")] = _volume_files(v, state, out, wname)
            for c in w["containers"]:
                for e in c.get("env") or []:
                    vf = e.get("valueFrom") or {}
                    for rk, kind in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
                        ref = vf.get(rk)
                        if not ref or ref.get("optional"):
                            continue
                        obj = state[kind].get(ref["name"])
                        if obj is None:
                            out.append(f"{wname}: env {e['name']} names missing {kind[:-1]} {ref['name']}")
                        elif ref["key"] not in obj["keys"]:
                            out.append(f"{wname}: env {e['name']}: {kind[:-1]} {ref['name']} lacks key {ref['key']}")
                for ef in c.get("envFrom") or []:
                    for rk, kind in (("secretRef", "secrets"), ("configMapRef", "configmaps")):
                        ref = ef.get(rk)
                        if ref and not ref.get("optional") and ref["name"] not in state[kind]:
                            out.append(f"{wname}: envFrom names missing {kind[:-1]} {ref['name']}")
                for m in c.get("volumeMounts") or []:
                    files = vols.get(m["name"])
                    if files is not None and m.get("subPath") and m["subPath"] not in files:
                        out.append(f"{wname}: mount {m['mountPath']}: {m['subPath']} not in volume {m['name']}")
                argv = (c.get("command") or []) + (c.get("args") or [])
                for i, a in enumerate(argv[:-1]):
                    if a != "-c":
                        continue
                    path = argv[i + 1]
                    for m in c.get("volumeMounts") or []:
                        mp = m["mountPath"].rstrip("/") + "/"
                        files = vols.get(m["name"])
                        if files is None or not path.startswith(mp) or m.get("subPath"):
                            continue
                        entry = path[len(mp):]
                        if entry not in files:
                            out.append(f"{wname}: config {entry} not in volume {m['name']}")
                            continue
                        kind, cm = files[entry]
                        for inc in state[kind][cm].get("includes", {}).get(entry, []):
                            if inc not in files:
                                out.append(f"{wname}: {entry} (in {cm}) includes {inc}, in no mounted ConfigMap")
    return out
