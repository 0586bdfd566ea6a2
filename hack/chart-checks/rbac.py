"""Does a set of RBAC objects allow every API request the controller makes, and nothing more?"""

LEASES = ("coordination.k8s.io", "leases")


def rule_allows(rule, group, resource, verb, names):
    if group not in rule.get("apiGroups", []) and "*" not in rule.get("apiGroups", []):
        return False
    if resource not in rule.get("resources", []) and "*" not in rule.get("resources", []):
        return False
    if verb not in rule.get("verbs", []) and "*" not in rule.get("verbs", []):
        return False
    allowed_names = rule.get("resourceNames") or []
    # A rule limited to names allows a request only if the request names one of them.
    return not allowed_names or (bool(names) and set(names) <= set(allowed_names))


def bound_rules(objects, service_account, sa_namespace, lease_namespace):
    """Rules that apply to the ServiceAccount: (cluster-wide rules, rules in the lease namespace)."""
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], []).append(o)

    def subject_matches(binding):
        return any(s.get("kind") == "ServiceAccount" and s.get("name") == service_account
                   and s.get("namespace") == sa_namespace for s in binding.get("subjects", []))

    cluster, lease_ns = [], []
    for binding in by_kind.get("ClusterRoleBinding", []):
        if subject_matches(binding) and binding["roleRef"]["kind"] == "ClusterRole":
            for role in by_kind.get("ClusterRole", []):
                if role["metadata"]["name"] == binding["roleRef"]["name"]:
                    cluster += role.get("rules", [])
    for binding in by_kind.get("RoleBinding", []):
        if not subject_matches(binding) or binding["metadata"].get("namespace") != lease_namespace:
            continue
        for role in by_kind.get("Role", []):
            if (binding["roleRef"]["kind"] == "Role" and role["metadata"]["name"] == binding["roleRef"]["name"]
                    and role["metadata"].get("namespace") == lease_namespace):
                lease_ns += role.get("rules", [])
    return cluster, lease_ns


def missing_permissions(requests, objects, service_account, sa_namespace, lease_namespace, leader_election=True):
    """Requests (group, resource, verb, names) that the bound rules do not allow.

    Namespaced requests go to several namespaces (events: default and the Lease's), so a
    namespaced Role only counts for the Lease, which lives in the lease namespace."""
    cluster, lease_ns = bound_rules(objects, service_account, sa_namespace, lease_namespace)
    missing = []
    for r in requests:
        key = (r["group"], r["resource"])
        if key == LEASES and not leader_election:
            continue
        rules = cluster + (lease_ns if key == LEASES else [])
        for verb in r["verbs"]:
            if not any(rule_allows(rule, r["group"], r["resource"], verb, r["resourceNames"]) for rule in rules):
                missing.append((r["group"], r["resource"], verb, tuple(r["resourceNames"])))
    return missing


def excess_permissions(requests, objects):
    """(group, resource, verb) granted by some Role/ClusterRole that no request needs."""
    needed = {(r["group"], r["resource"], v) for r in requests for v in r["verbs"]}
    excess = []
    for o in objects:
        if o["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in o.get("rules", []):
            for g in rule.get("apiGroups", []):
                for res in rule.get("resources", []):
                    for v in rule.get("verbs", []):
                        if (g, res, v) not in needed:
                            excess.append((o["kind"], o["metadata"]["name"], g, res, v))
    return excess
