"""Field lists of the built-in kinds kubesim serves, as structural schemas that
only say which fields exist (no types): unknown fields are dropped, as a real
server's decoder drops them, and named in a 400 under fieldValidation=Strict.
Subtrees written ANY are not checked."""

ANY = {"x-kubernetes-preserve-unknown-fields": True}
LEAF = {}
MAP = {"type": "object", "additionalProperties": {}}


def obj(*names, **typed):
    props = {n: LEAF for n in names}
    props.update(typed)
    return {"type": "object", "properties": props}


def arr(item):
    return {"type": "array", "items": item}


OWNER_REF = obj("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
OBJECT_META = obj("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                  "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  labels=MAP, annotations=MAP, ownerReferences=arr(OWNER_REF), finalizers=arr(LEAF),
                  managedFields=arr(ANY))
LABEL_SELECTOR = obj(matchLabels=MAP, matchExpressions=arr(obj("key", "operator", "values")))
OBJECT_REF = obj("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
LOCAL_REF = obj("name")

CONTAINER = obj("name", "image", "command", "args", "workingDir", "restartPolicy", "terminationMessagePath",
                "terminationMessagePolicy", "imagePullPolicy", "stdin", "stdinOnce", "tty",
                ports=arr(obj("name", "hostPort", "containerPort", "protocol", "hostIP")),
                envFrom=arr(ANY),
                env=arr(obj("name", "value", valueFrom=ANY)),
                resources=ANY, resizePolicy=ANY,
                volumeMounts=arr(obj("name", "readOnly", "recursiveReadOnly", "mountPath", "subPath",
                                     "mountPropagation", "subPathExpr")),
                volumeDevices=ANY, livenessProbe=ANY, readinessProbe=ANY, startupProbe=ANY, lifecycle=ANY,
                securityContext=ANY)
POD_SPEC = obj("restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy",
               "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork",
               "hostPID", "hostIPC", "shareProcessNamespace", "hostname", "subdomain", "schedulerName",
               "priorityClassName", "priority", "runtimeClassName", "enableServiceLinks", "preemptionPolicy",
               "setHostnameAsFQDN", "hostUsers",
               volumes=arr(ANY), initContainers=arr(CONTAINER), containers=arr(CONTAINER),
               ephemeralContainers=ANY, nodeSelector=MAP, securityContext=ANY, imagePullSecrets=arr(LOCAL_REF),
               affinity=ANY, tolerations=arr(obj("key", "operator", "value", "effect", "tolerationSeconds")),
               hostAliases=ANY, dnsConfig=ANY, readinessGates=ANY, overhead=ANY, topologySpreadConstraints=ANY,
               os=obj("name"), schedulingGates=ANY, resourceClaims=ANY, resources=ANY)
POD_TEMPLATE = obj(metadata=OBJECT_META, spec=POD_SPEC)
ROLLING = obj("maxUnavailable", "maxSurge")


def kind(*names, **fields):
    s = obj("apiVersion", "kind", *names, **fields)
    s["properties"]["metadata"] = OBJECT_META
    return s


SCHEMAS = {
    ("", "namespaces"): kind(spec=obj("finalizers"), status=ANY),
    ("", "configmaps"): kind("immutable", data=MAP, binaryData=MAP),
    ("", "secrets"): kind("immutable", "type", data=MAP, stringData=MAP),
    ("", "serviceaccounts"): kind("automountServiceAccountToken", secrets=arr(ANY), imagePullSecrets=arr(LOCAL_REF)),
    ("", "services"): kind(spec=obj("clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity",
                                    "loadBalancerIP", "loadBalancerSourceRanges", "externalName",
                                    "externalTrafficPolicy", "healthCheckNodePort", "publishNotReadyAddresses",
                                    "ipFamilies", "ipFamilyPolicy", "allocateLoadBalancerNodePorts",
                                    "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution",
                                    ports=arr(obj("name", "protocol", "appProtocol", "port", "targetPort",
                                                  "nodePort")),
                                    selector=MAP, sessionAffinityConfig=ANY), status=ANY),
    ("", "events"): kind("reason", "message", "firstTimestamp", "lastTimestamp", "count", "type", "eventTime",
                         "action", "reportingComponent", "reportingInstance",
                         involvedObject=OBJECT_REF, source=obj("component", "host"),
                         series=obj("count", "lastObservedTime"), related=OBJECT_REF),
    ("apps", "deployments"): kind(spec=obj("replicas", "minReadySeconds", "revisionHistoryLimit", "paused",
                                           "progressDeadlineSeconds", selector=LABEL_SELECTOR,
                                           template=POD_TEMPLATE,
                                           strategy=obj("type", rollingUpdate=ROLLING)), status=ANY),
    ("apps", "daemonsets"): kind(spec=obj("minReadySeconds", "revisionHistoryLimit", selector=LABEL_SELECTOR,
                                          template=POD_TEMPLATE, updateStrategy=obj("type", rollingUpdate=ROLLING)),
                                 status=ANY),
    ("apps", "statefulsets"): kind(spec=obj("replicas", "serviceName", "podManagementPolicy", "revisionHistoryLimit",
                                            "minReadySeconds", selector=LABEL_SELECTOR, template=POD_TEMPLATE,
                                            volumeClaimTemplates=arr(ANY),
                                            updateStrategy=obj("type", rollingUpdate=obj("partition",
                                                                                         "maxUnavailable")),
                                            persistentVolumeClaimRetentionPolicy=obj("whenDeleted", "whenScaled"),
                                            ordinals=obj("start")), status=ANY),
    ("apps", "replicasets"): kind(spec=obj("replicas", "minReadySeconds", selector=LABEL_SELECTOR,
                                           template=POD_TEMPLATE), status=ANY),
    ("policy", "poddisruptionbudgets"): kind(spec=obj("minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy",
                                                      selector=LABEL_SELECTOR), status=ANY),
    ("rbac.authorization.k8s.io", "clusterroles"): kind(
        rules=arr(obj("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs")), aggregationRule=ANY),
    ("rbac.authorization.k8s.io", "roles"): kind(
        rules=arr(obj("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"))),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): kind(
        subjects=arr(obj("kind", "apiGroup", "name", "namespace")), roleRef=obj("apiGroup", "kind", "name")),
    ("rbac.authorization.k8s.io", "rolebindings"): kind(
        subjects=arr(obj("kind", "apiGroup", "name", "namespace")), roleRef=obj("apiGroup", "kind", "name")),
    ("coordination.k8s.io", "leases"): kind(spec=obj("holderIdentity", "leaseDurationSeconds", "acquireTime",
                                                     "renewTime", "leaseTransitions", "strategy", "preferredHolder")),
}
