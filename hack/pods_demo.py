"""The whole path in one run: ClusterCIDR → node range → pod address.

LocalAPIServer (plain HTTP) with the CRD and examples/clustercidr-dual.yaml; node-ipam-controller
gives two sample nodes their podCIDRs; one node-ipam-agent per node watches its own Node and
writes that node's conflist, podCIDRs file and a copy of the node-ipam plugin into a per-node
directory; then, as root, for two pods per node, Debian's real `bridge` plugin with node-ipam
gives each pod its addresses inside a network namespace, and the two pods of each node ping
each other. Prints pool → node → range → pod → address.

It is also the end-to-end test (hack/test.sh runs it as root): it exits non-zero unless every pod
address lies in its node's podCIDRs, no two pods share an address, and every ping succeeds; the
agents must stop cleanly on SIGTERM. Without root (or without the plugins) it says what it
skipped and checks the rest. Everything it creates is removed on exit (namespaces, bridges,
processes, the temporary directory), also on Ctrl-C.

Usage: python3 hack/pods_demo.py --bin DIR   (DIR holds local-apiserver, node-ipam-controller,
node-ipam-agent and node-ipam, e.g. `swift build --show-bin-path`)
"""
import argparse, ipaddress, json, os, pathlib, shutil, signal, subprocess, sys, tempfile, threading, time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchlib  # noqa: E402
import yaml  # noqa: E402

ROOT = benchlib.ROOT
NODES = ["node-a", "node-b"]
PODS_PER_NODE = 2
CNI_PLUGINS = pathlib.Path(os.environ.get("CNI_PLUGINS_DIR", "/usr/lib/cni"))
TAG = os.urandom(2).hex()
failures = []


def check(condition, message):
    print(("  ok    " if condition else "  FAIL  ") + message, flush=True)
    if not condition:
        failures.append(message)


def run(*args, env=None, input=None, check_rc=True):
    result = subprocess.run(list(args), env=env, input=input, capture_output=True, text=True)
    if check_rc and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result


class Agent:
    """node-ipam-agent for one node; its log lines are read as they come (no polling)."""

    def __init__(self, binary, kubeconfig, node, directory, plugin):
        self.node = node
        self.directory = directory
        self.port = benchlib.free_port()
        self.conf_dir = directory / "net.d"
        self.bin_dir = directory / "bin"
        template = {"cniVersion": "1.0.0", "name": "pods", "plugins": [{
            # isGateway/ipMasq off: the demo leaves the host's sysctls and iptables alone.
            "type": "bridge", "bridge": f"nid{TAG}{node[-1]}", "isGateway": False, "ipMasq": False, "mtu": 1500,
            "ipam": {"type": "node-ipam", "nodePodCIDRs": True}}]}
        (directory / "template.conflist").write_text(json.dumps(template))
        self.args = [str(binary), "--kubeconfig", str(kubeconfig), "--node-name", node, "--cni-conf-dir", str(self.conf_dir),
                     "--conflist-template", str(directory / "template.conflist"), "--pod-cidrs-file", str(directory / "pod-cidrs"),
                     "--data-dir", str(directory / "store"), "--install-cni-bin", "--cni-bin-dir", str(self.bin_dir),
                     "--cni-bin-source", str(plugin), "--health-bind-address", f"127.0.0.1:{self.port}",
                     "--kubelet-config", str(directory / "no-kubelet.yaml"), "--k3s-node-file", str(directory / "no-k3s.yaml")]
        self.lines = []
        self.wrote = threading.Event()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if "wrote the CNI config" in line:
                self.wrote.set()
        self.wrote.set()  # exited: wake the waiter, which then sees the exit

    def wait_written(self, timeout=60):
        if not self.wrote.wait(timeout) or self.proc.poll() is not None:
            raise SystemExit(f"agent {self.node} wrote no config:\n" + "\n".join(self.lines[-30:]))

    def stop(self):
        code = benchlib.stop_process(self.proc)
        self.reader.join(timeout=5)
        return code


def pod_config(conflist):
    """The conflist's first plugin as the single-plugin config the runtime hands it."""
    plugin = dict(conflist["plugins"][0])
    plugin["cniVersion"] = conflist["cniVersion"]
    plugin["name"] = conflist["name"]
    return json.dumps(plugin)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="directory of the built binaries")
    options = parser.parse_args()
    bin_dir = pathlib.Path(options.bin)
    binaries = {name: bin_dir / name for name in ["local-apiserver", "node-ipam-controller", "node-ipam-agent", "node-ipam"]}
    for name, path in binaries.items():
        if not path.exists():
            raise SystemExit(f"{path} is missing: build it (swift build --product {name})")

    root = os.geteuid() == 0
    have_plugins = (CNI_PLUGINS / "bridge").exists()
    have_tools = shutil.which("ip") is not None and shutil.which("ping") is not None
    pods_possible = root and have_plugins and have_tools
    if not pods_possible:
        why = [w for c, w in [(root, "not root"), (have_plugins, f"no {CNI_PLUGINS}/bridge (Debian: containernetworking-plugins)"),
                              (have_tools, "no ip/ping (iproute2, iputils-ping)")] if not c]
        print(f"NOTE: {', '.join(why)}: skipping the pods (network namespaces, bridge plugin, pings); "
              "running the API server, the controller and the agents only", flush=True)

    work = pathlib.Path(tempfile.mkdtemp(prefix="node-ipam-pods-demo-"))
    processes = []
    namespaces = []
    attached = []  # (config, env) for DEL
    bridges = []

    def cleanup(*_):
        for config, env in attached:
            run(str(CNI_PLUGINS / "bridge"), env={**env, "CNI_COMMAND": "DEL"}, input=config, check_rc=False)
        for ns in namespaces:
            run("ip", "netns", "del", ns, check_rc=False)
        for bridge in bridges:
            run("ip", "link", "del", bridge, check_rc=False)
        for process in processes:
            process.stop()
        shutil.rmtree(work, ignore_errors=True)
        namespaces.clear(); attached.clear(); bridges.clear(); processes.clear()

    def interrupted(signum, _):
        cleanup()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        server = benchlib.LocalAPIServer(binaries["local-apiserver"], work, "apiserver")
        processes.append(server)
        api = benchlib.Api(server.url)
        api.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                 yaml.safe_load((ROOT / "config/crd/networking.x-k8s.io_clustercidrs.yaml").read_text()))
        pool = yaml.safe_load((ROOT / "examples/clustercidr-dual.yaml").read_text())
        api.must("POST", "/apis/networking.x-k8s.io/v1/clustercidrs", pool)
        print(f"ClusterCIDR {pool['metadata']['name']}: {pool['spec']['ipv4']} and {pool['spec']['ipv6']}, "
              f"{pool['spec']['perNodeHostBits']} host bits per node", flush=True)
        for node in NODES:
            api.must("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})

        # The agents start before the nodes have ranges: they must wait, then write once.
        agents = {}
        for node in NODES:
            directory = work / node
            directory.mkdir()
            agent = Agent(binaries["node-ipam-agent"], server.kubeconfig, node, directory, binaries["node-ipam"])
            processes.append(agent)
            agents[node] = agent
        controller = benchlib.Controller(binaries["node-ipam-controller"], server.kubeconfig, work, "controller", qps=None, burst=None)
        processes.append(controller)
        for agent in agents.values():
            agent.wait_written()

        print("\nnodes and their agents:", flush=True)
        node_cidrs = {}
        for node, agent in agents.items():
            cidrs = api.must("GET", f"/api/v1/nodes/{node}")["spec"]["podCIDRs"]
            node_cidrs[node] = [ipaddress.ip_network(c) for c in cidrs]
            conflist = json.loads((agent.conf_dir / "10-node-ipam.conflist").read_text())
            ranges = [r[0]["subnet"] for r in conflist["plugins"][0]["ipam"]["ranges"]]
            check(ranges == cidrs, f"{node}: conflist ranges {ranges} = spec.podCIDRs")
            written = [l for l in (agent.directory / "pod-cidrs").read_text().splitlines() if l and not l.startswith("#")]
            check(written == cidrs, f"{node}: pod-cidrs file {written}")
            check((agent.bin_dir / "node-ipam").read_bytes() == binaries["node-ipam"].read_bytes(), f"{node}: node-ipam installed into {agent.bin_dir}")
            status, body = benchlib.get_text(f"http://127.0.0.1:{agent.port}", "/readyz")
            check(status == 200, f"{node}: agent /readyz {status} {body.strip()}")
            source = [l for l in agent.lines if "Found Pod CIDR in PodCIDRs" in l]
            check(len(source) == 1, f"{node}: one log line names the source: {source[0].split('] ')[-1] if source else '(none)'}")

        rows = []
        if pods_possible:
            print("\npods (bridge + node-ipam in network namespaces):", flush=True)
            addresses = {}
            for node, agent in agents.items():
                conflist = json.loads((agent.conf_dir / "10-node-ipam.conflist").read_text())
                config = pod_config(conflist)
                bridges.append(conflist["plugins"][0]["bridge"])
                for index in range(PODS_PER_NODE):
                    ns = f"nid{TAG}{node[-1]}{index}"
                    pod = f"{node}-pod-{index}"
                    run("ip", "netns", "add", ns)
                    namespaces.append(ns)
                    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_CONTAINERID": f"ctr-{ns}",
                           "CNI_NETNS": f"/run/netns/{ns}", "CNI_IFNAME": "eth0",
                           "CNI_PATH": f"{agent.bin_dir}:{CNI_PLUGINS}",
                           "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod}"}
                    attached.append((config, env))
                    result = run(str(CNI_PLUGINS / "bridge"), env={**env, "CNI_COMMAND": "ADD"}, input=config, check_rc=False)
                    if result.returncode != 0:
                        check(False, f"{pod}: bridge ADD failed: {result.stdout}{result.stderr}")
                        continue
                    ips = [ipaddress.ip_interface(ip["address"]) for ip in json.loads(result.stdout)["ips"]]
                    addresses[pod] = (node, ns, ips)
                    for ip in ips:
                        inside = any(ip.ip in cidr for cidr in node_cidrs[node])
                        check(inside, f"{pod}: {ip.ip} inside {node}'s podCIDRs")
                        rows.append((pool["metadata"]["name"], node, str(next((c for c in node_cidrs[node] if ip.ip in c), "?")), pod, str(ip)))
            every = [ip.ip for (_, _, ips) in addresses.values() for ip in ips]
            check(len(every) == len(set(every)) and len(every) == len(NODES) * PODS_PER_NODE * 2,
                  f"{len(every)} pod addresses, no two the same")
            for node in NODES:
                pods = [(p, ns, ips) for p, (n, ns, ips) in addresses.items() if n == node]
                if len(pods) < 2:
                    continue
                (source, ns, _), (target, _, target_ips) = pods[0], pods[1]
                v4 = next(ip.ip for ip in target_ips if ip.version == 4)
                result = run("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "5", str(v4), check_rc=False)
                check(result.returncode == 0, f"{source} pings {target} at {v4}")
        else:
            for node in NODES:
                for cidr in node_cidrs[node]:
                    rows.append((pool["metadata"]["name"], node, str(cidr), "(skipped)", "-"))

        print("\n" + "".join(h.ljust(w) for h, w in [("POOL", 20), ("NODE", 9), ("RANGE", 26), ("POD", 14), ("ADDRESS", 0)]))
        for row in rows:
            print("".join(v.ljust(w) for v, w in zip(row, [20, 9, 26, 14, 0])))

        print("\nstopping:", flush=True)
        for node, agent in agents.items():
            processes.remove(agent)
            code = agent.stop()
            check(code == 0, f"agent {node} exits 0 on SIGTERM (exit {code})")
    finally:
        cleanup()
    if failures:
        print(f"\n{len(failures)} check(s) failed", flush=True)
        return 1
    print("\nall checks passed" + ("" if pods_possible else " (pods skipped: run as root with containernetworking-plugins for them)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
