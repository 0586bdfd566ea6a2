import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
import Logging
import MultiCIDR
@testable import NodeIPAMController
import TestSupport

/// The repository root (for config/crd and examples).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// A LocalAPIServer over HTTPS with the CRD installed, a client from its kind-shaped
/// kubeconfig, and a watch on nodes the tests can await.
final class Harness: @unchecked Sendable {
    let server: LocalAPIServer
    let client: KubernetesClient
    let kubeconfigPath: String
    let nodes = Collector<NodeView>()
    private var watcher: Task<Void, Never>?
    private var controllers: [Task<Void, any Error>] = []

    private init(server: LocalAPIServer, client: KubernetesClient, kubeconfigPath: String) {
        self.server = server
        self.client = client
        self.kubeconfigPath = kubeconfigPath
    }

    /// `validationRules: false` serves the CRD without evaluating its CEL rules, like a cluster whose
    /// CRD lacks them (an older or foreign CRD), so objects the rules would refuse get stored.
    static func start(faults: Bool = false, validationRules: Bool = true) async throws -> Harness {
        var configuration = LocalAPIServer.Configuration(tls: true)
        configuration.audit = true
        configuration.validationRules = validationRules
        let server = try await LocalAPIServer.start(configuration)
        let path = try writeTemporary(server.kubeconfig(name: "test"), name: "kubeconfig")
        let client = KubernetesClient(configuration: try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:]), qps: 0)
        let harness = Harness(server: server, client: client, kubeconfigPath: path)
        try await harness.installCRD()
        let informer = Informer<Node, NodeView>(client: client, resource: .nodes, transform: NodeView.init) { [nodes = harness.nodes] event in
            switch event {
            case .added(let node), .updated(_, let node), .resync(let node): nodes.push(node)
            case .deleted: break
            }
        }
        harness.watcher = Task { await informer.run() }
        await informer.waitForSync()
        return harness
    }

    func installCRD() async throws {
        for document in try Manifests.documents(file: repositoryRoot + "/config/crd/networking.x-k8s.io_clustercidrs.yaml") {
            let response = try await client.send("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: document, contentType: "application/json")
            guard response.status == 201 else { throw APIError.from(response, request: "create CRD") }
        }
    }

    /// Runs the real kubectl against this server with its own KUBECACHEDIR: exit status and
    /// output (stdout, then stderr). Nil when kubectl is not installed.
    func kubectl(_ arguments: String...) throws -> (status: Int32, output: String)? {
        let path = "/usr/bin/kubectl"
        guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECACHEDIR"] = URL(fileURLWithPath: kubeconfigPath).deletingLastPathComponent().appendingPathComponent("kubectl-cache").path
        let process = try ChildProcess(path, ["--kubeconfig", kubeconfigPath] + arguments, environment: environment,
                                       output: .capture, errors: .capture)
        let (output, errors) = process.readOutput()
        return (process.wait().status, String(decoding: output + errors, as: UTF8.self))
    }

    /// Waits (through a watch on Events) for an Event with this reason about the named object
    /// that satisfies `predicate`, and returns it.
    @discardableResult
    func waitForEvent(reason: String, about name: String, timeout: Duration = .seconds(20),
                      _ predicate: @escaping @Sendable (Event) -> Bool = { _ in true }) async throws -> Event {
        let wanted: @Sendable (Event) -> Bool = { $0.reason == reason && $0.involvedObject.name == name && predicate($0) }
        let seen = Collector<Event>()
        let informer = Informer<Event, Event>(client: client, resource: .coreEvents, options: .init(namespace: "default"), transform: { $0 }) { event in
            switch event {
            case .added(let object), .updated(_, let object), .resync(let object): seen.push(object)
            case .deleted: break
            }
        }
        let task = Task { await informer.run() }
        defer { task.cancel() }
        await informer.waitForSync()
        if let found = informer.list().first(where: wanted) { return found }
        return try await seen.next(timeout: timeout, where: wanted)
    }

    func startController(_ configuration: ControllerConfiguration = ControllerConfiguration(statusDelay: .milliseconds(20)),
                         metrics: any ControllerMetrics = NoMetrics()) async -> IPAMController {
        var logger = Logger(label: "test") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = ProcessInfo.processInfo.environment["CONTROLLER_TEST_LOGS"] == nil ? .critical : .trace
        let controller = IPAMController(client: client, configuration: configuration,
                                        recorder: EventRecorder(client: client, component: "multiCIDRRangeAllocator"),
                                        metrics: metrics, logger: logger)
        controllers.append(Task { try await controller.run() })
        await controller.waitUntilReady()
        return controller
    }

    /// Stops every controller started so far (as a process exit would).
    func stopControllers() async {
        for task in controllers { task.cancel(); _ = await task.result }
        controllers.removeAll()
    }

    func stop() async {
        await stopControllers()
        watcher?.cancel()
        client.shutdown()
        try? await server.stop()
    }

    @discardableResult
    func createPool(_ name: String, ipv4: String? = nil, ipv6: String? = nil, hostBits: Int32, selector: KeyValuePairs<String, String>? = nil,
                    hostBitsIPv6: Int32? = nil) async throws -> ClusterCIDR {
        let nodeSelector = selector.map { pairs in
            NodeSelector(nodeSelectorTerms: [NodeSelectorTerm(matchExpressions: pairs.map { NodeSelectorRequirement(key: $0.key, operator: "In", values: [$0.value]) })])
        }
        return try await client.create(.clusterCIDRs, ClusterCIDR(name: name, spec: ClusterCIDRSpec(
            nodeSelector: nodeSelector, perNodeHostBits: hostBits, perNodeHostBitsIPv6: hostBitsIPv6, ipv4: ipv4, ipv6: ipv6)))
    }

    @discardableResult
    func createNode(_ name: String, labels: [String: String] = [:], podCIDRs: [String]? = nil) async throws -> Node {
        try await client.create(.nodes, Node(metadata: ObjectMeta(name: name, labels: labels),
                                             spec: podCIDRs.map { Node.Spec(podCIDR: $0.first, podCIDRs: $0) }))
    }

    /// Waits until the watch has shown the node in a state matching `predicate` (already
    /// seen, or arriving later) and returns that state.
    @discardableResult
    func waitForNode(_ name: String, where predicate: @escaping @Sendable (NodeView) -> Bool = { _ in true }) async throws -> NodeView {
        if let seen = nodes.all.last(where: { $0.name == name && predicate($0) }) { return seen }
        return try await nodes.next { $0.name == name && predicate($0) }
    }

    /// Waits until the node carries podCIDRs (seen through a watch) and returns them.
    func podCIDRs(of name: String) async throws -> [String] {
        try await waitForNode(name) { !$0.podCIDRs.isEmpty }.podCIDRs
    }

    func pool(_ name: String) async throws -> ClusterCIDR {
        try await client.get(.clusterCIDRs, name: name)
    }

    func events(reason: String) async throws -> [Event] {
        let page: ListPage<Event> = try await client.list(.coreEvents, namespace: "default")
        return page.items.filter { $0.reason == reason }
    }

    /// Waits (event-driven, via the pool's own watch) until `predicate` holds for the ClusterCIDR.
    func waitForPool(_ name: String, timeout: Duration = .seconds(20), _ predicate: @escaping @Sendable (ClusterCIDR?) -> Bool) async throws {
        let seen = Collector<ClusterCIDR?>()
        let informer = Informer<ClusterCIDR, ClusterCIDR>(client: client, resource: .clusterCIDRs,
                                                          options: .init(fieldSelector: "metadata.name=\(name)"), transform: { $0 }) { event in
            switch event {
            case .added(let pool), .updated(_, let pool), .resync(let pool): seen.push(pool)
            case .deleted: seen.push(nil)
            }
        }
        let task = Task { await informer.run() }
        defer { task.cancel() }
        await informer.waitForSync()
        if predicate(informer.get(name)) { return }
        _ = try await seen.next(timeout: timeout) { predicate($0) }
    }
}

/// Runs `body` with a started harness and always stops it.
func withHarness<R>(validationRules: Bool = true, _ body: (Harness) async throws -> R) async throws -> R {
    let harness = try await Harness.start(validationRules: validationRules)
    do {
        let result = try await body(harness)
        await harness.stop()
        return result
    } catch {
        await harness.stop()
        throw error
    }
}
