"""API semantics on top of the store: create, update, patch, delete with the
rules of a real API server (status subresource, generation, finalizers,
owner-reference garbage collection, CRD registration, defaults, validation)."""
import base64
import copy
import datetime
import json
import os
import re
import threading
import uuid

import ks_builtin_schema
import ks_patch
import ks_schema
import ks_ssa
from ks_resources import Registry, resource_from_crd
from ks_store import Entry, Store

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            s["details"] = self.details
        return s


def qualified(res):
    return res.plural if res.group == "" else res.plural + "." + res.group


def kind_qualified(res):
    return res.kind if res.group == "" else res.kind + "." + res.group


def not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(res), name),
                    {"name": name, "group": res.group, "kind": res.plural})


def conflict(res, name, why="the object has been modified; please apply your changes to the latest "
                            "version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (qualified(res), name, why),
                    {"name": name, "group": res.group, "kind": res.plural})


def invalid(res, name, causes):
    msgs = ["%s: %s" % (c["field"], c["message"]) if c.get("field") else c["message"] for c in causes]
    text = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind_qualified(res), name, text),
                    {"name": name, "group": res.group, "kind": res.kind, "causes": causes})


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
GENERATION_GROUPS = {"apps", "policy", "apiextensions.k8s.io"}
WORKLOADS = {("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets"),
             ("apps", "replicasets")}


class Api:
    def __init__(self, history=10000, state_file=None):
        self.store = Store(history)
        self.reg = Registry()
        self.lock = self.store.lock
        self.state_file = state_file
        self.on_commit = []        # callables(type, res_key, obj, old_obj) run after each write
        self.store.listeners.append(self._notify)
        self.warnings = threading.local()
        if state_file and os.path.exists(state_file):
            self.load_state(state_file)
        else:
            with self.lock:
                for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                    self._create_internal(self.reg.get("", "v1", "namespaces"),
                                          {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": ns}})

    def begin_changes(self):
        """Start counting the stored changes this thread makes (see changes())."""
        self.warnings.changes = 0

    def changes(self):
        """Stored changes made by this thread since begin_changes() (not other threads')."""
        return getattr(self.warnings, "changes", 0)

    def _notify(self, type_, key, entry, old):
        self.warnings.changes = getattr(self.warnings, "changes", 0) + 1
        for fn in self.on_commit:
            fn(type_, key, entry.obj, old.obj if old is not None else None)

    # ---------------- state ----------------
    def save_state(self, path=None):
        path = path or self.state_file
        if not path:
            return
        with self.lock:
            snap = self.store.snapshot(ks_ssa.to_json)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(snap, f, separators=(",", ":"))
        os.replace(tmp, path)

    def load_state(self, path):
        with open(path) as f:
            snap = json.load(f)
        with self.lock:
            self.store.rv = int(snap.get("resourceVersion", 1))
            self.store.floor = self.store.rv
            objs = snap.get("objects", [])
            managed = snap.get("managed") or {}
            crds = [o for o in objs if o.get("kind") == "CustomResourceDefinition"]
            for o in crds:
                self._register_crd(o)
            for o in objs:
                r = self.reg.for_kind(o.get("apiVersion", ""), o.get("kind", ""))
                if r is None:
                    continue
                self.store.load(r.key, o, ks_ssa.from_json(managed.get(o["metadata"].get("uid"))))

    def reset_from_state(self):
        """Restart: drop memory, reload the saved state (history is lost)."""
        with self.lock:
            self.save_state()
            if not self.state_file:
                self.store.expire_history()
                return
            snap_rv = self.store.rv
            self.store.buckets.clear()
            self.store.uids.clear()
            self.store.dependents.clear()
            self.reg = Registry()
            self.load_state(self.state_file)
            self.store.rv = max(self.store.rv, snap_rv)
            self.store.expire_history()

    # ---------------- CRDs ----------------
    def _register_crd(self, crd):
        name = crd["metadata"]["name"]
        self.reg.remove_crd(name)
        for v in crd["spec"].get("versions") or []:
            if v.get("served", True):
                self.reg.add(resource_from_crd(crd, v))

    def _crd_causes(self, crd):
        causes = []
        spec = crd.get("spec")
        if not isinstance(spec, dict):
            return [{"reason": "FieldValueRequired", "field": "spec", "message": "Required value"}]
        g = spec.get("group")
        names = spec.get("names") or {}
        if not g:
            causes.append({"reason": "FieldValueRequired", "field": "spec.group", "message": "Required value"})
        for f in ("plural", "kind"):
            if not names.get(f):
                causes.append({"reason": "FieldValueRequired", "field": "spec.names." + f,
                               "message": "Required value"})
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append({"reason": "FieldValueNotSupported", "field": "spec.scope",
                           "message": 'Unsupported value: %s: supported values: "Cluster", "Namespaced"'
                                      % json.dumps(spec.get("scope", ""))})
        vs = spec.get("versions") or []
        if not vs:
            causes.append({"reason": "FieldValueInvalid", "field": "spec.versions",
                           "message": "Invalid value: null: must have exactly one version marked as storage "
                                      "version"})
        elif sum(1 for v in vs if v.get("storage")) != 1:
            causes.append({"reason": "FieldValueInvalid", "field": "spec.versions",
                           "message": "Invalid value: %s: must have exactly one version marked as storage "
                                      "version" % json.dumps(vs)[:80]})
        for i, v in enumerate(vs):
            sch = (v.get("schema") or {}).get("openAPIV3Schema")
            if sch is None:
                causes.append({"reason": "FieldValueRequired",
                               "field": "spec.versions[%d].schema.openAPIV3Schema" % i,
                               "message": "Required value: schemas are required"})
        if g and names.get("plural") and crd["metadata"].get("name") != names["plural"] + "." + g:
            causes.append({"reason": "FieldValueInvalid", "field": "metadata.name",
                           "message": 'Invalid value: "%s": must be spec.names.plural+"."+spec.group'
                                      % crd["metadata"].get("name")})
        return causes

    def _crd_status(self, crd):
        t = now_iso()
        names = dict(crd["spec"]["names"])
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
        crd["status"] = {
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": t},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": t}],
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]}

    # ---------------- defaults ----------------
    def _defaults(self, res, obj):
        k = res.key
        spec = obj.get("spec")
        if k == ("", "namespaces"):
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif k == ("", "secrets"):
            if not obj.get("type"):
                obj["type"] = "Opaque"
            for dk, dv in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(dv if isinstance(dv, str) else "", validate=True)
                    ok = isinstance(dv, str)
                except ValueError:
                    ok = False
                if not ok:
                    raise bad_request("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 "
                                      "data in data[%s]" % json.dumps(dk))
            sd = obj.pop("stringData", None)
            if isinstance(sd, dict):
                d = obj.setdefault("data", {})
                for kk, vv in sd.items():
                    d[kk] = base64.b64encode(str(vv).encode()).decode()
        elif k == ("", "services") and isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                h = abs(hash(obj["metadata"].get("namespace", "") + "/" + obj["metadata"]["name"]))
                ip = "10.96.%d.%d" % ((h >> 8) % 250, h % 250 + 2)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            spec.setdefault("sessionAffinity", "None")
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
                    p.setdefault("targetPort", p.get("port"))
            obj.setdefault("status", {"loadBalancer": {}})
        elif k == ("apps", "deployments") and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            st = spec.setdefault("strategy", {})
            st.setdefault("type", "RollingUpdate")
            if st["type"] == "RollingUpdate":
                ru = st.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
            self._pod_defaults(spec)
        elif k == ("apps", "daemonsets") and isinstance(spec, dict):
            spec.setdefault("revisionHistoryLimit", 10)
            us = spec.setdefault("updateStrategy", {})
            us.setdefault("type", "RollingUpdate")
            if us["type"] == "RollingUpdate":
                ru = us.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", 1)
                ru.setdefault("maxSurge", 0)
            self._pod_defaults(spec)
        elif k == ("apps", "statefulsets") and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("revisionHistoryLimit", 10)
            us = spec.setdefault("updateStrategy", {})
            us.setdefault("type", "RollingUpdate")
            if us["type"] == "RollingUpdate":
                us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
            self._pod_defaults(spec)
        elif k == ("apps", "replicasets") and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
        elif k == ("coordination.k8s.io", "leases"):
            obj.setdefault("spec", {})

    def _pod_defaults(self, spec):
        tpl = spec.get("template")
        if not isinstance(tpl, dict):
            return
        ps = tpl.get("spec")
        if not isinstance(ps, dict):
            return
        ps.setdefault("restartPolicy", "Always")
        ps.setdefault("terminationGracePeriodSeconds", 30)
        ps.setdefault("dnsPolicy", "ClusterFirst")
        ps.setdefault("schedulerName", "default-scheduler")
        ps.setdefault("securityContext", {})
        for c in (ps.get("containers") or []) + (ps.get("initContainers") or []):
            if isinstance(c, dict):
                c.setdefault("terminationMessagePath", "/dev/termination-log")
                c.setdefault("terminationMessagePolicy", "File")
                img = c.get("image", "")
                c.setdefault("imagePullPolicy", "Always" if img.endswith(":latest") or ":" not in
                             img.rsplit("/", 1)[-1] else "IfNotPresent")
                c.setdefault("resources", {})
                for p in c.get("ports") or []:
                    if isinstance(p, dict):
                        p.setdefault("protocol", "TCP")

    def _builtin_causes(self, res, obj):
        k = res.key
        causes = []
        if k in WORKLOADS:
            spec = obj.get("spec")
            if not isinstance(spec, dict):
                return [{"reason": "FieldValueRequired", "field": "spec", "message": "Required value"}]
            sel = spec.get("selector")
            if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
                causes.append({"reason": "FieldValueRequired", "field": "spec.selector",
                               "message": "Required value"})
            tpl = spec.get("template") or {}
            labels = (tpl.get("metadata") or {}).get("labels") or {}
            for lk, lv in ((sel or {}).get("matchLabels") or {}).items():
                if labels.get(lk) != lv:
                    causes.append({"reason": "FieldValueInvalid", "field": "spec.template.metadata.labels",
                                   "message": "Invalid value: %s: `selector` does not match template `labels`"
                                              % json.dumps(labels)})
                    break
            conts = ((tpl.get("spec") or {}).get("containers"))
            if not conts:
                causes.append({"reason": "FieldValueRequired", "field": "spec.template.spec.containers",
                               "message": "Required value"})
            else:
                for i, c in enumerate(conts):
                    if not isinstance(c, dict) or not c.get("name"):
                        causes.append({"reason": "FieldValueRequired",
                                       "field": "spec.template.spec.containers[%d].name" % i,
                                       "message": "Required value"})
                    elif not c.get("image"):
                        causes.append({"reason": "FieldValueRequired",
                                       "field": "spec.template.spec.containers[%d].image" % i,
                                       "message": "Required value"})
        if k in (("", "configmaps"), ("", "secrets")):
            for f in ("data", "binaryData", "stringData"):
                for dk in (obj.get(f) or {}):
                    if not dk or len(dk) > 253 or not CONFIG_KEY.match(dk) or dk in (".", ".."):
                        causes.append({"reason": "FieldValueInvalid", "field": "%s[%s]" % (f, dk),
                                       "message": "Invalid value: %s: a valid config key must consist of "
                                                  "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                                                  "'KEY_NAME',  or 'key-name', regex used for validation is "
                                                  "'[-._a-zA-Z0-9]+')" % json.dumps(dk)})
        if k == ("", "services"):
            causes += [dict(c, message=c["message"].replace("RFC 1123 label", "RFC 1035 label"))
                       for c in ks_schema.name_causes(obj["metadata"].get("name", ""), label_only=True)]
            if not causes and not DNS1035.match(obj["metadata"].get("name", "")):
                causes.append({"reason": "FieldValueInvalid", "field": "metadata.name",
                               "message": "Invalid value: %s: a DNS-1035 label must consist of lower case "
                                          "alphanumeric characters or '-', start with an alphabetic character, "
                                          "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                                          "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                                          % json.dumps(obj["metadata"].get("name", ""))})
        if k == ("", "configmaps"):
            total = sum(len(str(v)) for v in (obj.get("data") or {}).values()) + \
                sum(len(str(v)) * 3 // 4 for v in (obj.get("binaryData") or {}).values())
            if total > 1048576:
                causes.append({"reason": "FieldValueTooLong", "field": "",
                               "message": "Too long: must have at most 1048576 bytes"})
        elif k == ("", "secrets"):
            # as a real API server: keys plus decoded values at most 1 MiB
            total = 0
            for dk, dv in (obj.get("data") or {}).items():
                try:
                    total += len(dk) + len(base64.b64decode(dv if isinstance(dv, str) else ""))
                except ValueError:
                    total += len(dk)
            total += sum(len(dk) + len(str(dv).encode()) for dk, dv in (obj.get("stringData") or {}).items())
            if total > 1048576:
                causes.append({"reason": "FieldValueTooLong", "field": "data",
                               "message": "Too long: must have at most 1048576 bytes"})
        elif k in (("rbac.authorization.k8s.io", "rolebindings"),
                   ("rbac.authorization.k8s.io", "clusterrolebindings")):
            rr = obj.get("roleRef")
            if not isinstance(rr, dict) or not rr.get("name") or not rr.get("kind"):
                causes.append({"reason": "FieldValueRequired", "field": "roleRef", "message": "Required value"})
        elif k == ("coordination.k8s.io", "leases"):
            spec = obj.get("spec") or {}
            for f in ("leaseDurationSeconds", "leaseTransitions"):
                if f in spec and not isinstance(spec[f], int):
                    causes.append({"reason": "FieldValueTypeInvalid", "field": "spec." + f,
                                   "message": "Invalid value: %s: must be an integer" % json.dumps(spec[f])})
        return causes

    # ---------------- internals ----------------
    def _check_namespace(self, res, ns, creating=True):
        if not res.namespaced:
            return
        e = self.store.get(("", "namespaces"), "", ns)
        if e is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        if creating and e.obj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", "%s \"%s\" is forbidden: unable to create new content in namespace "
                                             "%s because it is being terminated" % (qualified(res), "", ns),
                           {"kind": res.plural, "causes": [{"reason": "NamespaceTerminating",
                                                            "message": "namespace %s is being terminated" % ns,
                                                            "field": "metadata.namespace"}]})

    def _validate(self, res, obj, name, opts):
        """Schema validation for CRs, light checks for built-ins. Raises ApiError."""
        causes = []
        md = obj.get("metadata") or {}
        if res.key == ("", "namespaces"):
            causes += ks_schema.name_causes(name, label_only=True)
        elif res.key != ("", "events"):
            causes += ks_schema.name_causes(name)
        causes += ks_schema.label_causes(md.get("labels"))
        if not isinstance(md.get("annotations", {}), dict) or any(
                not isinstance(v, str) for v in (md.get("annotations") or {}).values()):
            causes.append({"reason": "FieldValueInvalid", "field": "metadata.annotations",
                           "message": "Invalid value: annotations must be a map of strings"})
        unknown = []
        if isinstance(md, dict):
            w = ks_schema._Walk()
            w.walk(ks_builtin_schema.OBJECT_META, md, "metadata")
            unknown += w.unknown
        if res.schema is not None:
            sc, unk = ks_schema.validate(res.schema, obj)
            causes += sc
            unknown += unk
        elif res.key in ks_builtin_schema.SCHEMAS:
            # built-ins: only unknown fields matter (a real decoder drops them)
            unknown += ks_schema.validate(ks_builtin_schema.SCHEMAS[res.key], obj)[1]
        fv = (opts.get("fieldValidation") or "Warn")
        if unknown:
            if fv == "Strict":
                raise ApiError(400, "BadRequest", "%s in version \"%s\" cannot be handled as a %s: strict "
                               "decoding error: %s" % (res.kind, res.version, res.kind, ", ".join(
                                   'unknown field "%s"' % u for u in unknown)),
                               {"causes": [{"reason": "FieldValueInvalid", "field": u,
                                            "message": 'unknown field "%s"' % u} for u in unknown]})
            if fv == "Warn":
                w = getattr(self.warnings, "list", None)
                if w is not None:
                    w.extend('unknown field "%s"' % u for u in unknown)
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            causes += self._crd_causes(obj)
        elif res.schema is None:
            causes += self._builtin_causes(res, obj)
        if causes:
            raise invalid(res, name, causes)

    def _uses_generation(self, res):
        return not res.builtin or res.group in GENERATION_GROUPS

    @staticmethod
    def _spec_of(res, obj):
        if res.builtin:
            return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
        if res.status:
            return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
        return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}

    def _out(self, res, obj):
        """Object as served through res (apiVersion of the requested version)."""
        if obj.get("apiVersion") != res.api_version:
            obj = dict(obj)
            obj["apiVersion"] = res.api_version
        return obj

    # ---------------- create ----------------
    def create(self, res, ns, body, opts, subresource=None):
        if subresource:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                    "requested resource")
        with self.lock:
            return self._create(res, ns, body, opts)

    def _create_internal(self, res, body):
        return self._create(res, body.get("metadata", {}).get("namespace", ""), body, {"internal": True})

    def _create(self, res, ns, body, opts):
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not an object")
        obj = copy.deepcopy(body)
        applied = copy.deepcopy(body) if opts.get("op") == "Apply" else None
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if av and av != res.api_version:
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                              % (av, res.api_version))
        if kind and kind != res.kind:
            raise bad_request("the kind in the data (%s) does not match the expected kind (%s)" % (kind, res.kind))
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        md = obj.get("metadata")
        if not isinstance(md, dict):
            md = obj["metadata"] = {}
        if res.namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on "
                                  "the request")
            ns = ns or md.get("namespace") or "default"
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
            ns = ""
        name = md.get("name")
        if not name:
            gn = md.get("generateName")
            if not gn:
                raise invalid(res, "", [{"reason": "FieldValueRequired", "field": "metadata.name",
                                         "message": "Required value: name or generateName is required"}])
            name = gn + uuid.uuid4().hex[:5]
            md["name"] = name
        self._check_namespace(res, ns)
        if md.get("resourceVersion") and applied is None and not opts.get("internal"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        for f in ("managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                  "resourceVersion"):
            md.pop(f, None)
        if res.status and res.key not in (("", "namespaces"), ("", "services")):
            obj.pop("status", None)
        self._defaults(res, obj)
        self._validate(res, obj, name, opts)
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._crd_status(obj)
        if self.store.get(res.key, ns, name) is not None:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(res), name),
                           {"name": name, "group": res.group, "kind": res.plural})
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_iso()
        if self._uses_generation(res):
            md["generation"] = 1
        else:
            md.pop("generation", None)
        if opts.get("dryRun"):
            return self._out(res, obj)
        manager = opts.get("fieldManager") or "kubesim"
        if applied is not None:
            managed = {manager: {"operation": "Apply", "apiVersion": res.api_version,
                                 "fields": set(ks_ssa.leaves(applied, res.schema, res.builtin, res.status))}}
        else:
            managed = ks_ssa.update(None, obj, {}, manager, res.api_version, res.schema, res.builtin, res.status)
        md["resourceVersion"] = str(self.store.next_rv())
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._register_crd(obj)
        self.store.put(res.key, obj, "ADDED", managed)
        return self._out(res, obj)

    # ---------------- update ----------------
    def update(self, res, ns, name, body, opts, subresource=None, precondition=True):
        with self.lock:
            old = self.store.get(res.key, ns, name)
            if old is None:
                raise not_found(res, name)
            return self._update(res, ns, name, old, body, opts, subresource, precondition)

    def _update(self, res, ns, name, old, body, opts, subresource, precondition=True):
        if not isinstance(body, dict):
            raise bad_request("the body of the request was not an object")
        oldo = old.obj
        omd = oldo["metadata"]
        bmd = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        if bmd.get("name") and bmd["name"] != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                              % (bmd["name"], name))
        if res.namespaced and bmd.get("namespace") and bmd["namespace"] != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                              "request")
        av, kind = body.get("apiVersion"), body.get("kind")
        if av and av != res.api_version:
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                              % (av, res.api_version))
        if kind and kind != res.kind:
            raise bad_request("the kind in the data (%s) does not match the expected kind (%s)" % (kind, res.kind))
        if precondition and bmd.get("resourceVersion") and bmd["resourceVersion"] != omd["resourceVersion"]:
            raise conflict(res, name)
        if subresource == "status":
            if not res.status:
                raise not_found(res, name)
            obj = copy.deepcopy(oldo)
            if "status" in body:
                obj["status"] = copy.deepcopy(body["status"])
            else:
                obj.pop("status", None)
        elif subresource is not None:
            raise not_found(res, name)
        else:
            obj = copy.deepcopy(body)
            md = obj.setdefault("metadata", {})
            if not isinstance(md, dict):
                md = obj["metadata"] = {}
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation"):
                if f in omd:
                    md[f] = omd[f]
                else:
                    md.pop(f, None)
            md["name"] = name
            if res.namespaced:
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            md.pop("managedFields", None)   # the server's own, from the field ownership
            if "managedFields" in omd:
                md["managedFields"] = omd["managedFields"]   # so a no-op write compares equal
            md.pop("selfLink", None)
            if res.status:
                if "status" in oldo:
                    obj["status"] = copy.deepcopy(oldo["status"])
                else:
                    obj.pop("status", None)
            self._defaults(res, obj)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        md = obj["metadata"]
        if omd.get("deletionTimestamp"):
            added = set(md.get("finalizers") or []) - set(omd.get("finalizers") or [])
            if added:
                raise ApiError(422, "Invalid", '%s "%s" is invalid: metadata.finalizers: Forbidden: no new '
                               'finalizers can be added if the object is being deleted, found new finalizers %s'
                               % (kind_qualified(res), name, json.dumps(sorted(added))),
                               {"name": name, "group": res.group, "kind": res.kind, "causes": [
                                   {"reason": "FieldValueForbidden", "field": "metadata.finalizers",
                                    "message": "Forbidden: no new finalizers can be added if the object is "
                                               "being deleted"}]})
        self._validate(res, obj, name, opts)
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            obj["status"] = copy.deepcopy(oldo.get("status") or {})
            self._crd_status(obj)
            obj["status"]["conditions"] = oldo.get("status", {}).get("conditions", obj["status"]["conditions"])
        if self._uses_generation(res) and self._spec_of(res, obj) != self._spec_of(res, oldo):
            md["generation"] = int(omd.get("generation") or 1) + 1
        md["resourceVersion"] = omd["resourceVersion"]
        managed = opts.get("_managed")
        if managed is None:
            managed = ks_ssa.update(oldo, obj, old.managed, opts.get("fieldManager") or "kubesim",
                                    res.api_version, res.schema, res.builtin, res.status)
        if obj == oldo:
            if not opts.get("dryRun"):
                old.managed = managed      # ownership is not served: no new resourceVersion for it
            return self._out(res, oldo)
        if opts.get("dryRun"):
            return self._out(res, obj)
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            md["resourceVersion"] = str(self.store.next_rv())
            self._finish_delete(res, obj)
            return self._out(res, obj)
        md["resourceVersion"] = str(self.store.next_rv())
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._register_crd(obj)
        self.store.put(res.key, obj, "MODIFIED", managed)
        return self._out(res, obj)

    # ---------------- patch ----------------
    PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                   "application/strategic-merge-patch+json", "application/apply-patch+yaml",
                   "application/apply-patch+cbor")

    def patch(self, res, ns, name, ctype, raw, opts, subresource=None):
        ctype = (ctype or "").split(";")[0].strip()
        if ctype not in self.PATCH_TYPES or (ctype == "application/strategic-merge-patch+json"
                                             and not res.builtin):
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml" +
                           (", application/strategic-merge-patch+json" if res.builtin else ""))
        try:
            if ctype == "application/apply-patch+yaml":
                text = raw.decode("utf-8")
                patch = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
            else:
                patch = json.loads(raw.decode("utf-8") or "null")
        except Exception as e:  # noqa: BLE001 - any decode failure is the client's
            raise bad_request("error decoding patch: %s" % e)
        with self.lock:
            old = self.store.get(res.key, ns, name)
            if ctype == "application/apply-patch+yaml":
                if not isinstance(patch, dict):
                    raise bad_request("error decoding YAML: apply patch must be an object")
                if not opts.get("explicitManager"):
                    raise bad_request("PATCH requests with the apply content type require a fieldManager")
                if old is None:
                    if subresource:
                        raise not_found(res, name)
                    body = copy.deepcopy(patch)
                    md = body.setdefault("metadata", {})
                    pmd = md.get("name")
                    if pmd and pmd != name:
                        raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                          % (pmd, name))
                    md["name"] = name
                    created = self._create(res, ns, body, dict(opts, op="Apply"))
                    return created, 201
                if subresource == "status":
                    patch = {"status": patch.get("status")} if "status" in patch else {}
                try:
                    patched, managed = ks_ssa.apply(old.obj, patch, old.managed, opts["fieldManager"],
                                                    res.api_version, opts.get("force"), res.schema, res.builtin,
                                                    res.status and subresource != "status")
                except ks_ssa.Conflict as c:
                    raise ApiError(409, "Conflict", ks_ssa.conflict_message(c.conflicts), {
                        "name": name, "group": res.group, "kind": res.plural,
                        "causes": [{"reason": "FieldManagerConflict",
                                    "message": 'conflict with "%s" using %s' % (m, av),
                                    "field": ks_ssa.fmt_path(p)} for m, av, p in c.conflicts]})
                opts = dict(opts, _managed=managed)
            else:
                if old is None:
                    raise not_found(res, name)
                try:
                    if ctype == "application/json-patch+json":
                        patched = ks_patch.json_patch(old.obj, patch)
                    elif ctype == "application/merge-patch+json":
                        patched = ks_patch.merge_patch(old.obj, patch)
                    else:
                        patched = ks_patch.strategic_merge(old.obj, patch)
                except ks_patch.PatchError as e:
                    raise ApiError(422, "Invalid", str(e)) if ctype == "application/json-patch+json" \
                        else bad_request(str(e))
            if not isinstance(patched, dict):
                raise bad_request("patch did not produce an object")
            pmd = patched.get("metadata") if isinstance(patched.get("metadata"), dict) else {}
            prv = pmd.get("resourceVersion")
            if prv and prv != old.obj["metadata"]["resourceVersion"]:
                raise conflict(res, name)
            return self._update(res, ns, name, old, patched, opts, subresource, precondition=False), 200

    # ---------------- scale subresource (built-in workloads) ----------------
    @staticmethod
    def _scale_of(obj):
        md = obj["metadata"]
        sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in md},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}

    def get_scale(self, res, ns, name):
        return self._scale_of(self.get(res, ns, name).obj)

    def update_scale(self, res, ns, name, body, patch_type, opts):
        """PUT (body is a Scale dict, patch_type None) or PATCH (body is raw bytes) of /scale."""
        with self.lock:
            old = self.store.get(res.key, ns, name)
            if old is None:
                raise not_found(res, name)
            cur = self._scale_of(old.obj)
            if patch_type is None:
                scale = body
            else:
                ct = patch_type.split(";")[0].strip()
                try:
                    p = json.loads(body.decode() or "null")
                    if ct == "application/json-patch+json":
                        scale = ks_patch.json_patch(cur, p)
                    elif ct in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                        scale = ks_patch.merge_patch(cur, p)
                    else:
                        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                                                                    "format")
                except (ValueError, ks_patch.PatchError) as e:
                    raise bad_request("error decoding patch: %s" % e)
            if not isinstance(scale, dict):
                raise bad_request("the body of the request was not an object")
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old.obj["metadata"]["resourceVersion"]:
                raise conflict(res, name)
            n = (scale.get("spec") or {}).get("replicas")
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ApiError(422, "Invalid", 'Scale.autoscaling "%s" is invalid: spec.replicas: Invalid value: '
                                               '%s: must be greater than or equal to 0' % (name, json.dumps(n)),
                               {"name": name, "group": "autoscaling", "kind": "Scale",
                                "causes": [{"reason": "FieldValueInvalid", "field": "spec.replicas",
                                            "message": "Invalid value: %s: must be greater than or equal to 0"
                                                       % json.dumps(n)}]})
            body2 = copy.deepcopy(old.obj)
            body2.setdefault("spec", {})["replicas"] = n
            out = self._update(res, ns, name, old, body2, opts, None, precondition=False)
            return self._scale_of(out)

    # ---------------- delete ----------------
    def delete(self, res, ns, name, opts):
        with self.lock:
            old = self.store.get(res.key, ns, name)
            if old is None:
                raise not_found(res, name)
            return self._delete(res, old, opts)

    def _delete(self, res, old, opts):
        oldo = old.obj
        omd = oldo["metadata"]
        name = omd["name"]
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != omd.get("uid"):
            raise conflict(res, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                           % (pre["uid"], omd.get("uid")))
        if pre.get("resourceVersion") and pre["resourceVersion"] != omd.get("resourceVersion"):
            raise conflict(res, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                      "ResourceVersion in object meta: %s"
                           % (pre["resourceVersion"], omd.get("resourceVersion")))
        if opts.get("dryRun"):
            return self._out(res, oldo)
        policy = opts.get("propagationPolicy")
        if policy is None and opts.get("orphanDependents") is True:
            policy = "Orphan"
        obj = copy.deepcopy(oldo)
        md = obj["metadata"]
        fins = list(md.get("finalizers") or [])
        if policy == "Orphan" and "orphan" not in fins and self.store.dependents.get(omd.get("uid")):
            fins.append("orphan")
        if policy == "Foreground" and "foregroundDeletion" not in fins and \
                self.store.dependents.get(omd.get("uid")):
            fins.append("foregroundDeletion")
        if res.key == ("", "namespaces"):
            if not md.get("deletionTimestamp"):
                md["deletionTimestamp"] = now_iso()
                md["deletionGracePeriodSeconds"] = 0
                obj.setdefault("status", {})["phase"] = "Terminating"
                md["resourceVersion"] = str(self.store.next_rv())
                self.store.put(res.key, obj, "MODIFIED", old.managed)
            return self._out(res, obj)
        if fins:
            if md.get("deletionTimestamp") and fins == list(omd.get("finalizers") or []):
                return self._out(res, oldo)
            md["finalizers"] = fins
            md.setdefault("deletionTimestamp", now_iso())
            md.setdefault("deletionGracePeriodSeconds", 0)
            md["resourceVersion"] = str(self.store.next_rv())
            self.store.put(res.key, obj, "MODIFIED", old.managed)
            return self._out(res, obj)
        md["resourceVersion"] = str(self.store.next_rv())
        md.setdefault("deletionTimestamp", now_iso())
        md.setdefault("deletionGracePeriodSeconds", 0)
        self._finish_delete(res, obj)
        return self._out(res, obj)

    def _finish_delete(self, res, obj):
        self.store.remove(res.key, obj)
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            spec = obj["spec"]
            key = (spec["group"], spec["names"]["plural"])
            for e in self.store.items(key):
                o = copy.deepcopy(e.obj)
                o["metadata"]["resourceVersion"] = str(self.store.next_rv())
                self.store.remove(key, o)
            self.store.buckets.pop(key, None)
            self.reg.remove_crd(obj["metadata"]["name"])

    def internal_delete(self, key, ns, name, policy="Background"):
        """Used by the garbage collector and namespace cleanup (caller holds the lock)."""
        res = self.reg.storage_resource(key)
        e = self.store.get(key, ns, name)
        if res is None or e is None:
            return
        try:
            self._delete(res, e, {"propagationPolicy": policy})
        except ApiError:
            pass

    # ---------------- reads ----------------
    def get(self, res, ns, name):
        with self.lock:
            e = self.store.get(res.key, ns, name)
        if e is None:
            raise not_found(res, name)
        return e

    def entry_out(self, res, e):
        if e.obj.get("apiVersion") == res.api_version:
            return e
        return Entry(self._out(res, e.obj))


def encode_continue(rv, ns, name):
    return base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": [ns, name]})
                                    .encode()).decode().rstrip("=")


def decode_continue(tok):
    try:
        pad = "=" * (-len(tok) % 4)
        d = json.loads(base64.urlsafe_b64decode(tok + pad))
        return int(d["rv"]), tuple(d["start"])
    except Exception:  # noqa: BLE001
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                          "(version meta.k8s.io/v1)")
