"""Shared helpers of the hack/bench-*.py drivers (stdlib only; not tests).

Processes we start (local-apiserver, node-ipam-controller), plain-HTTP JSON requests over
keep-alive, a node watch running in its own process, /proc readings and Prometheus text parsing.
"""
import http.client, importlib.util, json, multiprocessing, os, pathlib, re, signal, socket, subprocess, time, urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_bench_node_patch():
    """hack/bench-node-patch.py as a module (its name has a dash), so the baseline uses its exact method."""
    spec = importlib.util.spec_from_file_location("bench_node_patch", ROOT / "hack" / "bench-node-patch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(url, timeout=60):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


class Api:
    """JSON requests over one keep-alive connection (reconnects once if the server closed it)."""

    def __init__(self, url):
        self.url = url
        self.conn = connect(url)

    def request(self, method, path, body=None, content_type="application/json"):
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        headers = {"Content-Type": content_type} if data is not None else {}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = connect(self.url)
                if attempt == 2:
                    raise
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed

    def must(self, method, path, body=None, ok=(200, 201), **kw):
        status, parsed = self.request(method, path, body, **kw)
        if status not in ok:
            raise SystemExit(f"{method} {path}: {status} {str(parsed)[:500]}")
        return parsed

    def close(self):
        self.conn.close()


def get_text(url, path, timeout=5):
    """One GET on a fresh connection: (status, body text); (None, error) when nothing answers."""
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)
    finally:
        c.close()


# ---------------------------------------------------------------- processes

def stop_process(proc, timeout=15):
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class LocalAPIServer:
    """`local-apiserver` on 127.0.0.1 over plain HTTP (port picked by the server)."""

    def __init__(self, binary, workdir, name, history=10000, extra=()):
        self.workdir = pathlib.Path(workdir)
        self.kubeconfig = self.workdir / f"{name}.kubeconfig"
        self.log_path = self.workdir / f"{name}.log"
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(binary), "--host", "127.0.0.1", "--port", "0", "--kubeconfig", str(self.kubeconfig),
                                      "--history", str(history), *extra], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.kubeconfig.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"local-apiserver did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        time.sleep(0.05)  # the kubeconfig is written atomically, but be safe
        m = re.search(r"server:\s*(\S+)", self.kubeconfig.read_text())
        self.url = m.group(1).strip("'\"")
        status, _ = get_text(self.url, "/version")
        if status != 200:
            self.stop()
            raise SystemExit(f"local-apiserver at {self.url} does not answer /version")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        code = stop_process(self.proc)
        self.log.close()
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Controller:
    """`node-ipam-controller` as users run it, against a kubeconfig, with /readyz and /metrics on a loopback port."""

    def __init__(self, binary, kubeconfig, workdir, name, qps, burst, workers=None, extra=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = pathlib.Path(workdir) / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.args = [str(binary), "--kubeconfig", str(kubeconfig), "--enable-leader-election=false",
                     "--webserver-bind-address", f"127.0.0.1:{self.port}"]
        if qps is not None:
            self.args += ["--kube-api-qps", str(qps)]
        if burst is not None:
            self.args += ["--kube-api-burst", str(burst)]
        if workers is not None:
            self.args += ["--workers", str(workers)]
        self.args += list(extra)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.proc.pid

    def command_line(self):
        return " ".join(self.args)

    def wait_ready(self, timeout=120, poll=0.005):
        """Seconds from process start to the first /readyz 200."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"node-ipam-controller exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            status, _ = get_text(self.base, "/readyz", timeout=2)
            if status == 200:
                return time.monotonic() - self.started
            time.sleep(poll)
        raise SystemExit(f"node-ipam-controller not ready after {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def metrics(self):
        status, text = get_text(self.base, "/metrics", timeout=10)
        if status != 200:
            raise SystemExit(f"/metrics: {status} {text[:300]}")
        return parse_prometheus(text)

    def stop(self):
        code = stop_process(self.proc)
        self.log.close()
        return code


# ---------------------------------------------------------------- /proc

def proc_status(pid):
    """VmRSS, VmHWM (peak of VmRSS), RssAnon (heap, stacks) and RssFile (mapped binaries and libraries) of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


class RssSampler:
    """Polls /proc/PID/status from a thread: the kernel keeps the peak of VmRSS (VmHWM) but not of
    RssAnon, the part that is the process's own memory rather than mapped library pages."""

    def __init__(self, pid, interval=0.01):
        import threading
        self.pid, self.interval = pid, interval
        self.peak_anon = 0
        self.peak_anon_at = None
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                anon = proc_status(self.pid).get("RssAnon", 0)
            except OSError:
                return
            if anon > self.peak_anon:
                self.peak_anon, self.peak_anon_at = anon, time.monotonic() - self.t0
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak_anon


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def wait_idle(pid, threshold=0.05, interval=0.5, timeout=30):
    """Waits until the process uses less than `threshold` of a core over `interval`; returns seconds waited."""
    t0 = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - t0 < timeout:
        time.sleep(interval)
        now = cpu_seconds(pid)
        if (now - last) / interval < threshold:
            break
        last = now
    return time.monotonic() - t0


# ---------------------------------------------------------------- Prometheus text

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """[(name, {label: value}, value)] of every sample."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


def histogram(samples, name, **match):
    """Cumulative buckets [(le, count)] sorted by le, sum and count of a histogram (labels other than le must match)."""
    buckets, total_sum, total_count = {}, 0.0, 0.0
    for n, labels, value in samples:
        if any(labels.get(k) != v for k, v in match.items()):
            continue
        if n == name + "_bucket":
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            buckets[le] = buckets.get(le, 0) + value
        elif n == name + "_sum":
            total_sum += value
        elif n == name + "_count":
            total_count += value
    return sorted(buckets.items()), total_sum, total_count


def histogram_quantile(q, buckets):
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding the q-th observation."""
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le  # above the highest finite bound: that bound is all we know
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def fraction_within(bound, buckets):
    """Share of observations <= bound (bound must be a bucket boundary)."""
    if not buckets or buckets[-1][1] == 0:
        return None
    for le, count in buckets:
        if abs(le - bound) < 1e-12:
            return count / buckets[-1][1]
    return None


def counter_sum(samples, name, **match):
    return sum(v for n, labels, v in samples if n == name and all(labels.get(k) == val for k, val in match.items()))


def percentile(values, q):
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q * len(s) + 0.5)) - 1))
    return s[k]


# ---------------------------------------------------------------- node watch in its own process

_EVENT_TYPE = re.compile(rb'\{"type":"([A-Z]+)"')
_NAME = re.compile(rb'"name":"([^"]*)"')
_POD_CIDRS = re.compile(rb'"podCIDRs":\[([^\]]*)\]')


def _watch_nodes(url, resource_version, prefix, expected, ready, out, timeout):
    """Watches nodes from `resource_version` over a raw socket (chunked framing parsed here, one event
    per line); for every node named prefix* records when it was first ADDED and when an event first
    showed podCIDRs (CLOCK_MONOTONIC, shared by all processes). Stops when `expected` nodes have
    podCIDRs or after `timeout` seconds; sends the result to `out`."""
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    path = f"/api/v1/nodes?watch=true&resourceVersion={resource_version}"
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nAccept: application/json\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            out.put({"error": "watch closed before headers"})
            return
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        out.put({"error": head.decode(errors="replace")})
        return
    ready.set()
    added, cidr_at, cidrs, errors, events = {}, {}, {}, [], 0
    pending = b""  # decoded body bytes not yet ending in a newline
    deadline = time.monotonic() + timeout
    s.settimeout(1.0)
    closed = False
    now = time.monotonic()
    while True:
        # chunked framing: size CRLF data CRLF; the server writes one event (a line) per chunk
        body = []
        while True:
            nl = buf.find(b"\r\n")
            if nl < 0:
                break
            size = int(buf[:nl].split(b";")[0], 16)
            if size == 0:
                closed = True
                break
            if len(buf) < nl + 2 + size + 2:
                break
            body.append(buf[nl + 2:nl + 2 + size])
            buf = buf[nl + 2 + size + 2:]
        if body:
            pending += b"".join(body)
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line:
                    continue
                events += 1
                # Realistic nodes are 13 KB of JSON and arrive by the thousand per second: read the
                # three fields needed with patterns (the server writes the envelope's type first and
                # no "name" key precedes metadata.name), and parse whole only what they cannot read.
                m = _EVENT_TYPE.match(line)
                if m is None or m.group(1) == b"ERROR":
                    e = json.loads(line)
                    t = e.get("type")
                    o = e.get("object") or {}
                    if t == "ERROR":
                        errors.append(o)
                        closed = True
                        break
                    name = (o.get("metadata") or {}).get("name", "")
                    pc = (o.get("spec") or {}).get("podCIDRs")
                else:
                    t = m.group(1).decode()
                    nm = _NAME.search(line)
                    name = nm.group(1).decode() if nm else ""
                    if not name.startswith(prefix):
                        continue
                    pm = _POD_CIDRS.search(line)
                    pc = json.loads(b"[" + pm.group(1) + b"]") if pm else None
                if not name.startswith(prefix):
                    continue
                if t == "ADDED" and name not in added:
                    added[name] = now
                if pc and name not in cidr_at:
                    cidr_at[name] = now
                    cidrs[name] = tuple(pc)
        if len(cidr_at) >= expected or closed or time.monotonic() > deadline:
            break
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        now = time.monotonic()
        if not chunk:
            closed = True
        buf += chunk
    s.close()
    out.put({"added": added, "cidr_at": cidr_at, "cidrs": cidrs, "errors": errors, "events": events, "closed": closed})


class NodeWatch:
    """Starts the watch process; `result()` waits for it."""

    def __init__(self, url, resource_version, prefix, expected, timeout):
        self.ready = multiprocessing.Event()
        self.out = multiprocessing.Queue()
        self.proc = multiprocessing.Process(target=_watch_nodes, args=(url, resource_version, prefix, expected, self.ready, self.out, timeout))
        self.proc.start()
        if not self.ready.wait(10):
            self.proc.terminate()
            raise SystemExit("node watch did not start")

    def result(self, timeout):
        r = self.out.get(timeout=timeout)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
        return r


# ---------------------------------------------------------------- node creation from several processes

def node_body(name, labels, cidr=None):
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels(name)}}
    if cidr:
        body["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    return body


def _creator(url, names, labels, cidr_of, go, out, record_times, realistic=False, pace=None):
    """`pace`: (start, slots, rate) sends names[i] no earlier than start + slots[i] / rate (an open
    loop: a late answer does not delay the schedule of the next node beyond its own slot)."""
    c = connect(url)
    created = {}
    go.wait()
    t_first = time.monotonic()
    shape = realistic_node if realistic else node_body
    for index, name in enumerate(names):
        if pace:
            start, slots, rate = pace
            delay = start + slots[index] / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        body = json.dumps(shape(name, labels, cidr_of(name) if cidr_of else None), separators=(",", ":"))
        c.request("POST", "/api/v1/nodes", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        t = time.monotonic()
        if r.status != 201:
            out.put({"error": f"create {name}: {r.status}"})
            return
        if record_times:
            created[name] = t
    out.put({"created": created, "first_sent": t_first, "last_done": time.monotonic(), "count": len(names)})


def create_nodes(url, names, clients, labels, cidr_of=None, record_times=True, realistic=False, rate=None):
    """POSTs the nodes from `clients` processes (round-robin split, all released at once);
    `realistic`: kubelet-shaped nodes of 10-20 KB (realistic_node) instead of bare ones;
    `rate`: nodes per second in all (node i is sent at i / rate), else as fast as they go.
    Returns (per-node response times, first request time, last response time)."""
    go = multiprocessing.Event()
    out = multiprocessing.Queue()
    parts = [names[k::clients] for k in range(clients)]
    # CLOCK_MONOTONIC is shared by the processes: one start for every creator's schedule.
    start = time.monotonic() + 0.3
    paces = [(start, list(range(k, len(names), clients)), rate) if rate else None for k in range(clients)]
    procs = [multiprocessing.Process(target=_creator, args=(url, part, labels, cidr_of, go, out, record_times, realistic, pace))
             for part, pace in zip(parts, paces) if part]
    for p in procs:
        p.start()
    time.sleep(0.2)  # let them connect and block on `go`
    go.set()
    created, first, last = {}, None, None
    for _ in procs:
        r = out.get(timeout=600)
        if "error" in r:
            for p in procs:
                p.terminate()
            raise SystemExit(r["error"])
        created.update(r["created"])
        first = r["first_sent"] if first is None else min(first, r["first_sent"])
        last = r["last_done"] if last is None else max(last, r["last_done"])
    for p in procs:
        p.join()
    return created, first, last


# ---------------------------------------------------------------- realistic nodes

_IMAGES = [  # (repository, tag, size in bytes): what a busy node has pulled
    ("registry.k8s.io/kube-proxy", "v1.31.2", 30_200_431), ("registry.k8s.io/pause", "3.10", 320_368),
    ("docker.io/calico/node", "v3.28.2", 135_441_512), ("docker.io/calico/cni", "v3.28.2", 94_561_242),
    ("docker.io/calico/pod2daemon-flexvol", "v3.28.2", 7_312_456), ("registry.k8s.io/coredns/coredns", "v1.11.3", 18_562_039),
    ("quay.io/prometheus/node-exporter", "v1.8.2", 12_032_114), ("registry.k8s.io/metrics-server/metrics-server", "v0.7.2", 19_494_617),
    ("docker.io/library/nginx", "1.27.2", 72_955_450), ("docker.io/library/redis", "7.4.1", 45_902_321),
    ("docker.io/library/postgres", "16.4", 158_211_345), ("quay.io/jetstack/cert-manager-controller", "v1.16.1", 17_123_432),
    ("registry.k8s.io/ingress-nginx/controller", "v1.11.3", 105_325_762), ("docker.io/grafana/promtail", "3.2.1", 89_432_101),
    ("docker.io/fluent/fluent-bit", "3.1.9", 40_234_551), ("registry.k8s.io/sig-storage/csi-node-driver-registrar", "v2.12.0", 10_943_023),
    ("registry.k8s.io/sig-storage/livenessprobe", "v2.14.0", 9_123_842), ("public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver", "v1.36.0", 74_012_934),
    ("docker.io/bitnami/kubectl", "1.31.2", 88_512_345), ("ghcr.io/kyverno/kyverno", "v1.12.6", 42_123_009),
    ("docker.io/istio/proxyv2", "1.23.2", 95_341_221), ("docker.io/istio/pilot", "1.23.2", 73_541_002),
    ("quay.io/cilium/cilium", "v1.16.3", 198_321_456), ("quay.io/cilium/operator-generic", "v1.16.3", 32_432_112),
    ("docker.io/library/busybox", "1.37.0", 2_167_176), ("docker.io/library/alpine", "3.20.3", 3_623_807),
    ("gcr.io/distroless/static-debian12", "nonroot", 1_006_512), ("docker.io/library/python", "3.12.7-slim", 48_932_112),
    ("docker.io/library/node", "22.10.0-slim", 69_321_998), ("docker.io/library/golang", "1.23.2", 301_221_087),
    ("docker.io/elastic/filebeat", "8.15.3", 132_443_221), ("docker.io/datadog/agent", "7.58.1", 412_332_110),
    ("quay.io/argoproj/argocd", "v2.12.6", 175_432_009), ("docker.io/hashicorp/vault", "1.18.0", 152_112_345),
    ("docker.io/library/memcached", "1.6.31", 31_223_455), ("docker.io/library/rabbitmq", "4.0.2", 101_322_345),
    ("docker.io/library/mysql", "8.4.3", 172_332_998), ("registry.k8s.io/kube-state-metrics/kube-state-metrics", "v2.13.0", 15_332_098),
    ("docker.io/velero/velero", "v1.14.1", 77_231_009), ("docker.io/library/haproxy", "3.0.5", 39_221_443),
]

_CONDITIONS = [  # kubelet's four, then node-problem-detector's
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ("KernelDeadlock", "False", "KernelHasNoDeadlock", "kernel has no deadlock"),
    ("ReadonlyFilesystem", "False", "FilesystemIsNotReadOnly", "Filesystem is not read-only"),
    ("FrequentKubeletRestart", "False", "NoFrequentKubeletRestart", "kubelet is functioning properly"),
    ("FrequentContainerdRestart", "False", "NoFrequentContainerdRestart", "containerd is functioning properly"),
]


_DIGESTS = {}


def _digest(seed):
    import hashlib
    if seed not in _DIGESTS:
        _DIGESTS[seed] = hashlib.sha256(seed.encode()).hexdigest()
    return _DIGESTS[seed]


def _now(offset=0.0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def realistic_conditions(heartbeat=None):
    """The 8 conditions with `heartbeat` as lastHeartbeatTime (what a kubelet's status update changes)."""
    beat = heartbeat or _now()
    return [{"type": t, "status": s, "lastHeartbeatTime": beat, "lastTransitionTime": "2026-11-30T08:12:41Z", "reason": r, "message": m}
            for t, s, r, m in _CONDITIONS]


def realistic_node(name, labels=None, cidr=None):
    """A Node shaped like one a kubelet (and node-problem-detector, a CSI driver, kubeadm) wrote:
    ~12 labels, annotations, a taint, managedFields, 8 conditions, 5 addresses, nodeInfo,
    capacity/allocatable and 40 images with names and sizes: 10-20 KB of JSON."""
    n = int(name.rsplit("-", 1)[1]) if name.rsplit("-", 1)[-1].isdigit() else sum(name.encode())
    zone = f"eu-west-1{'abc'[n % 3]}"
    ip = f"172.{16 + (n >> 16) % 16}.{(n >> 8) & 255}.{n & 255}"
    host = f"ip-{ip.replace('.', '-')}.eu-west-1.compute.internal"
    lab = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": "m5.xlarge", "beta.kubernetes.io/os": "linux",
           "failure-domain.beta.kubernetes.io/region": "eu-west-1", "failure-domain.beta.kubernetes.io/zone": zone,
           "k8s.io/cloud-provider-aws": "7f3c2a8e4b1d9f06a5c8e2b3d4f1a6c9", "kubernetes.io/arch": "amd64",
           "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m5.xlarge",
           "topology.ebs.csi.aws.com/zone": zone, "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": zone}
    if labels:
        lab.update(labels(name))
    uid = _digest(name)
    images = []
    for k, (repo, tag, size) in enumerate(_IMAGES):
        images.append({"names": [f"{repo}@sha256:{_digest(repo + tag)}", f"{repo}:{tag}"], "sizeBytes": size + (n * 7 + k) % 4096})
    meta = {
        "name": name, "uid": f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}", "labels": lab,
        "annotations": {"alpha.kubernetes.io/provided-node-ip": ip, "csi.volume.kubernetes.io/nodeid": json.dumps({"ebs.csi.aws.com": f"i-0{uid[:16]}"}),
                        "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        "managedFields": [
            {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-30T08:12:41Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:alpha.kubernetes.io/provided-node-ip": {},
                                                           "f:volumes.kubernetes.io/controller-managed-attach-detach": {}},
                                         "f:labels": {".": {}, **{f"f:{k}": {} for k in lab}}},
                          "f:spec": {"f:providerID": {}}}},
            {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-12-01T10:02:11Z", "fieldsType": "FieldsV1",
             "subresource": "status",
             "fieldsV1": {"f:status": {"f:conditions": {f'k:{{"type":"{t}"}}': {"f:lastHeartbeatTime": {}} for t, _, _, _ in _CONDITIONS},
                                       "f:images": {}, "f:nodeInfo": {"f:bootID": {}}}}},
        ],
    }
    spec = {"providerID": f"aws:///{zone}/i-0{uid[:16]}", "taints": [{"key": "dedicated", "value": "general", "effect": "PreferNoSchedule"}]}
    if cidr:
        spec.update({"podCIDR": cidr, "podCIDRs": [cidr]})
    resources = {"cpu": "4", "ephemeral-storage": "83873772Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "15896164Ki", "pods": "58"}
    status = {
        "capacity": resources,
        "allocatable": {**resources, "cpu": "3920m", "ephemeral-storage": "76224326324", "memory": "14879332Ki"},
        "conditions": realistic_conditions("2026-12-01T10:02:11Z"),
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "ExternalIP", "address": f"34.{n % 250}.{(n >> 8) % 250}.{n % 200 + 1}"},
                      {"type": "Hostname", "address": host}, {"type": "InternalDNS", "address": host},
                      {"type": "ExternalDNS", "address": f"ec2-34-{n % 250}.eu-west-1.compute.amazonaws.com"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"machineID": uid[:32], "systemUUID": f"ec2{uid[3:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}",
                     "bootID": _digest(name + "boot")[:36], "kernelVersion": "6.1.112-122.189.amzn2023.x86_64",
                     "osImage": "Amazon Linux 2023.6.20241031", "containerRuntimeVersion": "containerd://1.7.22",
                     "kubeletVersion": "v1.31.2-eks-94953ac", "kubeProxyVersion": "v1.31.2-eks-94953ac",
                     "operatingSystem": "linux", "architecture": "amd64"},
        "images": images,
    }
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": spec, "status": status}


def status_update_body(heartbeat=None):
    """What a kubelet without the Lease heartbeat sends every 10 s: its conditions with a new
    lastHeartbeatTime (a merge patch of nodes/<name>/status)."""
    return json.dumps({"status": {"conditions": realistic_conditions(heartbeat)}})


# ---------------------------------------------------------------- kubelet status churn

def _churner(url, names, period, counter, misses, stop):
    """PATCHes nodes/<name>/status of each of `names` once per `period` seconds, evenly spread;
    nodes not created yet answer 404 and are only counted in `misses`."""
    c = connect(url)
    gap = period / max(1, len(names))
    next_at = time.monotonic()
    while not stop.is_set():
        for name in names:
            if stop.is_set():
                break
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + gap, time.monotonic())  # a slow answer delays the next update, never bunches them
            try:
                c.request("PATCH", f"/api/v1/nodes/{name}/status", status_update_body(), {"Content-Type": "application/merge-patch+json"})
                r = c.getresponse()
                r.read()
            except (http.client.HTTPException, OSError):
                c.close()
                c = connect(url)
                continue
            if r.status == 200:
                with counter.get_lock():
                    counter.value += 1
            else:
                with misses.get_lock():
                    misses.value += 1


class StatusChurn:
    """Every node's status updated every `period` seconds (kubelets without the Lease heartbeat),
    from `clients` processes. `patches` counts successful updates so far."""

    def __init__(self, url, names, period=10.0, clients=2):
        self.counter = multiprocessing.Value("q", 0)
        self.misses = multiprocessing.Value("q", 0)
        self.stop_event = multiprocessing.Event()
        self.procs = [multiprocessing.Process(target=_churner, args=(url, names[k::clients], period, self.counter, self.misses, self.stop_event))
                      for k in range(clients)]
        for p in self.procs:
            p.start()

    @property
    def patches(self):
        return self.counter.value

    def stop(self):
        self.stop_event.set()
        for p in self.procs:
            p.join(15)
            if p.is_alive():
                p.terminate()
