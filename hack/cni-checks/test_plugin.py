"""node-ipam run as a process (no root needed): protocol, concurrency, crashes, host-local parity."""
import concurrent.futures
import fcntl
import ipaddress
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import (HOST_LOCAL, address_files, ipam_config, needs_host_local, run_cni, store_files)

DUAL = [[{"subnet": "10.244.3.0/24"}], [{"subnet": "fd00:10:244:3::/64"}]]


def dual_ipam(store, **more):
    ipam = {"type": "node-ipam", "dataDir": str(store), "ranges": DUAL,
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}
    ipam.update(more)
    return ipam


def check_store(store, expected_owners=None):
    """Every address file parses as host-local's format; no temporary file is left once a call ran."""
    owners = {}
    for name in address_files(store):
        ipaddress.ip_address(name)
        text = (store / name).read_bytes().decode()   # bytes: read_text() would turn CRLF into LF
        lines = text.split("\r\n")
        assert len(lines) >= 2 and lines[0] and lines[1], f"corrupt file {name}: {text!r}"
        owners[name] = (lines[0], lines[1])
    for name in store_files(store):
        if name.startswith("last_reserved_ip."):
            ipaddress.ip_address((store / name).read_text().strip())
    if expected_owners is not None:
        assert sorted(set(owners.values())) == sorted(expected_owners)
    return owners


def test_version_and_result_shape(node_ipam, tmp):
    v = run_cni(node_ipam, "VERSION", {"cniVersion": "1.0.0"})
    assert v.rc == 0 and v.json == {"cniVersion": "1.0.0",
                                    "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}
    add = run_cni(node_ipam, "ADD", ipam_config(dual_ipam(tmp / "s")), container="c1")
    assert add.rc == 0, add
    assert add.json == {"cniVersion": "1.0.0",
                        "ips": [{"address": "10.244.3.2/24", "gateway": "10.244.3.1"},
                                {"address": "fd00:10:244:3::2/64", "gateway": "fd00:10:244:3::1"}],
                        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}], "dns": {}}
    assert "ADD pod=test/pod-c1 uid=uid-c1 container=c1 ifname=eth0" in add.stderr


@pytest.mark.parametrize("env,config_change,code", [
    ({"CNI_CONTAINERID": ""}, {}, 4),
    ({}, {"cniVersion": "0.2.0"}, 1),
    ({}, {"ipam": {"type": "node-ipam", "subnet": "10.0.0.5/24"}}, 7),
])
def test_errors_are_json_on_stdout_with_codes(node_ipam, tmp, env, config_change, code):
    config = ipam_config(dual_ipam(tmp / "s"))
    config.update(config_change)
    r = run_cni(node_ipam, "ADD", config, container="c1", extra_env=env)
    assert r.rc != 0 and r.code == code, r
    assert set(r.json) == {"cniVersion", "code", "msg", "details"}
    assert r.json["msg"] and r.json["details"]


def test_garbage_on_stdin_is_code_6(node_ipam):
    r = run_cni(node_ipam, "ADD", "{oops", container="c1")
    assert r.rc != 0 and r.code == 6, r


def test_gc_and_status_need_1_1_0_and_work(node_ipam, tmp):
    store = tmp / "s"
    tiny = {"type": "node-ipam", "dataDir": str(store), "subnet": "10.9.0.0/29"}   # 5 usable
    for i in range(5):
        assert run_cni(node_ipam, "ADD", ipam_config(tiny, version="1.1.0"), container=f"c{i}").rc == 0
    assert run_cni(node_ipam, "STATUS", ipam_config(tiny, version="1.1.0")).code == 50
    assert run_cni(node_ipam, "STATUS", ipam_config(tiny, version="1.0.0")).code == 1
    valid = [{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c3", "ifname": "eth0"}]
    gc = run_cni(node_ipam, "GC", ipam_config(tiny, version="1.1.0", **{"cni.dev/valid-attachments": valid}))
    assert gc.rc == 0 and gc.stdout == "", gc
    assert address_files(store) == ["10.9.0.3", "10.9.0.5"]
    st = run_cni(node_ipam, "STATUS", ipam_config(tiny, version="1.1.0"))
    assert st.rc == 0 and st.stdout == "", st


def test_lock_timeout_is_code_11(node_ipam, tmp):
    store = tmp / "s"
    store.mkdir()
    with open(store / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        start = time.monotonic()
        r = run_cni(node_ipam, "ADD", ipam_config(dual_ipam(store)), container="c1",
                    extra_env={"NODE_IPAM_LOCK_TIMEOUT": "1"})
        waited = time.monotonic() - start
    assert r.code == 11, r
    assert 0.9 < waited < 5
    assert address_files(store) == []


def test_200_parallel_adds_get_200_distinct_addresses(node_ipam, tmp):
    store = tmp / "s"
    ipam = {"type": "node-ipam", "dataDir": str(store),
            "ranges": [[{"subnet": "10.244.0.0/23"}], [{"subnet": "fd00:10:244::/64"}]]}
    config = json.dumps(ipam_config(ipam))

    def add(i):
        return run_cni(node_ipam, "ADD", config, container=f"par{i}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(add, range(200)))
    assert all(r.rc == 0 for r in results), [r for r in results if r.rc != 0][:3]
    v4 = [r.ips[0] for r in results]
    v6 = [r.ips[1] for r in results]
    assert len(set(v4)) == 200 and len(set(v6)) == 200
    net4, net6 = ipaddress.ip_network("10.244.0.0/23"), ipaddress.ip_network("fd00:10:244::/64")
    for a in v4:
        addr = ipaddress.ip_interface(a).ip
        assert addr in net4 and addr not in (net4.network_address, net4.broadcast_address, net4.network_address + 1)
    assert all(ipaddress.ip_interface(a).ip in net6 for a in v6)
    owners = check_store(store, expected_owners=[(f"par{i}", "eth0") for i in range(200)])
    assert len(owners) == 400
    # The store agrees with what each caller was told.
    for i, r in enumerate(results):
        for a in r.ips:
            assert owners[str(ipaddress.ip_interface(a).ip)] == (f"par{i}", "eth0")


def test_kill_9_at_random_points_loses_and_duplicates_nothing(node_ipam, tmp):
    store = tmp / "s"
    ranges = [[{"subnet": "10.244.4.0/22"}], [{"subnet": "fd00:10:244:4::/64"}]]   # room for all 360
    config = json.dumps(ipam_config(dual_ipam(store, ranges=ranges)))
    env = {"PATH": os.environ["PATH"], "CNI_COMMAND": "ADD", "CNI_IFNAME": "eth0", "CNI_NETNS": "/run/netns/x",
           "CNI_PATH": "/usr/lib/cni"}
    rng = random.Random(1234)
    completed = {}   # container -> addresses it was given (the runtime saw success)
    killed = 0
    for i in range(120):
        procs = []
        for j in range(3):   # a few at once so kills also hit waiters and lock holders
            cid = f"k{i}-{j}"
            p = subprocess.Popen([str(node_ipam)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, env={**env, "CNI_CONTAINERID": cid})
            p.stdin.write(config.encode())
            p.stdin.close()
            procs.append((cid, p))
        time.sleep(rng.uniform(0, 0.004))
        for cid, p in procs:
            if rng.random() < 0.7:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            out = p.stdout.read()
            p.wait()
            if p.returncode == 0:
                completed[cid] = json.loads(out)["ips"]
            elif p.returncode == -signal.SIGKILL:
                killed += 1
    assert killed > 20, "the kills should land in most rounds"
    check_store(store)
    # Every container the runtime saw succeed still holds exactly its addresses.
    owners = check_store(store)
    for cid, ips in completed.items():
        for ip in ips:
            assert owners[str(ipaddress.ip_interface(ip["address"]).ip)] == (cid, "eth0")
    # ADD again for all (the runtime retries): same addresses for the completed, all distinct.
    everyone = [f"k{i}-{j}" for i in range(120) for j in range(3)]
    final = {}
    for cid in everyone:
        r = run_cni(node_ipam, "ADD", config, container=cid)
        assert r.rc == 0, r
        final[cid] = r.ips
        if cid in completed:
            assert r.ips == [ip["address"] for ip in completed[cid]]
    flat = [a for ips in final.values() for a in ips]
    assert len(flat) == len(set(flat)) == 2 * len(everyone)
    assert not [n for n in store_files(store) if n.startswith(".")]
    # DEL half, GC the rest except a quarter: exactly the kept quarter remains.
    for cid in everyone[: len(everyone) // 2]:
        assert run_cni(node_ipam, "DEL", config, container=cid).rc == 0
    keep = everyone[len(everyone) // 2:: 2]
    gc_config = ipam_config(dual_ipam(store, ranges=ranges), version="1.1.0",
                            **{"cni.dev/valid-attachments": [{"containerID": c, "ifname": "eth0"} for c in keep]})
    assert run_cni(node_ipam, "GC", gc_config).rc == 0
    check_store(store, expected_owners=[(c, "eth0") for c in keep])


@needs_host_local
@pytest.mark.parametrize("ranges", [
    [[{"subnet": "10.88.0.0/28", "rangeStart": "10.88.0.3", "rangeEnd": "10.88.0.12"}]],
    [[{"subnet": "10.88.0.0/28"}, {"subnet": "10.88.1.0/29"}], [{"subnet": "fd00:88::/120", "rangeEnd": "fd00:88::9"}]],
], ids=["single-range", "two-ranges-dual-stack"])
def test_same_sequence_as_host_local(node_ipam, tmp, ranges):
    """Sequential mode follows host-local's order: the same ADD/DEL sequence, the same addresses."""
    def config(plugin, store):
        return ipam_config({"type": plugin, "dataDir": str(store), "ranges": ranges})

    rng = random.Random(7)
    live, n = [], 0
    for step in range(80):
        if live and (rng.random() < 0.4 or len(live) >= 8):
            cid = live.pop(rng.randrange(len(live)))
            ours = run_cni(node_ipam, "DEL", config("node-ipam", tmp / "ours"), container=cid)
            theirs = run_cni(HOST_LOCAL, "DEL", config("host-local", tmp / "hl"), container=cid)
            assert ours.rc == theirs.rc == 0, (ours, theirs)
        else:
            cid = f"c{n}"
            n += 1
            ours = run_cni(node_ipam, "ADD", config("node-ipam", tmp / "ours"), container=cid)
            theirs = run_cni(HOST_LOCAL, "ADD", config("host-local", tmp / "hl"), container=cid)
            assert ours.rc == theirs.rc == 0, (step, ours, theirs)
            assert ours.ips == theirs.ips, step
            live.append(cid)
    # host-local keeps its store in <dataDir>/<network name>
    assert address_files(tmp / "ours") == address_files(tmp / "hl" / "pods")


@needs_host_local
def test_host_local_store_is_picked_up_unchanged(node_ipam, tmp):
    data = tmp / "data"
    hl = ipam_config({"type": "host-local", "dataDir": str(data), "ranges": DUAL})
    ours = ipam_config({"type": "node-ipam", "dataDir": str(data), "ranges": DUAL}, version="1.1.0")
    given = {}
    for cid in ["a", "b", "c"]:
        r = run_cni(HOST_LOCAL, "ADD", hl, container=cid)
        assert r.rc == 0, r
        given[cid] = r.ips
    assert run_cni(HOST_LOCAL, "DEL", hl, container="b").rc == 0
    before = {n: (data / "pods" / n).read_bytes() for n in store_files(data / "pods")}
    # node-ipam with the same dataDir finds host-local's <dataDir>/<name> and its files, unchanged.
    for cid in ["a", "c"]:
        r = run_cni(node_ipam, "CHECK", {**ours, "prevResult": {"cniVersion": "1.0.0", "ips": [{"address": a} for a in given[cid]]}},
                    container=cid)
        assert r.rc == 0, r
        again = run_cni(node_ipam, "ADD", ours, container=cid)
        assert again.ips == given[cid], again
    assert {n: (data / "pods" / n).read_bytes() for n in store_files(data / "pods")} == before
    new = run_cni(node_ipam, "ADD", ours, container="d")
    assert new.ips == ["10.244.3.5/24", "fd00:10:244:3::5/64"], new   # after host-local's cursor (.4)
    assert run_cni(node_ipam, "DEL", ours, container="a").rc == 0
    valid = [{"containerID": "d", "ifname": "eth0"}]
    assert run_cni(node_ipam, "GC", {**ours, "cni.dev/valid-attachments": valid}).rc == 0
    assert address_files(data / "pods") == ["10.244.3.5", "fd00:10:244:3::5"]
    assert not (data / "lock").exists()
