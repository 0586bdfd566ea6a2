"""Integration checks of the node-ipam CNI plugin binary (run by hack/cni-test.sh).

The plugin is exercised as a runtime does: CNI_* environment, the network config on stdin,
the result or error JSON on stdout. Tests that create network namespaces need root; they
say so and skip otherwise. Everything lives in a per-run temporary directory and in network
namespaces named uniquely per run, so nothing touches the machine's own network.
"""
import json
import os
import pathlib
import shutil
import subprocess
import uuid

import pytest

PLUGIN_DIR = pathlib.Path(os.environ.get("CNI_PLUGIN_DIR", "/usr/lib/cni"))
HOST_LOCAL = PLUGIN_DIR / "host-local"
BRIDGE = PLUGIN_DIR / "bridge"


def plugin_binary():
    path = os.environ.get("NODE_IPAM_BIN")
    if not path:
        pytest.exit("NODE_IPAM_BIN is not set: run hack/cni-test.sh (it builds node-ipam and sets it)", returncode=2)
    if not os.access(path, os.X_OK):
        pytest.exit(f"NODE_IPAM_BIN={path} is not an executable file", returncode=2)
    return pathlib.Path(path).resolve()


@pytest.fixture(scope="session")
def node_ipam():
    return plugin_binary()


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.json = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            self.json = None

    @property
    def ips(self):
        return [ip["address"] for ip in (self.json or {}).get("ips", [])]

    @property
    def code(self):
        return (self.json or {}).get("code")

    def __repr__(self):
        return f"rc={self.rc} stdout={self.stdout!r} stderr={self.stderr[-2000:]!r}"


def run_cni(binary, command, config, container=None, ifname="eth0", netns="/run/netns/none", extra_env=None,
            timeout=60):
    """One CNI call of `binary` (a plugin path or argv list)."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command}
    if container is not None:
        env.update({"CNI_CONTAINERID": container, "CNI_IFNAME": ifname, "CNI_NETNS": netns,
                    "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=pod-{container};"
                                f"K8S_POD_INFRA_CONTAINER_ID={container};K8S_POD_UID=uid-{container}"})
    env.setdefault("CNI_PATH", str(PLUGIN_DIR))
    env.update(extra_env or {})
    argv = binary if isinstance(binary, list) else [str(binary)]
    data = config if isinstance(config, str) else json.dumps(config)
    proc = subprocess.run(argv, input=data, env=env, capture_output=True, text=True, timeout=timeout)
    return Result(proc)


def ipam_config(ipam, name="pods", version="1.0.0", **top):
    config = {"cniVersion": version, "name": name, "type": "bridge", "ipam": ipam}
    config.update(top)
    return config


def store_files(directory):
    d = pathlib.Path(directory)
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def address_files(directory):
    return [n for n in store_files(directory) if n != "lock" and not n.startswith("last_reserved_ip.")
            and not n.startswith(".")]


def is_root():
    return os.geteuid() == 0


def netns_usable():
    if not is_root() or shutil.which("ip") is None:
        return False
    probe = f"nitprobe{uuid.uuid4().hex[:6]}"
    ok = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ok


NETNS_REASON = "needs root and network namespaces (ip netns add); run as root to exercise the bridge plugin"
needs_netns = pytest.mark.skipif(not netns_usable(), reason=NETNS_REASON)
needs_host_local = pytest.mark.skipif(not HOST_LOCAL.exists(), reason=f"{HOST_LOCAL} missing (Debian containernetworking-plugins)")


def pytest_report_header(config):
    lines = [f"node-ipam: {os.environ.get('NODE_IPAM_BIN', '(NODE_IPAM_BIN not set)')}",
             f"reference plugins: {PLUGIN_DIR}"]
    if not netns_usable():
        lines.append("NOTE: " + NETNS_REASON + " - those tests are skipped")
    return lines
