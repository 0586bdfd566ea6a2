import Benchmark
import Foundation
import KubeClient
import LocalAPIServer
import Synchronization

// Requests per second of our Kubernetes client (KubeClient on libcurl) against an
// in-process LocalAPIServer on loopback, over HTTPS with the client certificate of a
// kind-shaped kubeconfig, resolved as the controller resolves it
// (`ClientConfiguration.resolve(kubeconfigPath:environment:)`), with no rate limit (qps 0).
// The server holds 300 nodes; requests go round-robin over them.
//
// - get-node-*: GET of one node (about 0.5 KB of JSON), decoded as `Node`.
// - patch-node-label-*: strategic-merge PATCH of one label of a node (a new value each
//   time, so every request is a real write), decoded as `Node`.
// - *-sequential: one request at a time, from a client with `concurrency: 1`: one curl
//   worker thread, one handle, one kept-alive connection.
// - *-4-tasks, *-16-tasks: N tasks sending at once through one client with the default
//   `concurrency: 4` (what the controller uses): at most 4 requests are in flight, on 4
//   kept-alive connections; with 16 tasks the other 12 wait in the transport's queue, so
//   their latency includes that wait.
//
// One iteration sends 1,600 requests (every task its share). Metrics:
// - requests-per-second: of each iteration (prefers larger; its "p90" is the slow end,
//   the value 90 % of the iterations reach);
// - request-latency-us: every request, from the call to the decoded answer.
// The client and the server share the process and the machine's cores.
//
// Threshold: a loose floor on requests-per-second, to catch a regression to a fresh
// connection (TLS handshake) per request (~200 small GETs/s over HTTPS here). `thresholds
// check` only compares p90 with the static value in Thresholds/ within a symmetric absolute
// tolerance, so the static value is floor + tolerance and the tolerance is 1,000,000: p90
// passes from the floor up to 2,000,000 + floor requests/s (unreachable).

let nodeCount = 300
let requestsPerIteration = 1_600
let thresholdTolerance = 1_000_000

let requestsPerSecond = BenchmarkMetric.custom("requests-per-second", polarity: .prefersLarger, useScalingFactor: false)
let requestLatency = BenchmarkMetric.custom("request-latency-us", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    for tasks in [1, 4, 16] {
        let suffix = tasks == 1 ? "sequential" : "\(tasks)-tasks"
        let concurrency = tasks == 1 ? 1 : 4
        Benchmark(
            "get-node-\(suffix)",
            configuration: configuration(),
            closure: { benchmark in
                try await measure(benchmark, tasks: tasks) { fixture, index in
                    let name = fixture.names[index % nodeCount]
                    let node: Node = try await fixture.client.get(.nodes, name: name)
                    guard node.metadata.name == name else { throw BenchmarkFailure("GET \(name) returned \(node.metadata.name ?? "no name")") }
                }
            },
            setup: { try await fixtures.start(concurrency: concurrency) },
            teardown: { try await fixtures.stop() }
        )
        Benchmark(
            "patch-node-label-\(suffix)",
            configuration: configuration(),
            closure: { benchmark in
                try await measure(benchmark, tasks: tasks) { fixture, index in
                    let name = fixture.names[index % nodeCount]
                    let value = String(index)
                    let patch = Data(#"{"metadata":{"labels":{"example.com/bench-write":"\#(value)"}}}"#.utf8)
                    let node: Node = try await fixture.client.patch(.nodes, name: name, .strategicMerge(patch))
                    guard node.metadata.labels?["example.com/bench-write"] == value else {
                        throw BenchmarkFailure("PATCH \(name) did not set the label to \(value)")
                    }
                }
            },
            setup: { try await fixtures.start(concurrency: concurrency) },
            teardown: { try await fixtures.stop() }
        )
    }
}

private func configuration() -> Benchmark.Configuration {
    .init(
        metrics: [requestsPerSecond, requestLatency],
        units: [requestsPerSecond: .count, requestLatency: .count],
        warmupIterations: 1,
        maxDuration: .seconds(3),
        maxIterations: 100,
        // Floor: see the header and Thresholds/KubeClientRequests.*.p90.json.
        thresholds: [requestsPerSecond: .init(absolute: [.p90: thresholdTolerance])]
    )
}

/// Sends one iteration's requests from `tasks` tasks (each `requestsPerIteration / tasks`
/// of them, one after the other) and records the iteration's rate and every latency.
/// `request` gets a sequence number that is unique across iterations.
private func measure(_ benchmark: Benchmark, tasks: Int,
                     _ request: @escaping @Sendable (Fixture, Int) async throws -> Void) async throws {
    let fixture = try fixtures.current()
    let base = fixture.nextIteration() * requestsPerIteration
    let perTask = requestsPerIteration / tasks
    let clock = ContinuousClock()

    @Sendable func run(_ task: Int) async throws -> [Int] {
        var latencies = [Int]()
        latencies.reserveCapacity(perTask)
        for offset in 0..<perTask {
            let start = clock.now
            try await request(fixture, base + task * perTask + offset)
            latencies.append(microseconds(start.duration(to: clock.now)))
        }
        return latencies
    }

    let start = clock.now
    var latencies: [Int]
    if tasks == 1 {
        latencies = try await run(0)
    } else {
        latencies = try await withThrowingTaskGroup(of: [Int].self) { group in
            for task in 0..<tasks { group.addTask { try await run(task) } }
            var all = [Int]()
            all.reserveCapacity(requestsPerIteration)
            for try await part in group { all += part }
            return all
        }
    }
    let elapsed = start.duration(to: clock.now)
    benchmark.stopMeasurement()

    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    benchmark.measurement(requestsPerSecond, Int((Double(latencies.count) / seconds).rounded()))
    for latency in latencies { benchmark.measurement(requestLatency, latency) }
}

private func microseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000)
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A LocalAPIServer over HTTPS with `nodeCount` nodes and a client for it, made from the
/// server's kind-shaped kubeconfig. Each benchmark runs in a process of its own and gets a
/// fresh one in its setup.
final class Fixture: Sendable {
    let server: LocalAPIServer
    let client: KubernetesClient
    let names: [String]
    let directory: URL
    private let iterations = Atomic<Int>(0)

    init(server: LocalAPIServer, client: KubernetesClient, names: [String], directory: URL) {
        self.server = server
        self.client = client
        self.names = names
        self.directory = directory
    }

    func nextIteration() -> Int { iterations.add(1, ordering: .relaxed).oldValue }

    static func start(concurrency: Int) async throws -> Fixture {
        let server = try await LocalAPIServer.start(.init(tls: true))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeclient-bench-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("kubeconfig").path
            try server.kubeconfig(name: "bench").write(toFile: path, atomically: true, encoding: .utf8)
            let configuration = try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:])
            guard configuration.server.hasPrefix("https://"), configuration.tls.clientCertificate != nil,
                  configuration.tls.clientKey != nil, configuration.tls.certificateAuthority != nil else {
                throw BenchmarkFailure("the kubeconfig did not give HTTPS with a CA and a client certificate: \(configuration.source)")
            }
            let client = KubernetesClient(configuration: configuration, qps: 0, concurrency: concurrency)
            let names = (0..<nodeCount).map { "node-\($0)" }
            for (index, name) in names.enumerated() {
                let node = Node(
                    metadata: ObjectMeta(name: name, labels: [
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "topology.kubernetes.io/zone": "zone-\(index % 3)",
                        "node.kubernetes.io/instance-type": "c5.xlarge",
                    ]),
                    spec: Node.Spec(podCIDR: "10.\(index / 256).\(index % 256).0/24", podCIDRs: ["10.\(index / 256).\(index % 256).0/24"],
                                    providerID: "kind://docker/bench/\(name)"))
                _ = try await client.create(.nodes, node)
            }
            return Fixture(server: server, client: client, names: names, directory: directory)
        } catch {
            try? await server.stop()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    func stop() async throws {
        client.shutdown()
        try? FileManager.default.removeItem(at: directory)
        try await server.stop()
    }
}

/// The fixture of the benchmark this process runs, between its setup and teardown.
final class FixtureSlot: Sendable {
    private let fixture = Mutex<Fixture?>(nil)

    func start(concurrency: Int) async throws {
        let started = try await Fixture.start(concurrency: concurrency)
        fixture.withLock { $0 = started }
    }

    func current() throws -> Fixture {
        guard let current = fixture.withLock({ $0 }) else { throw BenchmarkFailure("no fixture: the setup did not run") }
        return current
    }

    func stop() async throws {
        let current = fixture.withLock { value in
            defer { value = nil }
            return value
        }
        try await current?.stop()
    }
}

let fixtures = FixtureSlot()
