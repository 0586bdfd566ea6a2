import CNIIPAM
import Foundation
import KubeClient
import Logging
import MultiCIDR
import ServiceLifecycle
import ServiceSupport
import Synchronization

/// Where the agent reads and writes; the defaults are a node's.
public struct AgentConfiguration: Sendable {
    public var nodeName: String
    /// `--node-pod-cidrs` (the seed's `nodeLocal`): overrides everything.
    public var configuredPodCIDRs: String?
    public var environment: [String: String] = [:]
    public var cniConfDirectory = "/etc/cni/net.d"
    public var conflistName = "10-node-ipam.conflist"
    public var podCIDRsFile = NodePodCIDRs.agentFile
    public var kubeletConfigPath = NodePodCIDRs.kubeletConfig
    public var k3sNodeFilePath: String?
    public var files = NodeFiles.Settings()
    /// `--install-cni-bin`: copy `pluginSource` to `<cniBinDirectory>/node-ipam` at start.
    public var installPlugin = false
    public var pluginSource = ""
    public var cniBinDirectory = "/opt/cni/bin"

    public init(nodeName: String) { self.nodeName = nodeName }

    public var conflistPath: String { cniConfDirectory + "/" + conflistName }
}

/// What one look at the Node led to (logged, counted, and handed to tests).
public enum AgentOutcome: Sendable, Hashable {
    /// No podCIDRs yet; nothing written.
    case waiting(reason: String)
    /// Files written for these podCIDRs (the first time, or a file had other content).
    case wrote(prefixes: [IPPrefix], source: String, files: [String])
    /// Everything on disk already matches.
    case unchanged(prefixes: [IPPrefix])
    /// The podCIDRs differ from what was written before: the config was rewritten for new
    /// pods, and these store addresses now lie outside the node's ranges.
    case changed(old: [IPPrefix], new: [IPPrefix], stale: [StaleAddress])
    case failed(message: String)
}

/// The node agent: watches only its own Node (field selector), finds its podCIDRs in the
/// documented order, and writes the CNI config and the podCIDRs file atomically, only when
/// their content changes. Ready once the config is on disk.
public final class NodeAgent: Service, Sendable {
    public let configuration: AgentConfiguration
    let client: KubernetesClient?
    let logger: Logger
    public let metrics: AgentMetrics
    private let files: NodeFiles
    private let onOutcome: (@Sendable (AgentOutcome) -> Void)?
    private struct State {
        var ready = HealthCheck(ok: false, detail: "starting")
        var lastLogLine = ""
        var lastWaiting = ""
    }

    private let state = Mutex(State())

    /// `client` nil: no API server (`NODE_POD_CIDR` or `--node-pod-cidrs` must give the ranges).
    public init(configuration: AgentConfiguration, client: KubernetesClient?, metrics: AgentMetrics = AgentMetrics(registry: MetricsRegistry()),
                logger: Logger, onOutcome: (@Sendable (AgentOutcome) -> Void)? = nil) throws(CNIError) {
        self.configuration = configuration
        self.client = client
        self.metrics = metrics
        self.logger = logger
        self.onOutcome = onOutcome
        files = try NodeFiles(settings: configuration.files)
    }

    /// For /readyz: ready once the CNI config for the node's podCIDRs is written.
    public func readiness() -> HealthCheck { state.withLock { $0.ready } }

    public func run() async throws {
        if configuration.installPlugin { try installPlugin() }
        await cancelWhenGracefulShutdown { await self.watch() }
        logger.info("node-ipam-agent stopping")
    }

    /// Copies the plugin into the host's CNI bin directory (temporary file + rename), as the
    /// init containers of common CNIs do; unchanged binaries are left alone.
    public func installPlugin() throws {
        let target = configuration.cniBinDirectory + "/node-ipam"
        guard let binary = FileManager.default.contents(atPath: configuration.pluginSource) else {
            throw AtomicFile.WriteError(path: target, reason: "the plugin binary \(configuration.pluginSource) cannot be read (--cni-bin-source)")
        }
        if try AtomicFile.writeIfChanged(binary, to: target, mode: 0o755) {
            metrics.writes.inc(["cni-bin"])
            logger.info("installed the node-ipam CNI plugin", metadata: ["path": "\(target)", "bytes": "\(binary.count)"])
        } else {
            logger.info("the node-ipam CNI plugin is up to date", metadata: ["path": "\(target)"])
        }
    }

    /// Watches the Node until cancelled; every change of it (and the first list) reconciles.
    func watch() async {
        let (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        guard let client else {
            _ = reconcile(nodePodCIDRs: [])
            // Nothing to watch: the config came from the environment; wait for shutdown.
            for await _ in signals {}
            return
        }
        let name = configuration.nodeName
        let metrics = self.metrics
        let logger = self.logger
        let informer = Informer<Node, [String]>(
            client: client, resource: .nodes, options: .init(fieldSelector: "metadata.name=\(name)"),
            transform: { $0.podCIDRs },
            onError: { error, failures in
                guard failures == 1 || failures % 10 == 0 else { return }
                var metadata: Logger.Metadata = ["node": "\(name)", "failures": "\(failures)", "error": "\(error)"]
                if let fix = FailureHint.fix(for: error, server: client.configuration.server) { metadata["fix"] = "\(fix)" }
                logger.error("cannot list or watch the node; retrying", metadata: metadata)
            }) { event in
                metrics.nodeEvents.inc()
                if case .deleted = event {
                    logger.warning("node \(name) was deleted; keeping the CNI config for the pods that run here until it registers again")
                }
                signal.yield()
            }
        let task = Task { await informer.run() }
        defer { task.cancel() }
        await withTaskCancellationHandler {
            guard await informer.waitForSync() else { return }
            signal.yield()
            for await _ in signals {
                if Task.isCancelled { break }
                _ = reconcile(nodePodCIDRs: informer.get(name) ?? [])
            }
        } onCancel: {
            signal.finish()
        }
    }

    /// One look at the Node: find the podCIDRs, write what changed, report.
    @discardableResult
    public func reconcile(nodePodCIDRs: [String]?) -> AgentOutcome {
        let outcome = decideAndWrite(nodePodCIDRs: nodePodCIDRs)
        report(outcome)
        onOutcome?(outcome)
        return outcome
    }

    private func decideAndWrite(nodePodCIDRs: [String]?) -> AgentOutcome {
        let inputs = PodCIDRDiscovery.Inputs(configured: configuration.configuredPodCIDRs, environment: configuration.environment,
                                             nodeName: configuration.nodeName, nodePodCIDRs: nodePodCIDRs,
                                             kubeletConfigPath: configuration.kubeletConfigPath, k3sNodeFilePath: configuration.k3sNodeFilePath)
        let resolved: ResolvedPodCIDRs
        do {
            switch try PodCIDRDiscovery.resolve(inputs, readFile: AtomicFile.read) {
            case .waiting(let waiting): return .waiting(reason: waiting.reason)
            case .found(let found): resolved = found
            }
        } catch {
            return .failed(message: "\(error.msg) (\(error.details))")
        }
        let logLine = resolved.logLine
        let changedLine = state.withLock { state -> Bool in
            defer { state.lastLogLine = logLine }
            return state.lastLogLine != logLine
        }
        if changedLine {
            logger.info("\(logLine)")
            for warning in resolved.warnings { logger.warning("\(warning)") }
        }
        let written = NodeFiles.writtenPodCIDRs(AtomicFile.read(configuration.podCIDRsFile))
        do {
            let conflist = try files.conflist(resolved.prefixes)
            var wrote: [String] = []
            if try AtomicFile.writeIfChanged(conflist, to: configuration.conflistPath) {
                metrics.writes.inc(["conflist"])
                wrote.append(configuration.conflistPath)
            }
            let podCIDRs = NodeFiles.podCIDRsFile(resolved.prefixes, nodeName: configuration.nodeName, source: resolved.source)
            if try AtomicFile.writeIfChanged(podCIDRs, to: configuration.podCIDRsFile) {
                metrics.writes.inc(["pod-cidrs"])
                wrote.append(configuration.podCIDRsFile)
            }
            if let written, written != resolved.prefixes {
                metrics.podCIDRChanges.inc()
                let store = files.storeDirectory(conflist: conflist)
                let stale = StaleAddresses.find(storeDirectory: store, outside: resolved.prefixes)
                metrics.staleAddresses.set([], Double(stale.count))
                logger.error("\(StaleAddresses.changeMessage(nodeName: configuration.nodeName, old: written, new: resolved.prefixes, stale: stale, storeDirectory: store))")
                return .changed(old: written, new: resolved.prefixes, stale: stale)
            }
            return wrote.isEmpty ? .unchanged(prefixes: resolved.prefixes) : .wrote(prefixes: resolved.prefixes, source: resolved.source, files: wrote)
        } catch let error as CNIError {
            return .failed(message: "\(error.msg) (\(error.details))")
        } catch {
            return .failed(message: "\(error)")
        }
    }

    private func report(_ outcome: AgentOutcome) {
        switch outcome {
        case .waiting(let reason):
            let configWritten = FileManager.default.fileExists(atPath: configuration.conflistPath)
            let first = state.withLock { state -> Bool in
                defer { state.lastWaiting = reason }
                if !configWritten { state.ready = HealthCheck(ok: false, detail: reason) }
                return state.lastWaiting != reason
            }
            if first { logger.info("\(reason)") }
        case .wrote(let prefixes, _, let paths):
            logger.info("wrote the CNI config", metadata: ["podCIDRs": "\(prefixes.map(\.description).joined(separator: ","))",
                                                           "files": "\(paths.joined(separator: ","))"])
            setReady(prefixes)
        case .unchanged(let prefixes):
            logger.debug("CNI config up to date", metadata: ["podCIDRs": "\(prefixes.map(\.description).joined(separator: ","))"])
            setReady(prefixes)
        case .changed(_, let new, _):
            setReady(new)
        case .failed(let message):
            metrics.failures.inc()
            logger.error("cannot write the CNI config: \(message)")
            state.withLock { state in
                if !state.ready.ok { state.ready = HealthCheck(ok: false, detail: message) }
            }
        }
    }

    private func setReady(_ prefixes: [IPPrefix]) {
        let detail = "\(configuration.conflistPath) written for \(prefixes.map(\.description).joined(separator: ","))"
        state.withLock { state in
            state.lastWaiting = ""
            state.ready = HealthCheck(ok: true, detail: detail)
        }
        metrics.ready.set([], 1)
    }
}

/// The agent's metrics (`node_ipam_agent_*`).
public final class AgentMetrics: Sendable {
    public let registry: MetricsRegistry
    public let ready: MetricsRegistry.Family
    public let writes: MetricsRegistry.Family
    public let podCIDRChanges: MetricsRegistry.Family
    public let staleAddresses: MetricsRegistry.Family
    public let nodeEvents: MetricsRegistry.Family
    public let failures: MetricsRegistry.Family

    public init(registry: MetricsRegistry) {
        self.registry = registry
        ready = registry.gauge("node_ipam_agent_ready", help: "1 once the CNI config for the node's podCIDRs is written.")
        writes = registry.counter("node_ipam_agent_file_writes_total", help: "Files written because their content changed, by file (conflist, pod-cidrs, cni-bin).",
                                  labels: ["file"])
        podCIDRChanges = registry.counter("node_ipam_agent_pod_cidr_changes_total", help: "Times the node's podCIDRs differed from the ones written before.")
        staleAddresses = registry.gauge("node_ipam_agent_stale_pod_addresses", help: "Addresses in the plugin's store outside the node's podCIDRs at the last change (pods to restart).")
        nodeEvents = registry.counter("node_ipam_agent_node_events_total", help: "Watch events of the agent's own Node.")
        failures = registry.counter("node_ipam_agent_failures_total", help: "Attempts that could not write the CNI config.")
        ready.set([], 0)
        staleAddresses.set([], 0)
    }
}
