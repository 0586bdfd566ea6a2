import ClusterCIDRAPI
import Testing

// SCENARIOS D1 and REFERENCE §3.4.

@Test func defaultPoolFromASingleIPv4ClusterCIDR() throws {
    let object = try DefaultClusterCIDR.object(clusterCIDRs: ["192.168.0.0/16"], nodeMaskSizeIPv4: 24)
    #expect(object.name == "default-cluster-cidr")
    #expect(object.spec == ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "192.168.0.0/16"))
    #expect(object.spec?.nodeSelector == nil)
    #expect(object.spec?.ipv6 == nil)
    #expect(object.metadata.finalizers == ["networking.x-k8s.io/cluster-cidr-finalizer"])
}

@Test func defaultPoolForDualStackWithEqualHostBits() throws {
    let spec = try DefaultClusterCIDR.spec(clusterCIDRs: ["10.96.0.0/12", "fd00:10:96::/112"], nodeMaskSizeIPv4: 24, nodeMaskSizeIPv6: 120)
    #expect(spec == ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.96.0.0/12", ipv6: "fd00:10:96::/112"))
}

@Test func defaultPoolForDualStackWithDifferentHostBitsUsesPerNodeHostBitsIPv6() throws {
    let spec = try DefaultClusterCIDR.spec(clusterCIDRs: ["fd00:10:244::/48", "10.244.0.0/16"])
    #expect(spec == ClusterCIDRSpec(perNodeHostBits: 8, perNodeHostBitsIPv6: 64, ipv4: "10.244.0.0/16", ipv6: "fd00:10:244::/48"))
}

@Test func defaultPoolHostBitsAreAtLeastFour() throws {
    let spec = try DefaultClusterCIDR.spec(clusterCIDRs: ["10.0.0.0/16"], nodeMaskSizeIPv4: 30)
    #expect(spec.perNodeHostBits == 4)
    let ipv6 = try DefaultClusterCIDR.spec(clusterCIDRs: ["fd00::/48"], nodeMaskSizeIPv6: 64)
    #expect(ipv6 == ClusterCIDRSpec(perNodeHostBits: 64, ipv6: "fd00::/48"))
}

@Test(arguments: [
    ["10.0.0.0/8", "10.1.0.0/16"],
    ["fd00::/48", "fd01::/48"],
    ["10.0.0.0/8", "fd00::/48", "fd01::/48"],
    [],
    ["not-a-cidr"],
    ["10.0.0.0/26"],  // node mask /24 is wider than the cluster CIDR
])
func defaultPoolRejectsBadParameters(_ cidrs: [String]) {
    #expect(throws: InvalidClusterCIDR.self) { try DefaultClusterCIDR.spec(clusterCIDRs: cidrs) }
}
