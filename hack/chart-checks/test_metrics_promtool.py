"""/metrics of a real controller, checked by Prometheus' own linter.

A LocalAPIServer (HTTPS, with a few injected 500s on node patches so error series exist),
the CRD, two pools (dual-stack, and a tiny IPv4 one that runs out) and nodes; then the
controller as users run it (leader election on). Its scrape goes through Debian's
`promtool check metrics`; any problem outside the five series named after the Go
reference fails the test. Those five keep the reference's camelCase labels on purpose
(docs/deploy.md, "Metrics"): the only problem promtool may report for them is that one.

promtool comes from Debian's `prometheus` package, installed here when missing.
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest
import yaml

from conftest import CRD, free_port, running_local_apiserver, swift_product
from kubeapi import KubeAPI

# The Go reference's metrics (kubernetes-sigs/node-ipam-controller): names and labels kept.
REFERENCE = {
    "node_ipam_controller_multicidrset_cidrs_allocations_total",
    "node_ipam_controller_multicidrset_cidrs_releases_total",
    "node_ipam_controller_multicidrset_max_cidrs",
    "node_ipam_controller_multicidrset_usage_cidrs",
    "node_ipam_controller_multicidrset_allocation_tries_per_request",
}
REFERENCE_PROBLEM = "label names should be written in 'snake_case' not 'camelCase'"

# Every metric the controller documents; each must be in a scrape of this scenario.
EXPECTED = REFERENCE | {
    "node_ipam_controller_pool_capacity_ranges",
    "node_ipam_controller_pool_allocated_ranges",
    "node_ipam_controller_pool_free_ranges",
    "node_ipam_controller_pool_usage_ratio",
    "node_ipam_controller_pending_nodes",
    "node_ipam_controller_node_allocation_duration_seconds",
    "node_ipam_controller_workqueue_depth",
    "node_ipam_controller_api_requests_total",
    "node_ipam_controller_api_errors_total",
    "node_ipam_controller_api_request_duration_seconds",
    "node_ipam_controller_events_total",
    "node_ipam_controller_leader",
    "node_ipam_controller_ready",
    "node_ipam_controller_healthy",
    "node_ipam_controller_build_info",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
}


def promtool():
    """Path of promtool; installs Debian's `prometheus` package when it is missing."""
    found = shutil.which("promtool")
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"]):
        run = subprocess.run(command, capture_output=True, text=True, env=env)
        if run.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed (promtool is needed):\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    found = shutil.which("promtool")
    assert found, "Debian's prometheus package installed no promtool"
    return found


def check_metrics(text):
    """promtool's problems with an exposition, as (metric name, problem) pairs."""
    run = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    output = (run.stdout + run.stderr).strip()
    # 0: clean; 3: lint problems (one per line, "NAME PROBLEM"); anything else: it could not parse.
    assert run.returncode in (0, 3), f"promtool check metrics failed to read the scrape (exit {run.returncode}):\n{output}"
    problems = []
    for line in output.splitlines():
        name, _, problem = line.partition(" ")
        problems.append((name, problem))
    assert (run.returncode == 3) == bool(problems), output
    return problems


def samples(text):
    """(name, labels, value) of every sample of a scrape."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, rest = series.partition("{")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', rest))
        out.append((name, labels, float(value)))
    return out


def family_of(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in EXPECTED:
            return name[: -len(suffix)]
    return name


def get(base, path):
    try:
        with urllib.request.urlopen(base + path, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


def wait(condition, what, timeout=60, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n" + "\n".join(pathlib.Path(p).read_text()[-3000:] for p in logs))


POOLS = [
    {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR", "metadata": {"name": "dual"},
     "spec": {"perNodeHostBits": 8, "ipv4": "10.244.0.0/16", "ipv6": "fd00:10:244::/112",
              "nodeSelector": {"nodeSelectorTerms": [{"matchExpressions": [
                  {"key": "group", "operator": "DoesNotExist"}]}]}}},
    # Two node ranges only: the third "small" node finds it exhausted (an event, a pending node).
    {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR", "metadata": {"name": "small"},
     "spec": {"perNodeHostBits": 4, "ipv4": "10.250.0.0/27",
              "nodeSelector": {"nodeSelectorTerms": [{"matchExpressions": [
                  {"key": "group", "operator": "In", "values": ["small"]}]}]}}},
]


@pytest.fixture(scope="module")
def cluster():
    """A LocalAPIServer with the CRD, the pools and 5 nodes; yields (kubeconfig, api, workdir)."""
    with running_local_apiserver("--fault", "verb=patch,resource=nodes,count=2,code=500") as kubeconfig:
        api = KubeAPI(kubeconfig)
        api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml.safe_load(CRD.read_text()))
        for pool in POOLS:
            api.create("/apis/networking.x-k8s.io/v1/clustercidrs", pool)
        for index in range(5):
            labels = {"group": "small"} if index < 3 else {}
            api.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{index}", "labels": labels}})
        yield kubeconfig, api, pathlib.Path(tempfile.mkdtemp(prefix="metrics-promtool-"))


class Controller:
    def __init__(self, kubeconfig, workdir, name, args=(), env=None):
        binary = swift_product("node-ipam-controller", "NODE_IPAM_CONTROLLER_BIN")
        self.base = f"http://127.0.0.1:{free_port()}"
        self.log_path = workdir / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(binary), "--kubeconfig", str(kubeconfig), "--webserver-bind-address",
                                      self.base.removeprefix("http://"), *args],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))

    def scrape(self):
        status, text = get(self.base, "/metrics")
        assert status == 200, f"/metrics answered {status}"
        return text

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def nodes_with_ranges(api):
    return sum(1 for node in api.items("/api/v1/nodes") if node.get("spec", {}).get("podCIDRs"))


@pytest.fixture(scope="module")
def scrape(cluster):
    """A scrape of the controller once it has served every node it can (4 of 5)."""
    kubeconfig, api, workdir = cluster
    controller = Controller(kubeconfig, workdir, "controller",
                            ["--leader-elect-namespace", "default", "--leader-elect-retry-period", "1s"])
    try:
        wait(lambda: get(controller.base, "/readyz")[0] == 200, "/readyz 200", logs=[controller.log_path])
        wait(lambda: nodes_with_ranges(api) == 4, "4 nodes with podCIDRs (the 5th finds its pool exhausted)",
             logs=[controller.log_path])
        # Pool series follow the pools' status (written after a quiet period): wait until
        # they show the exhausted pool and the waiting node.
        def settled():
            values = {(n, labels.get("pool")): v for n, labels, v in samples(controller.scrape())}
            return (values.get(("node_ipam_controller_pending_nodes", None)) == 1
                    and values.get(("node_ipam_controller_pool_free_ranges", "small")) == 0)
        wait(settled, "pending_nodes 1 and pool 'small' exhausted in /metrics", logs=[controller.log_path])
        yield controller.scrape()
    finally:
        controller.stop()


def test_promtool_finds_no_problem_outside_the_reference_five(scrape):
    problems = check_metrics(scrape)
    ours = [(name, problem) for name, problem in problems if family_of(name) not in REFERENCE]
    assert not ours, "promtool check metrics:\n" + "\n".join(f"{n} {p}" for n, p in ours)
    # The five are exempt from one problem only: their camelCase labels, kept for compatibility.
    theirs = {(family_of(name), problem) for name, problem in problems if family_of(name) in REFERENCE}
    assert {problem for _, problem in theirs} <= {REFERENCE_PROBLEM}, theirs


def test_the_filter_would_catch_a_problem():
    """The check is not blind: a metric of ours with a camelCase label or no HELP is reported."""
    problems = check_metrics('# HELP node_ipam_controller_x_total X.\n# TYPE node_ipam_controller_x_total counter\n'
                             'node_ipam_controller_x_total{clusterName="a"} 1\n'
                             '# TYPE node_ipam_controller_y gauge\nnode_ipam_controller_y 1\n')
    assert {name for name, _ in problems} == {"node_ipam_controller_x_total", "node_ipam_controller_y"}


def test_scrape_holds_every_documented_metric(scrape):
    names = {family_of(name) for name, _, _ in samples(scrape)}
    assert EXPECTED - names == set(), f"missing from /metrics: {sorted(EXPECTED - names)}"
    documented = set(re.findall(r"`((?:node_ipam_controller|process)_[a-z_]+)", (CRD.parents[2] / "docs" / "deploy.md").read_text()))
    assert names <= documented | {n for n in names if n.startswith("node_ipam_controller_multicidrset_")}, \
        f"not documented in docs/deploy.md: {sorted(names - documented)}"


def test_pool_gauges_per_family(scrape):
    series = {(name, labels.get("pool"), labels.get("family")): value for name, labels, value in samples(scrape)}
    assert series[("node_ipam_controller_pool_capacity_ranges", "dual", "ipv4")] == 256
    assert series[("node_ipam_controller_pool_capacity_ranges", "dual", "ipv6")] == 256
    assert series[("node_ipam_controller_pool_allocated_ranges", "dual", "ipv4")] == 2
    assert series[("node_ipam_controller_pool_allocated_ranges", "dual", "ipv6")] == 2
    assert series[("node_ipam_controller_pool_capacity_ranges", "small", "ipv4")] == 2
    assert series[("node_ipam_controller_pool_free_ranges", "small", "ipv4")] == 0
    assert series[("node_ipam_controller_pool_usage_ratio", "small", "ipv4")] == 1
    values = {name: value for name, labels, value in samples(scrape) if not labels}
    assert values["node_ipam_controller_leader"] == 1
    assert values["node_ipam_controller_ready"] == 1
    assert values["node_ipam_controller_healthy"] == 1
    assert values["node_ipam_controller_pending_nodes"] == 1
    assert values["process_start_time_seconds"] > time.time() - 3600
    assert values["process_resident_memory_bytes"] > 1e6
    errors = [(labels, value) for name, labels, value in samples(scrape) if name == "node_ipam_controller_api_errors_total"]
    assert any(labels == {"verb": "patch", "code": "500"} and value >= 2 for labels, value in errors), errors


def test_cluster_name_labels_every_series(cluster):
    kubeconfig, _, workdir = cluster
    controller = Controller(kubeconfig, workdir, "controller-cluster", ["--enable-leader-election=false"],
                            env={"CLUSTER_NAME": "prod-eu-1"})
    try:
        wait(lambda: get(controller.base, "/readyz")[0] == 200, "/readyz 200", logs=[controller.log_path])
        text = controller.scrape()
    finally:
        controller.stop()
    found = samples(text)
    assert len(found) > 50
    assert [s for s in found if s[1].get("cluster") != "prod-eu-1"] == []
    assert [p for p in check_metrics(text) if family_of(p[0]) not in REFERENCE] == []
