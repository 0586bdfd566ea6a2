"""The chart's RBAC and config/rbac allow every request the controller makes (as printed by
`node-ipam-controller api-requests`) and grant nothing it does not make."""
import pytest
import yaml

import json
import subprocess

from conftest import CUSTOM_LEASE_VALUES, INSTALLS, NAMESPACE, RBAC_DIR, ROOT, api_requests, objects, render, swift_product
from rbac import excess_permissions, missing_permissions, rule_allows

CASES = {
    "default": ({}, "node-ipam-controller", NAMESPACE),
    "custom-lease": (CUSTOM_LEASE_VALUES, "ipam-lock", "ipam-system"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_chart_rbac_covers_every_request(case):
    values, lease_name, lease_namespace = CASES[case]
    docs = objects(render(values))
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    requests = api_requests(lease_name)
    missing = missing_permissions(requests, docs, account, NAMESPACE, lease_namespace)
    assert not missing, f"the chart's RBAC does not allow: {missing}"
    assert not excess_permissions(requests, docs), "the chart grants more than the controller uses"


def test_chart_rbac_with_the_default_lease_name_fails_for_another_name():
    # The reference chart's bug: a renamed Lease could be created but never renewed.
    docs = objects(render({}))
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    missing = missing_permissions(api_requests("ipam-lock"), docs, account, NAMESPACE, NAMESPACE)
    assert ("coordination.k8s.io", "leases", "update", ("ipam-lock",)) in missing


def test_chart_without_leader_election_has_no_lease_rbac():
    docs = objects(render({"leaderElection": {"enabled": False}}))
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    requests = api_requests()
    assert not missing_permissions(requests, docs, account, NAMESPACE, NAMESPACE, leader_election=False)
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]


def test_config_rbac_covers_every_request():
    docs = [d for p in sorted(RBAC_DIR.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    account = next(d for d in docs if d["kind"] == "ServiceAccount")
    requests = api_requests()
    missing = missing_permissions(requests, docs, account["metadata"]["name"], account["metadata"]["namespace"],
                                  account["metadata"]["namespace"])
    assert not missing, f"config/rbac does not allow: {missing}"
    assert not excess_permissions(requests, docs), "config/rbac grants more than the controller uses"


def test_config_rbac_matches_the_chart():
    def rules(docs, kind):
        return [r for d in docs if d["kind"] == kind for r in d["rules"]]
    chart = objects(render({}))
    plain = [d for p in sorted(RBAC_DIR.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    for kind in ("ClusterRole", "Role"):
        assert rules(plain, kind) == rules(chart, kind), f"config/rbac {kind} differs from the chart's"


@pytest.mark.parametrize("case", sorted(INSTALLS))
def test_installed_rbac_covers_every_request(installed, api, case):
    release, namespace, _, lease_name, lease_namespace = INSTALLS[case]
    fullname = f"{release}-node-ipam-controller"
    objects = []
    for path, kind in [("/apis/rbac.authorization.k8s.io/v1/clusterroles", "ClusterRole"),
                       ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRoleBinding"),
                       ("/apis/rbac.authorization.k8s.io/v1/roles", "Role"),
                       ("/apis/rbac.authorization.k8s.io/v1/rolebindings", "RoleBinding")]:
        for item in api.items(path):
            objects.append({**item, "kind": kind})
    accounts = [a["metadata"]["name"] for a in api.items(f"/api/v1/namespaces/{namespace}/serviceaccounts")]
    assert fullname in accounts
    missing = missing_permissions(api_requests(lease_name), objects, fullname, namespace, lease_namespace)
    assert not missing, f"installed RBAC of release {release} does not allow: {missing}"


def test_check_role_allows_exactly_the_read_only_commands_requests():
    """config/check's ClusterRole lets `check` and `plan` read what they read, and nothing more."""
    binary = swift_product("node-ipam-controller", "NODE_IPAM_CONTROLLER_BIN")
    run = subprocess.run([str(binary), "api-requests", "--read-only"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    requests = json.loads(run.stdout)
    assert {v for r in requests for v in r["verbs"]} == {"get", "list"}, "check and plan only read"
    docs = [d for p in sorted((ROOT / "config" / "check").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    rules = [r for d in docs if d["kind"] == "ClusterRole" for r in d["rules"]]
    missing = [(r["resource"], v) for r in requests for v in r["verbs"]
               if not any(rule_allows(rule, r["group"], r["resource"], v, r["resourceNames"]) for rule in rules)]
    assert not missing, f"config/check does not allow: {missing}"
    assert not excess_permissions(requests, docs), "config/check grants more than check and plan use"
