import ClusterCIDRAPI
import KubeClient
import MultiCIDR
import Testing

@Test func aClusterCIDRWithoutSelectorBecomesACatchAllPool() throws {
    var object = ClusterCIDR(name: "default-cluster-cidr", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.1/16"))
    object.metadata.uid = "u-1"
    let pool = try object.poolDefinition()
    #expect(pool.name == "default-cluster-cidr")
    #expect(pool.uid == "u-1")
    #expect(pool.selector == .catchAll)
    #expect(pool.ipv4?.prefix.description == "10.0.0.0/16")  // host bits masked (F2)
    #expect(pool.ipv4?.nodePrefixLength == 24)
    #expect(pool.ipv6 == nil)
}

@Test func selectorTermsConvertToEngineTerms() throws {
    let selector = NodeSelector(nodeSelectorTerms: [
        NodeSelectorTerm(matchExpressions: [
            NodeSelectorRequirement(key: "zone", operator: "In", values: ["a", "b"]),
            NodeSelectorRequirement(key: "rack", operator: "Gt", values: ["3"]),
        ]),
        NodeSelectorTerm(matchFields: [NodeSelectorRequirement(key: "metadata.name", operator: "NotIn", values: ["n1"])]),
    ])
    let pool = try ClusterCIDR(name: "p", spec: ClusterCIDRSpec(nodeSelector: selector, perNodeHostBits: 8, ipv4: "10.0.0.0/16")).poolDefinition()
    #expect(pool.selector == .terms([
        SelectorTerm(matchExpressions: [
            SelectorRequirement(key: "zone", operator: .in, values: ["a", "b"]),
            SelectorRequirement(key: "rack", operator: .greaterThan, values: ["3"]),
        ]),
        SelectorTerm(matchFields: [SelectorRequirement(key: "metadata.name", operator: .notIn, values: ["n1"])]),
    ]))
    #expect(pool.selector.matchCount(for: NodeAttributes(name: "n2", labels: ["zone": "a", "rack": "7"])) == 2)
}

@Test func emptyTermListSelectsEveryNode() throws {
    let pool = try ClusterCIDR(name: "all", spec: ClusterCIDRSpec(nodeSelector: NodeSelector(nodeSelectorTerms: []), perNodeHostBits: 8, ipv4: "10.0.0.0/16")).poolDefinition()
    #expect(pool.selector == .terms([]))
    #expect(pool.selector.matchCount(for: NodeAttributes(name: "any")) == 0)
}

@Test func dualStackPoolUsesPerFamilyHostBits() throws {
    let pool = try ClusterCIDR(name: "split", spec: ClusterCIDRSpec(perNodeHostBits: 8, perNodeHostBitsIPv6: 64, ipv4: "10.0.0.0/16", ipv6: "2001:db8::/48")).poolDefinition()
    #expect(pool.ipv4?.nodePrefixLength == 24)
    #expect(pool.ipv6?.nodePrefixLength == 64)
    #expect(pool.ipv6?.capacity == 65_536)
    let shared = try ClusterCIDR(name: "shared", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/16", ipv6: "fd00::/112")).poolDefinition()
    #expect(shared.ipv6?.nodePrefixLength == 120)
}

@Test func aLargeIPv6PoolConvertsWithoutALimit() throws {
    let pool = try ClusterCIDR(name: "big", spec: ClusterCIDRSpec(perNodeHostBits: 64, ipv6: "2001:db8::/32")).poolDefinition()
    #expect(pool.ipv6?.capacity == UInt128(1) << 32)
}

@Test func anInvalidObjectConvertsToItsValidationErrors() {
    let object = ClusterCIDR(name: "bad", spec: ClusterCIDRSpec(perNodeHostBits: 2, ipv4: "010.0.0.0/8"))
    #expect {
        try object.poolDefinition()
    } throws: { error in
        guard let invalid = error as? InvalidClusterCIDR else { return false }
        return invalid.errors == object.validate() && invalid.errors.count == 2
    }
}
