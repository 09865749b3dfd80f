"""Background controllers of kubesim: the fake workload controller (Deployment
-> ReplicaSet, DaemonSet/StatefulSet/Deployment status convergence), the
owner-reference garbage collector and namespace cleanup.

The annotation kubesim.logplane.io/hold-unready: "true" on a workload keeps it
unready (observedGeneration is still written, ready counts stay 0)."""
import copy
import heapq
import json
import threading
import time

from ks_api import now_iso

HOLD = "kubesim.logplane.io/hold-unready"
CTL = {"fieldManager": "kubesim-controller"}
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(tpl):
    h = _fnv32a(json.dumps(tpl, sort_keys=True, separators=(",", ":")).encode())
    return "".join(_SAFE[int(c) % len(_SAFE)] for c in str(h))[:10]


class Controller:
    def __init__(self, api, nodes=1, delay=0.1):
        self.api = api
        self.nodes = nodes
        self.delay = delay
        self.cv = threading.Condition()
        self.heap = []
        self.seq = 0
        self.pending = set()
        self.stopped = False
        api.on_commit.append(self._on_commit)
        self.thread = threading.Thread(target=self._run, name="kubesim-controller", daemon=True)
        self.thread.start()

    def stop(self):
        with self.cv:
            self.stopped = True
            self.cv.notify()

    def enqueue(self, task, delay=0.0):
        with self.cv:
            if task in self.pending:
                return
            self.pending.add(task)
            self.seq += 1
            heapq.heappush(self.heap, (time.monotonic() + delay, self.seq, task))
            self.cv.notify()

    def _on_commit(self, type_, key, obj, old):
        md = obj.get("metadata") or {}
        ns, name = md.get("namespace", ""), md.get("name")
        if key in (("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets")) \
                and type_ != "DELETED":
            self.enqueue(("workload", key, ns, name), self.delay)
        if key == ("apps", "replicasets") and type_ != "DELETED":
            for o in md.get("ownerReferences") or []:
                if o.get("kind") == "Deployment" and o.get("controller"):
                    self.enqueue(("workload", ("apps", "deployments"), ns, o.get("name")), self.delay)
        if type_ == "DELETED" and md.get("uid"):
            self.enqueue(("gc", md["uid"], "Background"))
        fins = md.get("finalizers") or []
        if type_ == "MODIFIED" and md.get("deletionTimestamp"):
            if "foregroundDeletion" in fins:
                self.enqueue(("gc", md["uid"], "Foreground"))
            if "orphan" in fins:
                self.enqueue(("gc", md["uid"], "Orphan"))
        if key == ("", "namespaces") and md.get("deletionTimestamp") and type_ != "DELETED":
            self.enqueue(("ns", name))
        if ns and type_ == "DELETED":
            e = self.api.store.get(("", "namespaces"), "", ns)
            if e is not None and e.obj["metadata"].get("deletionTimestamp"):
                self.enqueue(("ns", ns))
        if md.get("ownerReferences") and type_ == "ADDED":
            # a dependent created after its owner is gone is collected too
            for o in md["ownerReferences"]:
                if o.get("uid") and o["uid"] not in self.api.store.uids:
                    self.enqueue(("gc", o["uid"], "Background"), 0.5)

    def _run(self):
        while True:
            with self.cv:
                while not self.stopped and (not self.heap or self.heap[0][0] > time.monotonic()):
                    timeout = None if not self.heap else max(0.0, self.heap[0][0] - time.monotonic())
                    self.cv.wait(timeout)
                if self.stopped:
                    return
                _, _, task = heapq.heappop(self.heap)
                self.pending.discard(task)
            try:
                with self.api.lock:
                    self._do(task)
            except Exception as e:  # noqa: BLE001 - a controller never dies
                import sys
                print("kubesim: controller task %r failed: %s" % (task, e), file=sys.stderr)

    def _do(self, task):
        kind = task[0]
        if kind == "workload":
            _, key, ns, name = task
            e = self.api.store.get(key, ns, name)
            if e is None or e.obj["metadata"].get("deletionTimestamp"):
                return
            getattr(self, "_" + key[1])(e.obj)
        elif kind == "gc":
            self._gc(task[1], task[2])
        elif kind == "ns":
            self._ns(task[1])

    # ---------------- status writes ----------------
    def _write_status(self, key, obj, status):
        if obj.get("status") == status:
            return
        res = self.api.reg.storage_resource(key)
        md = obj["metadata"]
        e = self.api.store.get(key, md.get("namespace", ""), md["name"])
        body = copy.deepcopy(e.obj)
        body["status"] = status
        self.api._update(res, md.get("namespace", ""), md["name"], e, body, CTL, "status", precondition=False)

    @staticmethod
    def _held(obj):
        return (obj["metadata"].get("annotations") or {}).get(HOLD) == "true"

    def _deployments(self, d):
        api = self.api
        md, spec = d["metadata"], d.get("spec") or {}
        ns = md.get("namespace", "")
        n = int(spec.get("replicas", 1))
        held = self._held(d)
        tpl = copy.deepcopy(spec.get("template") or {})
        h = template_hash(tpl)
        tpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        sel = copy.deepcopy(spec.get("selector") or {})
        sel.setdefault("matchLabels", {})["pod-template-hash"] = h
        rs_res = api.reg.get("apps", "v1", "replicasets")
        rs_key = ("apps", "replicasets")
        rs_name = "%s-%s" % (md["name"], h)
        owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": md["name"], "uid": md["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        # old ReplicaSets scale to zero
        for dep in list(api.store.dependents.get(md["uid"], ())):
            if dep[0] != rs_key or dep[2] == rs_name:
                continue
            e = api.store.get(rs_key, dep[1], dep[2])
            if e is not None and (e.obj.get("spec") or {}).get("replicas", 0) != 0:
                body = copy.deepcopy(e.obj)
                body["spec"]["replicas"] = 0
                api._update(rs_res, dep[1], dep[2], e, body, CTL, None, precondition=False)
                e = api.store.get(rs_key, dep[1], dep[2])
                self._write_status(rs_key, e.obj, {"replicas": 0, "observedGeneration":
                                                   e.obj["metadata"].get("generation", 1)})
        e = api.store.get(rs_key, ns, rs_name)
        rev = str(int((md.get("annotations") or {}).get("deployment.kubernetes.io/revision", "0")) or 1)
        if e is None:
            rev = str(1 + sum(1 for dep in api.store.dependents.get(md["uid"], ()) if dep[0] == rs_key))
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": rs_name, "namespace": ns,
                               "labels": dict(tpl["metadata"]["labels"]),
                               "annotations": {"deployment.kubernetes.io/desired-replicas": str(n),
                                               "deployment.kubernetes.io/max-replicas": str(n),
                                               "deployment.kubernetes.io/revision": rev},
                               "ownerReferences": [owner]},
                  "spec": {"replicas": n, "selector": sel, "template": tpl}}
            api._create(rs_res, ns, rs, CTL)
            e = api.store.get(rs_key, ns, rs_name)
        elif (e.obj.get("spec") or {}).get("replicas") != n:
            body = copy.deepcopy(e.obj)
            body["spec"]["replicas"] = n
            api._update(rs_res, ns, rs_name, e, body, CTL, None, precondition=False)
            e = api.store.get(rs_key, ns, rs_name)
        revs = []
        for dep in api.store.dependents.get(md["uid"], ()):
            o = api.store.get(*dep) if dep[0] == rs_key else None
            if o is not None and dep[2] != rs_name:
                revs.append(int((o.obj["metadata"].get("annotations") or {}).get(
                    "deployment.kubernetes.io/revision", "0") or 0))
        cur = int((e.obj["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0") or 0)
        if revs and cur <= max(revs):
            body = copy.deepcopy(e.obj)
            body["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(max(revs) + 1)
            api._update(rs_res, ns, rs_name, e, body, CTL, None, precondition=False)
            e = api.store.get(rs_key, ns, rs_name)
        rsmd = e.obj["metadata"]
        ready = 0 if held else n
        rs_status = {"replicas": n, "fullyLabeledReplicas": n, "observedGeneration": rsmd.get("generation", 1)}
        if ready:
            rs_status["readyReplicas"] = ready
            rs_status["availableReplicas"] = ready
        self._write_status(rs_key, e.obj, rs_status)
        rev = (rsmd.get("annotations") or {}).get("deployment.kubernetes.io/revision", "1")
        if (md.get("annotations") or {}).get("deployment.kubernetes.io/revision") != rev:
            dres = api.reg.get("apps", "v1", "deployments")
            body = copy.deepcopy(d)
            body["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = rev
            api._update(dres, ns, md["name"], api.store.get(("apps", "deployments"), ns, md["name"]), body, CTL,
                        None, precondition=False)
            d = api.store.get(("apps", "deployments"), ns, md["name"]).obj
        old = d.get("status") or {}
        t = now_iso()

        def cond(type_, status, reason, message):
            for c in old.get("conditions") or []:
                if c.get("type") == type_ and c.get("status") == status and c.get("reason") == reason:
                    return c
            return {"type": type_, "status": status, "lastUpdateTime": t, "lastTransitionTime": t,
                    "reason": reason, "message": message}
        status = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": n,
                  "updatedReplicas": n}
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        else:
            status["unavailableReplicas"] = n
        status["conditions"] = [
            cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            if not held else
            cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum "
                                                                      "availability."),
            cond("Progressing", "True", "NewReplicaSetAvailable",
                 'ReplicaSet "%s" has successfully progressed.' % rs_name) if not held else
            cond("Progressing", "True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % rs_name)]
        self._write_status(("apps", "deployments"), d, status)

    def _daemonsets(self, ds):
        n = self.nodes
        held = self._held(ds)
        status = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberMisscheduled": 0,
                  "numberReady": 0 if held else n, "observedGeneration": ds["metadata"].get("generation", 1),
                  "updatedNumberScheduled": n}
        if held:
            status["numberUnavailable"] = n
        else:
            status["numberAvailable"] = n
        self._write_status(("apps", "daemonsets"), ds, status)

    def _statefulsets(self, sts):
        spec = sts.get("spec") or {}
        n = int(spec.get("replicas", 1))
        held = self._held(sts)
        rev = "%s-%s" % (sts["metadata"]["name"], template_hash(spec.get("template") or {}))
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": n,
                  "currentReplicas": n, "updatedReplicas": n, "currentRevision": rev, "updateRevision": rev,
                  "collisionCount": 0}
        if not held:
            status["readyReplicas"] = n
            status["availableReplicas"] = n
        else:
            status["availableReplicas"] = 0
        self._write_status(("apps", "statefulsets"), sts, status)

    # ---------------- garbage collection ----------------
    def _gc(self, owner_uid, policy):
        api = self.api
        st = api.store
        deps = list(st.dependents.get(owner_uid, ()))
        owner_ref = st.uids.get(owner_uid)
        owner = st.get(*owner_ref) if owner_ref else None
        if policy == "Background" and owner is not None:
            return
        for key, ns, name in deps:
            e = st.get(key, ns, name)
            if e is None:
                continue
            refs = e.obj["metadata"].get("ownerReferences") or []
            if policy == "Orphan":
                self._drop_ref(key, e, owner_uid)
                continue
            alive = [r for r in refs if r.get("uid") != owner_uid and r.get("uid") in st.uids]
            if alive:
                self._drop_ref(key, e, owner_uid)
            else:
                api.internal_delete(key, ns, name, "Foreground" if policy == "Foreground" else "Background")
        if owner is not None and policy in ("Foreground", "Orphan"):
            fin = "foregroundDeletion" if policy == "Foreground" else "orphan"
            remaining = [d for d in st.dependents.get(owner_uid, ()) if st.get(*d) is not None]
            if policy == "Foreground" and remaining:
                self.enqueue(("gc", owner_uid, policy), 0.2)
                return
            res = api.reg.storage_resource(owner_ref[0])
            body = copy.deepcopy(owner.obj)
            body["metadata"]["finalizers"] = [f for f in body["metadata"].get("finalizers", []) if f != fin]
            api._update(res, owner_ref[1], owner_ref[2], owner, body, CTL, None, precondition=False)

    def _drop_ref(self, key, e, owner_uid):
        res = self.api.reg.storage_resource(key)
        body = copy.deepcopy(e.obj)
        body["metadata"]["ownerReferences"] = [r for r in body["metadata"].get("ownerReferences") or []
                                               if r.get("uid") != owner_uid]
        if not body["metadata"]["ownerReferences"]:
            del body["metadata"]["ownerReferences"]
        md = e.obj["metadata"]
        self.api._update(res, md.get("namespace", ""), md["name"], e, body, CTL, None, precondition=False)

    def _ns(self, name):
        api = self.api
        st = api.store
        e = st.get(("", "namespaces"), "", name)
        if e is None or not e.obj["metadata"].get("deletionTimestamp"):
            return
        left = 0
        for key in list(st.buckets.keys()):
            if key == ("", "namespaces"):
                continue
            for ent in st.items(key, name):
                left += 1
                if not ent.obj["metadata"].get("deletionTimestamp"):
                    api.internal_delete(key, name, ent.obj["metadata"]["name"])
        if left and any(st.items(k, name) for k in list(st.buckets.keys()) if k != ("", "namespaces")):
            return
        obj = copy.deepcopy(e.obj)
        obj["metadata"]["resourceVersion"] = str(st.next_rv())
        st.remove(("", "namespaces"), obj)
