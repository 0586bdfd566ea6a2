"""The shipped alerts and dashboard against a real Prometheus scraping a real controller.

LocalAPIServer (HTTPS on 127.0.0.1, CEL rules off so an invalid ClusterCIDR gets in, two
injected 500s on node patches so API error series exist) holds every ClusterCIDR of
examples/, nodes for their selectors, three pools of this test and two nodes registered
with the same podCIDR. The controller (leader election on, CLUSTER_NAME=live) runs against
it; Debian's `prometheus` server (127.0.0.1, a temporary data directory, scrape and rule
evaluation every second) scrapes it twice: job `nic` as is, and job `nic-no-cluster` with
the cluster label dropped, which is what a controller without CLUSTER_NAME exposes. Its rule
file is deploy/monitoring/rules.yaml with every `for` shortened to FOR by this test.

Then, through Prometheus' HTTP API:
- every alert expression parses; where this scenario makes its condition true it returns
  data, where it makes it false it returns none and each metric it reads returns data
  instead (EXPECTED says which, per alert; none is left out);
- every dashboard query returns data for $cluster = All (".*"), "live" and "" (series
  without the label), and the cluster variable lists "live";
- the pool `monitoring-small` (4 node ranges) is filled: NodeIPAMPoolExhausted fires within
  its shortened window and resolves once a node is deleted;
- a duplicate podCIDR and an invalid and an edited ClusterCIDR fire their alerts (skipped,
  naming the metric, with a controller built before those gauges existed).
"""
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import yaml

import monitoring
from conftest import CRD, ROOT, free_port, start_local_apiserver, stop_process
from kubeapi import KubeAPI
from test_metrics_promtool import Controller, get, samples, wait

CLUSTER = "live"
FOR = "2s"
CLUSTERCIDRS = "/apis/networking.x-k8s.io/v1/clustercidrs"
NODES = "/api/v1/nodes"
SMALL = "monitoring-small"
SMALL_LABEL = "monitoring.test/small"

# What this scenario makes of each alert's condition: "data" (true: the expression returns
# series), "none" (false: it returns nothing, so each metric it reads must return data), or
# "either" (it depends on timing the test does not control; both outcomes are checked as above).
EXPECTED = {
    "NodeIPAMControllerNoLeader": "none",        # the controller leads
    "NodeIPAMControllerNotReady": "none",        # it is ready
    "NodeIPAMPoolUsageHigh": "data",             # monitoring-small is full
    "NodeIPAMPoolExhausted": "data",
    "NodeIPAMNodesPending": "none",              # examples/ has pools without nodeSelector: nobody waits
    "NodeIPAMAllocationSlow": "none",            # allocations take milliseconds here
    "NodeIPAMControllerAPIErrors": "either",     # 2 failed patches among a start-up's requests: near 10 %
    "NodeIPAMDuplicatePodCIDR": "data",          # dup-a and dup-b hold 10.251.0.0/24
    "NodeIPAMClusterCIDRInvalid": "data",        # monitoring-invalid and monitoring-edited
}

EXTRA_POOLS = [
    # Four node ranges per family (a /26 in /28s, a /122 in /124s): three nodes use 75 %, the
    # fourth exhausts it. Dual-stack with a nodeSelector, so it outranks the examples' pools.
    {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR", "metadata": {"name": SMALL},
     "spec": {"perNodeHostBits": 4, "ipv4": "10.250.0.0/26", "ipv6": "fd00:250::/122",
              "nodeSelector": {"nodeSelectorTerms": [{"matchExpressions": [{"key": SMALL_LABEL, "operator": "Exists"}]}]}}},
    # More host bits than the range has: admitted only because CEL rules are off (InvalidSpec).
    {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR", "metadata": {"name": "monitoring-invalid"},
     "spec": {"perNodeHostBits": 8, "ipv4": "10.252.0.0/28",
              "nodeSelector": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "monitoring.test/none", "operator": "Exists"}]}]}}},
    # Accepted, then edited by the test (SpecChanged).
    {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR", "metadata": {"name": "monitoring-edited"},
     "spec": {"perNodeHostBits": 4, "ipv4": "10.253.0.0/24",
              "nodeSelector": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "monitoring.test/none", "operator": "Exists"}]}]}}},
]


def example_pools():
    pools = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        pools += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return pools


def nodes_for(pools):
    """A node per label key the examples select on, and two without labels."""
    nodes, keys = [], set()
    for pool in pools:
        for term in pool["spec"].get("nodeSelector", {}).get("nodeSelectorTerms", []):
            for expression in term.get("matchExpressions", []):
                if expression["key"] not in keys:
                    keys.add(expression["key"])
                    value = expression.get("values", ["true"])[0]
                    nodes.append({"metadata": {"name": f"example-{len(nodes)}", "labels": {expression["key"]: value}}})
    nodes += [{"metadata": {"name": f"plain-{i}"}} for i in range(2)]
    return nodes


def node(body):
    return {"apiVersion": "v1", "kind": "Node", **body}


class Prometheus:
    """Debian's prometheus server on 127.0.0.1 with a temporary data directory."""

    def __init__(self, workdir, target, rules_path):
        _, server = monitoring.prometheus_binaries()
        self.base = f"http://127.0.0.1:{free_port()}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules_path)],
            "scrape_configs": [
                {"job_name": "nic", "static_configs": [{"targets": [target]}]},
                {"job_name": "nic-no-cluster", "static_configs": [{"targets": [target]}],
                 "metric_relabel_configs": [{"action": "labeldrop", "regex": "cluster"}]},
            ],
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / "prometheus.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([server, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'data'}",
                                      f"--web.listen-address={self.base.removeprefix('http://')}", "--log.level=warn"],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def api(self, path, **params):
        status, body = get(self.base, f"/api/v1/{path}?{urllib.parse.urlencode(params, doseq=True)}")
        assert status is not None, f"Prometheus did not answer {path}\n{self.log_path.read_text()[-3000:]}"
        answer = yaml.safe_load(body)  # JSON is YAML
        return status, answer

    def query(self, expr):
        """The instant vector (list of {metric, value}) of an expression; fails naming the
        expression when Prometheus cannot parse or evaluate it."""
        status, answer = self.api("query", query=expr)
        assert status == 200 and answer["status"] == "success", f"{expr!r}: HTTP {status}: {answer}"
        return answer["data"]["result"]

    def alerts(self, name):
        _, answer = self.api("alerts")
        return [a for a in answer["data"]["alerts"] if a["labels"]["alertname"] == name]

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def scraped(prometheus, job):
    return prometheus.query(f'up{{job="{job}"}} == 1') != []


def metric_value(controller, name, **labels):
    for sample_name, sample_labels, value in samples(controller.scrape()):
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
            return value
    return None


@pytest.fixture(scope="module")
def live():
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="monitoring-live-"))
    started = []
    try:
        kubeconfig = workdir / "kubeconfig"
        apiserver_log = open(workdir / "local-apiserver.log", "w+")
        started.append(lambda: (stop_process(apiserver), apiserver_log.close()))
        apiserver = start_local_apiserver(kubeconfig, apiserver_log, "--no-validation-rules",
                                          "--fault", "verb=patch,resource=nodes,count=2,code=500")
        api = KubeAPI(kubeconfig)
        api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml.safe_load(CRD.read_text()))
        pools = example_pools()
        for pool in pools + EXTRA_POOLS:
            api.create(CLUSTERCIDRS, pool)
        for body in nodes_for(pools):
            api.create(NODES, node(body))
        for name in ("dup-a", "dup-b"):  # the same range on two nodes before the controller starts
            api.create(NODES, node({"metadata": {"name": name},
                                    "spec": {"podCIDR": "10.251.0.0/24", "podCIDRs": ["10.251.0.0/24"]}}))
        for i in range(3):
            api.create(NODES, node({"metadata": {"name": f"small-{i}", "labels": {SMALL_LABEL: "true"}}}))

        controller = Controller(kubeconfig, workdir, "controller",
                                ["--leader-elect-namespace", "default", "--leader-elect-retry-period", "1s"],
                                env={"CLUSTER_NAME": CLUSTER})
        started.append(controller.stop)
        logs = [controller.log_path]
        wait(lambda: get(controller.base, "/readyz")[0] == 200, "/readyz 200", logs=logs)
        wait(lambda: metric_value(controller, "node_ipam_controller_pool_allocated_ranges", pool=SMALL, family="ipv4") == 3,
             f"3 of the 4 ranges of {SMALL} in use", logs=logs)

        # Edit monitoring-edited once the controller has accepted it (its finalizer is on).
        def accepted():
            return bool(api.get(f"{CLUSTERCIDRS}/monitoring-edited")["metadata"].get("finalizers"))
        wait(accepted, "monitoring-edited accepted (finalizer written)", logs=logs)
        edited = api.get(f"{CLUSTERCIDRS}/monitoring-edited")
        edited["spec"]["perNodeHostBits"] = 5
        api.request("PUT", f"{CLUSTERCIDRS}/monitoring-edited", edited)

        rules_path = monitoring.write_rules(workdir / "rules-short-for.yaml", monitoring.RULES.read_text(), FOR)
        prometheus = Prometheus(workdir, controller.base.removeprefix("http://"), rules_path)
        started.append(prometheus.stop)
        logs.append(prometheus.log_path)
        wait(lambda: get(prometheus.base, "/-/ready")[0] == 200, "Prometheus ready", logs=logs)
        wait(lambda: scraped(prometheus, "nic") and scraped(prometheus, "nic-no-cluster"),
             "both scrape jobs up", logs=logs)

        # The fourth node exhausts the small pool; the alert test times its window from here.
        api.create(NODES, node({"metadata": {"name": "small-3", "labels": {SMALL_LABEL: "true"}}}))
        exhausted_at = time.monotonic()
        wait(lambda: metric_value(controller, "node_ipam_controller_pool_free_ranges", pool=SMALL, family="ipv4") == 0,
             f"{SMALL} exhausted in /metrics", logs=logs)
        # Rate windows need a few scrapes of every series.
        wait(lambda: prometheus.query(f'count_over_time(node_ipam_controller_pool_free_ranges{{pool="{SMALL}"}}[1m]) >= 5'),
             "five scrapes of the pool series", logs=logs)
        yield {"api": api, "controller": controller, "prometheus": prometheus, "exhausted_at": exhausted_at,
               "logs": logs, "scrape": controller.scrape()}
    finally:
        for stop in reversed(started):
            stop()
        shutil.rmtree(workdir, ignore_errors=True)


def missing_conditional(live, names):
    """The gauges among `names` this controller binary does not have (built before them)."""
    present = {monitoring.family(n) for n, _, _ in samples(live["scrape"])}
    return sorted((set(names) & monitoring.CONDITIONAL) - present)


ALERTS = {rule["alert"]: rule for rule in monitoring.alerts()}


def test_expected_names_every_alert():
    assert set(EXPECTED) == set(ALERTS), "EXPECTED must say what this scenario makes of every alert"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_expression_returns_data(live, name):
    prometheus = live["prometheus"]
    expr = ALERTS[name]["expr"]
    names = monitoring.metric_names(expr)
    assert names, f"{name}: no metric of the controller in {expr!r}"
    missing = missing_conditional(live, names)
    if missing:
        pytest.skip(f"{name}: the controller binary predates {', '.join(missing)} (no such series in /metrics)")
    result = prometheus.query(expr)
    expected = EXPECTED[name]
    if expected == "data":
        assert result, f"{name}: the scenario makes its condition true, but {expr!r} returned nothing"
        return
    if expected == "none":
        assert result == [], f"{name}: the scenario makes its condition false, but {expr!r} returned {result}"
    if not result:
        # The condition is false: each metric it reads must still be there (a renamed metric
        # would make the alert silent forever).
        for metric in sorted(names):
            assert prometheus.query(metric), f"{name}: {metric} returns nothing"


def test_exhaustion_alert_fires_within_its_window(live):
    prometheus = live["prometheus"]

    def firing():
        return [a for a in prometheus.alerts("NodeIPAMPoolExhausted")
                if a["labels"].get("pool") == SMALL and a["state"] == "firing"]

    def keys(alerts):
        return {(a["labels"].get("cluster"), a["labels"]["family"]) for a in alerts}
    # One alert per family and per job (job nic-no-cluster has no cluster label); the two jobs
    # scrape at their own moments, so their alerts may start a scrape apart.
    expected = {(CLUSTER, "ipv4"), (CLUSTER, "ipv6"), (None, "ipv4"), (None, "ipv6")}
    # Shortened `for` (2s) + a scrape and an evaluation (1s each) + the controller's status
    # write: well within 30 s of the node that filled the pool.
    deadline = live["exhausted_at"] + 30
    while keys(firing()) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    alerts = firing()
    assert keys(alerts) == expected, \
        f"NodeIPAMPoolExhausted for {SMALL} not firing 30 s after it filled: {prometheus.alerts('NodeIPAMPoolExhausted')}"
    assert all(a["labels"]["severity"] == "critical" for a in alerts)
    assert all(SMALL in a["annotations"]["description"] and "monitoring.md#nodeipampoolexhausted" in a["annotations"]["runbook_url"]
               for a in alerts)
    warnings = [a for a in prometheus.alerts("NodeIPAMPoolUsageHigh") if a["labels"].get("pool") == SMALL]
    assert warnings, "a full pool is above 85 % too"


@pytest.mark.parametrize("name,subject", [("NodeIPAMDuplicatePodCIDR", "node"), ("NodeIPAMClusterCIDRInvalid", "pool")])
def test_condition_alerts_fire(live, name, subject):
    missing = missing_conditional(live, monitoring.metric_names(ALERTS[name]["expr"]))
    if missing:
        pytest.skip(f"{name}: the controller binary predates {', '.join(missing)}")
    prometheus = live["prometheus"]
    expected = {"node": {("dup-a",), ("dup-b",)},
                "pool": {("monitoring-invalid", "InvalidSpec"), ("monitoring-edited", "SpecChanged")}}[subject]
    keys = {"node": ("node",), "pool": ("pool", "reason")}[subject]

    def firing():
        return {tuple(a["labels"][k] for k in keys) for a in prometheus.alerts(name) if a["state"] == "firing"}
    wait(lambda: firing() & expected, f"{name} firing", timeout=30, logs=live["logs"])
    found = firing()
    if subject == "pool":
        wait(lambda: expected <= firing(), f"{name} firing for both pools", timeout=30, logs=live["logs"])
    else:
        # The second holder of a range is the duplicate (which one depends on the order seen).
        assert found <= expected, found


@pytest.mark.parametrize("panel,title,ref,expr", monitoring.dashboard_targets(),
                         ids=[f"{p}-{r}" for p, _, r, _ in monitoring.dashboard_targets()])
def test_dashboard_query_returns_data(live, panel, title, ref, expr):
    missing = missing_conditional(live, monitoring.metric_names(expr))
    if missing:
        pytest.skip(f"panel {title!r}: the controller binary predates {', '.join(missing)}")
    for cluster, meaning in ((".*", "All"), (CLUSTER, f"cluster {CLUSTER}"), ("", "series without a cluster label")):
        query = monitoring.grafana_substitute(expr, cluster)
        assert live["prometheus"].query(query), f"panel {title!r} ({ref}) returned nothing for {meaning}: {query}"


def test_cluster_variable_lists_the_cluster(live):
    board = monitoring.dashboard()
    variable = next(v for v in board["templating"]["list"] if v["name"] == "cluster")
    query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
    metric, label = query.removeprefix("label_values(").removesuffix(")").split(", ")
    status, answer = live["prometheus"].api(f"label/{label}/values", **{"match[]": metric})
    assert status == 200 and answer["data"] == [CLUSTER], answer


def test_metrics_of_rules_and_dashboard_are_scraped_and_documented(live):
    """Every metric the rules and the dashboard read is in the scrape; docs/monitoring.md lists
    exactly the metrics the scrape has (the conditional gauges: when the binary has them)."""
    scraped_names = {monitoring.family(n) for n, _, _ in samples(live["scrape"])}
    used = set()
    for rule in monitoring.alerts():
        used |= monitoring.metric_names(rule["expr"])
    for _, _, _, expr in monitoring.dashboard_targets():
        used |= monitoring.metric_names(expr)
    used = {monitoring.family(n) for n in used}
    documented = monitoring.documented_metrics()
    absent_conditional = monitoring.CONDITIONAL - scraped_names
    assert used - scraped_names - absent_conditional == set(), "read by rules or dashboard, not in /metrics"
    assert used <= documented, f"read by rules or dashboard, not in docs/monitoring.md: {sorted(used - documented)}"
    assert scraped_names - documented == set(), "in /metrics, not documented in docs/monitoring.md"
    assert documented - scraped_names - absent_conditional == set(), "documented, not in /metrics"
    if absent_conditional:
        pytest.skip(f"the controller binary predates {sorted(absent_conditional)}: checked against the documentation only")


def test_exhausted_pool_resolves_when_a_node_goes(live):
    """Last: it changes the scenario. One of the four nodes goes, the pool is at 75 % and both
    pool alerts resolve (they leave /api/v1/alerts)."""
    api, prometheus, controller = live["api"], live["prometheus"], live["controller"]
    wait(lambda: [a for a in prometheus.alerts("NodeIPAMPoolExhausted") if a["labels"].get("pool") == SMALL],
         "the exhaustion alert active first", timeout=30, logs=live["logs"])
    api.request("DELETE", f"{NODES}/small-3")
    wait(lambda: metric_value(controller, "node_ipam_controller_pool_free_ranges", pool=SMALL, family="ipv4") == 1,
         f"a free range in {SMALL} again", logs=live["logs"])

    def active(name):
        return [a for a in prometheus.alerts(name) if a["labels"].get("pool") == SMALL]
    wait(lambda: not active("NodeIPAMPoolExhausted") and not active("NodeIPAMPoolUsageHigh"),
         "both pool alerts resolved", timeout=30, logs=live["logs"])
