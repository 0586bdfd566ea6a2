"""node-ipam as the IPAM of Debian's real `bridge` plugin, with real network namespaces.

Layout: a dedicated "host" namespace holds the bridge (the bridge plugin runs inside it via
`ip netns exec`), two "pod" namespaces get the veths. Nothing is created in the machine's own
namespace; deleting the namespaces removes every interface. Needs root.
"""
import ipaddress
import json
import os
import pathlib
import subprocess
import uuid

import pytest

from conftest import BRIDGE, address_files, needs_netns, run_cni

pytestmark = [needs_netns, pytest.mark.skipif(not BRIDGE.exists(), reason=f"{BRIDGE} missing")]

NODE_POD_CIDR = "10.244.7.0/24,fd00:10:244:7::/64"


def sh(*argv, check=True):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


@pytest.fixture
def lab(tmp, node_ipam):
    """Namespaces named uniquely for this run, always deleted afterwards."""
    # hack/cni-test.sh sets the run tag so its EXIT trap can find what a killed run left.
    tag = os.environ.get("CNI_TEST_RUN_TAG", uuid.uuid4().hex[:4])[:4] + uuid.uuid4().hex[:2]
    names = {"host": f"nith{tag}", "p1": f"nit1{tag}", "p2": f"nit2{tag}"}
    created = []
    try:
        for name in names.values():
            sh("ip", "netns", "add", name)
            created.append(name)
        # CNI_PATH: node-ipam first (by its type name), then Debian's plugins.
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "node-ipam").symlink_to(node_ipam)
        store = tmp / "store"
        conf = {"cniVersion": "1.0.0", "name": "nitnet", "type": "bridge", "bridge": f"nbr{tag}",
                "isGateway": False, "ipMasq": False, "mtu": 1500,
                "ipam": {"type": "node-ipam", "nodePodCIDRs": True, "dataDir": str(store),
                         "nodePodCIDRsFile": str(tmp / "absent-agent-file"),
                         "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}}
        yield {"ns": names, "conf": conf, "store": store, "cni_path": f"{bin_dir}:{BRIDGE.parent}", "tag": tag}
    finally:
        for name in reversed(created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def bridge(lab, command, pod, conf=None, container=None):
    """Runs the bridge plugin inside the lab's host namespace for `pod`."""
    return run_cni(["ip", "netns", "exec", lab["ns"]["host"], str(BRIDGE)], command, conf or lab["conf"],
                   container=container or f"ctr-{pod}-{lab['tag']}", netns=f"/run/netns/{lab['ns'][pod]}",
                   extra_env={"CNI_PATH": lab["cni_path"], "NODE_POD_CIDR": NODE_POD_CIDR})


def pod_addresses(lab, pod):
    out = sh("ip", "netns", "exec", lab["ns"][pod], "ip", "-j", "addr", "show", "dev", "eth0").stdout
    return {f"{a['local']}/{a['prefixlen']}" for a in json.loads(out)[0]["addr_info"] if a.get("scope") == "global"}


def ping(lab, pod, address):
    flag = "-6" if ":" in address else "-4"
    return subprocess.run(["ip", "netns", "exec", lab["ns"][pod], "ping", flag, "-c", "2", "-W", "2", "-i", "0.2", address],
                          capture_output=True, text=True)


def test_two_pods_get_dual_stack_addresses_and_ping_each_other(lab):
    r1 = bridge(lab, "ADD", "p1")
    assert r1.rc == 0, r1
    r2 = bridge(lab, "ADD", "p2")
    assert r2.rc == 0, r2
    assert r1.ips == ["10.244.7.2/24", "fd00:10:244:7::2/64"]
    assert r2.ips == ["10.244.7.3/24", "fd00:10:244:7::3/64"]
    assert pod_addresses(lab, "p1") == set(r1.ips)
    assert pod_addresses(lab, "p2") == set(r2.ips)
    for address in ("10.244.7.3", "fd00:10:244:7::3"):
        p = ping(lab, "p1", address)
        assert p.returncode == 0, p.stdout + p.stderr
    for address in ("10.244.7.2", "fd00:10:244:7::2"):
        p = ping(lab, "p2", address)
        assert p.returncode == 0, p.stdout + p.stderr
    assert address_files(lab["store"]) == sorted(["10.244.7.2", "10.244.7.3", "fd00:10:244:7::2", "fd00:10:244:7::3"])


def test_check_passes_for_a_live_pod_and_fails_for_a_changed_one(lab):
    # Each CHECK right after its pod's ADD: bridge 1.1.1 records the bridge's MAC in the
    # result, and the bridge takes a new MAC when another port joins, which its own CHECK
    # then reports as a mismatch (bridge behaviour, unrelated to IPAM).
    r1 = bridge(lab, "ADD", "p1")
    assert r1.rc == 0, r1
    live = bridge(lab, "CHECK", "p1", conf={**lab["conf"], "prevResult": r1.json})
    assert live.rc == 0, live
    r2 = bridge(lab, "ADD", "p2")
    assert r2.rc == 0, r2
    check2 = {**lab["conf"], "prevResult": r2.json}
    assert bridge(lab, "CHECK", "p2", conf=check2).rc == 0
    # Changed in the store: the IPv6 reservation is gone -> our CHECK fails, bridge relays our code.
    reservation = lab["store"] / "fd00:10:244:7::3"
    content = reservation.read_bytes()
    reservation.unlink()
    gone = bridge(lab, "CHECK", "p2", conf=check2)
    assert gone.rc != 0 and gone.code == 100, gone
    assert "holds no address of range set 1" in gone.json["msg"]
    reservation.write_bytes(content)
    assert bridge(lab, "CHECK", "p2", conf=check2).rc == 0
    # Changed inside the pod: its IPv4 address removed -> the CHECK fails (bridge's own check).
    sh("ip", "netns", "exec", lab["ns"]["p2"], "ip", "addr", "del", r2.ips[0], "dev", "eth0")
    changed = bridge(lab, "CHECK", "p2", conf=check2)
    assert changed.rc != 0, changed


def test_del_removes_the_addresses_and_repeats_cleanly(lab):
    r1 = bridge(lab, "ADD", "p1")
    assert r1.rc == 0, r1
    d = bridge(lab, "DEL", "p1")
    assert d.rc == 0, d
    assert address_files(lab["store"]) == []
    out = sh("ip", "netns", "exec", lab["ns"]["p1"], "ip", "-br", "link").stdout
    assert "eth0" not in out
    again = bridge(lab, "DEL", "p1")
    assert again.rc == 0, again


def test_exhaustion_reaches_the_runtime_as_our_code(lab):
    conf = json.loads(json.dumps(lab["conf"]))
    conf["ipam"] = {"type": "node-ipam", "dataDir": str(lab["store"]), "subnet": "10.244.9.0/30"}  # one address
    assert bridge(lab, "ADD", "p1", conf=conf).rc == 0
    full = bridge(lab, "ADD", "p2", conf=conf)
    assert full.rc != 0 and full.code == 110, full
    assert "no IP addresses available in range set 0" in full.json["msg"]
