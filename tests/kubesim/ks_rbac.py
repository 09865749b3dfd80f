"""RBAC evaluation over the Roles, ClusterRoles and bindings held in the store
(loaded from --rbac FILE at start and any created through the API later)."""

RBAC = "rbac.authorization.k8s.io"


def _subject_match(s, user, groups):
    k = s.get("kind")
    if k == "User":
        return s.get("name") == user
    if k == "Group":
        return s.get("name") in groups
    if k == "ServiceAccount":
        return user == "system:serviceaccount:%s:%s" % (s.get("namespace", ""), s.get("name", ""))
    return False


def _rule_match(rule, verb, group, resource, name):
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group not in groups:
        return False
    resources = rule.get("resources") or []
    base = resource.split("/", 1)
    ok = "*" in resources or resource in resources or (
        len(base) == 2 and "*/" + base[1] in resources)
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    if names and (not name or name not in names):
        return False
    return True


def _role_rules(store, kind, ns, name):
    if kind == "ClusterRole":
        e = store.get((RBAC, "clusterroles"), "", name)
    else:
        e = store.get((RBAC, "roles"), ns, name)
    if e is None:
        return []
    return e.obj.get("rules") or []


def allowed(store, user, groups, verb, group, resource, ns, name):
    """resource may carry '/subresource'. Caller holds the store lock."""
    if "system:masters" in groups:
        return True
    if group == "authorization.k8s.io" and resource == "selfsubjectaccessreviews" and verb == "create":
        return True       # system:basic-user, bound to every authenticated user
    for e in store.items((RBAC, "clusterrolebindings")):
        b = e.obj
        if not any(_subject_match(s, user, groups) for s in b.get("subjects") or []):
            continue
        rr = b.get("roleRef") or {}
        for r in _role_rules(store, "ClusterRole", "", rr.get("name")):
            if _rule_match(r, verb, group, resource, name):
                return True
    if ns:
        for e in store.items((RBAC, "rolebindings"), ns):
            b = e.obj
            if not any(_subject_match(s, user, groups) for s in b.get("subjects") or []):
                continue
            rr = b.get("roleRef") or {}
            for r in _role_rules(store, rr.get("kind"), ns, rr.get("name")):
                if _rule_match(r, verb, group, resource, name):
                    return True
    return False


def forbidden_message(user, verb, group, plural, sub, ns, name):
    qres = plural if not group else plural + "." + group
    resource = plural + ("/" + sub if sub else "")
    where = ('in the namespace "%s"' % ns) if ns else "at the cluster scope"
    why = 'User "%s" cannot %s resource "%s" in API group "%s" %s' % (user, verb, resource, group, where)
    if name:
        return '%s "%s" is forbidden: %s' % (qres, name, why)
    return "%s is forbidden: %s" % (qres, why)
