import CNIIPAM
import Foundation
import MultiCIDR
@testable import NodeIPAMAgent
import Testing

@Suite struct PodCIDRDiscoveryTests {
    func inputs(configured: String? = nil, environment: [String: String] = [:], node: [String]?) -> PodCIDRDiscovery.Inputs {
        PodCIDRDiscovery.Inputs(configured: configured, environment: environment, nodeName: "n1", nodePodCIDRs: node,
                                kubeletConfigPath: "/kubelet.yaml", k3sNodeFilePath: "/k3s.yaml")
    }

    func found(_ outcome: PodCIDRDiscovery.Outcome) -> ResolvedPodCIDRs? {
        if case .found(let value) = outcome { return value }
        return nil
    }

    @Test func configBeatsEnvironmentBeatsNodeAndWarnsOnDisagreement() throws {
        let files: [String: String] = ["/kubelet.yaml": "podCIDR: 10.9.0.0/24\n"]
        let all = inputs(configured: "10.1.0.0/24", environment: ["NODE_POD_CIDR": "10.2.0.0/24"], node: ["10.3.0.0/24"])
        let fromConfig = try #require(found(try PodCIDRDiscovery.resolve(all, readFile: { files[$0] })))
        #expect(fromConfig.prefixes.map(\.description) == ["10.1.0.0/24"])
        #expect(fromConfig.logLine == "Using Pod CIDR from config: 10.1.0.0/24")
        #expect(fromConfig.warnings.count == 1 && fromConfig.warnings[0].contains("10.3.0.0/24"))

        let fromEnvironment = try #require(found(try PodCIDRDiscovery.resolve(
            inputs(environment: ["NODE_POD_CIDR": "10.2.0.0/24, fd00:2::/64"], node: ["10.2.0.0/24", "fd00:2::/64"]), readFile: { files[$0] })))
        #expect(fromEnvironment.logLine == "Using Pod CIDR from environment variable NODE_POD_CIDR: 10.2.0.0/24,fd00:2::/64")
        #expect(fromEnvironment.warnings.isEmpty)

        let fromNode = try #require(found(try PodCIDRDiscovery.resolve(inputs(node: ["fd00:3::/64", "10.3.0.0/24"]), readFile: { files[$0] })))
        #expect(fromNode.prefixes.map(\.description) == ["fd00:3::/64", "10.3.0.0/24"], "the Node's order is kept")
        #expect(fromNode.logLine == "Found Pod CIDR in PodCIDRs of node n1: fd00:3::/64,10.3.0.0/24")
    }

    @Test func filesOnlyAfterTheNodeWasSeenWithoutPodCIDRs() throws {
        let files: [String: String] = ["/k3s.yaml": "podCIDRs:\n- 10.42.7.0/24\n"]
        guard case .waiting(let notSeen) = try PodCIDRDiscovery.resolve(inputs(node: nil), readFile: { files[$0] }) else {
            Issue.record("a Node not seen yet must not fall back to files"); return
        }
        #expect(notSeen.reason.contains("waiting for node n1"))
        let fromK3s = try #require(found(try PodCIDRDiscovery.resolve(inputs(node: []), readFile: { files[$0] })))
        #expect(fromK3s.source == "k3s node file /k3s.yaml")
        #expect(fromK3s.logLine == "Found Pod CIDR in k3s node file /k3s.yaml: 10.42.7.0/24")
    }

    @Test func nothingFoundIsWaitingNeverAGuess() throws {
        guard case .waiting(let waiting) = try PodCIDRDiscovery.resolve(inputs(node: []), readFile: { _ in nil }) else {
            Issue.record("expected waiting"); return
        }
        #expect(waiting.reason.contains("node n1 has no podCIDRs"))
        #expect(waiting.reason.contains("--allocate-node-cidrs"))
    }

    @Test func garbageInASourceIsAnError() {
        #expect(throws: CNIError.self) { try PodCIDRDiscovery.resolve(inputs(environment: ["NODE_POD_CIDR": "10.0.0.1/33"], node: nil), readFile: { _ in nil }) }
        #expect(throws: CNIError.self) { try PodCIDRDiscovery.resolve(inputs(node: ["10.0.0.0/24", "10.1.0.0/24"]), readFile: { _ in nil }) }
    }
}

@Suite struct NodeFilesTests {
    let dual = [try! IPPrefix(parsing: "10.244.1.0/24"), try! IPPrefix(parsing: "fd00:10:244:1::/64")]

    @Test func defaultConflistIsBridgeWithOneRangeSetPerFamily() throws {
        var settings = NodeFiles.Settings()
        settings.bridge = "br-test"
        settings.mtu = 1450
        let text = try NodeFiles(settings: settings).conflist(dual)
        let document = try #require(try JSONValue.parse(text).objectValue)
        #expect(document["cniVersion"]?.stringValue == "1.0.0")
        let bridge = try #require(document["plugins"]?.arrayValue?.first?.objectValue)
        #expect(bridge["type"]?.stringValue == "bridge" && bridge["bridge"]?.stringValue == "br-test" && bridge["mtu"] == .number("1450"))
        let ipam = try #require(bridge["ipam"]?.objectValue)
        #expect(ipam["type"]?.stringValue == "node-ipam")
        #expect(ipam["ranges"]?.serialized == #"[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:10:244:1::/64"}]]"#)
        #expect(ipam["routes"]?.serialized == #"[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]"#)
        // What the plugin itself accepts: the bridge entry as a network config.
        var single = bridge
        single["cniVersion"] = .string("1.0.0")
        single["name"] = .string("pods")
        let parsed = try NetworkConfig(parsing: Array(JSONValue.object(single).serialized.utf8))
        #expect(try IPAMConfig(parsed).rangeSets.count == 2)
    }

    @Test func templateGetsRangesAndLosesNodePodCIDRs() throws {
        var settings = NodeFiles.Settings()
        settings.template = #"{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"ptp","ipam":{"type":"node-ipam","nodePodCIDRs":true,"routes":[{"dst":"0.0.0.0/0"}]}}]}"#
        let text = try NodeFiles(settings: settings).conflist([dual[0]])
        let ipam = try #require(try JSONValue.parse(text).objectValue?["plugins"]?.arrayValue?.first?.objectValue?["ipam"]?.objectValue)
        #expect(ipam["nodePodCIDRs"] == nil)
        #expect(ipam["ranges"]?.serialized == #"[[{"subnet":"10.244.1.0/24"}]]"#)
        #expect(ipam["routes"]?.serialized == #"[{"dst":"0.0.0.0/0"}]"#, "the template's routes are kept")
        settings.template = #"{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"ptp","ipam":{"type":"host-local"}}]}"#
        #expect(throws: CNIError.self) { try NodeFiles(settings: settings) }
    }

    @Test func podCIDRsFileRoundTripsAndThePluginReadsIt() throws {
        let text = NodeFiles.podCIDRsFile(dual, nodeName: "n1", source: "node n1 spec.podCIDRs")
        #expect(NodeFiles.writtenPodCIDRs(text) == dual)
        #expect(NodeFiles.writtenPodCIDRs(nil) == nil)
        let found = try NodePodCIDRs.discover(request: .discover, agentFilePath: "/f", environment: [:], nodeName: nil, readFile: { $0 == "/f" ? text : nil })
        #expect(found?.prefixes == dual)
    }
}

@Suite struct StaleAddressesTests {
    @Test func findsStoreAddressesOutsideTheNewRanges() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stale-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "c1\r\neth0\r\npod=default/web-0".write(toFile: directory + "/10.244.1.5", atomically: true, encoding: .utf8)
        try "c2\r\neth0".write(toFile: directory + "/10.244.9.5", atomically: true, encoding: .utf8)
        try "10.244.1.5".write(toFile: directory + "/last_reserved_ip.0", atomically: true, encoding: .utf8)
        try "".write(toFile: directory + "/lock", atomically: true, encoding: .utf8)
        let stale = StaleAddresses.find(storeDirectory: directory, outside: [try IPPrefix(parsing: "10.244.9.0/24")])
        #expect(stale.map(\.address.description) == ["10.244.1.5"])
        #expect(stale.first?.pod == "default/web-0")
        let message = StaleAddresses.changeMessage(nodeName: "n1", old: [try IPPrefix(parsing: "10.244.1.0/24")],
                                                   new: [try IPPrefix(parsing: "10.244.9.0/24")], stale: stale, storeDirectory: directory)
        #expect(message.contains("10.244.1.5 (pod default/web-0, container c1)"))
        #expect(message.contains("restart those pods"))
    }
}
