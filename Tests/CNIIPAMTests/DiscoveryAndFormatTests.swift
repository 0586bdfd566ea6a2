import Testing
import MultiCIDR
@testable import CNIIPAM

@Suite struct NodePodCIDRDiscoveryTests {
    func discover(_ request: NodePodCIDRRequest = .discover, env: [String: String] = [:], files: [String: String] = [:],
                  agentFile: String? = nil, nodeName: String? = "node-1") throws -> NodePodCIDRs.Found? {
        try NodePodCIDRs.discover(request: request, agentFilePath: agentFile, environment: env, nodeName: nodeName,
                                  readFile: { files[$0] })
    }

    let allSources: [String: String] = [
        NodePodCIDRs.agentFile: "# written by node-ipam agent\n10.3.0.0/24\nfd00:3::/64\n",
        NodePodCIDRs.kubeletConfig: "kind: KubeletConfiguration\npodCIDR: 10.4.0.0/24\n",
        "/var/lib/rancher/k3s/agent/etc/node-node-1.yaml": "podCIDRs:\n  - 10.5.0.0/24\n",
    ]

    @Test func sourcesInOrder() throws {
        let pinned = NodePodCIDRRequest.pinned([try IPPrefix(parsing: "10.1.0.0/24")])
        #expect(try discover(pinned, env: ["NODE_POD_CIDR": "10.2.0.0/24"], files: allSources)?.source == "config ipam.nodePodCIDRs")
        let fromEnv = try #require(try discover(env: ["NODE_POD_CIDR": "10.2.0.0/24, fd00:2::/64"], files: allSources))
        #expect(fromEnv.prefixes.map(\.description) == ["10.2.0.0/24", "fd00:2::/64"])
        #expect(fromEnv.source == "environment variable NODE_POD_CIDR")
        let fromAgent = try #require(try discover(files: allSources))
        #expect(fromAgent.prefixes.map(\.description) == ["10.3.0.0/24", "fd00:3::/64"])
        var files = allSources
        files[NodePodCIDRs.agentFile] = nil
        #expect(try discover(files: files)?.prefixes.map(\.description) == ["10.4.0.0/24"])
        files[NodePodCIDRs.kubeletConfig] = "kind: KubeletConfiguration\n"
        #expect(try discover(files: files)?.prefixes.map(\.description) == ["10.5.0.0/24"])
        #expect(try discover(.notRequested, files: files) == nil)
    }

    @Test func agentFilePathCanBeOverridden() throws {
        let found = try discover(files: ["/etc/x": "10.6.0.0/24,fd00:6::/64"], agentFile: "/etc/x")
        #expect(found?.source == "node agent file /etc/x")
    }

    @Test func refusesToGuessAndListsWhatWasTried() throws {
        let error = try #require(configErrorOf { _ = try discover(files: [NodePodCIDRs.kubeletConfig: "kind: KubeletConfiguration\n"]) })
        #expect(error.code == .nodePodCIDRsNotFound)
        for part in ["NODE_POD_CIDR (not set)", "node agent file /var/lib/node-ipam/pod-cidrs (absent)",
                     "kubelet config /var/lib/kubelet/config.yaml (no podCIDR)",
                     "k3s node file /var/lib/rancher/k3s/agent/etc/node-node-1.yaml (absent)"] {
            #expect(error.msg.contains(part), "\(error.msg)")
        }
        #expect(error.details.contains("--allocate-node-cidrs"))
    }

    @Test func aBrokenSourceIsAnErrorNotSkipped() throws {
        let error = try #require(configErrorOf { _ = try discover(env: ["NODE_POD_CIDR": "10.2.0.0/33"]) })
        #expect(error.code == .nodePodCIDRsInvalid)
        #expect(error.msg.contains("environment variable NODE_POD_CIDR: \"10.2.0.0/33\" is not a CIDR"))
        #expect(errorCode { _ = try discover(env: ["NODE_POD_CIDR": "10.2.0.0/24,10.3.0.0/24"]) } == 103)
        #expect(errorCode { _ = try discover(env: ["NODE_POD_CIDR": "10.2.0.0/32"]) } == 103)
    }

    @Test(arguments: [
        ("podCIDR: 10.4.0.0/24", ["10.4.0.0/24"]),
        ("podCIDR: \"10.4.0.0/24,fd00::/64\"  # comment", ["10.4.0.0/24", "fd00::/64"]),
        ("podCIDRs: [10.4.0.0/24, 'fd00::/64']", ["10.4.0.0/24", "fd00::/64"]),
        ("podCIDRs:\n- 10.4.0.0/24\n\n  - \"fd00::/64\"\nother: 1", ["10.4.0.0/24", "fd00::/64"]),
        ("nested:\n  podCIDR: 10.4.0.0/24", nil),
        ("podCIDR: \"\"", nil),
    ] as [(String, [String]?)])
    func flatYAMLForms(text: String, expected: [String]?) {
        #expect(NodePodCIDRs.yamlPodCIDRs(text) == expected)
    }
}

@Suite struct StoreFormatTests {
    @Test func ownerFileIsHostLocalsCRLFFormatPlusThePod() {
        #expect(Owner(containerID: "abc", ifname: "eth0").fileContent == "abc\r\neth0")
        let owner = Owner(containerID: "abc", ifname: "eth0", pod: PodIdentity(namespace: "ns", name: "web", uid: "u1"))
        #expect(owner.fileContent == "abc\r\neth0\r\npod=ns/web\r\nuid=u1")
        #expect(Owner(fileContent: owner.fileContent) == owner)
    }

    @Test func readsHostLocalAndLegacyFiles() {
        #expect(Owner(fileContent: "abc\r\neth0") == Owner(containerID: "abc", ifname: "eth0"))
        #expect(Owner(fileContent: "abc\neth0\n") == Owner(containerID: "abc", ifname: "eth0"))
        #expect(Owner(fileContent: "abc") == Owner(containerID: "abc", ifname: nil))
        #expect(Owner(fileContent: "") == nil)
        #expect(Owner(fileContent: "\u{0}\u{1}garbage") == nil)
    }

    @Test func classifiesStoreEntries() {
        #expect(StoreFormat.classify("10.0.0.2") == .address(ip("10.0.0.2")))
        #expect(StoreFormat.classify("fd00::2") == .address(ip("fd00::2")))
        #expect(StoreFormat.classify("fd00:0::2") == .other)
        #expect(StoreFormat.classify("last_reserved_ip.0") == .cursor(setIndex: 0))
        #expect(StoreFormat.classify("last_reserved_ip.x") == .other)
        #expect(StoreFormat.classify("lock") == .lock)
        #expect(StoreFormat.classify(".node-ipam-tmp-12-10.0.0.2") == .temporary)
        #expect(StoreFormat.addressFileName(ip("FD00:0:0:0:0:0:0:A")) == "fd00::a")
        #expect(StoreFormat.parseCursor("10.0.0.9\n") == ip("10.0.0.9"))
        #expect(StoreFormat.parseCursor("10.0.0.9", family: .ipv6) == nil)
    }

    @Test func resultShapesPerVersion() throws {
        let ranges = try sets(#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/64"}]]"#)
        var generator = SplitMix64(state: 1)
        let plan = try Allocator.planAdd(rangeSets: ranges, strategy: .sequential, snapshot: StoreSnapshot(),
                                         containerID: "a", ifname: "eth0", using: &generator)
        let routes: [JSONValue] = [try JSONValue.parse(#"{"dst":"0.0.0.0/0"}"#)]
        #expect(CNIResult.json(cniVersion: "1.1.0", addresses: plan.addresses, routes: routes, dns: [:]).serialized ==
                #"{"cniVersion":"1.1.0","ips":[{"address":"10.0.0.2/24","gateway":"10.0.0.1"},{"address":"fd00::2/64","gateway":"fd00::1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#)
        #expect(CNIResult.json(cniVersion: "0.3.1", addresses: plan.addresses, routes: [], dns: [:]).serialized ==
                #"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.0.0.2/24","gateway":"10.0.0.1"},{"version":"6","address":"fd00::2/64","gateway":"fd00::1"}],"routes":[],"dns":{}}"#)
        #expect(CNIError(.rangeSetExhausted, "m", details: "d").json(cniVersion: "1.0.0").serialized ==
                #"{"cniVersion":"1.0.0","code":110,"msg":"m","details":"d"}"#)
        #expect(CNIResult.versionInfo(cniVersion: "1.0.0").serialized ==
                #"{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#)
    }

    @Test func dnsFromResolvConf() {
        let dns = CNIResult.dns(resolvConf: "# c\nnameserver 10.96.0.10\nnameserver fd00::a\nsearch a.svc b.local\ndomain x\noptions ndots:5 edns0\n")
        #expect(JSONValue.object(dns).serialized ==
                #"{"nameservers":["10.96.0.10","fd00::a"],"domain":"x","search":["a.svc","b.local"],"options":["ndots:5","edns0"]}"#)
    }
}
