#!/usr/bin/env python3
"""End-to-end speed and memory of node-ipam-controller against LocalAPIServer (a driver, not a test).

Usage (release builds; hack/bench-controller.sh builds them and runs this):
  python3 hack/bench-controller.py --bin-dir .build-bench/release [--json FILE]

Everything runs on 127.0.0.1 over plain HTTP (no TLS), each phase against a fresh local-apiserver,
with the controller run as users run it (kubeconfig, --enable-leader-election=false, probes and
metrics on a loopback port). Phases (select with --phases):
  baseline    LocalAPIServer's raw node PATCH rate: hack/bench-node-patch.py's own create/patcher
              (merge-patch of a label over keep-alive, --patch-clients processes, --patch-seconds).
  unthrottled --nodes new nodes created by --create-clients processes with the controller running at
              --kube-api-qps 0 (0 = no limit, Settings.swift / RateLimiter.swift).
  qps20       --qps20-nodes new nodes at --kube-api-qps 20 --kube-api-burst 30.
  qps100      --qps100-nodes new nodes at --kube-api-qps 100 --kube-api-burst 30.
  backlog     --nodes nodes created while the controller is NOT running, then the controller (qps 0)
              is started: its allocation rate without node creation competing for the CPU.
  adopt       --adopt-nodes nodes that already have distinct /24 podCIDRs, created while the controller
              is not running; then the controller starts (once per --adopt-qps value): time to
              /readyz 200, time until the pool status shows them all allocated, peak RSS.
  realistic   --realistic-nodes kubelet-shaped nodes (13 KB of JSON: 8 conditions, 40 images, nodeInfo,
              managedFields, ...; benchlib.realistic_node) created at qps 0 while every node's status is
              updated every --churn-period s (merge-PATCH of nodes/<name>/status, as kubelets without the
              Lease heartbeat do). Then --churn-window s of churn alone: controller and LocalAPIServer CPU
              (/proc) per status PATCH, i.e. per watch event. Reports controller CPU per allocated node
              (gross, and net of the churn events it handled meanwhile), per status-update event, both as
              ratios to LocalAPIServer's CPU per node PATCH, client-seen allocation p99, VmHWM.
              --realistic-large-nodes N (e.g. 50000) adds a second run of N nodes.
For each allocation phase: nodes/s from the first node created (POST answered) to the last node
showing podCIDRs on a node watch (own process, own connection); node->podCIDR latency from the
controller's node_ipam_controller_node_allocation_duration_seconds histogram (/metrics) and from the
client (POST answered -> watch event with podCIDRs); controller VmHWM from /proc/PID/status.
Nodes of the other phases carry 5 ordinary labels (hostname, os, arch, instance type, zone) and no status.
"""
import argparse, json, os, pathlib, platform, sys, tempfile, time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

POOL = "bench-pool"
POOL_CIDR = "10.0.0.0/8"
POOL_HOST_BITS = 8
CRD_PATH = bl.ROOT / "config" / "crd" / "networking.x-k8s.io_clustercidrs.yaml"
CC_PATH = "/apis/networking.x-k8s.io/v1/clustercidrs"
LATENCY = "node_ipam_controller_node_allocation_duration_seconds"
REQUESTS = "node_ipam_controller_api_requests_total"
REQ_LATENCY = "node_ipam_controller_api_request_duration_seconds"
MIB = 1024


def labels(name):
    n = int(name.rsplit("-", 1)[1])
    return {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/zone": f"zone-{n % 3}"}


def adopted_cidr(name):
    n = int(name.rsplit("-", 1)[1])
    return f"10.{n >> 8}.{n & 255}.0/24"


def install_pool(api):
    import yaml  # PyYAML: only to turn the CRD manifest into JSON
    api.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml.safe_load(CRD_PATH.read_text()))
    api.must("POST", CC_PATH, {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR", "metadata": {"name": POOL},
                               "spec": {"perNodeHostBits": POOL_HOST_BITS, "ipv4": POOL_CIDR}})


def pool(api):
    return api.must("GET", f"{CC_PATH}/{POOL}")


def pool_allocated(obj):
    try:
        return int(((obj.get("status") or {}).get("ipv4") or {}).get("allocated", "0"))
    except ValueError:
        return 0


def wait_pool_registered(api, timeout=30):
    """Until the controller wrote the pool's status with Ready=True (it has registered the pool)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conds = (pool(api).get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
            return
        time.sleep(0.02)
    raise SystemExit("the controller did not mark the ClusterCIDR Ready")


def list_rv(api):
    return api.must("GET", "/api/v1/nodes?limit=1")["metadata"]["resourceVersion"]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def ms(x):
    return None if x is None else round(x * 1000, 2)


def mib(kib):
    return None if kib is None else round(kib / MIB, 1)


def controller_figures(samples):
    buckets, total_sum, count = bl.histogram(samples, LATENCY)
    req = {}
    for n, lab, v in samples:
        if n == REQUESTS:
            req[f"{lab.get('verb')} {lab.get('code')}"] = int(v)
    patch_buckets, _, _ = bl.histogram(samples, REQ_LATENCY, verb="patch")
    return {
        "latency_count": int(count),
        "latency_mean_ms": ms(total_sum / count) if count else None,
        "latency_p50_ms": ms(bl.histogram_quantile(0.50, buckets)),
        "latency_p99_ms": ms(bl.histogram_quantile(0.99, buckets)),
        "latency_within_50ms": bl.fraction_within(0.05, buckets),
        "latency_buckets": [[le if le != float("inf") else "+Inf", int(c)] for le, c in buckets],
        "api_requests": req,
        "patch_request_p50_ms": ms(bl.histogram_quantile(0.50, patch_buckets)),
        "patch_request_p99_ms": ms(bl.histogram_quantile(0.99, patch_buckets)),
    }


def measure_allocation(a, watch, names, created, t_create_first, t_create_last, ctrl, server, cpu0, t_zero=None):
    """Figures of one allocation run once the watch saw every node with podCIDRs. `cpu0`: CPU seconds
    of (controller, server) when the run started."""
    r = watch.result(timeout=a.timeout + 30)
    cpu_ctrl, cpu_server = bl.cpu_seconds(ctrl.pid) - cpu0[0], bl.cpu_seconds(server.pid) - cpu0[1]
    if "error" in r:
        raise SystemExit(f"node watch: {r['error']}")
    cidr_at, added = r["cidr_at"], r["added"]
    n = len(names)
    missing = [x for x in names if x not in cidr_at]
    time.sleep(0.7)  # the pool status write is coalesced over 500 ms
    st = bl.proc_status(ctrl.pid)
    peak_anon = ctrl.sampler.stop()
    figures = controller_figures(ctrl.metrics())
    t_last = max(cidr_at.values()) if cidr_at else None
    t0 = t_zero if t_zero is not None else (min(created.values()) if created else t_create_first)
    total = (t_last - t0) if t_last else None
    client_lat = [cidr_at[x] - created[x] for x in names if x in cidr_at and x in created]
    watch_lat = [cidr_at[x] - added[x] for x in names if x in cidr_at and x in added]
    distinct = len(set(r["cidrs"].values()))
    deciles = []
    for k in range(10):
        part = [cidr_at[x] - created[x] for x in names[k * n // 10:(k + 1) * n // 10] if x in cidr_at and x in created]
        deciles.append(ms(bl.percentile(part, 0.5)))
    out = {
        "nodes": n,
        "allocated_seen": len(cidr_at),
        "missing": len(missing),
        "distinct_podcidrs": distinct,
        "create_seconds": round(t_create_last - t_create_first, 3),
        "create_rate": round(n / (t_create_last - t_create_first), 1) if t_create_last > t_create_first else None,
        "total_seconds": round(total, 3) if total else None,
        "last_podcidr_after_last_create_ms": ms(t_last - t_create_last) if t_last else None,
        "nodes_per_second": round(len(cidr_at) / total, 1) if total else None,
        "client_p50_ms": ms(bl.percentile(client_lat, 0.50)),
        "client_p99_ms": ms(bl.percentile(client_lat, 0.99)),
        "client_max_ms": ms(max(client_lat)) if client_lat else None,
        "client_negative": sum(1 for x in client_lat if x < 0),
        "watch_added_to_cidr_p50_ms": ms(bl.percentile(watch_lat, 0.50)),
        "watch_added_to_cidr_p99_ms": ms(bl.percentile(watch_lat, 0.99)),
        "client_p50_by_creation_decile_ms": deciles if created else None,
        "watch_events": r["events"],
        "controller_cpu_seconds": round(cpu_ctrl, 3),
        "apiserver_cpu_seconds": round(cpu_server, 3),
        "controller_cpu_us_per_node": round(1e6 * cpu_ctrl / n, 1),
        "apiserver_cpu_us_per_node": round(1e6 * cpu_server / n, 1),
        "vmhwm_mib": mib(st.get("VmHWM")),
        "vmrss_mib": mib(st.get("VmRSS")),
        "rss_file_mib": mib(st.get("RssFile")),
        "peak_rss_anon_mib": mib(peak_anon),
        **figures,
    }
    if missing:
        out["missing_examples"] = missing[:5]
    return out


def phase_baseline(a, bins, work):
    bnp = bl.load_bench_node_patch()
    import multiprocessing
    with bl.LocalAPIServer(bins["local-apiserver"], work, "baseline-apiserver", history=a.history) as server:
        t0 = time.monotonic()
        bnp.create(server.url, 0, a.patch_nodes)
        created = time.monotonic() - t0
        q = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=bnp.patcher, args=(server.url, a.patch_nodes, a.patch_seconds, k, q))
                 for k in range(a.patch_clients)]
        t1 = time.monotonic()
        for p in procs:
            p.start()
        total = sum(q.get() for _ in procs)
        for p in procs:
            p.join()
        elapsed = time.monotonic() - t1
    return {"patches": total, "seconds": round(elapsed, 2), "patch_rate": round(total / elapsed, 1), "clients": a.patch_clients,
            "nodes": a.patch_nodes, "create_seconds": round(created, 2), "method": "hack/bench-node-patch.py create+patcher"}


def phase_allocate(a, bins, work, name, nodes, qps, burst, create_clients):
    print(f"[{name}] {nodes} new nodes, controller at --kube-api-qps {qps} --kube-api-burst {burst}", flush=True)
    with bl.LocalAPIServer(bins["local-apiserver"], work, f"{name}-apiserver", history=a.history) as server:
        api = bl.Api(server.url)
        install_pool(api)
        ctrl = bl.Controller(bins["node-ipam-controller"], server.kubeconfig, work, f"{name}-controller", qps, burst, a.workers)
        ctrl.sampler = bl.RssSampler(ctrl.pid)
        try:
            ready = ctrl.wait_ready()
            wait_pool_registered(api)
            rss_ready = bl.proc_status(ctrl.pid)
            if qps:
                time.sleep(burst / qps + 0.5)  # startup requests used tokens: let the bucket fill to the burst again
            else:
                time.sleep(0.3)
            names = [f"{name}-{i:05d}" for i in range(nodes)]
            watch = bl.NodeWatch(server.url, list_rv(api), f"{name}-", nodes, a.timeout)
            req0 = controller_figures(ctrl.metrics())["api_requests"]
            load0 = loadavg()
            cpu0 = (bl.cpu_seconds(ctrl.pid), bl.cpu_seconds(server.pid))
            created, first, last = bl.create_nodes(server.url, names, create_clients, labels)
            out = measure_allocation(a, watch, names, created, first, last, ctrl, server, cpu0)
            during = {k: v - req0.get(k, 0) for k, v in out["api_requests"].items() if v - req0.get(k, 0)}
            out["api_requests_during_run"] = during
            out["loadavg_before_after"] = [load0, loadavg()]
            out.update({"qps": qps, "burst": burst, "workers": a.workers, "create_clients": create_clients,
                        "ready_seconds": round(ready, 3), "controller_command": ctrl.command_line(),
                        "vmrss_at_ready_mib": mib(rss_ready.get("VmRSS")), "vmhwm_at_ready_mib": mib(rss_ready.get("VmHWM"))})
            if qps:
                out["bound_seconds"] = round((nodes - burst) / qps + 1, 2)
                # what the token bucket alone allows for the requests the controller actually made
                out["rate_limit_floor_seconds"] = round((sum(during.values()) - burst) / qps, 2)
            out["pool_allocated"] = pool_allocated(pool(api))
        finally:
            ctrl.stop()
            api.close()
    return out


def phase_backlog(a, bins, work):
    name, nodes = "backlog", a.nodes
    print(f"[{name}] {nodes} nodes without podCIDRs created first, then the controller starts (qps 0)", flush=True)
    with bl.LocalAPIServer(bins["local-apiserver"], work, f"{name}-apiserver", history=a.history) as server:
        api = bl.Api(server.url)
        install_pool(api)
        names = [f"{name}-{i:05d}" for i in range(nodes)]
        created, first, last = bl.create_nodes(server.url, names, a.create_clients, labels)
        watch = bl.NodeWatch(server.url, list_rv(api), f"{name}-", nodes, a.timeout)
        cpu_server0 = bl.cpu_seconds(server.pid)
        ctrl = bl.Controller(bins["node-ipam-controller"], server.kubeconfig, work, f"{name}-controller", 0, 30, a.workers)
        ctrl.sampler = bl.RssSampler(ctrl.pid)
        try:
            ready = ctrl.wait_ready()
            t_ready = ctrl.started + ready
            rss_ready = bl.proc_status(ctrl.pid)
            out = measure_allocation(a, watch, names, {}, first, last, ctrl, server, (0.0, cpu_server0), t_zero=t_ready)
            # here total_seconds/nodes_per_second run from /readyz 200 to the last podCIDRs; client latency is meaningless
            for k in ("client_p50_ms", "client_p99_ms", "client_max_ms", "client_negative", "watch_added_to_cidr_p50_ms", "watch_added_to_cidr_p99_ms"):
                out.pop(k, None)
            out.update({"qps": 0, "burst": 30, "workers": a.workers, "ready_seconds": round(ready, 3),
                        "vmrss_at_ready_mib": mib(rss_ready.get("VmRSS")),
                        "from_process_start_seconds": round((out["total_seconds"] or 0) + ready, 3),
                        "controller_command": ctrl.command_line()})
        finally:
            ctrl.stop()
            api.close()
    return out


def phase_adopt(a, bins, work):
    name, nodes = "adopt", a.adopt_nodes
    capacity = 1 << (32 - 8 - POOL_HOST_BITS)
    if nodes > capacity:
        raise SystemExit(f"--adopt-nodes {nodes}: the pool {POOL_CIDR} holds only {capacity} /24s")
    print(f"[{name}] {nodes} nodes with podCIDRs created first, then the controller starts", flush=True)
    results = []
    with bl.LocalAPIServer(bins["local-apiserver"], work, f"{name}-apiserver", history=a.history) as server:
        api = bl.Api(server.url)
        install_pool(api)
        names = [f"{name}-{i:05d}" for i in range(nodes)]
        _, first, last = bl.create_nodes(server.url, names, a.create_clients, labels, cidr_of=adopted_cidr, record_times=False)
        create_seconds = last - first
        print(f"[{name}] created {nodes} nodes in {create_seconds:.1f}s", flush=True)
        for qps in a.adopt_qps:
            obj = pool(api)
            if obj.get("status"):
                obj["status"] = {}
                api.must("PUT", f"{CC_PATH}/{POOL}/status", obj)  # the next controller must write it afresh
            cpu_server0 = bl.cpu_seconds(server.pid)
            ctrl = bl.Controller(bins["node-ipam-controller"], server.kubeconfig, work, f"{name}-qps{qps:g}-controller", qps, a.adopt_burst, a.workers)
            sampler = bl.RssSampler(ctrl.pid)
            try:
                ready = ctrl.wait_ready(timeout=a.timeout)
                cpu_at_ready = (bl.cpu_seconds(ctrl.pid), bl.cpu_seconds(server.pid) - cpu_server0)
                hwm_at_ready = bl.proc_status(ctrl.pid).get("VmHWM")
                status_seconds, seen = None, 0
                deadline = time.monotonic() + a.timeout
                while time.monotonic() < deadline:
                    seen = pool_allocated(pool(api))
                    if seen >= nodes:
                        status_seconds = time.monotonic() - ctrl.started
                        break
                    time.sleep(0.02)
                bl.wait_idle(ctrl.pid)
                st = bl.proc_status(ctrl.pid)
                peak_anon = sampler.stop()
                samples = ctrl.metrics()
                figures = controller_figures(samples)
                results.append({
                    "nodes": nodes, "qps": qps, "burst": a.adopt_burst, "workers": a.workers,
                    "create_seconds": round(create_seconds, 2), "create_rate": round(nodes / create_seconds, 1),
                    "ready_seconds": round(ready, 3),
                    "pool_status_seconds": round(status_seconds, 3) if status_seconds else None,
                    "pool_allocated_seen": seen,
                    "idle_after_seconds": round(time.monotonic() - ctrl.started, 2),
                    "vmhwm_mib": mib(st.get("VmHWM")), "vmrss_mib": mib(st.get("VmRSS")),
                    "rss_file_mib": mib(st.get("RssFile")), "peak_rss_anon_mib": mib(peak_anon),
                    "peak_rss_anon_after_ready_seconds": round(sampler.peak_anon_at - ready, 2) if sampler.peak_anon_at else None,
                    "cpu_seconds": round(bl.cpu_seconds(ctrl.pid), 2),
                    "controller_cpu_until_ready_seconds": round(cpu_at_ready[0], 3),
                    "apiserver_cpu_until_ready_seconds": round(cpu_at_ready[1], 3),
                    "vmhwm_at_ready_mib": mib(hwm_at_ready),
                    "api_requests": figures["api_requests"],
                    "allocations_during_adopt": figures["latency_count"],
                    "controller_command": ctrl.command_line(),
                })
            finally:
                ctrl.stop()
        api.close()
    return results


def phase_realistic(a, bins, work, name, nodes):
    pace = f", created at {a.create_rate:g}/s" if a.create_rate else ""
    print(f"[{name}] {nodes} realistic nodes{pace}, status of every node updated every {a.churn_period:g} s, controller at qps 0", flush=True)
    with bl.LocalAPIServer(bins["local-apiserver"], work, f"{name}-apiserver", history=a.history) as server:
        api = bl.Api(server.url)
        install_pool(api)
        ctrl = bl.Controller(bins["node-ipam-controller"], server.kubeconfig, work, f"{name}-controller", 0, 30, a.workers)
        ctrl.sampler = bl.RssSampler(ctrl.pid)
        churn = None
        try:
            ctrl.wait_ready()
            wait_pool_registered(api)
            time.sleep(0.3)
            names = [f"{name}-{i:05d}" for i in range(nodes)]
            watch = bl.NodeWatch(server.url, list_rv(api), f"{name}-", nodes, a.timeout)
            churn = bl.StatusChurn(server.url, names, a.churn_period, a.churn_clients)
            cpu0 = (bl.cpu_seconds(ctrl.pid), bl.cpu_seconds(server.pid))
            patches0 = churn.patches
            created, first, last = bl.create_nodes(server.url, names, a.create_clients, labels, realistic=True,
                                                   rate=a.create_rate or None)
            out = measure_allocation(a, watch, names, created, first, last, ctrl, server, cpu0)
            churn_during_create = churn.patches - patches0
            # Churn alone: every PATCH is one MODIFIED event the controller reads and drops.
            c0, s0, p0, t0 = bl.cpu_seconds(ctrl.pid), bl.cpu_seconds(server.pid), churn.patches, time.monotonic()
            time.sleep(a.churn_window)
            c1, s1, p1, t1 = bl.cpu_seconds(ctrl.pid), bl.cpu_seconds(server.pid), churn.patches, time.monotonic()
            churn.stop()
            churn = None
            st = bl.proc_status(ctrl.pid)
            window_patches = p1 - p0
            per_event = (c1 - c0) / window_patches if window_patches else None
            server_per_patch = (s1 - s0) / window_patches if window_patches else None
            net_cpu = out["controller_cpu_seconds"] - (per_event or 0) * churn_during_create
            ctrl_per_node = out["controller_cpu_seconds"] / nodes
            ctrl_per_node_net = net_cpu / nodes
            out.update({
                "node_json_bytes": len(json.dumps(bl.realistic_node(names[0], labels), separators=(",", ":"))),
                "churn_period_seconds": a.churn_period,
                "churn_patches_during_create": churn_during_create,
                "churn_window_seconds": round(t1 - t0, 2),
                "churn_window_patches": window_patches,
                "churn_window_rate": round(window_patches / (t1 - t0), 1),
                "controller_cpu_us_per_status_event": round(1e6 * per_event, 1) if per_event is not None else None,
                "apiserver_cpu_us_per_node_patch": round(1e6 * server_per_patch, 1) if server_per_patch else None,
                "controller_cpu_us_per_allocated_node": round(1e6 * ctrl_per_node, 1),
                "controller_cpu_us_per_allocated_node_net_of_churn": round(1e6 * ctrl_per_node_net, 1),
                "ratio_node_to_patch": round(ctrl_per_node / server_per_patch, 3) if server_per_patch else None,
                "ratio_node_net_to_patch": round(ctrl_per_node_net / server_per_patch, 3) if server_per_patch else None,
                "ratio_event_to_patch": round(per_event / server_per_patch, 3) if server_per_patch and per_event is not None else None,
                "vmhwm_after_churn_mib": mib(st.get("VmHWM")),
                "qps": 0, "burst": 30, "workers": a.workers, "create_clients": a.create_clients,
                "create_rate_target": a.create_rate or None,
                "controller_command": ctrl.command_line(),
            })
            out["pool_allocated"] = pool_allocated(pool(api))
        finally:
            if churn:
                churn.stop()
            ctrl.stop()
            api.close()
    return out


# ---------------------------------------------------------------- summary

def verdict(ok):
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def targets(res, a):
    rows = []
    base = (res.get("baseline") or {}).get("patch_rate")
    u = res.get("unthrottled")
    if u:
        nps = u.get("nodes_per_second")
        ok = None if not (base and nps) else nps >= 0.9 * base
        rows.append((f"unthrottled throughput >= 90% of raw PATCH rate ({0.9 * base:.0f}/s)" if base else "unthrottled throughput >= 90% of raw PATCH rate",
                     f"{nps}/s = {100 * nps / base:.1f}% of {base:.0f}/s" if base and nps else f"{nps}/s", verdict(ok)))
        bk = res.get("backlog")
        if bk and base and bk.get("nodes_per_second"):
            rows.append(("backlog: controller alone, no node creation competing",
                         f"{bk['nodes_per_second']}/s = {100 * bk['nodes_per_second'] / base:.1f}% of {base:.0f}/s", "info"))
        rows.append(("unthrottled: node creation rate (all creator processes)",
                     f"{u.get('create_rate')}/s; last podCIDRs {u.get('last_podcidr_after_last_create_ms')} ms after the last POST", "info"))
        p99 = u.get("latency_p99_ms")
        frac = u.get("latency_within_50ms")
        ok = None if frac is None else frac >= 0.99
        rows.append(("unthrottled p99 latency <= 50 ms (controller histogram)",
                     f"p99 {p99} ms; {100 * frac:.2f}% within 50 ms" if frac is not None else "no data", verdict(ok)))
        cp99 = u.get("client_p99_ms")
        rows.append(("unthrottled p99 latency <= 50 ms (client: POST answered -> podCIDRs event)",
                     f"p99 {cp99} ms", verdict(None if cp99 is None else cp99 <= 50)))
        hwm = u.get("vmhwm_mib")
        rows.append((f"controller RSS <= 40 MiB at {u['nodes']} nodes (VmHWM)", f"{hwm} MiB (peak RssAnon {u.get('peak_rss_anon_mib')} MiB)",
                     verdict(None if hwm is None else hwm <= 40)))
    for key in ("qps20", "qps100"):
        q = res.get(key)
        if q:
            rows.append((f"{key}: {q['nodes']} nodes in <= (N - burst)/QPS + 1 s = {q['bound_seconds']} s",
                         f"{q['total_seconds']} s", verdict(None if q["total_seconds"] is None else q["total_seconds"] <= q["bound_seconds"])))
    for key in ("realistic", "realistic_large"):
        r = res.get(key)
        if not r:
            continue
        n = r["nodes"]
        ratio, net = r.get("ratio_node_to_patch"), r.get("ratio_node_net_to_patch")
        rows.append((f"{key} {n}: controller CPU per allocated node <= 0.5 x LocalAPIServer CPU per node PATCH",
                     f"{r['controller_cpu_us_per_allocated_node']} us (net of churn {r['controller_cpu_us_per_allocated_node_net_of_churn']} us) vs "
                     f"{r['apiserver_cpu_us_per_node_patch']} us: ratio {ratio} (net {net})", verdict(None if net is None else net <= 0.5)))
        ev = r.get("ratio_event_to_patch")
        rows.append((f"{key} {n}: controller CPU per status-update event <= 0.2 x LocalAPIServer CPU per node PATCH",
                     f"{r['controller_cpu_us_per_status_event']} us vs {r['apiserver_cpu_us_per_node_patch']} us: ratio {ev}", verdict(None if ev is None else ev <= 0.2)))
        cp99 = r.get("client_p99_ms")
        rows.append((f"{key} {n}: allocation p99 <= 50 ms client-seen, churn running ({r.get('create_rate')} nodes/s created)",
                     f"p99 {cp99} ms", verdict(None if cp99 is None else cp99 <= 50)))
        limit = 40 if n <= 5000 else 150
        rows.append((f"{key} {n}: controller RSS <= {limit} MiB (VmHWM)", f"{r['vmhwm_after_churn_mib']} MiB", verdict(r["vmhwm_after_churn_mib"] <= limit)))
    for ad in res.get("adopt") or []:
        rows.append((f"adopt {ad['nodes']} nodes (qps {ad['qps']:g}): RSS <= 150 MiB (VmHWM)",
                     f"{ad['vmhwm_mib']} MiB (at /readyz {ad['vmhwm_at_ready_mib']} MiB; peak RssAnon {ad['peak_rss_anon_mib']} MiB)",
                     verdict(ad["vmhwm_mib"] <= 150)))
    return rows


def fmt(v, unit=""):
    return "-" if v is None else f"{v}{unit}"


def print_summary(res, a):
    print("\n=== node-ipam-controller benchmark (loopback, plain HTTP, release builds) ===")
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}; started {res['started']}; wall time {res['wall_seconds']} s; "
          f"1-min load average at start {res['loadavg_at_start']} (above ~0.5: something else was running, figures are low)")
    b = res.get("baseline")
    if b:
        print(f"\nbaseline: LocalAPIServer node merge-PATCH {b['patch_rate']:.0f}/s ({b['patches']} in {b['seconds']} s, "
              f"{b['clients']} client processes, keep-alive, {b['nodes']} nodes)")
    rows = [(k, res[k]) for k in ("unthrottled", "qps20", "qps100", "backlog") if res.get(k)]
    if rows:
        hdr = f"{'run':<12}{'nodes':>7}{'qps/burst':>11}{'created/s':>11}{'total s':>9}{'nodes/s':>9}" \
              f"{'ctl p50':>9}{'ctl p99':>9}{'cli p50':>9}{'cli p99':>9}{'VmHWM':>8}{'anon':>7}"
        print("\n" + hdr + "\n" + "-" * len(hdr))
        for k, r in rows:
            qb = f"{r['qps']:g}/{r['burst']}" if r["qps"] else "0(unl)"
            print(f"{k:<12}{r['nodes']:>7}{qb:>11}{fmt(r.get('create_rate')):>11}{fmt(r['total_seconds']):>9}"
                  f"{fmt(r['nodes_per_second']):>9}{fmt(r['latency_p50_ms']):>9}{fmt(r['latency_p99_ms']):>9}"
                  f"{fmt(r.get('client_p50_ms')):>9}{fmt(r.get('client_p99_ms')):>9}{fmt(r['vmhwm_mib']):>8}{fmt(r['peak_rss_anon_mib']):>7}")
        print("(latencies in ms; ctl = controller histogram, interpolated inside its buckets 1/2.5/5/10/25/50/100/250 ms...;"
              " cli = POST answered -> watch event with podCIDRs;\n VmHWM = peak RSS in MiB, incl. ~40 MiB of mapped binary/library pages; anon = peak RssAnon (sampled every 10 ms);\n backlog: nodes existed before the controller"
              " started, total s runs from /readyz 200 to the last podCIDRs)")
        for k, r in rows:
            print(f"  {k}:")
            if r.get("api_requests_during_run") is not None:
                line = f"    requests during the run {r['api_requests_during_run']}"
                if r.get("rate_limit_floor_seconds") is not None:
                    line += f" -> the token bucket alone needs (requests - burst)/QPS = {r['rate_limit_floor_seconds']} s"
                print(line)
            else:
                print(f"    requests {r['api_requests']}")
            print(f"    CPU per node: controller {r['controller_cpu_us_per_node']} us, local-apiserver {r['apiserver_cpu_us_per_node']} us; "
                  f"controller VmRSS at /readyz {r.get('vmrss_at_ready_mib')} MiB; last podCIDRs {r.get('last_podcidr_after_last_create_ms')} ms after the last POST")
            line = f"    controller PATCH request p50/p99 {r['patch_request_p50_ms']}/{r['patch_request_p99_ms']} ms"
            if r.get("watch_added_to_cidr_p99_ms") is not None:
                line += f"; on the watch, ADDED -> podCIDRs p50/p99 {r['watch_added_to_cidr_p50_ms']}/{r['watch_added_to_cidr_p99_ms']} ms"
            print(line)
            if r.get("client_p50_by_creation_decile_ms"):
                print(f"    client latency p50 by creation order (tenths) {r['client_p50_by_creation_decile_ms']} ms")
            if r.get("missing") or r.get("distinct_podcidrs") != r.get("allocated_seen"):
                print(f"    WARNING: {r['missing']} nodes never got podCIDRs; {r['distinct_podcidrs']} distinct podCIDRs among {r['allocated_seen']} nodes")
    for ad in res.get("adopt") or []:
        print(f"\nadopt: {ad['nodes']} nodes with podCIDRs (created at {ad['create_rate']:.0f}/s), controller at qps {ad['qps']:g} burst {ad['burst']}: "
              f"/readyz 200 after {ad['ready_seconds']} s (CPU until then: controller {ad['controller_cpu_until_ready_seconds']} s, "
              f"local-apiserver {ad['apiserver_cpu_until_ready_seconds']} s; VmHWM {ad['vmhwm_at_ready_mib']} MiB), pool status {ad['pool_allocated_seen']} allocated after "
              f"{fmt(ad['pool_status_seconds'])} s, idle after {ad['idle_after_seconds']} s, CPU {ad['cpu_seconds']} s, "
              f"VmHWM {ad['vmhwm_mib']} MiB (VmRSS {ad['vmrss_mib']} MiB, of it mapped files {ad['rss_file_mib']} MiB; peak RssAnon "
              f"{ad['peak_rss_anon_mib']} MiB, {ad['peak_rss_anon_after_ready_seconds']} s after /readyz); requests {ad['api_requests']}")
    for key in ("realistic", "realistic_large"):
        r = res.get(key)
        if r:
            print(f"\n{key}: {r['nodes']} nodes of {r['node_json_bytes']} bytes created at {r.get('create_rate')}/s with status churn "
                  f"({r['churn_patches_during_create']} status PATCHes meanwhile); {r['nodes_per_second']} nodes/s allocated; "
                  f"client p50/p99 {r.get('client_p50_ms')}/{r.get('client_p99_ms')} ms; watch events seen by the driver {r['watch_events']}")
            print(f"    CPU: controller {r['controller_cpu_us_per_allocated_node']} us per allocated node ({r['controller_cpu_us_per_allocated_node_net_of_churn']} us net of churn), "
                  f"{r['controller_cpu_us_per_status_event']} us per status-update event; local-apiserver {r['apiserver_cpu_us_per_node_patch']} us per node PATCH "
                  f"(churn alone, {r['churn_window_patches']} PATCHes in {r['churn_window_seconds']} s)")
            print(f"    ratios to a PATCH: per node {r['ratio_node_to_patch']} (net {r['ratio_node_net_to_patch']}), per event {r['ratio_event_to_patch']}; "
                  f"VmHWM {r['vmhwm_after_churn_mib']} MiB (peak RssAnon {r['peak_rss_anon_mib']} MiB)")
    t = targets(res, a)
    if t:
        width = max(len(r[0]) for r in t)
        print("\ntargets:")
        for what, got, v in t:
            print(f"  {v}  {what:<{width}}  {got}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin-dir", default=str(bl.ROOT / ".build-bench" / "release"))
    p.add_argument("--phases", default="baseline,unthrottled,qps20,qps100,backlog,adopt,realistic")
    p.add_argument("--nodes", type=int, default=5000, help="nodes of the unthrottled and backlog runs")
    p.add_argument("--qps20-nodes", type=int, default=1000)
    p.add_argument("--qps100-nodes", type=int, default=2000)
    p.add_argument("--adopt-nodes", type=int, default=50000)
    p.add_argument("--adopt-qps", default="20,0", help="controller --kube-api-qps values for the adopt phase (20 = the default)")
    p.add_argument("--adopt-burst", type=int, default=30)
    p.add_argument("--workers", type=int, default=None, help="controller --workers (default: its own default, 8)")
    p.add_argument("--create-clients", type=int, default=4, help="processes creating nodes")
    p.add_argument("--patch-clients", type=int, default=2)
    p.add_argument("--patch-seconds", type=float, default=5)
    p.add_argument("--patch-nodes", type=int, default=5000)
    p.add_argument("--realistic-nodes", type=int, default=5000, help="nodes of the realistic phase")
    p.add_argument("--create-rate", type=float, default=0,
                   help="realistic phase: create nodes at this many per second (paced, open loop) instead of as fast as "
                        "the creators go; the allocation latency target is stated at 1,000/s")
    p.add_argument("--realistic-large-nodes", type=int, default=0, help="also run the realistic phase with this many nodes (e.g. 50000)")
    p.add_argument("--churn-period", type=float, default=10.0, help="seconds between two status updates of one node")
    p.add_argument("--churn-window", type=float, default=10.0, help="seconds of churn alone measured after the allocations")
    p.add_argument("--churn-clients", type=int, default=2, help="processes sending status updates")
    p.add_argument("--history", type=int, default=60000, help="local-apiserver --history (watch resumption window)")
    p.add_argument("--timeout", type=float, default=300, help="seconds a run may take before it is abandoned")
    p.add_argument("--workdir", default=None, help="logs and kubeconfigs (default: a new temp dir)")
    p.add_argument("--json", default=None, help="write all figures to this file")
    a = p.parse_args()
    a.adopt_qps = [float(x) for x in a.adopt_qps.split(",") if x.strip()]
    phases = [x.strip() for x in a.phases.split(",") if x.strip()]
    bins = {n: pathlib.Path(a.bin_dir) / n for n in ("local-apiserver", "node-ipam-controller")}
    for n, path in bins.items():
        if not path.exists():
            raise SystemExit(f"{path} missing: build it (hack/bench-controller.sh does)")
    work = pathlib.Path(a.workdir or tempfile.mkdtemp(prefix="bench-controller-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"logs and kubeconfigs in {work}", flush=True)
    started = time.monotonic()
    res = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "transport": "plain HTTP on 127.0.0.1", "bin_dir": a.bin_dir,
           "argv": sys.argv[1:], "loadavg_at_start": loadavg()}
    if "baseline" in phases:
        print("[baseline] LocalAPIServer node PATCH rate", flush=True)
        res["baseline"] = phase_baseline(a, bins, work)
        print(f"[baseline] {res['baseline']['patch_rate']:.0f} PATCH/s", flush=True)
    if "unthrottled" in phases:
        res["unthrottled"] = phase_allocate(a, bins, work, "unthrottled", a.nodes, 0, 30, a.create_clients)
    if "qps20" in phases:
        res["qps20"] = phase_allocate(a, bins, work, "qps20", a.qps20_nodes, 20, 30, a.create_clients)
    if "qps100" in phases:
        res["qps100"] = phase_allocate(a, bins, work, "qps100", a.qps100_nodes, 100, 30, a.create_clients)
    if "backlog" in phases:
        res["backlog"] = phase_backlog(a, bins, work)
    if "adopt" in phases:
        res["adopt"] = phase_adopt(a, bins, work)
    if "realistic" in phases:
        res["realistic"] = phase_realistic(a, bins, work, "realistic", a.realistic_nodes)
        if a.realistic_large_nodes:
            res["realistic_large"] = phase_realistic(a, bins, work, "realisticlarge", a.realistic_large_nodes)
    res["wall_seconds"] = round(time.monotonic() - started, 1)
    res["targets"] = [{"target": t, "measured": g, "verdict": v.strip()} for t, g, v in targets(res, a)]
    print_summary(res, a)
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(res, indent=2, default=str) + "\n")
        print(f"\nfigures written to {a.json}")


if __name__ == "__main__":
    main()
