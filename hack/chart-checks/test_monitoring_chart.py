"""The chart's monitoring pieces: none by default, each on its own value, each equal to what
deploy/monitoring/ ships, and NOTES.txt naming exactly the ones rendered. (test_lint.py
validates and lints the rendered objects with all of them on: value set "monitoring".)"""
import json

import helm_python as helm
import pytest
import yaml

import monitoring
from conftest import CHART, NAMESPACE, RELEASE, find, objects, render

MONITORING_KINDS = {"PrometheusRule", "PodMonitor", "ConfigMap"}
PIECES = {
    "prometheusRule": "PrometheusRule",
    "dashboard": "ConfigMap",
    "podMonitor": "PodMonitor",
}
FULLNAME = f"{RELEASE}-node-ipam-controller"


def env_of(rendered):
    container = find(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_off_by_default(default_render):
    assert {d["kind"] for d in objects(default_render)} & MONITORING_KINDS == set()
    assert "CLUSTER_NAME" not in env_of(default_render)


@pytest.mark.parametrize("piece", sorted(PIECES))
def test_each_piece_renders_alone(piece):
    rendered = render({"monitoring": {piece: {"enabled": True}}})
    kinds = {d["kind"] for d in objects(rendered)} & MONITORING_KINDS
    assert kinds == {PIECES[piece]}


def test_prometheus_rule_is_the_shipped_rules():
    rendered = render({"monitoring": {"prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}}}})
    rule = find(rendered, "PrometheusRule")
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["labels"]["app.kubernetes.io/name"] == "node-ipam-controller"
    assert rule["spec"] == yaml.safe_load(monitoring.RULES.read_text())


def test_runbook_base_is_replaced():
    base = "https://git.example.com/platform/ipam/-/blob/main/docs/monitoring.md"
    rule = find(render({"monitoring": {"prometheusRule": {"enabled": True, "runbookBaseURL": base}}}), "PrometheusRule")
    urls = {r["alert"]: r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert urls == {r["alert"]: f"{base}#{r['alert'].lower()}" for r in monitoring.alerts()}


@pytest.mark.parametrize("namespace,expected", [("", NAMESPACE), ("monitoring", "monitoring")])
def test_dashboard_configmap(namespace, expected):
    rendered = render({"monitoring": {"dashboard": {"enabled": True, "namespace": namespace,
                                                    "annotations": {"grafana_folder": "Kubernetes"}}}})
    configmap = find(rendered, "ConfigMap")
    assert configmap["metadata"]["namespace"] == expected
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Kubernetes"}
    assert json.loads(configmap["data"]["node-ipam-controller.json"]) == monitoring.dashboard()


def test_dashboard_label_can_be_changed():
    rendered = render({"monitoring": {"dashboard": {"enabled": True, "labels": {"grafana_dashboard": "ipam"}}}})
    assert find(rendered, "ConfigMap")["metadata"]["labels"]["grafana_dashboard"] == "ipam"


@pytest.mark.parametrize("values", [{}, {"metrics": {"bindAddress": "podIP"}, "hostNetwork": False, "dnsPolicy": "ClusterFirst"},
                                    {"webserverPort": 9091}], ids=["default", "pod-ip", "port-9091"])
def test_pod_monitor_scrapes_the_controller_pods(values):
    rendered = render({**values, "monitoring": {"podMonitor": {"enabled": True, "interval": "15s",
                                                               "labels": {"release": "prometheus"}}}})
    monitor = find(rendered, "PodMonitor")
    pod = find(rendered, "Deployment")["spec"]["template"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics" and endpoint["interval"] == "15s"
    assert ports[endpoint["port"]] == values.get("webserverPort", 8081)
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


@pytest.mark.parametrize("values,message", [
    ({"metrics": {"serviceMonitor": {"enabled": True}}, "monitoring": {"podMonitor": {"enabled": True}}},
     "metrics.serviceMonitor.enabled"),
    ({"metrics": {"bindAddress": "127.0.0.1", "service": {"enabled": False}}, "monitoring": {"podMonitor": {"enabled": True}}},
     "metrics.bindAddress"),
], ids=["with-service-monitor", "loopback-metrics"])
def test_pod_monitor_refused_where_it_cannot_work(values, message):
    with pytest.raises(helm.HelmError) as error:
        render(values)
    assert message in str(error.value)


def test_cluster_name_sets_the_environment():
    assert env_of(render({"clusterName": "prod-eu-1"}))["CLUSTER_NAME"] == "prod-eu-1"


@pytest.mark.parametrize("values", [
    {"monitoring": {"prometheusRule": {"enabled": "yes"}}},
    {"monitoring": {"prometheusRule": {"runbookBaseURL": "docs/monitoring.md"}}},
    {"monitoring": {"podMonitor": {"interval": 30}}},
    {"monitoring": {"podMonitor": {"interval": "thirty seconds"}}},
    {"monitoring": {"dashboard": {"labels": {"grafana_dashboard": 1}}}},
    {"monitoring": {"grafana": {"enabled": True}}},
    {"clusterName": ["prod"]},
], ids=str)
def test_wrong_monitoring_values_rejected(values):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(values)


def notes(values):
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)["node-ipam-controller/templates/NOTES.txt"]


@pytest.mark.parametrize("piece", sorted(PIECES))
def test_notes_name_exactly_the_rendered_pieces(piece):
    text = notes({"monitoring": {piece: {"enabled": True}}})
    mentions = {"prometheusRule": f"PrometheusRule {FULLNAME}", "dashboard": f"ConfigMap {FULLNAME}-dashboard",
                "podMonitor": f"PodMonitor {FULLNAME}"}
    for other, phrase in mentions.items():
        assert (phrase in text) == (other == piece), f"{phrase!r} in NOTES with only {piece} on"
    assert "Monitoring" not in notes({})
