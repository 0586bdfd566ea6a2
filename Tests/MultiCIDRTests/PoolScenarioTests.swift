import Testing
@testable import MultiCIDR

/// SCENARIOS.md group A, driven through the engine: each "allocate" is a node allocation,
/// each "occupy" a range held by a node or an exclusion.
@Suite struct PoolScenarioTests {
    @Test func a1FullIPv4Pool() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "127.123.234.0/28", hostBits: 4))
        #expect(engine.allocate(for: node("n1")).podCIDRs == ["127.123.234.0/28"])
        guard case .exhausted(_, let pools) = engine.allocate(for: node("n2")) else {
            Issue.record("expected exhaustion"); return
        }
        #expect(pools == [PoolExhaustion(pool: "p", family: .ipv4, prefix: prefix("127.123.234.0/28"))])
        engine.release(node: "n1")
        #expect(engine.allocate(for: node("n2")).podCIDRs == ["127.123.234.0/28"])
        #expect(engine.allocate(for: node("n3")).podCIDRs == nil)
    }

    @Test func a2FullIPv6Pool() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v6: "beef:1234::/112", hostBits: 16))
        #expect(engine.allocate(for: node("n1")).podCIDRs == ["beef:1234::/112"])
        #expect(engine.allocate(for: node("n2")).podCIDRs == nil)
        engine.release(node: "n1")
        #expect(engine.allocate(for: node("n2")).podCIDRs == ["beef:1234::/112"])
        #expect(engine.allocate(for: node("n3")).podCIDRs == nil)
    }

    @Test(arguments: [
        ("127.123.3.0/16", 8, 0, "127.123.0.0/24"), ("127.123.0.0/16", 8, 15, "127.123.15.0/24"),
        ("192.168.5.219/28", 0, 5, "192.168.5.213/32"), ("2001:0db8:1234:3::/48", 64, 0, "2001:db8:1234::/64"),
        ("2001:0db8:1234::/48", 64, 15, "2001:db8:1234:f::/64"),
        ("2001:0db8:85a3::8a2e:0370:7334/50", 65, 6425, "2001:db8:85a3:3232::/63"),
        ("2001:0db8::/32", 80, 0, "2001:db8::/48"), ("2001:0db8::/32", 80, 15, "2001:db8:f::/48"),
        ("2001:0db8:85a3::8a2e:0370:7334/32", 80, 6425, "2001:db8:1919::/48"),
        ("2001:0db8:1234:ff00::/56", 56, 0, "2001:db8:1234:ff00::/72"),
        ("2001:0db8:1234:ff00::/56", 56, 15, "2001:db8:1234:ff00:f00::/72"),
        ("2001:0db8:1234:ff00::0370:7334/56", 56, 6425, "2001:db8:1234:ff19:1900::/72"),
        ("2001:0db8:1234:0:1234::/80", 32, 0, "2001:db8:1234:0:1234::/96"),
        ("2001:0db8:1234:0:1234::/80", 32, 15, "2001:db8:1234:0:1234:f::/96"),
        ("2001:0db8:1234:ff00::0370:7334/80", 32, 6425, "2001:db8:1234:ff00:0:1919::/96"),
    ])
    func a3IndexToBlock(pool: String, hostBits: Int, index: Int, expected: String) {
        #expect(family(pool, hostBits: hostBits).block(at: UInt128(index)).description == expected)
    }

    @Test(arguments: [true, false])
    func a4a5DeterministicOrder(ipv4: Bool) {
        let v4: String? = ipv4 ? "127.123.234.0/16" : nil
        let v6: String? = ipv4 ? nil : "beef:1234::/112"
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: v4, v6: v6, hostBits: 8))
        let first = (0..<256).map { engine.allocate(for: node("n\($0)")).podCIDRs?.first }
        #expect(first.allSatisfy { $0 != nil })
        #expect(Set(first).count == 256)
        if v4 != nil {
            #expect(first[0] == "127.123.0.0/24" && first[1] == "127.123.1.0/24" && first[255] == "127.123.255.0/24")
        } else {
            #expect(first[0] == "beef:1234::/120" && first[1] == "beef:1234::100/120" && first[255] == "beef:1234::ff00/120")
        }
        #expect(engine.allocate(for: node("extra")).podCIDRs == nil)
        for i in 0..<256 { engine.release(node: "n\(i)") }
        let second = (0..<256).map { engine.allocate(for: node("m\($0)")).podCIDRs?.first }
        #expect(second == first)
        #expect(engine.allocate(for: node("extra")).podCIDRs == nil)
    }

    @Test func a6OccupiedBlocksAreSkipped() {
        var engine = AllocationEngine()
        let p = pool("p", v4: "127.123.234.0/16", hostBits: 8)
        engine.upsertPool(p)
        for i in 0..<256 { _ = engine.allocate(for: node("n\(i)")) }
        for i in 0..<256 { engine.release(node: "n\(i)") }
        for i in 128..<256 {
            engine.adopt(node: node("occupier\(i)"), podCIDRs: [p.ipv4!.block(at: UInt128(i)).description])
        }
        engine.exclude(p.ipv4!.block(at: 128), name: "again")
        let next = (0..<128).map { engine.allocate(for: node("m\($0)")).podCIDRs?.first }
        #expect(next == (0..<128).map { p.ipv4!.block(at: UInt128($0)).description })
        #expect(engine.allocate(for: node("extra")).podCIDRs == nil)
    }

    @Test func a7IdempotentCounting() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.42.0.0/16", hostBits: 8))
        func occupied() -> UInt128 { engine.statistics(of: "p")[0].occupied }
        engine.exclude(prefix("10.42.5.0/24"), name: "t"); #expect(occupied() == 1)
        engine.exclude(prefix("10.42.9.0/24"), name: "t"); #expect(occupied() == 2)
        engine.exclude(prefix("10.42.8.0/22"), name: "t"); #expect(occupied() == 5)
        engine.exclude(prefix("10.42.9.0/24"), name: "t"); #expect(occupied() == 5)
        engine.unexclude(prefix("10.42.9.0/24"), name: "t"); #expect(occupied() == 4)
        engine.unexclude(prefix("10.42.9.0/24"), name: "t"); #expect(occupied() == 4)
        engine.unexclude(prefix("10.42.4.0/22"), name: "t"); #expect(occupied() == 3)
        var allocated = 0
        while engine.allocate(for: node("n\(allocated)")).podCIDRs != nil { allocated += 1 }
        #expect(allocated == 253)
    }

    @Test func a8BlockIndexOfSubnet() throws {
        let cases: [(String, Int, String, UInt128)] = [
            ("127.0.0.0/8", 16, "127.0.0.0/16", 0), ("127.0.0.0/8", 16, "127.123.0.0/16", 123),
            ("127.0.0.0/8", 16, "127.168.0.0/16", 168), ("127.0.0.0/8", 16, "127.224.0.0/16", 224),
            ("be00::/8", 112, "be00::/16", 0), ("be00::/8", 112, "beef::/16", 0xef),
            ("be00::/8", 112, "be68::/16", 0x68), ("be00::/8", 112, "be24::/16", 0x24),
            ("192.168.0.0/16", 8, "192.168.12.0/24", 12), ("192.168.0.0/16", 8, "192.168.151.0/24", 151),
            ("beef::/16", 104, "beef:1200::/24", 0x12), ("beef::/16", 104, "beef:9700::/24", 0x97),
        ]
        for (poolText, hostBits, subnet, expected) in cases {
            #expect(try family(poolText, hostBits: hostBits).blockIndex(of: prefix(subnet)) == expected)
        }
        #expect(throws: PoolDefinitionError.self) { try family("192.168.0.0/16", hostBits: 8).blockIndex(of: prefix("127.168.224.0/24")) }
        #expect(throws: PoolDefinitionError.self) { try family("beef::/16", hostBits: 104).blockIndex(of: prefix("2001:db00::/24")) }
    }

    @Test func a9SmallAndWidePools() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("v4", v4: "127.0.0.0/8", hostBits: 0))
        #expect(engine.allocate(for: node("a")).podCIDRs == ["127.0.0.0/32"])
        #expect(engine.allocate(for: node("b")).podCIDRs == ["127.0.0.1/32"])
        var v6 = AllocationEngine()
        v6.upsertPool(pool("v6", v6: "2001:beef:1234:369b::/60", hostBits: 64))
        #expect(v6.allocate(for: node("a")).podCIDRs == ["2001:beef:1234:3690::/64"])
        #expect(v6.allocate(for: node("b")).podCIDRs == ["2001:beef:1234:3691::/64"])
        // REF refuses a node prefix more than 16 bits longer than the pool; we do not (REC W17).
        var wide = AllocationEngine()
        wide.upsertPool(pool("wide", v6: "beef:1234::/32", hostBits: 79))
        #expect(wide.statistics(of: "wide")[0].total == UInt128(1) << 17)
        #expect(wide.allocate(for: node("a")).podCIDRs == ["beef:1234::/49"])
    }

    @Test func a10UsageFollowsAllocations() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        #expect(engine.statistics(of: "p")[0].total == 256)
        #expect(engine.statistics(of: "p")[0].occupied == 0)
        for i in 1...256 {
            _ = engine.allocate(for: node("n\(i)"))
            let stats = engine.statistics(of: "p")[0]
            #expect(stats.occupied == UInt128(i) && stats.allocated == UInt128(i) && stats.reservationsTotal == UInt64(i))
        }
        for i in 1...256 { engine.release(node: "n\(i)") }
        var stats = engine.statistics(of: "p")[0]
        #expect(stats.occupied == 0 && stats.free == 256 && stats.releasesTotal == 256 && stats.reservationsTotal == 256)
        engine.exclude(prefix("10.0.0.0/16"), name: "whole")
        stats = engine.statistics(of: "p")[0]
        #expect(stats.occupied == 256 && stats.free == 0 && stats.allocated == 0)
    }

    @Test func a11BulkOccupyThenAllocate() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        engine.exclude(prefix("10.0.0.0/17"), name: "half")
        #expect(engine.statistics(of: "p")[0].occupied == 128)
        #expect(engine.allocate(for: node("n")).podCIDRs == ["10.0.128.0/24"])
        #expect(engine.statistics(of: "p")[0].occupied == 129)
    }

    @Test func a12TwoFamiliesWholePools() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8))
        engine.upsertPool(pool("q", v6: "2001:db8::/48", hostBits: 64))
        engine.exclude(prefix("10.0.0.0/16"), name: "x")
        engine.exclude(prefix("2001:db8::/48"), name: "x")
        #expect(engine.statistics(of: "p")[0].occupied == 256)
        #expect(engine.statistics(of: "q")[0].occupied == 65_536)
        engine.unexclude(prefix("10.0.0.0/16"), name: "x")
        engine.unexclude(prefix("2001:db8::/48"), name: "x")
        #expect(engine.statistics(of: "p")[0].occupied == 0)
        #expect(engine.statistics(of: "q")[0].occupied == 0)
    }

    @Test func a13Capacity() {
        #expect(family("10.0.0.0/16", hostBits: 8).capacity == 256)
        #expect(family("2001:db8::/48", hostBits: 64).capacity == 65_536)
        #expect(family("2001:db8::/32", hostBits: 64).capacity == UInt128(1) << 32)
        #expect(family("::/0", hostBits: 4).capacity == UInt128(1) << 124)
    }

    @Test func a14AllocatedLookup() {
        for (v4, v6) in [("10.0.0.0/16", nil as String?), (nil as String?, "2001:db8::/48")] {
            var engine = AllocationEngine()
            engine.upsertPool(pool("p", v4: v4, v6: v6, hostBits: v4 != nil ? 8 : 64))
            let got = prefix(engine.allocate(for: node("n")).podCIDRs![0])
            #expect(!engine.isFree(got))
            let fam = engine.pool(named: "p")!.families[0]
            #expect(engine.isFree(fam.block(at: 1)))
            engine.release(node: "n")
            #expect(engine.isFree(got))
        }
    }

    @Test func a15OverlapQueries() {
        var engine = AllocationEngine()
        engine.adopt(node: node("n"), podCIDRs: ["10.0.5.0/24"])
        #expect(!engine.isFree(prefix("10.0.5.0/24")))
        #expect(!engine.isFree(prefix("10.0.0.0/16")))
        #expect(!engine.isFree(prefix("10.0.5.128/25")))
        #expect(engine.isFree(prefix("10.0.6.0/24")))
        #expect(!engine.isFree(prefix("10.0.4.0/22")))
        engine.adopt(node: node("m"), podCIDRs: ["2001:db8:0:1::/64"])
        #expect(!engine.isFree(prefix("2001:db8:0:1::/64")))
        #expect(engine.isFree(prefix("2001:db8:0:2::/64")))
        #expect(!engine.isFree(prefix("2001:db8::/48")))
        #expect(AllocationEngine().isFree(prefix("10.0.0.0/8")))
        engine.release(node: "n")
        #expect(engine.isFree(prefix("10.0.4.0/22")))
    }

    /// A16: the engine is a Sendable value; concurrent use goes through an actor, so data
    /// races are excluded by the compiler. This exercises concurrent callers for real.
    @Test func a16ConcurrentCallersThroughAnActor() async {
        actor Owner {
            var engine = AllocationEngine()
            init() { engine.upsertPool(pool("p", v4: "10.0.0.0/16", hostBits: 8)) }
            func occupy(_ i: Int) { engine.adopt(node: node("n\(i)"), podCIDRs: ["10.0.1.0/24"]) }
            func release(_ i: Int) { engine.release(node: "n\(i)") }
            func free() -> Bool { engine.isFree(prefix("10.0.1.0/24")) }
        }
        let owner = Owner()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { await owner.occupy(i); _ = await owner.free(); await owner.release(i) }
            }
        }
        #expect(await owner.free())
    }
}
