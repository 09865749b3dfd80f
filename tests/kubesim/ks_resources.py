"""Resource registry: built-in kinds and the kinds defined by CRDs.

A Resource describes one REST collection (group, version, plural) and what
kubesim knows about it: kind, scope, short names, subresources, the structural
schema (CRDs) and the printer columns used for Tables.
"""

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class Resource:
    def __init__(self, group, version, kind, plural, singular=None, namespaced=True,
                 short=(), categories=(), status=False, scale=False, columns=None,
                 schema=None, crd_name=None, storage_version=None, verbs=None):
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.singular = singular or kind.lower()
        self.namespaced = namespaced
        self.short = list(short)
        self.categories = list(categories)
        self.status = status
        self.scale = scale
        # columns: list of dicts {name, type, format, description, priority, jsonPath}
        self.columns = columns
        self.schema = schema
        self.crd_name = crd_name
        self.storage_version = storage_version or version
        self.verbs = list(verbs or ALL_VERBS)

    @property
    def key(self):
        """Storage bucket: every version of one group/plural shares it."""
        return (self.group, self.plural)

    @property
    def api_version(self):
        return self.version if self.group == "" else self.group + "/" + self.version

    @property
    def gv(self):
        return (self.group, self.version)

    @property
    def builtin(self):
        return self.crd_name is None


def _col(name, json_path, type_="string", priority=0, description="", fmt=""):
    return {"name": name, "type": type_, "format": fmt, "description": description,
            "priority": priority, "jsonPath": json_path}


AGE = _col("Age", ".metadata.creationTimestamp", "date")

BUILTINS = [
    Resource("", "v1", "Namespace", "namespaces", namespaced=False, short=["ns"], status=True,
             columns=[_col("Status", ".status.phase"), AGE]),
    Resource("", "v1", "ConfigMap", "configmaps", short=["cm"],
             columns=[_col("Data", ".data", "integer", fmt="count"), AGE]),
    Resource("", "v1", "Secret", "secrets",
             columns=[_col("Type", ".type"), _col("Data", ".data", "integer", fmt="count"), AGE]),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", short=["sa"], columns=[AGE]),
    Resource("", "v1", "Service", "services", short=["svc"], categories=["all"], status=True,
             columns=[_col("Type", ".spec.type"), _col("Cluster-IP", ".spec.clusterIP"), AGE]),
    Resource("", "v1", "Event", "events", short=["ev"],
             columns=[_col("Last Seen", ".lastTimestamp", "date"), _col("Type", ".type"),
                      _col("Reason", ".reason"), _col("Object", ".involvedObject", fmt="object"),
                      _col("Message", ".message")]),
    Resource("", "v1", "Pod", "pods", short=["po"], categories=["all"], status=True,
             columns=[_col("Status", ".status.phase"), AGE]),
    Resource("apps", "v1", "DaemonSet", "daemonsets", short=["ds"], categories=["all"], status=True,
             columns=[_col("Desired", ".status.desiredNumberScheduled", "integer"),
                      _col("Current", ".status.currentNumberScheduled", "integer"),
                      _col("Ready", ".status.numberReady", "integer"),
                      _col("Up-to-date", ".status.updatedNumberScheduled", "integer"),
                      _col("Available", ".status.numberAvailable", "integer"), AGE]),
    Resource("apps", "v1", "StatefulSet", "statefulsets", short=["sts"], categories=["all"],
             status=True, scale=True,
             columns=[_col("Ready", "", fmt="ready:readyReplicas:replicas"), AGE]),
    Resource("apps", "v1", "Deployment", "deployments", short=["deploy"], categories=["all"],
             status=True, scale=True,
             columns=[_col("Ready", "", fmt="ready:readyReplicas:replicas"),
                      _col("Up-to-date", ".status.updatedReplicas", "integer"),
                      _col("Available", ".status.availableReplicas", "integer"), AGE]),
    Resource("apps", "v1", "ReplicaSet", "replicasets", short=["rs"], categories=["all"],
             status=True, scale=True,
             columns=[_col("Desired", ".spec.replicas", "integer"),
                      _col("Current", ".status.replicas", "integer"),
                      _col("Ready", ".status.readyReplicas", "integer"), AGE]),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=["pdb"],
             status=True,
             columns=[_col("Min Available", ".spec.minAvailable"),
                      _col("Max Unavailable", ".spec.maxUnavailable"), AGE]),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=["netpol"],
             columns=[_col("Pod-Selector", ".spec.podSelector", fmt="selector"), AGE]),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False,
             columns=[_col("Created At", ".metadata.creationTimestamp", fmt="timestamp")]),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
             namespaced=False, columns=[_col("Role", ".roleRef.name"), AGE]),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles",
             columns=[_col("Created At", ".metadata.creationTimestamp", fmt="timestamp")]),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings",
             columns=[_col("Role", ".roleRef.name"), AGE]),
    Resource("coordination.k8s.io", "v1", "Lease", "leases",
             columns=[_col("Holder", ".spec.holderIdentity"), AGE]),
    Resource("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
             namespaced=False, verbs=["create"]),
    Resource("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
             namespaced=False, verbs=["create"]),
    Resource("authentication.k8s.io", "v1", "TokenReview", "tokenreviews",
             namespaced=False, verbs=["create"]),
    # stored and served only: kubesim does not call admission webhooks (README: known gaps)
    Resource("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
             "validatingwebhookconfigurations", namespaced=False,
             columns=[_col("Webhooks", ".webhooks", fmt="count"), AGE]),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
             namespaced=False, short=["crd", "crds"], status=True,
             columns=[_col("Created At", ".metadata.creationTimestamp", fmt="timestamp")]),
]

# Group discovery order (as a real server lists them).
GROUP_ORDER = ["", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
               "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy",
               "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
               "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io"]


class Registry:
    """All served resources. Not thread-safe by itself: the store lock guards it."""

    def __init__(self):
        self.by_gvr = {}   # (group, version, plural) -> Resource
        self.by_gvk = {}   # (group, version, kind) -> Resource
        for r in BUILTINS:
            self.add(r)

    def add(self, r):
        self.by_gvr[(r.group, r.version, r.plural)] = r
        self.by_gvk[(r.group, r.version, r.kind)] = r

    def remove_crd(self, crd_name):
        for k, r in list(self.by_gvr.items()):
            if r.crd_name == crd_name:
                del self.by_gvr[k]
                self.by_gvk.pop((r.group, r.version, r.kind), None)

    def get(self, group, version, plural):
        return self.by_gvr.get((group, version, plural))

    def for_kind(self, api_version, kind):
        if "/" in api_version:
            g, v = api_version.split("/", 1)
        else:
            g, v = "", api_version
        return self.by_gvk.get((g, v, kind))

    def storage_resource(self, key):
        """The storage-version Resource of a bucket (group, plural), or None."""
        found = None
        for r in self.by_gvr.values():
            if r.key == key:
                if r.version == r.storage_version:
                    return r
                found = r
        return found

    def groups(self):
        """[(group, [versions...])] in discovery order; preferred version first."""
        seen = {}
        for r in self.by_gvr.values():
            vs = seen.setdefault(r.group, [])
            if r.version not in vs:
                vs.append(r.version)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        out = []
        for g in sorted(seen, key=lambda g: (order.get(g, 1000), g)):
            out.append((g, sorted(seen[g], key=version_priority_key)))
        return out

    def resources(self, group, version):
        return sorted((r for r in self.by_gvr.values() if r.group == group and r.version == version),
                      key=lambda r: r.plural)


def version_priority_key(v):
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    import re
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, v)


def resource_from_crd(crd, version_entry):
    """Build a Resource for one served version of a CRD object (dict)."""
    spec = crd["spec"]
    names = spec["names"]
    schema = (version_entry.get("schema") or {}).get("openAPIV3Schema")
    subs = version_entry.get("subresources") or {}
    cols = version_entry.get("additionalPrinterColumns")
    if cols:
        columns = [{"name": c.get("name", ""), "type": c.get("type", "string"),
                    "format": c.get("format", ""), "description": c.get("description", ""),
                    "priority": c.get("priority", 0), "jsonPath": c.get("jsonPath", "")}
                   for c in cols]
    else:
        columns = [AGE]
    storage = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    return Resource(spec["group"], version_entry["name"], names["kind"], names["plural"],
                    singular=names.get("singular") or names["kind"].lower(),
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    short=names.get("shortNames") or (), categories=names.get("categories") or (),
                    status="status" in subs, scale="scale" in subs, columns=columns,
                    schema=schema, crd_name=crd["metadata"]["name"],
                    storage_version=storage[0] if storage else version_entry["name"])
