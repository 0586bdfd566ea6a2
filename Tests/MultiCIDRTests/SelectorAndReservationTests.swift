import Testing
@testable import MultiCIDR

/// Kubernetes NodeSelector semantics (REFERENCE §1.7 REC).
@Suite struct SelectorSemanticsTests {
    let zoneA = node("n1", ["zone": "a", "tier": "5"])

    @Test func termsAreOredAndRequirementsAnded() {
        let selector = PoolSelector.terms([
            SelectorTerm(matchExpressions: [SelectorRequirement(key: "zone", operator: .in, values: ["b"])]),
            SelectorTerm(matchExpressions: [SelectorRequirement(key: "zone", operator: .in, values: ["a"]),
                                            SelectorRequirement(key: "tier", operator: .exists)]),
        ])
        #expect(selector.matchCount(for: zoneA) == 2)
        #expect(selector.matchCount(for: node("n2", ["zone": "b"])) == 1)
        #expect(selector.matchCount(for: node("n3", ["zone": "a"])) == nil)
    }

    @Test func operators() {
        func matches(_ op: SelectorOperator, _ values: [String], _ labels: [String: String]) -> Bool {
            PoolSelector.terms([SelectorTerm(matchExpressions: [SelectorRequirement(key: "k", operator: op, values: values)])])
                .matchCount(for: node("n", labels)) != nil
        }
        #expect(matches(.in, ["x", "y"], ["k": "y"]))
        #expect(!matches(.in, ["x"], [:]))
        #expect(matches(.notIn, ["x"], [:]))
        #expect(!matches(.notIn, ["x"], ["k": "x"]))
        #expect(matches(.exists, [], ["k": ""]))
        #expect(matches(.doesNotExist, [], ["other": "1"]))
        #expect(matches(.greaterThan, ["5"], ["k": "6"]))
        #expect(!matches(.greaterThan, ["5"], ["k": "5"]))
        #expect(!matches(.greaterThan, ["5"], ["k": "six"]))
        #expect(matches(.lessThan, ["5"], ["k": "-3"]))
        #expect(!matches(.lessThan, ["x"], ["k": "1"]))
    }

    @Test func emptyTermMatchesNothingAndNoTermsMatchEverything() {
        #expect(PoolSelector.terms([SelectorTerm()]).matchCount(for: zoneA) == nil)
        #expect(PoolSelector.terms([]).matchCount(for: zoneA) == 0)
        #expect(PoolSelector.catchAll.matchCount(for: zoneA) == 0)
    }

    @Test func matchFieldsUseTheNodeName() {
        let byName = PoolSelector.terms([SelectorTerm(matchFields: [SelectorRequirement(key: "metadata.name", operator: .in, values: ["n1"])])])
        #expect(byName.matchCount(for: zoneA) == 1)
        #expect(byName.matchCount(for: node("n2")) == nil)
        // A label literally called metadata.name does not count (REF's bug).
        #expect(byName.matchCount(for: node("n2", ["metadata.name": "n1"])) == nil)
        let otherField = PoolSelector.terms([SelectorTerm(matchFields: [SelectorRequirement(key: "spec.unschedulable", operator: .notIn, values: ["x"])])])
        #expect(otherField.matchCount(for: zoneA) == nil)
    }

    @Test func catchAllPoolsComeLastAndAreRanked() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("z-fallback-big", v4: "10.0.0.0/8", hostBits: 8))
        engine.upsertPool(pool("a-fallback-small", v4: "10.1.0.0/24", hostBits: 4))
        engine.upsertPool(pool("everything", .terms([]), v4: "172.16.0.0/16", hostBits: 8))
        engine.upsertPool(pool("zone-a", labels(["zone": "a"]), v4: "192.168.0.0/16", hostBits: 8))
        #expect(engine.rankedPools(for: zoneA) == ["zone-a", "everything", "a-fallback-small", "z-fallback-big"])
        // Catch-all ranking uses P1 (fewer ranges), not creation order or name.
        #expect(engine.rankedPools(for: node("x")) == ["everything", "a-fallback-small", "z-fallback-big"])
    }

    @Test func terminatingPoolsNeverAllocateEvenAsFallback() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("fallback", v4: "10.0.0.0/16", hostBits: 8))
        engine.setTerminating("fallback")
        let outcome = engine.allocate(for: zoneA)
        #expect(outcome == .onlyClosedPools(node: "n1", pools: ["fallback"]))
        engine.upsertPool(pool("zone-a", labels(["zone": "a"]), v4: "192.168.0.0/16", hostBits: 8))
        #expect(engine.allocate(for: zoneA).podCIDRs == ["192.168.0.0/24"])
        var empty = AllocationEngine()
        #expect(empty.allocate(for: zoneA) == .noMatchingPool(node: "n1"))
    }

    @Test func aSuspendedPoolKeepsItsNodesAndCountsButAllocatesNoMore() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        #expect(engine.allocate(for: node("a")).podCIDRs == ["10.0.0.0/24"])
        engine.setSuspended("p")
        #expect(!engine.allocates("p") && !engine.isTerminating("p"))
        #expect(engine.allocate(for: node("b")) == .onlyClosedPools(node: "b", pools: ["p"]))
        // Ranges that fit it are still adopted into it, and its counts stay.
        #expect(engine.adopt(node: node("c"), podCIDRs: ["10.0.5.0/24"]).reservation?.pool == "p")
        #expect(engine.associatedNodeCount(of: "p") == 2 && engine.statistics(of: "p").first?.allocated == 2)
        engine.setSuspended("p", false)
        #expect(engine.allocate(for: node("b")).podCIDRs == ["10.0.1.0/24"])
    }

    @Test func theFullPoolsPassedOverForAFallbackAreTold() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("zone-a", labels(["zone": "a"]), v4: "192.168.0.0/28", hostBits: 4))
        engine.upsertPool(pool("fallback", v4: "10.0.0.0/16", hostBits: 8))
        let first = engine.allocate(for: node("a1", ["zone": "a"]))
        #expect(first.podCIDRs == ["192.168.0.0/28"] && first.passedOver == [])
        let fallback = engine.allocate(for: node("a2", ["zone": "a"]))
        #expect(fallback.podCIDRs == ["10.0.0.0/24"] && fallback.passedOver?.map(\.pool) == ["zone-a"])
        let unselected = engine.allocate(for: node("x"))
        #expect(unselected.podCIDRs == ["10.0.1.0/24"] && unselected.passedOver == [])
    }
}

/// Reservation behaviour: REFERENCE §8.1 W3-W12.
@Suite struct ReservationTests {
    @Test func w3DualStackIsAtomic() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("dual", labels(["k": "v"]), v4: "10.0.0.0/16", v6: "fd00::/120", hostBits: 8))
        engine.upsertPool(pool("spare", v4: "10.1.0.0/16", v6: "fd00:1::/112", hostBits: 8))
        engine.exclude(prefix("fd00::/120"), name: "full")
        #expect(engine.allocate(for: node("n", ["k": "v"])).podCIDRs == ["10.1.0.0/24", "fd00:1::/120"])
        // Nothing leaked from the dual pool's IPv4 half.
        #expect(engine.statistics(of: "dual")[0].occupied == 0)
        #expect(engine.isFree(prefix("10.0.0.0/16")))
    }

    @Test func w4AssociationIsAllOrNothingAndChecksNodeSize() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        let wrongSize = engine.adopt(node: node("a"), podCIDRs: ["10.0.5.0/25"])
        #expect(wrongSize.isUnassociated)
        #expect(engine.statistics(of: "p")[0].occupied == 1)
        #expect(engine.statistics(of: "p")[0].allocated == 0)
    }

    @Test func w5FamilyMismatchDoesNotCrash() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("v4only", v4: "10.0.0.0/16", hostBits: 8))
        let report = engine.adopt(node: node("a"), podCIDRs: ["10.0.1.0/24", "fd00::/120"])
        #expect(report.isUnassociated)
        #expect(report.reservation?.ranges.count == 2)
    }

    @Test func w6RangesOfUnmanagedNodesAreNeverHandedOut() {
        var engine = AllocationEngine()
        engine.adopt(node: node("legacy"), podCIDRs: ["10.0.0.0/24"])
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        #expect(engine.allocate(for: node("new")).podCIDRs == ["10.0.1.0/24"])
        // The legacy range now fits the pool; adopting again associates it.
        #expect(engine.adopt(node: node("legacy"), podCIDRs: ["10.0.0.0/24"]).reservation?.pool == "p")
    }

    @Test func w7DuplicatesAreReported() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        engine.adopt(node: node("a"), podCIDRs: ["10.0.3.0/24"])
        let report = engine.adopt(node: node("b"), podCIDRs: ["10.0.3.0/24"])
        #expect(report.conflicts == [RangeConflict(range: prefix("10.0.3.0/24"), other: .node("a"), otherRange: prefix("10.0.3.0/24"))])
        engine.release(node: "a")
        #expect(!engine.isFree(prefix("10.0.3.0/24")), "still held by b")
        let overlap = engine.adopt(node: node("c"), podCIDRs: ["10.0.0.0/22"])
        #expect(overlap.conflicts.map(\.other) == [.node("b")])
    }

    @Test func w8ReleaseIsByNodeNotLabels() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("blue", labels(["color": "blue"]), v4: "10.0.0.0/16", hostBits: 8))
        _ = engine.allocateAndConfirm(node("n", ["color": "blue"]))
        // The node is relabelled: release must still find its range.
        let released = engine.release(node: "n")
        #expect(released?.pool == "blue")
        #expect(engine.associatedNodes(of: "blue").isEmpty)
        #expect(engine.isFree(prefix("10.0.0.0/16")))
    }

    @Test func w12TerminatingPoolsKeepTheirNodes() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("old", v4: "10.0.0.0/16", hostBits: 8))
        engine.setTerminating("old")
        // After a restart, a node holding a range of the terminating pool is associated again.
        #expect(engine.adopt(node: node("n"), podCIDRs: ["10.0.7.0/24"]).reservation?.pool == "old")
        #expect(engine.associatedNodes(of: "old") == ["n"])
    }

    @Test func pendingReservationIsConfirmedBySeeingItOnTheNode() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        let cidrs = engine.allocate(for: node("n")).podCIDRs!
        #expect(engine.reservation(for: "n")?.state == .pending)
        #expect(engine.allocate(for: node("n")) == .alreadyReserved(engine.reservation(for: "n")!))
        let report = engine.adopt(node: node("n"), podCIDRs: cidrs)
        #expect(report.change == .confirmedPending && report.reservation?.state == .confirmed && report.conflicts.isEmpty)
        #expect(engine.adopt(node: node("n"), podCIDRs: cidrs).change == .unchanged)
    }

    @Test func nodeCarryingOtherRangesReplacesOurReservation() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        _ = engine.allocate(for: node("n"))
        let report = engine.adopt(node: node("n"), podCIDRs: ["10.0.9.0/24"])
        #expect(report.change == .replaced(previous: [prefix("10.0.0.0/24")]))
        #expect(engine.isFree(prefix("10.0.0.0/24")))
        #expect(engine.reservation(for: "n")?.podCIDRs == ["10.0.9.0/24"])
    }

    @Test func garbagePodCIDRsAreReportedNotFatal() {
        var engine = AllocationEngine()
        let report = engine.adopt(node: node("n"), podCIDRs: ["garbage", "10.0.0.0/99", "010.0.0.0/8", "10.1.0.0/24", "10.2.0.0/24"])
        #expect(report.invalid.count == 4)
        #expect(report.reservation?.ranges.count == 2, "both parseable ranges are protected")
        #expect(engine.adopt(node: node("m"), podCIDRs: ["nonsense"]).reservation == nil)
    }

    @Test func replacingAndRemovingPoolsKeepsRangesHeld() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        _ = engine.allocateAndConfirm(node("n"))
        #expect(engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8)) == .unchanged)
        #expect(engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 6)) == .replaced(disassociated: ["n"]))
        #expect(engine.reservation(for: "n")?.pool == nil)
        #expect(engine.allocate(for: node("m")).podCIDRs == ["10.0.1.0/26"], "the /24 of n (four /26 blocks) stays held")
        #expect(engine.removePool(named: "p") == ["m"])
        #expect(!engine.isFree(prefix("10.0.1.0/26")))
    }

    @Test func hugeIPv6PoolsWork() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("big", v6: "2001:db8::/32", hostBits: 64))
        engine.upsertPool(pool("wide", labels(["k": "v"]), v6: "fd00::/64", hostBits: 16))
        #expect(engine.allocate(for: node("a")).podCIDRs == ["2001:db8::/64"])
        #expect(engine.allocate(for: node("b", ["k": "v"])).podCIDRs == ["fd00::/112"])
        let stats = engine.statistics(of: "big")[0]
        #expect(stats.total == UInt128(1) << 32 && stats.free == (UInt128(1) << 32) - 1)
        let everything = try! PoolDefinition(name: "all", selector: .catchAll, ipv4: nil,
                                             ipv6: PoolFamily(prefix: prefix("::/0"), nodeHostBits: 4))
        engine.upsertPool(everything)
        #expect(engine.statistics(of: "all")[0].total == UInt128(1) << 124)
        // The /64 covers 2^60 of its /124 blocks and the /112 another 2^12.
        #expect(engine.statistics(of: "all")[0].free == (UInt128(1) << 124) - (UInt128(1) << 60) - (UInt128(1) << 12))
        #expect(throws: PoolDefinitionError.self) { try PoolFamily(prefix: prefix("::/0"), nodeHostBits: 0) }
        #expect(throws: PoolDefinitionError.self) { try PoolFamily(prefix: prefix("10.0.0.0/16"), nodeHostBits: 17) }
        #expect(throws: PoolDefinitionError.self) { try PoolFamily(prefix: prefix("10.0.0.0/16"), nodeHostBits: -1) }
    }
}
