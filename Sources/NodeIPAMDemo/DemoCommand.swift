import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
import Logging
import MultiCIDR
import NodeIPAMController
import ServiceSupport
import Synchronization

/// `node-ipam-demo` (`bash hack/demo.sh`): the real controller against a bundled LocalAPIServer over
/// HTTPS (kind-shaped kubeconfig), with the CRD, the example ClusterCIDRs and labelled
/// sample nodes; prints who got what and how full each pool is.
enum DemoCommand {
    struct Options {
        var nodes = 12
        var keepRunning = false
        var verbosity = -1
        var examples: String?
    }

    static let usage = """
        Usage: node-ipam-demo [--nodes N] [--keep-running] [--examples DIR] [-v N]
          --nodes N        sample nodes to create (default 12, at most 5000)
          --keep-running   keep the API server and controller running (Ctrl-C stops) and print a kubeconfig for kubectl
          --examples DIR   ClusterCIDR manifests to apply (default: the repository's examples/)
          -v N             controller log verbosity (default: warnings only)
        """

    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            func value() -> String? {
                if let equals = argument.firstIndex(of: "=") { return String(argument[argument.index(after: equals)...]) }
                defer { index += 1 }
                return index < arguments.count ? arguments[index] : nil
            }
            switch argument.split(separator: "=").first.map(String.init) ?? argument {
            case "--nodes": guard let n = value().flatMap(Int.init), (1...5000).contains(n) else { return nil }; options.nodes = n
            case "--keep-running": options.keepRunning = true
            case "--examples": guard let dir = value() else { return nil }; options.examples = dir
            case "-v", "--v": guard let v = value().flatMap(Int.init) else { return nil }; options.verbosity = v
            default: return nil
            }
        }
        return options
    }

    /// The repository's examples/ (next to the sources, or in the working directory).
    static func defaultExamples() -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() } // Sources/NodeIPAMDemo/DemoCommand.swift → the repository
        let besideSources = url.appendingPathComponent("examples").path
        if FileManager.default.fileExists(atPath: besideSources) { return besideSources }
        return FileManager.default.currentDirectoryPath + "/examples"
    }

    static func crdPath(examples: String) -> String {
        URL(fileURLWithPath: examples).deletingLastPathComponent().appendingPathComponent("config/crd/networking.x-k8s.io_clustercidrs.yaml").path
    }

    /// Labels of the i-th sample node: one group per example pool, and some unlabelled
    /// nodes that fall back to the catch-all pools.
    static func labels(for index: Int) -> (group: String, labels: [String: String]) {
        let groups: [(String, [String: String])] = [
            ("control-plane", ["platform.node_group/control-plane": ""]),
            ("worker-small", ["platform.node_group/worker-small": ""]),
            ("worker-medium", ["platform.node_group/worker-medium": ""]),
            ("worker-large", ["platform.node_group/worker-large": ""]),
            ("ipv6-only", ["node.example.com/ipv6-only": "true"]),
            ("(none)", [:]),
        ]
        return groups[index % groups.count]
    }

    static func main(_ arguments: [String]) async -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage)
            return 0
        }
        guard let options = parse(arguments) else {
            printError("node-ipam-demo: bad arguments\n\(usage)")
            return 2
        }
        bootstrapLogging(format: .text, verbosity: max(0, options.verbosity))
        var logger = Logger(label: "node-ipam-controller")
        if options.verbosity < 0 { logger.logLevel = .warning }
        do {
            return try await run(options, logger: logger)
        } catch {
            printError("demo failed: \(error)")
            return 1
        }
    }

    static func run(_ options: Options, logger: Logger) async throws -> Int32 {
        let examples = options.examples ?? defaultExamples()
        let server = try await LocalAPIServer.start(.init(tls: true))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("node-ipam-demo-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let kubeconfig = directory + "/kubeconfig"
        try server.kubeconfig(name: "node-ipam-demo").write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        print("LocalAPIServer on \(server.url) (HTTPS, client certificates); kubeconfig \(kubeconfig)")
        let client = KubernetesClient(configuration: try ClientConfiguration.resolve(kubeconfigPath: kubeconfig, environment: [:]), qps: 0)
        defer { client.shutdown() }

        for document in try Manifests.documents(file: crdPath(examples: examples)) {
            let response = try await client.send("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: document, contentType: "application/json")
            guard response.status == 201 else { throw APIError.from(response, request: "create the ClusterCIDR CRD") }
        }
        print("installed CRD \(ClusterCIDR.crdName)")
        let files = (try FileManager.default.contentsOfDirectory(atPath: examples)).filter { $0.hasSuffix(".yaml") }.sorted()
        for file in files {
            for document in try Manifests.documents(file: examples + "/" + file) {
                let object = try JSONDecoder().decode(ClusterCIDR.self, from: document)
                do {
                    _ = try await client.create(.clusterCIDRs, object)
                    print("  applied \(file): clustercidr/\(object.name)")
                } catch let error as APIError where error.isAlreadyExists {
                    print("  skipped \(file): clustercidr/\(object.name) exists already (same name in another example)")
                }
            }
        }
        for index in 0..<options.nodes {
            let name = String(format: "node-%03d", index)
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: name, labels: labels(for: index).labels)))
        }
        print("created \(options.nodes) sample nodes; starting the controller (--kubeconfig \(kubeconfig))")

        var settings = Settings()
        settings.kubeconfig = kubeconfig
        settings.webserverBindAddress = "127.0.0.1:0"
        settings.leaderElectNamespace = "kube-system"
        settings.qps = 0
        let controllerBox = ControllerBox()
        let started = ContinuousClock.now
        let shutdown = ShutdownTrigger()
        let controllerTask = Task {
            try await RunCommand.run(settings, environment: [:], logger: logger, shutdown: shutdown) { controller, _ in controllerBox.set(controller) }
        }
        // Wait (event-driven) until every sample node carries podCIDRs or is known pending.
        let done = NodeProgress(expected: options.nodes)
        let informer = Informer<Node, Node>(client: client, resource: .nodes, transform: { $0 }) { event in
            switch event {
            case .added(let node), .updated(_, let node), .resync(let node): done.update(node)
            case .deleted: break
            }
        }
        let watch = Task { await informer.run() }
        await informer.waitForSync()
        for node in informer.list() { done.update(node) }
        let allocatedAll = await done.waitForAll(timeout: .seconds(60))
        let elapsed = started.duration(to: .now)
        watch.cancel()
        let controller = controllerBox.value

        print("")
        print(pad("NODE", 10) + pad("GROUP", 15) + pad("CLUSTERCIDR", 28) + "PODCIDRS")
        var nodes = informer.list()
        nodes.sort { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
        for (index, node) in nodes.enumerated() {
            let name = node.metadata.name ?? ""
            let pool = await controller?.reservation(for: name)?.pool ?? "-"
            let cidrs = node.podCIDRs.isEmpty ? "(none: \(await controller?.pendingNodes().contains(name) == true ? "waiting for a pool" : "not yet"))" : node.podCIDRs.joined(separator: ", ")
            print(pad(name, 10) + pad(labels(for: index).group, 15) + pad(pool, 28) + cidrs)
        }
        // The pool table is what the API server holds (what `kubectl get cc` shows), read once
        // the controller has written every pool's status for the allocations above.
        let pools = await currentPoolStatuses(client: client, controller: controller, timeout: .seconds(10))
        print("")
        print(pad("CLUSTERCIDR", 30) + pad("FAMILY", 7) + pad("CIDR", 20) + pad("PER NODE", 9) + pad("ALLOCATED", 10) + pad("FREE", 12) + pad("TOTAL", 12) + "STATE")
        for pool in pools.sorted(by: { $0.name < $1.name }) {
            let status = pool.status
            let state = status?.state ?? "-"
            let families = [status?.ipv4.map { ("IPv4", $0) }, status?.ipv6.map { ("IPv6", $0) }].compactMap { $0 }
            if families.isEmpty { print(pad(pool.name, 30) + pad("-", 7) + pad("(no status)", 73) + state) }
            for (family, value) in families {
                let perNode = value.perNodeHostBits.map { "/\((family == "IPv4" ? 32 : 128) - Int($0))" } ?? "-"
                print(pad(pool.name, 30) + pad(family, 7) + pad(value.cidr, 20) + pad(perNode, 9) + pad(String(value.allocated), 10)
                      + pad(value.free, 12) + pad(value.total, 12) + state)
            }
        }
        print("")
        print(allocatedAll ? "every node got its podCIDRs in \(format(elapsed))" : "not every node got podCIDRs within 60 s (see above)")
        if options.keepRunning {
            print("""

                Still running. Try:
                  KUBECONFIG=\(kubeconfig) KUBECACHEDIR=$(mktemp -d) kubectl get nodes -o wide
                  KUBECONFIG=\(kubeconfig) KUBECACHEDIR=$(mktemp -d) kubectl get clustercidrs
                Ctrl-C stops the controller and the API server.
                """)
            _ = try? await controllerTask.value
        } else {
            await shutdown.shutdown()
            _ = try? await controllerTask.value
        }
        try? await server.stop()
        return allocatedAll ? 0 : 1
    }

    /// Lists the ClusterCIDRs once each valid pool's status (finalizer, observed generation,
    /// per-family counts) matches the controller's engine; after `timeout`, lists them as they are.
    static func currentPoolStatuses(client: KubernetesClient, controller: IPAMController?, timeout: Duration) async -> [ClusterCIDR] {
        let (changes, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let informer = Informer<ClusterCIDR, ClusterCIDR>(client: client, resource: .clusterCIDRs, transform: { $0 }) { _ in signal.yield() }
        let watch = Task { await informer.run() }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            signal.finish()
        }
        defer {
            watch.cancel()
            timer.cancel()
        }
        await informer.waitForSync()
        signal.yield()
        for await _ in changes {
            if await statusesAreCurrent(informer.list(), controller: controller) { break }
        }
        return informer.list()
    }

    static func statusesAreCurrent(_ pools: [ClusterCIDR], controller: IPAMController?) async -> Bool {
        guard let controller else { return true }
        for pool in pools {
            let statistics = await controller.statistics(of: pool.name)
            guard let status = pool.status, status.observedGeneration == pool.metadata.generation else { return false }
            if statistics.isEmpty {
                // Not registered: only an invalid pool is expected to stay out of the engine.
                if status.condition(.invalid)?.status != Condition.statusTrue { return false }
                continue
            }
            guard pool.metadata.hasFinalizer(ClusterCIDR.finalizer) else { return false }
            for family in statistics {
                let written = family.family == .ipv4 ? status.ipv4 : status.ipv6
                guard written.map({ String($0.allocated) }) == String(family.allocated), written?.free == String(family.free) else { return false }
            }
        }
        return true
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func format(_ duration: Duration) -> String {
        let ms = duration.inSeconds * 1000
        return ms < 1000 ? String(format: "%.0f ms", ms) : String(format: "%.2f s", ms / 1000)
    }
}

private func printError(_ text: String) {
    Output.standardError(text)
}

/// Writes a line to standard output at once: `print` buffers into a pipe or a file, and
/// `--keep-running` prints how to reach the server and then waits.
private func print(_ text: String = "") {
    Output.standardOutput(text)
}

private final class ControllerBox: Sendable {
    private let controller = Mutex<IPAMController?>(nil)
    func set(_ controller: IPAMController) { self.controller.withLock { $0 = controller } }
    var value: IPAMController? { controller.withLock { $0 } }
}

/// Counts sample nodes with podCIDRs and wakes the demo when all have them.
private final class NodeProgress: Sendable {
    private struct State {
        var allocated: Set<String> = []
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let expected: Int
    private let state = Mutex(State())

    init(expected: Int) { self.expected = expected }

    func update(_ node: Node) {
        let expected = self.expected
        let toResume = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if !node.podCIDRs.isEmpty, let name = node.metadata.name { state.allocated.insert(name) }
            guard state.allocated.count >= expected, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        toResume?.resume(returning: true)
    }

    func waitForAll(timeout: Duration) async -> Bool {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire()
        }
        defer { timer.cancel() }
        let expected = self.expected
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let done = state.withLock { state -> Bool in
                if state.allocated.count >= expected { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume(returning: true) }
        }
    }

    private func expire() {
        let toResume = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        toResume?.resume(returning: false)
    }
}
