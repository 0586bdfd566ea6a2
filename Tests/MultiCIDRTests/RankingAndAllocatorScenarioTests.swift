import Testing
@testable import MultiCIDR

/// SCENARIOS.md group B: the reference's priority order (P0-P4), plus our name tie-break.
@Suite struct RankingScenarioTests {
    static func key(_ name: String, _ cidr: String, _ selector: KeyValuePairs<String, String>, count: Int, hostBits: Int) -> PoolRankKey {
        PoolRankKey(pool: pool(name, labels(selector), v4: cidr, hostBits: hostBits), matchCount: count)
    }
    static let i1 = key("i1", "192.168.0.0/16", ["foo": "bar", "name": "test1"], count: 1, hostBits: 8)
    static let i2 = key("i2", "10.1.0.0/24", ["foo": "bar", "name": "test2"], count: 2, hostBits: 8)
    static let i3 = key("i3", "172.16.0.0/16", ["foo": "bar", "name": "test3"], count: 2, hostBits: 8)
    static let i4 = key("i4", "10.1.1.0/26", ["abc": "bar", "name": "test4"], count: 2, hostBits: 6)
    static let i5 = key("i5", "10.1.2.0/26", ["foo": "bar", "name": "test5"], count: 2, hostBits: 6)
    static let i6 = key("i6", "10.1.3.0/26", ["abc": "bar", "name": "test4"], count: 2, hostBits: 6)

    @Test func b1FirstOut() {
        #expect([Self.i1].min()?.name == "i1")
        #expect([Self.i1, Self.i2].min()?.name == "i2")
        #expect([Self.i1, Self.i2, Self.i3].min()?.name == "i2")
        #expect([Self.i1, Self.i2, Self.i4].min()?.name == "i4")
        #expect([Self.i1, Self.i2, Self.i4, Self.i5].min()?.name == "i4")
        #expect([Self.i1, Self.i2, Self.i4, Self.i5, Self.i6].min()?.name == "i4")
        #expect([Self.i6, Self.i5, Self.i4, Self.i3, Self.i2, Self.i1].sorted().map(\.name) == ["i4", "i6", "i5", "i2", "i3", "i1"])
    }

    @Test func b2Pairwise() {
        let a = Self.key("a", "10.1.0.0/24", ["foo": "bar"], count: 2, hostBits: 8)
        let b = Self.key("b", "10.1.0.0/24", ["foo": "bar"], count: 1, hostBits: 8)
        #expect(a < b); #expect(!(b < a))
        #expect(Self.key("a", "10.1.0.0/24", ["x": "y"], count: 1, hostBits: 8) < Self.key("b", "172.16.0.0/16", ["x": "y"], count: 1, hostBits: 8))
        #expect(!(Self.key("a", "10.1.0.0/16", ["x": "y"], count: 1, hostBits: 8) < Self.key("b", "172.16.0.0/24", ["x": "y"], count: 1, hostBits: 8)))
        #expect(Self.key("a", "10.1.0.0/26", ["x": "y"], count: 1, hostBits: 6) < Self.key("b", "10.1.1.0/24", ["x": "y"], count: 1, hostBits: 8))
        #expect(!(Self.key("b", "10.1.1.0/24", ["x": "y"], count: 1, hostBits: 8) < Self.key("a", "10.1.0.0/26", ["x": "y"], count: 1, hostBits: 6)))
        #expect(Self.key("a", "10.1.1.0/26", ["abc": "bar", "name": "test4"], count: 2, hostBits: 6) < Self.key("b", "10.1.1.0/26", ["foo": "bar", "name": "test5"], count: 2, hostBits: 6))
        #expect(!(Self.key("a", "10.1.1.0/26", ["xyz": "bar", "name": "test4"], count: 2, hostBits: 6) < Self.key("b", "10.1.1.0/26", ["foo": "bar", "name": "test5"], count: 2, hostBits: 6)))
        #expect(Self.key("z", "10.1.1.0/26", ["abc": "bar"], count: 2, hostBits: 6) < Self.key("a", "10.1.3.0/26", ["abc": "bar"], count: 2, hostBits: 6))
        #expect(!(Self.key("a", "10.1.1.0/26", ["xyz": "bar"], count: 2, hostBits: 6) < Self.key("b", "10.0.3.0/26", ["abc": "bar"], count: 2, hostBits: 6)))
        // P5: everything equal but the name.
        #expect(Self.key("a", "10.1.1.0/26", ["k": "v"], count: 2, hostBits: 6) < Self.key("b", "10.1.1.0/26", ["k": "v"], count: 2, hostBits: 6))
    }
}

/// SCENARIOS.md group C, driven through the engine as the controller will drive it.
@Suite struct AllocatorScenarioTests {
    static let node0 = node("node0", ["testLabel-0": "node0"])
    static let threeLabels = node("node0", ["testLabel-0": "node0", "testLabel-1": "label1", "testLabel-2": "label2"])
    static let s1 = labels(["testLabel-0": "node0"])
    static let s12 = labels(["testLabel-0": "node0", "testLabel-1": "label1"])
    static let s02 = labels(["testLabel-0": "node0", "testLabel-2": "label2"])

    @Test func c1StartupWithExistingNodes() {
        let single = pool("p", v4: "10.10.0.0/16", hostBits: 8)
        let dual = pool("p", v4: "10.10.0.0/16", v6: "ace:cab:deca::/112", hostBits: 8)
        for definition in [single, dual] {
            var engine = AllocationEngine()
            engine.upsertPool(definition)
            #expect(engine.allocate(for: Self.node0).podCIDRs != nil)
        }
        var a = AllocationEngine()
        a.upsertPool(single)
        let reportA = a.adopt(node: Self.node0, podCIDRs: ["10.10.0.1/24"])
        #expect(reportA.reservation?.pool == "p" && reportA.reservation?.podCIDRs == ["10.10.0.0/24"] && reportA.conflicts.isEmpty)
        var d = AllocationEngine()
        d.upsertPool(dual)
        let reportD = d.adopt(node: Self.node0, podCIDRs: ["10.10.0.1/24", "ace:cab:deca::1/120"])
        #expect(reportD.reservation?.pool == "p" && reportD.reservation?.podCIDRs == ["10.10.0.0/24", "ace:cab:deca::/120"])
    }

    @Test func c2c3c4FirstFreeBlock() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", Self.s1, v4: "127.123.234.0/24", hostBits: 2))
        #expect(engine.allocate(for: Self.node0).podCIDRs == ["127.123.234.0/30"])

        var withService = AllocationEngine()
        withService.upsertPool(pool("p", Self.s1, v4: "127.123.234.0/24", hostBits: 2))
        withService.exclude(prefix("127.123.234.0/26"), name: "service")
        #expect(withService.allocate(for: Self.node0).podCIDRs == ["127.123.234.64/30"])

        var used = AllocationEngine()
        used.upsertPool(pool("p", Self.s1, v4: "127.123.234.0/24", hostBits: 2))
        used.exclude(prefix("127.123.234.0/26"), name: "service")
        for (i, cidr) in ["127.123.234.64/30", "127.123.234.68/30", "127.123.234.72/30", "127.123.234.80/30"].enumerated() {
            used.adopt(node: node("other\(i)", ["testLabel-0": "node0"]), podCIDRs: [cidr])
        }
        #expect(used.allocate(for: Self.node0).podCIDRs == ["127.123.234.76/30"])
    }

    @Test func c5MoreMatchingLabelsWins() {
        var engine = AllocationEngine()
        engine.exclude(prefix("127.123.234.0/26"), name: "service")
        engine.upsertPool(pool("a", Self.s1, v4: "10.0.0.0/8", v6: "ace:cab:deca::/112", hostBits: 8))
        engine.upsertPool(pool("b", Self.s12, v4: "127.123.234.0/8", v6: "abc:def:deca::/112", hostBits: 8))
        #expect(engine.allocate(for: Self.threeLabels).podCIDRs == ["127.0.0.0/24", "abc:def:deca::/120"])
    }

    @Test func c6OverlappingPoolsAvoidEachOthersRanges() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("a", Self.s1, v4: "10.0.0.0/8", v6: "ace:cab:deca::/112", hostBits: 8))
        engine.upsertPool(pool("b", Self.s12, v4: "10.0.0.0/16", v6: "ace:cab:deca::/112", hostBits: 8))
        for cidr in ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.4.0/24", "ace:cab:deca::/120"] {
            engine.exclude(prefix(cidr), name: "held-in-a")
        }
        #expect(engine.allocate(for: Self.threeLabels).podCIDRs == ["10.0.3.0/24", "ace:cab:deca::100/120"])
        #expect(engine.reservation(for: "node0")?.pool == "b")
    }

    @Test func c7c8FewerNodeRangesWins() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("a", Self.s12, v4: "127.123.234.0/8", v6: "abc:def:deca::/112", hostBits: 8))
        engine.upsertPool(pool("b", Self.s02, v4: "10.0.0.0/24", v6: "ace:cab:deca::/120", hostBits: 8))
        #expect(engine.allocate(for: Self.threeLabels).podCIDRs == ["10.0.0.0/24", "ace:cab:deca::/120"])

        var single = AllocationEngine()
        single.upsertPool(pool("a", Self.s12, v4: "127.123.234.0/23", hostBits: 8))
        single.upsertPool(pool("b", Self.s02, v4: "10.0.0.0/16", v6: "ace:cab:deca::/120", hostBits: 8))
        #expect(single.allocate(for: Self.threeLabels).podCIDRs == ["10.0.0.0/24", "ace:cab:deca::/120"])
    }

    @Test(arguments: [true, false])
    func c9SmallerPerNodeRangeWins(withService: Bool) {
        var engine = AllocationEngine()
        if withService { engine.exclude(prefix("127.123.234.0/26"), name: "service") }
        engine.upsertPool(pool("a", Self.s12, v4: "127.123.234.0/24", v6: "abc:def:deca::/120", hostBits: 8))
        engine.upsertPool(pool("b", Self.s02, v4: "10.0.0.0/32", v6: "ace:cab:deca::/128", hostBits: 0))
        #expect(engine.allocate(for: Self.threeLabels).podCIDRs == ["10.0.0.0/32", "ace:cab:deca::/128"])
    }

    @Test func c10SelectorTextBreaksTies() {
        var engine = AllocationEngine()
        engine.exclude(prefix("127.123.234.0/26"), name: "service")
        engine.upsertPool(pool("a", Self.s12, v4: "127.123.234.0/16", v6: "abc:def:deca::/112", hostBits: 8))
        engine.upsertPool(pool("b", Self.s02, v4: "10.0.0.0/16", v6: "ace:cab:deca::/112", hostBits: 8))
        #expect(engine.allocate(for: Self.threeLabels).podCIDRs == ["127.123.0.0/24", "abc:def:deca::/120"])
    }

    @Test func c11PoolAddressTextBreaksTies() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("a", Self.s12, v4: "127.123.234.0/16", v6: "abc:def:deca::/112", hostBits: 8))
        engine.upsertPool(pool("b", Self.s12, v4: "10.0.0.0/16", v6: "ace:cab:deca::/112", hostBits: 8))
        #expect(engine.allocate(for: Self.threeLabels).podCIDRs == ["10.0.0.0/24", "ace:cab:deca::/120"])
    }

    @Test func c12NoDoubleCounting() {
        var engine = AllocationEngine()
        let pool1 = ["testLabel-0": "nodepool1"]
        engine.upsertPool(pool("p", labels(["testLabel-0": "nodepool1"]), v4: "10.10.0.0/22", hostBits: 8))
        let r0 = engine.adopt(node: node("node0", pool1), podCIDRs: ["10.10.0.0/24"])
        let r1 = engine.adopt(node: node("node1", pool1), podCIDRs: ["10.10.2.0/24"])
        #expect(r0.change == .recorded && r1.change == .recorded)
        #expect(engine.allocate(for: node("node2", pool1)).podCIDRs == ["10.10.1.0/24"])
        #expect(engine.reservation(for: "node0")?.podCIDRs == ["10.10.0.0/24"])
        #expect(engine.reservation(for: "node1")?.podCIDRs == ["10.10.2.0/24"])
        #expect(engine.allReservations.filter { $0.origin == .allocated }.map(\.node) == ["node2"])
    }

    @Test func c13ExhaustedPool() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", Self.s1, v4: "127.123.234.0/28", hostBits: 2))
        for i in 0..<4 { engine.adopt(node: node("other\(i)"), podCIDRs: ["127.123.234.\(i * 4)/30"]) }
        let outcome = engine.allocate(for: Self.node0)
        guard case .exhausted(let node, let pools) = outcome else { Issue.record("\(outcome)"); return }
        #expect(node == "node0" && pools.map(\.pool) == ["p"])
        #expect(outcome.description.contains("ClusterCIDR p has no free IPv4 range left in 127.123.234.0/28"))
    }

    @Test(arguments: [
        ["172.10.0.1/24"],
        ["10.10.0.1/24", "a00::/86"],
        ["172.10.0.1/24", "ace:cab:deca::1/120"],
        ["10.10.0.1/24", "cdd::/86"],
    ])
    func c14toC17PodCIDRsOutsidePoolsAreHeldNotAssociated(podCIDRs: [String]) {
        var engine = AllocationEngine()
        if podCIDRs.count == 1 {
            engine.upsertPool(pool("p", Self.s1, v4: "10.10.0.0/16", hostBits: 8))
        } else {
            engine.upsertPool(pool("p", Self.s1, v4: "10.10.0.0/16", v6: "ace:cab:deca::/112", hostBits: 8))
        }
        let report = engine.adopt(node: Self.node0, podCIDRs: podCIDRs)
        #expect(report.isUnassociated)
        #expect(engine.associatedNodes(of: "p").isEmpty)
        // All-or-nothing association, but every range is still protected.
        for cidr in podCIDRs { #expect(!engine.isFree(prefix(cidr))) }
        #expect(report.reservation?.state == .confirmed)
    }

    @Test func c18ReleaseThenReuse() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", Self.s1, v4: "127.123.234.0/28", hostBits: 2))
        for i in 0..<4 { engine.adopt(node: node("fakeNode\(i)", ["testLabel-0": "node0"]), podCIDRs: ["127.123.234.\(i * 4)/30"]) }
        #expect(engine.allocate(for: Self.node0).podCIDRs == nil)
        #expect(engine.release(node: "fakeNode1")?.podCIDRs == ["127.123.234.4/30"])
        #expect(engine.allocate(for: Self.node0).podCIDRs == ["127.123.234.4/30"])
    }

    @Test func c19ReuseAfterCursorWraps() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", Self.s1, v4: "127.123.234.0/28", hostBits: 2))
        for i in 1..<4 { engine.adopt(node: node("fakeNode\(i)", ["testLabel-0": "node0"]), podCIDRs: ["127.123.234.\(i * 4)/30"]) }
        #expect(engine.allocate(for: Self.node0).podCIDRs == ["127.123.234.0/30"])
        engine.release(node: "node0")
        #expect(engine.allocate(for: node("node1", ["testLabel-0": "node0"])).podCIDRs == ["127.123.234.0/30"])
    }
}
