"""Helm's own lint in strict mode, yamllint, and kubernetes-validate --strict."""
import pathlib
import subprocess
import sys

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from conftest import CHART, CRD, CUSTOM_LEASE_VALUES, CUSTOM_VALUES, RBAC_DIR, ROOT, objects, render

# The oldest Kubernetes the CRD supports (CEL isCIDR/cidr need 1.31).
KUBERNETES_VERSION = "1.31.0"
VALUE_SETS = {"default": {}, "custom": CUSTOM_VALUES, "custom-lease": CUSTOM_LEASE_VALUES,
              "metrics-loopback": {"metrics": {"bindAddress": "::1", "service": {"enabled": False}}},
              "metrics-pod-ip": {"metrics": {"bindAddress": "podIP"}, "hostNetwork": False, "dnsPolicy": "ClusterFirst"},
              "node-agent": {"cni": {"enabled": True}},
              "monitoring": {"clusterName": "prod-eu-1", "monitoring": {
                  "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
                  "dashboard": {"enabled": True, "namespace": "monitoring", "annotations": {"grafana_folder": "Kubernetes"}},
                  "podMonitor": {"enabled": True, "labels": {"release": "prometheus"}}}}}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(name):
    report = helm.lint(str(CHART), VALUE_SETS[name], strict=True, namespace="kube-system",
                       kube_version=f"v{KUBERNETES_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert report["total_charts_linted"] == 1
    assert not problems, f"helm lint --strict: {problems}"


def yamllint(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "yamllint", "-s", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True)


def test_yamllint_repository_yaml():
    paths = ["charts", "config", "deploy", "examples", "hack/kind-cfg.yaml", ".yamllint"]
    run = yamllint(*paths)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_yamllint_rendered(name):
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(VALUE_SETS[name], name="nic", namespace="kube-system")
    for path, text in sorted(out.items()):
        if path.endswith(".txt") or not text.strip():
            continue
        run = yamllint("-", stdin=text)
        assert run.returncode == 0, f"{path}:\n{run.stdout}{run.stderr}\n{text}"


def strict_validate(document, where):
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{where}: {document['kind']} {document['metadata'].get('name')}: {error.message} "
                    f"at {'/'.join(map(str, error.path))}")


# Not core kinds: kubernetes-validate has no schema for them, so their structure is checked
# here (test_render.test_custom_values and test_monitoring_chart.py check what they point at).
NOT_CORE = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"):
        lambda spec: spec["endpoints"] and spec["selector"]["matchLabels"],
    ("monitoring.coreos.com/v1", "PodMonitor"):
        lambda spec: spec["podMetricsEndpoints"] and spec["selector"]["matchLabels"],
    ("monitoring.coreos.com/v1", "PrometheusRule"):
        lambda spec: spec["groups"] and all(g["name"] and g["rules"] for g in spec["groups"]),
}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_manifests_validate(name):
    rendered = render(VALUE_SETS[name])
    for document in objects(rendered):
        structure = NOT_CORE.get((document["apiVersion"], document["kind"]))
        if structure:
            assert set(document) == {"apiVersion", "kind", "metadata", "spec"}, document["kind"]
            assert document["metadata"]["name"] and document["metadata"]["namespace"]
            assert structure(document["spec"]), f"{name}: {document['kind']} {document['spec']}"
            continue
        strict_validate(document, name)


def test_every_rendered_kind_is_validated_or_known():
    kinds = {(d["apiVersion"], d["kind"]) for name in ("custom", "monitoring") for d in objects(render(VALUE_SETS[name]))}
    assert kinds & set(NOT_CORE) == set(NOT_CORE), "the value sets must exercise every kind that is not core"


def test_crd_validates():
    strict_validate(yaml.safe_load(CRD.read_text()), str(CRD.relative_to(ROOT)))


def validate_directory(directory):
    """Validates every manifest of a config/ directory; returns the kinds found."""
    files = sorted(directory.glob("*.yaml"))
    assert files, f"{directory.relative_to(ROOT)} has no manifest"
    kinds = set()
    for path in files:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                strict_validate(document, str(path.relative_to(ROOT)))
                kinds.add(document["kind"])
    return kinds


def test_config_rbac_validates():
    assert validate_directory(RBAC_DIR) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def test_config_agent_validates():
    assert validate_directory(ROOT / "config" / "agent") == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}
