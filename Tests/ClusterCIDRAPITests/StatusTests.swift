import ClusterCIDRAPI
import Foundation
import KubeClient
import MultiCIDR
import Testing

@Test func familyStatusCountsBeyond64Bits() throws {
    let family = ClusterCIDRFamilyStatus(cidr: "2001:db8::/32", perNodeHostBits: 32, total: UInt128(1) << 64, allocated: 3)
    #expect(family.total == "18446744073709551616")
    #expect(family.free == "18446744073709551613")
    let status = ClusterCIDRStatus(ipv6: family, nodes: 3, observedGeneration: 1)
    #expect(status.usage == "3/18446744073709551616")
    let decoded = try JSONDecoder().decode(ClusterCIDRStatus.self, from: JSONEncoder().encode(status))
    #expect(decoded == status)
}

@Test func usageReportsTheFamilyWithFewestRanges() {
    let status = ClusterCIDRStatus(
        ipv4: ClusterCIDRFamilyStatus(cidr: "10.0.0.0/16", perNodeHostBits: 8, total: 256, allocated: 10),
        ipv6: ClusterCIDRFamilyStatus(cidr: "2001:db8::/48", perNodeHostBits: 64, total: 65_536, allocated: 10))
    #expect(status.usage == "10/256")
}

@Test func conditionsAreSetByType() throws {
    var status = ClusterCIDRStatus()
    status.setCondition(.ready, true, reason: "PoolRegistered", message: "allocating", observedGeneration: 1, now: "t1")
    status.setCondition(.exhausted, false, reason: "RangesFree", message: "", observedGeneration: 1, now: "t1")
    status.setCondition(.ready, true, reason: "PoolRegistered", message: "allocating", observedGeneration: 2, now: "t2")
    #expect(status.conditions?.count == 2)
    #expect(status.condition(.ready)?.lastTransitionTime == "t1")
    #expect(status.condition(.ready)?.observedGeneration == 2)
    #expect(ClusterCIDRConditionType.allCases.map(\.rawValue) == ["Ready", "Exhausted", "Terminating", "Invalid"])
}

@Test func aFullObjectRoundTripsWithoutNulls() throws {
    var object = ClusterCIDR(name: "blue", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/16"))
    object.status = ClusterCIDRStatus(ipv4: ClusterCIDRFamilyStatus(cidr: "10.0.0.0/16", perNodeHostBits: 8, total: 256, allocated: 0), nodes: 0)
    let data = try JSONEncoder().encode(object)
    #expect(!String(decoding: data, as: UTF8.self).contains("null"))
    #expect(try JSONDecoder().decode(ClusterCIDR.self, from: data) == object)
    let list = ClusterCIDRList(items: [object])
    let decodedList = try JSONDecoder().decode(ClusterCIDRList.self, from: JSONEncoder().encode(list))
    #expect(decodedList.kind == "ClusterCIDRList")
    #expect(decodedList.items == [object])
}

@Test func familyStatusFromAnEnginePool() throws {
    let pool = try ClusterCIDR(name: "split", spec: ClusterCIDRSpec(perNodeHostBits: 8, perNodeHostBitsIPv6: 64, ipv4: "10.0.0.1/16", ipv6: "2001:db8::/32")).poolDefinition()
    let ipv4 = ClusterCIDRFamilyStatus(try #require(pool.ipv4), allocated: 2)
    #expect(ipv4 == ClusterCIDRFamilyStatus(cidr: "10.0.0.0/16", perNodeHostBits: 8, total: "256", allocated: "2", free: "254"))
    let ipv6 = ClusterCIDRFamilyStatus(try #require(pool.ipv6), allocated: 2)
    #expect(ipv6.total == "4294967296")
    #expect(ipv6.perNodeHostBits == 64)
    #expect(ClusterCIDRStatus(ipv4: ipv4, ipv6: ipv6, nodes: 2).usage == "2/256")
}
