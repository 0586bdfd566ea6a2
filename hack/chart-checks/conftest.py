"""Shared fixtures of the chart checks: rendering, the controller's request list, and
a LocalAPIServer to install the chart into.

Swift binaries are built on demand with `swift build --scratch-path $CHART_CHECKS_SCRATCH_PATH`
(default `.build-chart-checks`: not `.build`, or hack/test.sh's later `swift build` would
find everything built and could no longer see our compiler warnings); `LOCAL_APISERVER_BIN`
and `NODE_IPAM_CONTROLLER_BIN` point at prebuilt ones instead.
"""
import contextlib
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import time

import helm_python as helm
import pytest
import yaml

from kubeapi import KubeAPI

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "node-ipam-controller"
CRD = ROOT / "config" / "crd" / "networking.x-k8s.io_clustercidrs.yaml"
RBAC_DIR = ROOT / "config" / "rbac"
RELEASE = "nic"
NAMESPACE = "kube-system"

# The non-default value set: every knob the checks look at moved away from its default.
CUSTOM_VALUES = {
    "leaderElection": {"enabled": False, "resourceName": "ipam-lock", "namespace": "ipam-system"},
    "extraArgs": ["--workers=3", "--log-format=json"],
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "image": {"tag": "local", "repository": "example.com/nic"},
    "apiServerEndpoint": {"host": "172.18.0.2", "port": 6443},
    "clusterCIDR": "10.244.0.0/16,fd00:10:244::/56",
    "serviceClusterIPRange": "10.96.0.0/16",
    "excludeCIDRs": "10.250.0.0/24,10.251.0.0/24,fd00:99::/64",
    "releaseCooldown": "10m",
    "nodeCIDRMaskSizeIPv4": 25,
    "kubeAPI": {"qps": 50, "burst": 100},
    "workers": 4,
    "logging": {"verbosity": 2, "format": "text"},
    "webserverPort": 9091,
    "hostNetwork": False,
    "dnsPolicy": "ClusterFirst",
}
# The same lease settings with leader election on (the Role only exists then).
CUSTOM_LEASE_VALUES = {"leaderElection": {"enabled": True, "resourceName": "ipam-lock", "namespace": "ipam-system"},
                       "replicaCount": 2}


def render(values=None, name=RELEASE, namespace=NAMESPACE):
    """Rendered chart as {template path: [documents]}, NOTES.txt left out."""
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values or {}, name=name, namespace=namespace, is_install=True)
    docs = {}
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            continue
        parsed = [d for d in yaml.safe_load_all(text) if d]
        if parsed:
            docs[path] = parsed
    return docs


def objects(rendered):
    return [d for docs in rendered.values() for d in docs]


def find(rendered, kind, name=None):
    found = [d for d in objects(rendered) if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def default_render():
    return render()


@pytest.fixture(scope="session")
def custom_render():
    return render(CUSTOM_VALUES)


def scratch_path():
    return os.environ.get("CHART_CHECKS_SCRATCH_PATH", str(ROOT / ".build-chart-checks"))


def swift_product(product, env_var):
    """Path of a built Swift product: $env_var if set, else built now."""
    if os.environ.get(env_var):
        return pathlib.Path(os.environ[env_var])
    scratch = scratch_path()
    build = subprocess.run(["swift", "build", "--scratch-path", scratch, "--product", product],
                           cwd=ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail(f"swift build --product {product} failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}")
    bin_dir = subprocess.run(["swift", "build", "--scratch-path", scratch, "--show-bin-path"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    return pathlib.Path(bin_dir) / product


_API_REQUESTS = {}


def api_requests(lease_name="node-ipam-controller"):
    """What the controller requests from the API server, from the controller itself:
    `node-ipam-controller api-requests` (JSON list of group/resource/verbs/namespaced/resourceNames),
    with the Lease named through IPAM_RESOURCE_NAME as the controller would name it."""
    if lease_name in _API_REQUESTS:
        return _API_REQUESTS[lease_name]
    binary = swift_product("node-ipam-controller", "NODE_IPAM_CONTROLLER_BIN")
    env = dict(os.environ, IPAM_RESOURCE_NAME=lease_name)
    run = subprocess.run([str(binary), "api-requests"], capture_output=True, text=True, timeout=60, env=env)
    if run.returncode != 0 or not run.stdout.lstrip().startswith("["):
        pytest.fail("`node-ipam-controller api-requests` did not print the controller's API requests as a JSON list "
                    "(exit %d). The RBAC checks derive the rules the controller needs from this subcommand; it must "
                    "exist on main before they can pass.\nstdout: %s\nstderr: %s"
                    % (run.returncode, run.stdout[-2000:], run.stderr[-2000:]))
    try:
        requests = json.loads(run.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"`node-ipam-controller api-requests` did not print JSON ({error}):\n{run.stdout[:2000]}")
    assert isinstance(requests, list) and requests, "api-requests printed no request"
    for r in requests:
        assert {"group", "resource", "verbs", "namespaced", "resourceNames"} <= set(r), f"malformed entry {r}"
    _API_REQUESTS[lease_name] = requests
    return requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_local_apiserver(kubeconfig, log, *extra_args):
    """A LocalAPIServer over HTTPS on 127.0.0.1 that writes a kind-shaped kubeconfig to
    `kubeconfig` (extra arguments, e.g. `--fault ...`, passed on); returns the process once
    the kubeconfig exists."""
    binary = swift_product("local-apiserver", "LOCAL_APISERVER_BIN")
    proc = subprocess.Popen([str(binary), "--host", "127.0.0.1", "--port", str(free_port()), "--tls",
                             "--kubeconfig", str(kubeconfig), *extra_args], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not pathlib.Path(kubeconfig).exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            log.seek(0)
            pytest.fail(f"local-apiserver did not start:\n{log.read()}")
        time.sleep(0.1)
    return proc


@contextlib.contextmanager
def running_local_apiserver(*extra_args):
    """A LocalAPIServer over HTTPS on 127.0.0.1 with a kind-shaped kubeconfig; yields the kubeconfig path."""
    workdir = tempfile.mkdtemp(prefix="chart-checks-")
    kubeconfig = pathlib.Path(workdir) / "kubeconfig"
    with open(pathlib.Path(workdir) / "local-apiserver.log", "w+") as log:
        proc = start_local_apiserver(kubeconfig, log, *extra_args)
        try:
            yield kubeconfig
        finally:
            stop_process(proc)


@pytest.fixture(scope="session")
def local_apiserver():
    with running_local_apiserver() as kubeconfig:
        yield kubeconfig


# A stand-in for the Prometheus Operator's CRD: only what lets the API server store a ServiceMonitor.
SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors",
                  "singular": "servicemonitor"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}

INSTALLS = {
    # release, namespace, values, lease name, lease namespace
    "default": ("nic", NAMESPACE, {}, "node-ipam-controller", NAMESPACE),
    "custom": ("ipam", "ipam-system", {
        **CUSTOM_LEASE_VALUES,
        "leaderElection": {"enabled": True, "resourceName": "ipam-lock", "namespace": "ipam-leases",
                           "leaseDuration": "20s"},
        "extraArgs": ["--workers=3"],
        "image": {"tag": "local"},
        "apiServerEndpoint": {"host": "172.18.0.2", "port": 6443},
        "metrics": {"serviceMonitor": {"enabled": True}},
    }, "ipam-lock", "ipam-leases"),
}


@pytest.fixture(scope="session")
def api(local_apiserver):
    client = KubeAPI(local_apiserver)
    client.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", SERVICE_MONITOR_CRD)
    # The Lease namespace of the custom install is not the release namespace: it must exist first.
    client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ipam-leases"}})
    return client


@pytest.fixture(scope="session")
def installed(local_apiserver, api):
    releases = {}
    for case, (release, namespace, values, _, _) in INSTALLS.items():
        # Release records stay in memory: Helm writes its release Secrets with client-go's
        # protobuf encoding, which LocalAPIServer (JSON only) cannot decode. Every object of
        # the chart still goes through the API server.
        with helm.Config(kubeconfig_path=str(local_apiserver), namespace=namespace, storage_driver="memory") as cfg:
            releases[case] = cfg.install(str(CHART), release, values, namespace=namespace, create_namespace=True,
                                         timeout=120)
    return releases
