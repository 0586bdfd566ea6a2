#!/usr/bin/env python3
"""ADD/DEL latency of node-ipam against host-local (same ranges, same run), and start-up time.

Not a test: it prints p50/p99 per plugin and the ratio node-ipam / host-local (≤ 1.0 means
node-ipam is at least as fast). Every call is a fresh process fed the config on stdin, as a
runtime does; the two plugins' calls are interleaved so machine noise hits both alike.
Usage: hack/bench-cni.sh (release build) or bench-cni.py --node-ipam BIN [--iterations N].
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import tempfile
import time

DUAL = [[{"subnet": "10.244.0.0/22"}], [{"subnet": "fd00:10:244::/64"}]]


def call(binary, command, config, container):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command, "CNI_CONTAINERID": container,
           "CNI_IFNAME": "eth0", "CNI_NETNS": "/run/netns/bench", "CNI_PATH": "/usr/lib/cni",
           "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME={container};K8S_POD_UID=u-{container}"}
    start = time.perf_counter()
    proc = subprocess.run([binary], input=config, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{binary} {command} {container} failed: {proc.stdout!r} {proc.stderr[-500:]!r}")
    return elapsed * 1000.0


def configs(node_ipam, host_local, work, ranges, strategy="sequential"):
    ours = {"cniVersion": "1.0.0", "name": "bench", "type": "bridge",
            "ipam": {"type": "node-ipam", "dataDir": os.path.join(work, "ours"), "ranges": ranges,
                     "allocation_strategy": strategy, "routes": [{"dst": "0.0.0.0/0"}]}}
    theirs = {"cniVersion": "1.0.0", "name": "bench", "type": "bridge",
              "ipam": {"type": "host-local", "dataDir": os.path.join(work, "hl"), "ranges": ranges,
                       "routes": [{"dst": "0.0.0.0/0"}]}}
    return {"node-ipam": (node_ipam, json.dumps(ours).encode()), "host-local": (host_local, json.dumps(theirs).encode())}


def pct(values, p):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100.0 * (len(ordered) - 1))))
    return ordered[index]


def summary(values):
    return {"p50": pct(values, 50), "p99": pct(values, 99), "mean": statistics.fmean(values), "n": len(values)}


def sequential(plugins, iterations):
    times = {name: {"ADD": [], "DEL": []} for name in plugins}
    names = list(plugins)
    for command in ("ADD", "DEL"):
        for i in range(iterations):
            order = names if i % 2 == 0 else names[::-1]
            for name in order:
                binary, config = plugins[name]
                times[name][command].append(call(binary, command, config, f"s{i}"))
    return times


def parallel(plugins, iterations, workers):
    times = {name: {"ADD": [], "DEL": []} for name in plugins}
    names = list(plugins)
    rounds = max(1, iterations // workers)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for command in ("ADD", "DEL"):
            for r in range(rounds):
                order = names if r % 2 == 0 else names[::-1]
                for name in order:
                    binary, config = plugins[name]
                    ids = [f"p{r}-{w}" for w in range(workers)]
                    times[name][command] += list(pool.map(lambda c: call(binary, command, config, c), ids))
    return times


def occupancy(node_ipam, work, scenarios, fill, iterations):
    """ADD then DEL latency with `fill` addresses already taken (node-ipam alone); the
    scenarios' calls are interleaved so machine noise hits them alike."""
    configs = {}
    for label, (ranges, strategy) in scenarios.items():
        configs[label] = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "bridge",
                                     "ipam": {"type": "node-ipam", "dataDir": os.path.join(work, label.replace("/", "")),
                                              "ranges": ranges, "allocation_strategy": strategy}}).encode()
        for i in range(fill):
            call(node_ipam, "ADD", configs[label], f"fill{i}")
    times = {label: {"ADD": [], "DEL": []} for label in scenarios}
    for i in range(iterations):
        for label, config in configs.items():
            times[label]["ADD"].append(call(node_ipam, "ADD", config, f"m{i}"))
            times[label]["DEL"].append(call(node_ipam, "DEL", config, f"m{i}"))
    return {label: {c: summary(v) for c, v in cmds.items()} for label, cmds in times.items()}


def startup(plugins, iterations):
    """VERSION: process start-up plus the smallest amount of work a plugin does."""
    result = {}
    version = json.dumps({"cniVersion": "1.0.0"}).encode()
    baseline = []
    for i in range(iterations):
        for name in (list(plugins) if i % 2 == 0 else list(plugins)[::-1]):
            binary, _ = plugins[name]
            result.setdefault(name, []).append(call(binary, "VERSION", version, "v"))
        baseline.append(call("/bin/true", "VERSION", b"", "v"))
    result["/bin/true (spawn cost)"] = baseline
    return {name: summary(values) for name, values in result.items()}


def print_table(title, times):
    print(f"\n{title}")
    print(f"  {'plugin':<12} {'cmd':<4} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'n':>5}")
    for name, commands in times.items():
        for command, values in commands.items():
            s = summary(values) if isinstance(values, list) else values
            print(f"  {name:<12} {command:<4} {s['p50']:8.2f} {s['p99']:8.2f} {s['mean']:8.2f} {s['n']:5d}")
    if "node-ipam" in times and "host-local" in times:
        for command in ("ADD", "DEL"):
            ours, theirs = summary(times["node-ipam"][command]), summary(times["host-local"][command])
            print(f"  ratio node-ipam/host-local {command}: p50 {ours['p50'] / theirs['p50']:.2f}  p99 {ours['p99'] / theirs['p99']:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-ipam", required=True)
    parser.add_argument("--host-local", default="/usr/lib/cni/host-local")
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    report = {"binary_bytes": os.path.getsize(args.node_ipam), "host_local_bytes": os.path.getsize(args.host_local)}
    print(f"node-ipam {args.node_ipam} ({report['binary_bytes']} bytes), host-local {args.host_local} "
          f"({report['host_local_bytes']} bytes), {os.cpu_count()} CPUs")

    report["startup"] = startup({"node-ipam": (args.node_ipam, None), "host-local": (args.host_local, None)}, args.iterations)
    print("\nstart-up (VERSION call, ms)")
    for name, s in report["startup"].items():
        print(f"  {name:<24} p50 {s['p50']:6.2f}  p99 {s['p99']:6.2f}")

    with tempfile.TemporaryDirectory(prefix="bench-cni-") as work:
        seq = sequential(configs(args.node_ipam, args.host_local, os.path.join(work, "seq"), DUAL), args.iterations)
        print_table(f"sequential, dual-stack /22 + /64, {args.iterations} ADDs then {args.iterations} DELs", seq)
        par = parallel(configs(args.node_ipam, args.host_local, os.path.join(work, "par"), DUAL), args.iterations, args.parallel)
        print_table(f"{args.parallel} in parallel, dual-stack /22 + /64", par)
        report["sequential"] = {n: {c: summary(v) for c, v in cmds.items()} for n, cmds in seq.items()}
        report["parallel"] = {n: {c: summary(v) for c, v in cmds.items()} for n, cmds in par.items()}

        fill, iterations = 200, max(50, args.iterations // 4)
        report["occupancy"] = occupancy(args.node_ipam, work, {
            "/24 sequential": ([[{"subnet": "10.250.0.0/24"}]], "sequential"),
            "/24 random": ([[{"subnet": "10.251.0.0/24"}]], "random"),
            "/64 random": ([[{"subnet": "fd00:99::/64"}]], "random"),
        }, fill, iterations)
        print_table(f"node-ipam alone, {fill} addresses taken, ADD+DEL pairs", report["occupancy"])
        r64, r24 = report["occupancy"]["/64 random"]["ADD"]["p50"], report["occupancy"]["/24 sequential"]["ADD"]["p50"]
        print(f"  ratio /64 random / /24 sequential ADD p50: {r64 / r24:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
