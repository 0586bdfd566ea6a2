#!/usr/bin/env python3
"""Fault soak: three node-ipam-controller replicas with leader election against LocalAPIServer,
a seeded random schedule of cluster changes, API faults and process faults, and an invariant
checker that reads the server's true state (lists, the Lease, the server's audit log) all along.

Each seed is one schedule: `--seconds` of chaos, then faults stop and the cluster must settle.
On a violation it prints the seed, the invariant, and the minimal history (the driver's last
operations and the audit entries of the objects involved), and exits 1.

    python3 hack/soak.py --bin .build/debug --seeds 20            # what CI runs (hack/test.sh)
    python3 hack/soak.py --bin .build/release --seed-start 1000 --seeds 2000 --minutes 240
    python3 hack/soak.py --bin .build/debug --seed-start 7 --seeds 1 -v   # replay one schedule

stdlib + PyYAML only. Everything listens on 127.0.0.1; every process it starts is stopped.
"""
import argparse, collections, ipaddress, json, os, pathlib, random, signal, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchlib  # noqa: E402
import yaml  # noqa: E402

ROOT = benchlib.ROOT
CC = "/apis/networking.x-k8s.io/v1/clustercidrs"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/node-ipam-controller"
AGENT = "node-ipam-controller ("
ZONES = ["z0", "z1", "z2"]
NODE_NAMES = [f"n{i}" for i in range(24)]

# Pool slots: non-overlapping CIDRs, so a range tells the slot it came from. A slot holds at
# most one pool at a time (the next one only after the previous is gone), under a new name.
SLOTS = [
    {"ipv4": "10.101.0.0/26", "ipv6": None, "zone": "z0"},
    {"ipv4": "10.102.0.0/26", "ipv6": "fd00:102::/120", "zone": "z1"},
    {"ipv4": None, "ipv6": "fd00:103::/120", "zone": "z2"},
    {"ipv4": "10.104.0.0/27", "ipv6": "fd00:104::/121", "zone": None},  # fallback: no nodeSelector
    {"ipv4": "10.105.0.0/26", "ipv6": "fd00:105::/120", "zone": "z0"},
]
HOST_BITS = 4  # /28 and /124 per node: 2 to 16 ranges per family (the CRD allows no fewer than 4 host bits)


class Violation(Exception):
    pass


def overlaps(a, b):
    return a.version == b.version and (a.subnet_of(b) or b.subnet_of(a))


class Replica(benchlib.Controller):
    """One of the three controller processes, with leader election and short Lease timings
    (a 2 s margin between the renew deadline and the Lease duration)."""

    def __init__(self, binary, kubeconfig, workdir, identity):
        self.identity = identity
        self.port = benchlib.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = pathlib.Path(workdir) / f"{identity}-{int(time.monotonic() * 1000)}.log"
        self.log = open(self.log_path, "w")
        self.args = [str(binary), "--kubeconfig", str(kubeconfig), "--webserver-bind-address", f"127.0.0.1:{self.port}",
                     "--enable-leader-election=true", f"--leader-elect-id={identity}", "--leader-elect-namespace=kube-system",
                     "--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=500ms",
                     "--kube-api-qps=100", "--kube-api-burst=200", "--workers=4"]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)


class Soak:
    def __init__(self, args, seed, workdir):
        self.args = args
        self.seed = seed
        self.rng = random.Random(seed)
        self.workdir = pathlib.Path(workdir)
        self.ops = []  # (seconds, text): the driver's history
        self.counts = collections.Counter()
        self.checks = collections.Counter()
        self.takeovers = []  # kill -9 of the leader -> another replica holds the Lease
        self.retakes = []  # kill -9 of the leader -> the restarted leader holds it again
        self.t0 = time.monotonic()
        # Knowledge the checker builds.
        self.slot_events = collections.defaultdict(list)  # slot -> [(rv, "created"/"gone", name, selector zone)]
        self.slot_pool = {}  # slot -> live pool name (driver's view: created, not yet seen gone)
        self.pool_slot = {}  # pool name -> slot
        self.label_history = collections.defaultdict(list)  # uid -> [(rv, zone)]
        self.first_cidrs = {}  # uid -> podCIDRs first seen
        self.given_rv = {}  # uid -> rv of the write that set podCIDRs
        self.node_uid = {}  # name -> uid of the live object (driver's view)
        self.holder = ""  # Lease holder as of the last audit entry read
        self.audit_rv = 0
        self.audit = []  # every entry read
        self.paused = {}  # index -> resume time
        self.dead = {}  # index -> restart time
        self.pool_seq = 0

    # ------------------------------------------------------------ plumbing

    def log(self, text):
        self.ops.append((time.monotonic() - self.t0, text))
        if self.args.verbose:
            print(f"  [{self.seed}] {time.monotonic() - self.t0:7.2f}s {text}", flush=True)

    def fail(self, message, names=()):
        lines = [f"VIOLATION seed={self.seed}: {message}", "last operations of the schedule:"]
        lines += [f"  {t:7.2f}s {text}" for t, text in self.ops[-40:]]
        related = [e for e in self.audit if e.get("name") in names or e.get("resource") == "leases"][-40:]
        if related:
            lines.append("audit entries of the objects involved (and the Lease):")
            lines += ["  " + json.dumps(e, sort_keys=True) for e in related]
        lines.append(f"replay: python3 hack/soak.py --bin {self.args.bin} --seed-start {self.seed} --seeds 1 -v")
        raise Violation("\n".join(lines))

    def request(self, method, path, body=None, **kw):
        """The driver's own request. A connection the server reset is retried (a fresh
        connection each time); if the server process is gone, that is the failure reported."""
        for attempt in range(4):
            try:
                return self.api.request(method, path, body, **kw)
            except (ConnectionError, OSError) as error:
                if self.server.proc.poll() is not None:
                    raise SystemExit(f"LocalAPIServer exited ({self.server.proc.returncode}) during {method} {path}:\n"
                                     + self.server.log_path.read_text(errors="replace")[-3000:])
                self.log(f"driver: {method} {path}: {error}; retrying")
                self.api.close()
                self.api = benchlib.Api(self.server.url)
                time.sleep(0.05 * (attempt + 1))
        return self.api.request(method, path, body, **kw)

    def must(self, method, path, body=None, ok=(200, 201)):
        status, parsed = self.request(method, path, body)
        if status not in ok:
            raise SystemExit(f"{method} {path}: {status} {str(parsed)[:500]}")
        return parsed

    def start(self):
        self.server = benchlib.LocalAPIServer(pathlib.Path(self.args.bin) / "local-apiserver", self.workdir, "apiserver",
                                              history=self.args.history, extra=["--audit", "--bookmark-interval", "1000"])
        self.api = benchlib.Api(self.server.url)
        crd = yaml.safe_load((ROOT / "config" / "crd" / "networking.x-k8s.io_clustercidrs.yaml").read_text())
        self.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        self.controllers = [None, None, None]
        for i in range(3):
            self.launch(i)

    def launch(self, i):
        self.controllers[i] = Replica(pathlib.Path(self.args.bin) / "node-ipam-controller", self.server.kubeconfig, self.workdir, f"c{i}")
        self.dead.pop(i, None)

    def stop(self):
        for i, c in enumerate(self.controllers or []):
            if c is None:
                continue
            if i in self.paused:
                os.kill(c.pid, signal.SIGCONT)
            c.stop()
        self.api.close()
        self.server.stop()

    def lease_holder(self):
        status, lease = self.request("GET", LEASE)
        return (lease.get("spec") or {}).get("holderIdentity") or "" if status == 200 else ""

    # ------------------------------------------------------------ operations

    def op_create_node(self):
        free = [n for n in NODE_NAMES if n not in self.node_uid]
        if not free:
            return
        self.create_node(self.rng.choice(free))

    def create_node(self, name):
        zone = self.rng.choice(ZONES)
        status, body = self.request("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                                  "metadata": {"name": name, "labels": {"zone": zone}}})
        if status == 409:
            # A retried POST whose first attempt was applied: read what exists.
            status, body = self.request("GET", f"/api/v1/nodes/{name}")
            if status == 200 and (body["metadata"].get("labels") or {}).get("zone") == zone and name not in self.node_uid:
                status = 201
        if status == 201:
            uid = body["metadata"]["uid"]
            self.node_uid[name] = uid
            self.label_history[uid].append((int(body["metadata"]["resourceVersion"]), zone))
            self.log(f"create node {name} zone={zone} uid={uid[:8]}")
            self.counts["node create"] += 1

    def op_delete_node(self, recreate=False):
        if not self.node_uid:
            return
        name = self.rng.choice(sorted(self.node_uid))
        status, _ = self.request("DELETE", f"/api/v1/nodes/{name}")
        if status in (200, 202):
            del self.node_uid[name]
            self.log(f"delete node {name}")
            self.counts["node delete"] += 1
            if recreate:
                self.counts["node re-create under the same name"] += 1
                self.create_node(name)

    def op_relabel_node(self):
        if not self.node_uid:
            return
        name = self.rng.choice(sorted(self.node_uid))
        zone = self.rng.choice(ZONES)
        status, body = self.request("PATCH", f"/api/v1/nodes/{name}", {"metadata": {"labels": {"zone": zone}}},
                                        content_type="application/merge-patch+json")
        if status == 200:
            self.label_history[body["metadata"]["uid"]].append((int(body["metadata"]["resourceVersion"]), zone))
            self.log(f"relabel node {name} zone={zone}")
            self.counts["node label change"] += 1

    def op_create_pool(self):
        free = [s for s in range(len(SLOTS)) if s not in self.slot_pool]
        if not free:
            return
        slot = self.rng.choice(free)
        template = SLOTS[slot]
        self.pool_seq += 1
        name = f"s{slot}-p{self.pool_seq}"
        spec = {"perNodeHostBits": HOST_BITS}
        for family in ("ipv4", "ipv6"):
            if template[family]:
                spec[family] = template[family]
        if template["zone"]:
            spec["nodeSelector"] = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": [template["zone"]]}]}]}
        status, body = self.request("POST", CC, {"apiVersion": "networking.x-k8s.io/v1", "kind": "ClusterCIDR",
                                                     "metadata": {"name": name}, "spec": spec})
        if status == 409:
            # A retried POST whose first attempt was applied (names are never reused).
            status, body = self.request("GET", f"{CC}/{name}")
            status = 201 if status == 200 else status
        if status == 201:
            self.slot_pool[slot] = name
            self.pool_slot[name] = slot
            self.slot_events[slot].append((int(body["metadata"]["resourceVersion"]), "created", name))
            self.log(f"create ClusterCIDR {name} {spec.get('ipv4') or ''} {spec.get('ipv6') or ''} zone={template['zone']}")
            self.counts["pool create"] += 1

    def op_delete_pool(self):
        if not self.slot_pool:
            return
        slot = self.rng.choice(sorted(self.slot_pool))
        name = self.slot_pool[slot]
        status, _ = self.request("DELETE", f"{CC}/{name}")
        if status in (200, 202, 404):
            self.log(f"delete ClusterCIDR {name}")
            self.counts["pool delete"] += 1

    def op_api_fault(self):
        kind = self.rng.choice(["500", "throttle", "applyThenDrop", "drop", "delay", "cutWatch", "expireWatch", "closeWatches"])
        resource = self.rng.choice(["nodes", "nodes", "clustercidrs", "leases", "events"])
        count = self.rng.randint(1, 4)
        # Faults hit the replicas (their requests and their Lease client's), never the driver.
        rule = {"resource": resource, "count": count, "userAgent": AGENT}
        if kind == "500":
            rule.update(verb=self.rng.choice(["patch", "update", "get", "list"]), code=500)
        elif kind == "throttle":
            rule.update(verb=self.rng.choice(["patch", "update", "get"]), action="throttle", code=429, retryAfterSeconds=1)
        elif kind == "applyThenDrop":
            rule.update(verb=self.rng.choice(["patch", "update"]), action="applyThenDrop")
        elif kind == "drop":
            rule.update(verb=self.rng.choice(["patch", "get", "update"]), action="drop")
        elif kind == "delay":
            rule.update(verb=self.rng.choice(["patch", "get", "update", "list"]), action="delay", delayMilliseconds=self.rng.randint(100, 800))
        elif kind == "cutWatch":
            rule.update(verb="watch", action="cutWatch", afterEvents=self.rng.randint(0, 5), expire=self.rng.random() < 0.5)
            rule["resource"] = self.rng.choice(["nodes", "clustercidrs"])
        if kind in ("expireWatch", "closeWatches"):
            self.must("POST", "/_local/watches/close" + ("?expire=true" if kind == "expireWatch" else ""), ok=(200,))
            self.log(f"fault: {'410 Expired in' if kind == 'expireWatch' else 'cut'} every open watch")
        else:
            self.must("POST", "/_local/faults", rule)
            self.log(f"fault: {json.dumps(rule, sort_keys=True)}")
        self.counts[f"faults injected: {kind}"] += 1

    def op_process_fault(self):
        alive = [i for i, c in enumerate(self.controllers) if c is not None and i not in self.dead and i not in self.paused]
        if not alive:
            return
        holder = self.lease_holder()
        leader = [i for i in alive if self.controllers[i].identity == holder]
        target = leader[0] if leader and self.rng.random() < 0.7 else self.rng.choice(alive)
        role = "leader" if self.controllers[target].identity == holder else "standby"
        kind = self.rng.choice(["kill -9", "kill -9", "SIGTERM", "SIGSTOP"])
        c = self.controllers[target]
        if kind == "SIGSTOP":
            seconds = self.rng.uniform(2.0, 5.0)
            os.kill(c.pid, signal.SIGSTOP)
            self.paused[target] = time.monotonic() + seconds
            self.log(f"SIGSTOP {c.identity} ({role}) for {seconds:.1f}s")
        else:
            os.kill(c.pid, signal.SIGKILL if kind == "kill -9" else signal.SIGTERM)
            if kind == "kill -9":
                c.proc.wait()
            # Half the killed leaders stay down past the Lease duration, so that another
            # replica has to take over; the others come back at once, like a container restart.
            away = self.rng.uniform(0.3, 2.0) if role != "leader" or self.rng.random() < 0.5 else 6.0
            self.dead[target] = time.monotonic() + away
            self.log(f"{kind} {c.identity} ({role}), restarted in {away:.1f}s")
            if role == "leader" and kind == "kill -9":
                self.pending_takeover = (time.monotonic(), c.identity)
        self.counts[f"process fault {kind} ({role})"] += 1

    def housekeeping(self, final=False):
        now = time.monotonic()
        for i, until in list(self.paused.items()):
            if final or now >= until:
                os.kill(self.controllers[i].pid, signal.SIGCONT)
                del self.paused[i]
                self.log(f"SIGCONT {self.controllers[i].identity}")
        for i, c in enumerate(self.controllers):
            # A replica that exited by itself (lost Lease: exit 1) is restarted like a Deployment would.
            if i not in self.dead and i not in self.paused and c.proc.poll() is not None:
                self.log(f"{c.identity} exited with {c.proc.returncode}")
                self.dead[i] = now + 0.3
        for i, when in list(self.dead.items()):
            if final or now >= when:
                old = self.controllers[i]
                benchlib.stop_process(old.proc)
                old.log.close()
                self.launch(i)
                self.log(f"restart c{i}")
        if getattr(self, "pending_takeover", None):
            started, old = self.pending_takeover
            holder = self.lease_holder()
            if holder and holder != old:
                self.takeovers.append(now - started)
                self.log(f"Lease taken over by {holder} {now - started:.2f}s after kill -9 of {old}")
                self.pending_takeover = None
            elif holder == old and int(old[1:]) not in self.dead:
                # The killed leader came back under the same identity (a container restart
                # keeps POD_NAME) and took its own Lease again.
                self.retakes.append(now - started)
                self.pending_takeover = None

    # ------------------------------------------------------------ invariants

    def read_audit(self):
        status, body = self.request("GET", f"/_local/audit?since={self.audit_rv}")
        if status != 200:
            raise SystemExit(f"audit: {status} {body}")
        for e in body["items"]:
            rv = int(e["resourceVersion"])
            self.audit_rv = max(self.audit_rv, rv)
            self.audit.append(e)
            ua = e.get("userAgent", "")
            if e["resource"] == "leases":
                self.holder = e.get("holder", "")
                continue
            if not ua.startswith(AGENT):
                continue
            writer = ua[len(AGENT):].split(")")[0]
            self.checks["write by the Lease holder"] += 1
            if writer != self.holder:
                self.fail(f"{e['verb']} {e['resource']}/{e.get('name')} at rv {rv} came from {writer} while the Lease was held by "
                          f"{self.holder or 'nobody'}", names=(e.get("name"),))
            if e["resource"] == "nodes" and e.get("podCIDRs"):
                self.given(e, rv)

    def slot_of(self, cidr):
        net = ipaddress.ip_network(cidr)
        for s, template in enumerate(SLOTS):
            family = "ipv4" if net.version == 4 else "ipv6"
            if template[family] and net.subnet_of(ipaddress.ip_network(template[family])):
                return s
        return None

    def given(self, e, rv):
        uid, name, cidrs = e.get("uid"), e.get("name"), e["podCIDRs"]
        if uid in self.given_rv:
            return
        self.given_rv[uid] = rv
        self.checks["range given from a live selecting pool of the right size"] += 1
        slots = {self.slot_of(c) for c in cidrs}
        if None in slots or len(slots) != 1:
            self.fail(f"node {name} was given {cidrs}: not all from one pool", names=(name,))
        slot = slots.pop()
        events = [ev for ev in self.slot_events[slot] if ev[0] < rv]
        if not events or events[-1][1] != "created":
            self.fail(f"node {name} was given {cidrs} at rv {rv} from slot {SLOTS[slot]} while no ClusterCIDR existed there "
                      f"(slot history {self.slot_events[slot]})", names=(name,))
        pool = events[-1][2]
        template = SLOTS[slot]
        families = {("ipv4" if ipaddress.ip_network(c).version == 4 else "ipv6") for c in cidrs}
        if families != {f for f in ("ipv4", "ipv6") if template[f]}:
            self.fail(f"node {name} got {cidrs} from {pool}, which has families {[f for f in ('ipv4', 'ipv6') if template[f]]}", names=(name, pool))
        for c in cidrs:
            net = ipaddress.ip_network(c)
            if net.prefixlen != net.max_prefixlen - HOST_BITS:
                self.fail(f"node {name} got {c} from {pool}: not the pool's per-node size /{net.max_prefixlen - HOST_BITS}", names=(name, pool))
        zones = [z for r, z in self.label_history.get(uid, []) if r < rv]
        if template["zone"] and template["zone"] not in zones:
            self.fail(f"node {name} got {cidrs} from {pool} (zone {template['zone']}), but its zone was only {zones}", names=(name, pool))

    def check_state(self):
        # Pools first, then nodes: a node in the later list held its range at the earlier one.
        status, pools = self.request("GET", CC)
        status2, nodes = self.request("GET", "/api/v1/nodes")
        if status != 200 or status2 != 200:
            return  # a fault hit the checker's own list; the next round reads again
        pool_rv = int(pools["metadata"]["resourceVersion"])
        live = {p["metadata"]["name"]: p for p in pools["items"]}
        for slot, name in list(self.slot_pool.items()):
            if name not in live:
                self.slot_events[slot].append((pool_rv, "gone", name))
                del self.slot_pool[slot]
                self.log(f"ClusterCIDR {name} is gone")
        self.read_audit()
        seen = []
        for node in nodes["items"]:
            name, uid = node["metadata"]["name"], node["metadata"]["uid"]
            cidrs = (node.get("spec") or {}).get("podCIDRs") or []
            if not cidrs:
                continue
            self.checks["podCIDRs never change"] += 1
            first = self.first_cidrs.setdefault(uid, cidrs)
            if first != cidrs:
                self.fail(f"node {name} (uid {uid}) podCIDRs changed from {first} to {cidrs}", names=(name,))
            for c in cidrs:
                seen.append((ipaddress.ip_network(c), name))
            slot = self.slot_of(cidrs[0])
            given = self.given_rv.get(uid)
            if slot is not None and given is not None and given < pool_rv:
                self.checks["no pool vanishes under its nodes"] += 1
                pool = self.pool_at(slot, given)
                if pool and pool not in live:
                    self.fail(f"ClusterCIDR {pool} is gone (list at rv {pool_rv}) while node {name} holds {cidrs} from it (given at rv {given})",
                              names=(name, pool))
        seen.sort(key=lambda x: (x[0].version, int(x[0].network_address)))
        self.checks["no two live nodes overlap"] += 1
        for (a, na), (b, nb) in zip(seen, seen[1:]):
            if overlaps(a, b):
                self.fail(f"nodes {na} and {nb} overlap: {a} and {b}", names=(na, nb))
        return live, nodes["items"]

    def pool_at(self, slot, rv):
        events = [ev for ev in self.slot_events[slot] if ev[0] < rv]
        return events[-1][2] if events and events[-1][1] == "created" else None

    # ------------------------------------------------------------ settle

    def held_by_slot(self, nodes):
        """How many nodes hold ranges of each slot."""
        held = collections.Counter()
        for node in nodes:
            cidrs = (node.get("spec") or {}).get("podCIDRs") or []
            if cidrs and self.slot_of(cidrs[0]) is not None:
                held[self.slot_of(cidrs[0])] += 1
        return held

    def unserved(self, live, nodes):
        """Nodes without podCIDRs that a live pool selects and has room for."""
        held = self.held_by_slot(nodes)
        out = []
        for node in nodes:
            if (node.get("spec") or {}).get("podCIDRs"):
                continue
            zone = (node["metadata"].get("labels") or {}).get("zone")
            for name, pool in live.items():
                if pool["metadata"].get("deletionTimestamp") or name not in self.pool_slot:
                    continue
                slot = self.pool_slot[name]
                template = SLOTS[slot]
                if template["zone"] and template["zone"] != zone:
                    continue
                capacity = min(2 ** (ipaddress.ip_network(template[f]).max_prefixlen - HOST_BITS - ipaddress.ip_network(template[f]).prefixlen)
                               for f in ("ipv4", "ipv6") if template[f])
                if held[slot] < capacity:
                    out.append(f"{node['metadata']['name']} (zone {zone}) fits {name}")
                    break
        return out

    def stale_status(self, live, nodes):
        """Pools whose status does not count the nodes that hold their ranges."""
        held = self.held_by_slot(nodes)
        stale = []
        for name, pool in live.items():
            if name not in self.pool_slot or pool["metadata"].get("deletionTimestamp"):
                continue
            status = pool.get("status") or {}
            for family in ("ipv4", "ipv6"):
                if SLOTS[self.pool_slot[name]][family]:
                    counted = (status.get(family) or {}).get("allocated")
                    if counted is None or int(counted) != held[self.pool_slot[name]]:
                        stale.append(f"{name} {family} allocated={counted} (nodes holding: {held[self.pool_slot[name]]})")
        return stale

    def settle(self):
        _, fired = self.request("GET", "/_local/faults")
        for kind, n in (fired or {}).get("fired", {}).items():
            self.counts[f"requests that met a fault: {kind}"] += n
        self.request("DELETE", "/_local/faults")
        self.housekeeping(final=True)
        self.log("faults stopped; settling")
        deadline = time.monotonic() + self.args.settle
        while True:
            self.housekeeping()
            live, nodes = self.check_state()
            waiting = self.unserved(live, nodes)
            leaders = []
            for c in self.controllers:
                try:
                    m = c.metrics()
                    if any(s[0] == "node_ipam_controller_leader" and s[2] == 1 for s in m):
                        leaders.append(c.identity)
                except SystemExit:
                    pass
            holder = self.lease_holder()
            stale = self.stale_status(live, nodes)
            if not waiting and not stale and len(leaders) == 1 and leaders[0] == holder:
                self.checks["settled: every fitting node served, status counts every node, exactly one leader"] += 1
                return time.monotonic() - (deadline - self.args.settle)
            if time.monotonic() > deadline:
                self.fail(f"not settled {self.args.settle}s after the faults stopped: waiting nodes {waiting}; status behind {stale}; "
                          f"replicas reporting leader {leaders}; Lease holder {holder!r}", names=tuple(w.split()[0] for w in waiting))
            time.sleep(0.2)

    # ------------------------------------------------------------ run

    def run(self):
        self.start()
        weights = [(self.op_create_node, 8), (lambda: self.op_delete_node(False), 3), (lambda: self.op_delete_node(True), 3),
                   (self.op_relabel_node, 3), (self.op_create_pool, 3), (self.op_delete_pool, 2), (self.op_api_fault, 6),
                   (self.op_process_fault, 1.2)]
        ops, cum = zip(*weights)
        for _ in range(self.rng.randint(2, 4)):
            self.op_create_pool()
        end = time.monotonic() + self.args.seconds
        next_check = 0
        while time.monotonic() < end:
            self.rng.choices(ops, weights=cum)[0]()
            self.housekeeping()
            if time.monotonic() >= next_check:
                self.check_state()
                next_check = time.monotonic() + 0.25
            time.sleep(self.rng.uniform(0.02, 0.12))
        settled = self.settle()
        return settled


def measure_takeovers(args, trials):
    """kill -9 of the leader, kept down: seconds until another replica holds the Lease, and
    until a node created right after the kill has podCIDRs (no other faults)."""
    lease_times, node_times = [], []
    with tempfile.TemporaryDirectory(prefix="soak-takeover-") as workdir:
        soak = Soak(args, 0, workdir)
        soak.start()
        try:
            soak.slot_pool, soak.pool_seq = {}, 0
            soak.op_create_pool()
            for trial in range(trials):
                deadline = time.monotonic() + 30
                while not (holder := soak.lease_holder()) and time.monotonic() < deadline:
                    time.sleep(0.05)
                # Every replica must have seen the current holder renew, as in a steady cluster.
                time.sleep(1.0)
                leader = next(i for i, c in enumerate(soak.controllers) if c.identity == holder)
                os.kill(soak.controllers[leader].pid, signal.SIGKILL)
                soak.controllers[leader].proc.wait()
                killed = time.monotonic()
                name = f"t{trial}"
                zone = SLOTS[next(iter(soak.slot_pool))]["zone"] or "z0"
                soak.must("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"zone": zone}}})
                took = served = None
                while (took is None or served is None) and time.monotonic() - killed < 30:
                    now = time.monotonic()
                    if took is None and soak.lease_holder() not in ("", holder):
                        took = now - killed
                    _, node = soak.request("GET", f"/api/v1/nodes/{name}")
                    if served is None and (node.get("spec") or {}).get("podCIDRs"):
                        served = now - killed
                    time.sleep(0.02)
                if took is None or served is None:
                    raise SystemExit(f"takeover trial {trial}: no takeover within 30 s (Lease {took}, node {served})")
                lease_times.append(took)
                node_times.append(served)
                soak.must("DELETE", f"/api/v1/nodes/{name}", ok=(200, 202))
                benchlib.stop_process(soak.controllers[leader].proc)
                soak.controllers[leader].log.close()
                soak.launch(leader)
        finally:
            soak.stop()
    return lease_times, node_times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder with node-ipam-controller and local-apiserver")
    parser.add_argument("--seed-start", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8, help="chaos per seed")
    parser.add_argument("--settle", type=float, default=10, help="seconds allowed to converge after the faults stop")
    parser.add_argument("--minutes", type=float, default=0, help="stop starting new seeds after this long (0: no limit)")
    parser.add_argument("--history", type=int, default=300, help="server watch history (small: 410 Expired happens)")
    parser.add_argument("--takeover-trials", type=int, default=5, help="kill -9 the leader this many times, without other faults, and time the takeover")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    totals, checks, takeovers, retakes, settles = collections.Counter(), collections.Counter(), [], [], []
    started = time.monotonic()
    passed = failed = 0
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        if args.minutes and time.monotonic() - started > args.minutes * 60:
            print(f"time budget of {args.minutes} min reached; stopping before seed {seed}")
            break
        with tempfile.TemporaryDirectory(prefix=f"soak-{seed}-") as workdir:
            soak = Soak(args, seed, workdir)
            try:
                settles.append(soak.run())
                passed += 1
                print(f"seed {seed}: ok  ({sum(soak.checks.values())} invariant checks, {len(soak.ops)} operations, "
                      f"settled in {settles[-1]:.1f}s)", flush=True)
            except (Violation, Exception, SystemExit) as v:
                failed += 1
                if not isinstance(v, Violation):
                    import traceback
                    print(f"ERROR seed={seed}: the driver failed: {v!r}\n{traceback.format_exc()}", flush=True)
                    log = pathlib.Path(workdir) / "apiserver.log"
                    if log.exists():
                        print("--- tail of apiserver.log:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
                print(str(v), flush=True)
                for path in sorted(pathlib.Path(workdir).glob("c*.log")):
                    print(f"--- tail of {path.name}:\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
            finally:
                soak.stop()
            totals.update(soak.counts)
            checks.update(soak.checks)
            takeovers += soak.takeovers
            retakes += soak.retakes
            if failed and not args.verbose:
                break
    if args.takeover_trials and not failed:
        lease_times, node_times = measure_takeovers(args, args.takeover_trials)
        for label, values in (("another replica holds the Lease", lease_times), ("a node created at the kill has podCIDRs", node_times)):
            print(f"takeover after kill -9 of the leader ({len(values)} trials, Lease 4 s, retry 0.5 s): {label} after "
                  f"min {min(values):.2f}s, median {statistics.median(values):.2f}s, max {max(values):.2f}s")
    elapsed = time.monotonic() - started
    print(f"\nsoak: {passed + failed} seeds ({args.seed_start}..{args.seed_start + passed + failed - 1}) in {elapsed:.0f}s")
    print("operations and faults injected:")
    for k, v in sorted(totals.items()):
        print(f"  {k}: {v}")
    print("invariant checks performed:")
    for k, v in sorted(checks.items()):
        print(f"  {k}: {v}")
    for label, values in (("another replica took over", takeovers), ("the restarted leader took its Lease again", retakes)):
        if values:
            print(f"after kill -9 of the leader, {label}: min {min(values):.2f}s, median {statistics.median(values):.2f}s, "
                  f"max {max(values):.2f}s ({len(values)} times; Lease duration 4s, retry period 0.5s)")
    if settles:
        print(f"settled after the faults stopped: median {statistics.median(settles):.1f}s, max {max(settles):.1f}s")
    print(f"soak: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
