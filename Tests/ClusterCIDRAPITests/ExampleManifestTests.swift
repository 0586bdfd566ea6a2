import ClusterCIDRAPI
import Foundation
import KubeClient
import MultiCIDR
import Testing

// Every manifest in examples/ decodes, validates and converts to an engine pool; the
// reference's five examples keep their specs (REFERENCE §5.4). Names differ where the
// reference reused one name in several files, so that applying all of examples/ creates
// every pool (hack/checks/test_examples.py checks the names are distinct).

private let examplesDirectory = repositoryRoot.appendingPathComponent("examples")

private func exampleFiles() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: examplesDirectory.path).filter { $0.hasSuffix(".yaml") }.sorted()
}

private func objects(in file: String) throws -> [ClusterCIDR] {
    let text = try String(contentsOf: examplesDirectory.appendingPathComponent(file), encoding: .utf8)
    return try Manifests.documents(text, source: file).map(decodeClusterCIDR)
}

@Test(arguments: try exampleFiles())
func exampleIsValid(_ file: String) throws {
    let objects = try objects(in: file)
    #expect(!objects.isEmpty)
    for object in objects {
        #expect(object.apiVersion == "networking.x-k8s.io/v1")
        #expect(object.kind == "ClusterCIDR")
        #expect(object.validate() == [], "\(file): \(object.name)")
        #expect(throws: Never.self) { try object.poolDefinition() }
        // Round trip through JSON keeps the object.
        #expect(try decodeClusterCIDR(JSONEncoder().encode(object)) == object)
    }
}

@Test func referenceExamplesKeepTheirObjects() throws {
    let dual = try #require(try objects(in: "clustercidr-dual.yaml").first)
    #expect(dual.name == "clustercidr-test")
    #expect(dual.spec == ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.244.0.0/16", ipv6: "2001:db8::/110"))
    #expect(try objects(in: "clustercidr-ipv4.yaml").map(\.name) == ["clustercidr-test-ipv4"])
    #expect(try objects(in: "clustercidr-ipv6.yaml").map(\.name) == ["clustercidr-test-ipv6"])
    #expect(try objects(in: "clustercidr-ipv4.yaml").map(\.spec) == [ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.244.0.0/16")])
    #expect(try objects(in: "clustercidr-ipv6.yaml").map(\.spec) == [ClusterCIDRSpec(perNodeHostBits: 8, ipv6: "2001:db8::/110")])

    let groups = try objects(in: "clustercidr-different-node-groups.yaml")
    #expect(groups.map(\.name) == ["controlplane-ipv4-cidr", "worker-xsmall-ipv4-cidr", "worker-small-ipv4-cidr",
                                   "worker-medium-ipv4-cidr", "worker-large-ipv4-cidr", "worker-xlarge-ipv4-cidr"])
    #expect(groups.map { $0.spec?.perNodeHostBits } == [7, 6, 7, 8, 9, 10])
    #expect(Set(groups.map { $0.spec?.ipv4 }) == ["10.244.0.0/16"])
    let requirement = try #require(groups.first?.spec?.nodeSelector?.nodeSelectorTerms?.first?.matchExpressions?.first)
    #expect(requirement.key == "platform.node_group/control-plane")
    #expect(requirement.operator == "Exists")
    #expect(requirement.values == nil)

    let sameGroup = try objects(in: "clustercidr-different-ip-pools-for-same-node-group.yaml")
    #expect(sameGroup.map(\.name) == ["worker-medium-pool-1-ipv4-cidr", "worker-medium-pool-2-ipv4-cidr"])
    #expect(sameGroup.map { $0.spec?.ipv4 } == ["10.244.0.0/16", "10.245.0.0/16"])
    #expect(sameGroup[0].spec?.nodeSelector == sameGroup[1].spec?.nodeSelector)
}

@Test func perFamilyAndLargeIPv6ExamplesConvertToTheirPools() throws {
    let split = try #require(try objects(in: "clustercidr-per-family-host-bits.yaml").first).poolDefinition()
    #expect(split.ipv4?.nodePrefixLength == 24)
    #expect(split.ipv6?.nodePrefixLength == 64)
    let large = try #require(try objects(in: "clustercidr-large-ipv6.yaml").first).poolDefinition()
    #expect(large.ipv6?.capacity == UInt128(1) << 32)
    #expect(large.selector.matchCount(for: NodeAttributes(name: "n", labels: ["node.example.com/ipv6-only": "true"])) == 1)
}
