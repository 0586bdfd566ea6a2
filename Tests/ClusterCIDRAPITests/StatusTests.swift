import ClusterCIDRAPI
import Foundation
import KubeClient
import MultiCIDR
import Testing

/// An engine holding `pool` with `nodes` nodes given a range each, and its figures.
private func figures(_ pool: ClusterCIDR, nodes: Int) throws -> (AllocationEngine, [PoolFamilyStatistics]) {
    var engine = AllocationEngine()
    engine.upsertPool(try pool.poolDefinition())
    for i in 0..<nodes {
        guard case .allocated = engine.allocate(for: NodeAttributes(name: "node-\(i)")) else { throw Unexpected() }
    }
    return (engine, engine.statistics(of: pool.name))
}

private struct Unexpected: Error {}

private let dual = ClusterCIDR(name: "dual", spec: ClusterCIDRSpec(perNodeHostBits: 8, perNodeHostBitsIPv6: 64, ipv4: "10.0.0.1/16", ipv6: "2001:db8::/32"))

@Test func composeGivesBothFamiliesIntegerAllocationsAndTheLimitingUsage() throws {
    let (_, stats) = try figures(dual, nodes: 3)
    let status = ClusterCIDRStatus.compose(previous: nil, generation: 1, families: stats, nodes: 3, terminating: false, problem: nil, now: "t1")
    #expect(status.ipv4?.cidr == "10.0.0.0/16")
    #expect(status.ipv4?.perNodeHostBits == 8)
    #expect(status.ipv4?.allocated == 3)
    #expect(status.ipv4?.total == "256" && status.ipv4?.free == "253" && status.ipv4?.usage == "3/256")
    // 2^32 IPv6 ranges: total and free stay strings.
    #expect(status.ipv6?.total == "4294967296" && status.ipv6?.free == "4294967293" && status.ipv6?.usage == "3/4294967296")
    #expect(status.ipv6?.perNodeHostBits == 64)
    #expect(status.usage == "3/256")
    #expect(status.nodes == 3 && status.observedGeneration == 1)
    #expect(status.state == "Ready" && status.message == "The pool allocates node ranges.")
    #expect(status.condition(.ready)?.status == "True" && status.condition(.exhausted)?.status == "False")
    #expect(status.condition(.invalid)?.reason == "ValidSpec" && status.condition(.terminating)?.reason == "NotTerminating")
    // Counts beyond 2^63 round-trip as strings; allocated is a JSON integer.
    let json = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
    #expect(json.contains(#""allocated":3"#))
    #expect(try JSONDecoder().decode(ClusterCIDRStatus.self, from: Data(json.utf8)) == status)
}

@Test func countsBeyond64BitsStayExact() throws {
    let huge = ClusterCIDR(name: "huge", spec: ClusterCIDRSpec(perNodeHostBits: 32, ipv6: "2001:db8::/32"))
    let (_, stats) = try figures(huge, nodes: 1)
    let status = ClusterCIDRStatus.compose(previous: nil, generation: 1, families: stats, nodes: 1, terminating: false, problem: nil, now: "t")
    #expect(status.ipv6?.total == "18446744073709551616")
    #expect(status.ipv6?.free == "18446744073709551615")
    #expect(status.ipv4 == nil && status.usage == "1/18446744073709551616")
}

@Test func anExhaustedPoolSaysSoInStateAndCondition() throws {
    let small = ClusterCIDR(name: "small", spec: ClusterCIDRSpec(perNodeHostBits: 4, ipv4: "10.0.0.0/26"))
    let (_, stats) = try figures(small, nodes: 4)
    let status = ClusterCIDRStatus.compose(previous: nil, generation: 1, families: stats, nodes: 4, terminating: false, problem: nil, now: "t")
    #expect(status.state == "Exhausted")
    #expect(status.condition(.exhausted)?.status == "True" && status.condition(.exhausted)?.reason == "NoFreeRanges")
    #expect(status.message?.contains("No free node range left in 10.0.0.0/26") == true)
    #expect(status.condition(.ready)?.status == "True")
}

@Test func aTerminatingPoolNamesUpToFiveNodesThenCountsTheRest() throws {
    let (_, stats) = try figures(dual, nodes: 7)
    let holders = (0..<7).map { "node-\($0)" }.reversed()
    let status = ClusterCIDRStatus.compose(previous: nil, generation: 2, families: stats, nodes: 7, holders: Array(holders), terminating: true, problem: nil, now: "t")
    #expect(status.state == "Terminating")
    #expect(status.message == "Being deleted: 7 nodes (node-0, node-1, node-2, node-3, node-4 and 2 more) still hold ranges from this pool; it allocates no more, and its finalizer stays until they are deleted.")
    #expect(status.condition(.terminating)?.message == status.message)
    #expect(status.condition(.ready)?.status == "False" && status.condition(.ready)?.reason == "WaitingForNodes")
    let two = ClusterCIDRStatus.compose(previous: nil, generation: 2, families: stats, nodes: 2, holders: ["b", "a"], terminating: true, problem: nil, now: "t")
    #expect(two.message?.hasPrefix("Being deleted: 2 nodes (a, b) still hold") == true)
}

@Test func aChangedSpecIsInvalidWithReasonSpecChangedAndNamesTheFieldsAndTheFix() throws {
    let (_, stats) = try figures(dual, nodes: 2)
    let acceptedSpec = try #require(dual.spec)
    var changedSpec = acceptedSpec
    changedSpec.ipv4 = "10.1.0.0/16"
    changedSpec.perNodeHostBits = 6
    let change = try #require(ClusterCIDRSpecChange(accepted: acceptedSpec, current: changedSpec))
    #expect(change.paths == "spec.ipv4, spec.perNodeHostBits")
    let status = ClusterCIDRStatus.compose(previous: nil, generation: 2, families: stats, nodes: 2, terminating: false, problem: .specChanged(change), now: "t")
    #expect(status.state == "Invalid")
    #expect(status.condition(.invalid)?.status == "True" && status.condition(.invalid)?.reason == "SpecChanged")
    #expect(status.condition(.ready)?.status == "False" && status.condition(.ready)?.reason == "SpecChanged")
    let message = try #require(status.message)
    #expect(message.contains("spec.ipv4 10.0.0.1/16 → 10.1.0.0/16") && message.contains("spec.perNodeHostBits 8 → 6"))
    #expect(message.contains("the 2 nodes that hold its ranges") && message.contains("under a new name"))
    // The accepted figures stay: the counts are those of the accepted spec.
    #expect(status.ipv4?.cidr == "10.0.0.0/16" && status.ipv4?.allocated == 2)
    // Deleting it is the fix: Terminating then leads.
    let deleting = ClusterCIDRStatus.compose(previous: status, generation: 3, families: stats, nodes: 2, holders: ["node-0", "node-1"],
                                             terminating: true, problem: .specChanged(change), now: "t2")
    #expect(deleting.state == "Terminating" && deleting.condition(.invalid)?.reason == "SpecChanged")
}

@Test func specChangesIgnoreEmptyVersusMissingAndSeeSelectors() throws {
    let accepted = ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/16", ipv6: "")
    #expect(ClusterCIDRSpecChange(accepted: accepted, current: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/16")) == nil)
    let selected = ClusterCIDRSpec(nodeSelector: NodeSelector(nodeSelectorTerms: []), perNodeHostBits: 8, ipv4: "10.0.0.0/16")
    #expect(ClusterCIDRSpecChange(accepted: accepted, current: selected)?.paths == "spec.nodeSelector")
    #expect(ClusterCIDRSpecChange(accepted: accepted, current: nil)?.paths == "spec.ipv4, spec.perNodeHostBits")
}

@Test func anInvalidSpecHasNoFamilies() {
    let status = ClusterCIDRStatus.compose(previous: nil, generation: 1, families: [], nodes: 0, terminating: false,
                                           problem: .invalidSpec(message: "perNodeHostBits 40 is too large"), now: "t")
    #expect(status.state == "Invalid" && status.message == "perNodeHostBits 40 is too large")
    #expect(status.condition(.invalid)?.reason == "InvalidSpec" && status.ipv4 == nil && status.nodes == nil && status.usage == nil)
}

@Test func transitionTimesAreKeptWhileAConditionHolds() throws {
    let (_, stats) = try figures(dual, nodes: 1)
    let first = ClusterCIDRStatus.compose(previous: nil, generation: 1, families: stats, nodes: 1, terminating: false, problem: nil, now: "t1")
    let second = ClusterCIDRStatus.compose(previous: first, generation: 2, families: stats, nodes: 1, holders: ["node-0"], terminating: true, problem: nil, now: "t2")
    #expect(second.condition(.exhausted)?.lastTransitionTime == "t1")
    #expect(second.condition(.terminating)?.lastTransitionTime == "t2")
    #expect(second.condition(.ready)?.observedGeneration == 2)
    #expect(second.conditions?.count == 4)
    #expect(ClusterCIDRConditionType.allCases.map(\.rawValue) == ["Ready", "Exhausted", "Terminating", "Invalid"])
}

@Test func aStatusWrittenByAnEarlierVersionStillDecodes() throws {
    let old = #"{"ipv4":{"cidr":"10.0.0.0/16","perNodeHostBits":8,"total":"256","allocated":"2","free":"254"},"nodes":2,"usage":"2/256"}"#
    let status = try JSONDecoder().decode(ClusterCIDRStatus.self, from: Data(old.utf8))
    #expect(status.ipv4?.allocated == 2 && status.state == nil)
}

@Test func aFullObjectRoundTripsWithoutNulls() throws {
    let (_, stats) = try figures(dual, nodes: 0)
    var object = dual
    object.status = ClusterCIDRStatus.compose(previous: nil, generation: 1, families: stats, nodes: 0, terminating: false, problem: nil, now: "t")
    let data = try JSONEncoder().encode(object)
    #expect(!String(decoding: data, as: UTF8.self).contains("null"))
    #expect(try JSONDecoder().decode(ClusterCIDR.self, from: data) == object)
    let list = ClusterCIDRList(items: [object])
    let decodedList = try JSONDecoder().decode(ClusterCIDRList.self, from: JSONEncoder().encode(list))
    #expect(decodedList.kind == "ClusterCIDRList")
    #expect(decodedList.items == [object])
}

@Test func theAcceptedSpecIsReadOnlyForTheObjectItWasWrittenFor() throws {
    var pool = dual
    pool.metadata.uid = "uid-1"
    let spec = try #require(pool.spec)
    let accepted = pool.accepting(spec)
    #expect(accepted.metadata.finalizers == [ClusterCIDR.finalizer])
    #expect(accepted.acceptedSpec?.spec == spec)
    // Accepting again changes nothing.
    #expect(accepted.accepting(spec) == accepted)
    // The same annotation on another object (a saved manifest applied again) is no acceptance.
    var copy = accepted
    copy.metadata.uid = "uid-2"
    #expect(copy.acceptedSpec == nil)
}
