import CNIIPAM
import Foundation
import KubeClient
import LocalAPIServer
import Logging
import MultiCIDR
@testable import NodeIPAMAgent
import Testing
import TestSupport

/// Log lines kept for assertions.
struct CapturingLogHandler: LogHandler {
    let lines: Collector<(Logger.Level, String)>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { lines.push((event.level, "\(event.message)")) }
}

/// A temporary node: its CNI config directory, podCIDRs file and plugin store.
struct NodeDirectories {
    let root: String
    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/store", withIntermediateDirectories: true)
    }
    func configuration(node: String) -> AgentConfiguration {
        var configuration = AgentConfiguration(nodeName: node)
        configuration.cniConfDirectory = root + "/net.d"
        configuration.podCIDRsFile = root + "/node-ipam/pod-cidrs"
        configuration.kubeletConfigPath = root + "/absent-kubelet.yaml"
        configuration.k3sNodeFilePath = root + "/absent-k3s.yaml"
        configuration.files.dataDir = root + "/store"
        return configuration
    }
    func inode(_ path: String) -> UInt64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value
    }
    func entries(_ directory: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() }
    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Runs an agent until `body` returns; outcomes and log lines are collected.
func withAgent<R>(_ configuration: AgentConfiguration, client: KubernetesClient?, _ body: (NodeAgent, Collector<AgentOutcome>, Collector<(Logger.Level, String)>) async throws -> R) async throws -> R {
    let outcomes = Collector<AgentOutcome>()
    let lines = Collector<(Logger.Level, String)>()
    let logger = Logger(label: "test") { _ in CapturingLogHandler(lines: lines) }
    let agent = try NodeAgent(configuration: configuration, client: client, logger: logger, onOutcome: { outcomes.push($0) })
    let task = Task { await agent.watch() }
    defer { task.cancel() }
    let result = try await body(agent, outcomes, lines)
    task.cancel()
    await task.value
    return result
}

func podCIDRsPatch(_ cidrs: [String]) -> Patch {
    .merge(Data(#"{"spec":{"podCIDRs":[\#(cidrs.map { "\"\($0)\"" }.joined(separator: ","))]}}"#.utf8))
}

@Suite(.serialized) struct NodeAgentTests {
    @Test func writesOncePodCIDRsAppearThenNeverRewritesOnUnrelatedUpdates() async throws {
        let dirs = try NodeDirectories()
        defer { dirs.remove() }
        let configuration = dirs.configuration(node: "n1")
        try await withServer { _, client in
            // Another node's podCIDRs must not reach this agent (the field selector).
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "other"), spec: .init(podCIDRs: ["10.244.7.0/24"])))
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "n1")))
            try await withAgent(configuration, client: client) { agent, outcomes, _ in
                let waiting = try await outcomes.next { if case .waiting = $0 { true } else { false } }
                guard case .waiting(let reason) = waiting else { return }
                #expect(reason.contains("node n1 has no podCIDRs"))
                #expect(!FileManager.default.fileExists(atPath: configuration.conflistPath), "nothing written before the podCIDRs")
                #expect(!FileManager.default.fileExists(atPath: configuration.podCIDRsFile))
                #expect(agent.readiness().ok == false)
                #expect(agent.readiness().detail == reason)

                let _: Node = try await client.patch(.nodes, name: "n1", podCIDRsPatch(["10.244.1.0/24", "fd00:1::/64"]))
                let wrote = try await outcomes.next { if case .wrote = $0 { true } else { false } }
                let dual = [try IPPrefix(parsing: "10.244.1.0/24"), try IPPrefix(parsing: "fd00:1::/64")]
                #expect(wrote == .wrote(prefixes: dual, source: "node n1 spec.podCIDRs", files: [configuration.conflistPath, configuration.podCIDRsFile]))
                #expect(agent.readiness().ok)
                let conflist = try #require(AtomicFile.read(configuration.conflistPath))
                #expect(conflist.contains("\"10.244.1.0/24\"") && conflist.contains("\"fd00:1::/64\"") && !conflist.contains("10.244.7.0"))
                #expect(NodeFiles.writtenPodCIDRs(AtomicFile.read(configuration.podCIDRsFile))?.map(\.description) == ["10.244.1.0/24", "fd00:1::/64"])
                // Atomic: written through a rename, no temporary file left beside the config.
                #expect(dirs.entries(configuration.cniConfDirectory) == ["10-node-ipam.conflist"])
                #expect(dirs.entries(dirs.root + "/node-ipam") == ["pod-cidrs"])
                let inodes = (dirs.inode(configuration.conflistPath), dirs.inode(configuration.podCIDRsFile))

                let _: Node = try await client.patch(.nodes, name: "n1", .merge(Data(#"{"metadata":{"labels":{"x":"y"}}}"#.utf8)))
                let again = try await outcomes.next { _ in true }
                #expect(again == .unchanged(prefixes: dual))
                #expect(dirs.inode(configuration.conflistPath) == inodes.0 && dirs.inode(configuration.podCIDRsFile) == inodes.1, "not rewritten")
                #expect(agent.metrics.writes.value(["conflist"]) == 1)
                #expect(agent.metrics.writes.value(["pod-cidrs"]) == 1)
            }
        }
    }

    @Test func changedPodCIDRsRewriteAndNameTheStoreAddressesOutsideThem() async throws {
        let dirs = try NodeDirectories()
        defer { dirs.remove() }
        let configuration = dirs.configuration(node: "n1")
        try "c-old\r\neth0\r\npod=default/web-0".write(toFile: dirs.root + "/store/10.244.1.5", atomically: true, encoding: .utf8)
        try await withServer { _, client in
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "n1"), spec: .init(podCIDRs: ["10.244.1.0/24"])))
            try await withAgent(configuration, client: client) { agent, outcomes, lines in
                _ = try await outcomes.next { if case .wrote = $0 { true } else { false } }
                // Deleted and registered again under the same name: the podCIDRs now differ.
                try await client.delete(.nodes, name: "n1")
                _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "n1"), spec: .init(podCIDRs: ["10.244.9.0/24"])))
                let changed = try await outcomes.next { if case .changed = $0 { true } else { false } }
                guard case .changed(let old, let new, let stale) = changed else { return }
                #expect(old.map(\.description) == ["10.244.1.0/24"] && new.map(\.description) == ["10.244.9.0/24"])
                #expect(stale.map(\.address.description) == ["10.244.1.5"])
                let error = try await lines.next { $0.0 == .error }
                #expect(error.1.contains("10.244.1.5 (pod default/web-0, container c-old)"), "the ERROR names the address and the pod: \(error.1)")
                let rewritten = try #require(AtomicFile.read(configuration.conflistPath))
                #expect(rewritten.contains("10.244.9.0/24"), "new pods get the new range")
                #expect(agent.metrics.podCIDRChanges.value() == 1 && agent.metrics.staleAddresses.value() == 1)
            }
        }
    }

    @Test func restartIsIdempotentAndLogsTheSourceOnce() async throws {
        let dirs = try NodeDirectories()
        defer { dirs.remove() }
        let configuration = dirs.configuration(node: "n1")
        try await withServer { _, client in
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "n1"), spec: .init(podCIDRs: ["10.244.3.0/24"])))
            let first = try await withAgent(configuration, client: client) { _, outcomes, lines in
                _ = try await outcomes.next { if case .wrote = $0 { true } else { false } }
                let source = lines.all.filter { $0.1.hasPrefix("Found Pod CIDR") }.map(\.1)
                #expect(source == ["Found Pod CIDR in PodCIDRs of node n1: 10.244.3.0/24"])
                let text = try #require(AtomicFile.read(configuration.conflistPath))
                return (dirs.inode(configuration.conflistPath), text)
            }
            try await withAgent(configuration, client: client) { agent, outcomes, _ in
                let outcome = try await outcomes.next { _ in true }
                let expected = AgentOutcome.unchanged(prefixes: [try IPPrefix(parsing: "10.244.3.0/24")])
                #expect(outcome == expected)
                #expect(agent.readiness().ok, "ready at once: the config on disk is current")
                #expect(dirs.inode(configuration.conflistPath) == first.0)
                #expect(AtomicFile.read(configuration.conflistPath) == first.1)
            }
        }
    }

    @Test func environmentOverrideWorksWithoutAnAPIServerAndInstallsThePlugin() async throws {
        let dirs = try NodeDirectories()
        defer { dirs.remove() }
        var configuration = dirs.configuration(node: "n1")
        configuration.environment = ["NODE_POD_CIDR": "10.88.0.0/24"]
        configuration.installPlugin = true
        configuration.pluginSource = dirs.root + "/plugin-src"
        configuration.cniBinDirectory = dirs.root + "/bin"
        try "#!/bin/sh\n".write(toFile: configuration.pluginSource, atomically: true, encoding: .utf8)
        let agent = try NodeAgent(configuration: configuration, client: nil, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try agent.installPlugin()
        let installed = dirs.root + "/bin/node-ipam"
        #expect(AtomicFile.read(installed) == "#!/bin/sh\n")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: installed)[.posixPermissions] as? NSNumber)
        #expect(mode.intValue == 0o755)
        let inode = dirs.inode(installed)
        try agent.installPlugin()
        #expect(dirs.inode(installed) == inode, "an unchanged plugin is not copied again")
        let outcome = agent.reconcile(nodePodCIDRs: nil)
        guard case .wrote(_, let source, _) = outcome else { Issue.record("expected a write, got \(outcome)"); return }
        #expect(source == "environment variable NODE_POD_CIDR")
    }
}
