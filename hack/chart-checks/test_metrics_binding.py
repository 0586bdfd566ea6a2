"""metrics.bindAddress against the real controller: the rendered --webserver-bind-address is
one the controller accepts, and in loopback mode the rendered exec probes (bash's
/dev/tcp, as the kubelet would run them in the container) pass while the controller
serves and fail when it does not. Everything listens on loopback only."""
import socket
import subprocess
import time
import urllib.request

import pytest
import yaml

import docrun
from conftest import CRD, free_port, render, swift_product
from test_render import container


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


LOOPBACKS = ["127.0.0.1", pytest.param("::1", marks=pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here"))]


def start_controller(cluster, args):
    cluster.api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml.safe_load(CRD.read_text()))
    binary = swift_product("node-ipam-controller", "NODE_IPAM_CONTROLLER_BIN")
    return cluster.start([str(binary), *args, "--kubeconfig", str(cluster.kubeconfig)])


def probe(command):
    return subprocess.run(command, capture_output=True, text=True, timeout=10)


def until_ok(command, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        result = probe(command)
        if result.returncode == 0 or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


@pytest.mark.parametrize("address", LOOPBACKS)
def test_loopback_exec_probes_follow_the_controller(address):
    port = free_port()
    c = container(render({"metrics": {"bindAddress": address, "service": {"enabled": False}},
                          "webserverPort": port, "leaderElection": {"enabled": False}}))
    liveness, readiness = c["livenessProbe"]["exec"]["command"], c["readinessProbe"]["exec"]["command"]
    assert probe(liveness).returncode != 0, "nothing listens yet: the probe must fail"
    with docrun.FreshCluster() as cluster:
        controller = start_controller(cluster, c["args"])
        result = until_ok(liveness)
        assert result.returncode == 0, f"liveness: {result.stderr}\n{cluster.output(0)}"
        result = until_ok(readiness)
        assert result.returncode == 0, f"readiness: {result.stderr}\n{cluster.output(0)}"
        # The probe reads the status line: a path that answers 404 fails it.
        wrong_path = readiness[:-1] + ["/no-such-path"]
        assert probe(wrong_path).returncode != 0
        controller.terminate()
        controller.wait(timeout=15)
        assert probe(liveness).returncode != 0, "the controller is gone: the probe must fail"


@pytest.mark.parametrize("pod_ip", LOOPBACKS)
def test_pod_ip_bind_address_is_accepted_by_the_controller(pod_ip):
    port = free_port()
    c = container(render({"metrics": {"bindAddress": "podIP"}, "webserverPort": port,
                          "leaderElection": {"enabled": False}}))
    # What the kubelet does with $(POD_IP) (from status.podIP), on loopback here.
    args = [a.replace("$(POD_IP)", pod_ip) for a in c["args"]]
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    with docrun.FreshCluster() as cluster:
        controller = start_controller(cluster, args)
        deadline, body = time.monotonic() + 30, ""
        while time.monotonic() < deadline and controller.poll() is None:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        assert "node_ipam_controller_" in body, cluster.output(0)
