"""deploy/monitoring/ as shipped: the derived files equal their sources, every alert has what
the issue asks of it (severity, summary, description, a runbook_url whose anchor is a section
of docs/monitoring.md), and the alerts issue 13 lists exist with their thresholds and windows."""
import importlib.util
import json
import pathlib
import re

import pytest
import yaml

import monitoring
from conftest import ROOT


def sync_module():
    spec = importlib.util.spec_from_file_location("monitoring_sync", ROOT / "hack" / "monitoring-sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_derived_files_are_up_to_date():
    assert sync_module().stale() == [], "run python3 hack/monitoring-sync.py"


def test_the_sync_would_notice_a_drifted_copy(tmp_path, monkeypatch):
    sync = sync_module()
    monkeypatch.setattr(sync, "CHART_FILES", tmp_path)
    (tmp_path / "grafana-dashboard.json").write_text(monitoring.DASHBOARD.read_text())
    (tmp_path / "rules.yaml").write_text(monitoring.RULES.read_text().replace(">= 0.85", ">= 0.80"))
    assert [pathlib.Path(p).name for p in sync.stale()] == ["rules.yaml"]


def test_prometheus_rule_and_configmap_carry_the_sources():
    rule = yaml.safe_load((monitoring.MONITORING / "prometheusrule.yaml").read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(monitoring.RULES.read_text())
    configmap = yaml.safe_load((monitoring.MONITORING / "grafana-dashboard-configmap.yaml").read_text())
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    (data,) = configmap["data"].values()
    assert json.loads(data) == monitoring.dashboard()
    chart_files = ROOT / "charts" / "node-ipam-controller" / "files"
    assert (chart_files / "rules.yaml").read_text() == monitoring.RULES.read_text()
    assert (chart_files / "grafana-dashboard.json").read_text() == monitoring.DASHBOARD.read_text()


def test_pod_monitor_selects_the_charts_pods():
    monitor = yaml.safe_load((monitoring.MONITORING / "podmonitor.yaml").read_text())
    assert (monitor["apiVersion"], monitor["kind"]) == ("monitoring.coreos.com/v1", "PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "node-ipam-controller"}
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [monitor["metadata"]["namespace"]]


@pytest.mark.parametrize("rule", monitoring.alerts(), ids=lambda rule: rule["alert"])
def test_alert_has_severity_summary_description_and_runbook(rule):
    assert rule["labels"]["severity"] in ("warning", "critical")
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    base = sync_module().RUNBOOK_BASE
    assert annotations["runbook_url"] == f"{base}#{rule['alert'].lower()}"
    anchor = annotations["runbook_url"].partition("#")[2]
    assert anchor in monitoring.doc_anchors(), f"docs/monitoring.md has no section #{anchor}"
    # The description names what the alert is about (its grouping labels) and says what to do.
    for label in re.findall(r"by \(([^)]*)\)", rule["expr"])[:1]:
        for name in {"pool", "node"} & {part.strip() for part in label.split(",")}:
            assert f"$labels.{name}" in annotations["description"], f"{rule['alert']}: description does not name the {name}"
    assert "kubectl" in annotations["description"] or "kubeAPI" in annotations["description"], \
        f"{rule['alert']}: the description gives no command or setting to act on"


def test_doc_anchor_slugs_are_githubs():
    assert monitoring.github_anchor("NodeIPAMPoolExhausted") == "nodeipampoolexhausted"
    assert monitoring.github_anchor("With kubectl (Prometheus Operator)") == "with-kubectl-prometheus-operator"


def test_every_runbook_section_belongs_to_an_alert():
    """docs/monitoring.md has no runbook for an alert that is gone."""
    doc = monitoring.DOC.read_text()
    sections = set(re.findall(r"^### (NodeIPAM\w+)$", doc, re.M))
    assert sections == {rule["alert"] for rule in monitoring.alerts()}


# Issue 13's list: (alert, severity, for, what the expression must contain).
REQUIRED = [
    ("NodeIPAMControllerNoLeader", "critical", "2m", "node_ipam_controller_leader"),
    ("NodeIPAMControllerNotReady", "warning", "5m", "node_ipam_controller_ready == 0"),
    ("NodeIPAMPoolUsageHigh", "warning", "5m", ">= 0.85"),
    ("NodeIPAMPoolExhausted", "critical", "1m", ">= 0.95"),
    ("NodeIPAMNodesPending", "warning", "5m", "node_ipam_controller_pending_nodes"),
    ("NodeIPAMAllocationSlow", "warning", "10m", "histogram_quantile(0.99"),
    ("NodeIPAMControllerAPIErrors", "warning", "5m", "> 0.1"),
    ("NodeIPAMDuplicatePodCIDR", "critical", None, "node_ipam_controller_node_podcidr_overlaps"),
    ("NodeIPAMClusterCIDRInvalid", "warning", "5m", "node_ipam_controller_pool_invalid"),
]


@pytest.mark.parametrize("name,severity,duration,fragment", REQUIRED, ids=[r[0] for r in REQUIRED])
def test_issue_alerts_exist(name, severity, duration, fragment):
    rule = next((r for r in monitoring.alerts() if r["alert"] == name), None)
    assert rule, f"{name} missing from deploy/monitoring/rules.yaml"
    assert rule["labels"]["severity"] == severity
    assert rule.get("for") == duration
    assert fragment in rule["expr"]
