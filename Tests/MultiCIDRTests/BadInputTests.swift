import Testing
@testable import MultiCIDR

/// Bad input never crashes: it is rejected with a message, or held and reported.
@Suite struct BadInputTests {
    @Test func randomTextNeverCrashesTheParser() {
        var random = SeededGenerator(state: 42)
        let alphabet = Array("0123456789abcdefABCDEF:./%-+ xg")
        var accepted = 0
        for _ in 0..<20_000 {
            let text = String((0..<Int.random(in: 0...24, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            if let parsed = try? IPPrefix(parsing: text) {
                accepted += 1
                // Whatever parses prints canonically and parses back to itself.
                #expect((try? IPPrefix(parsing: parsed.description)) == parsed)
            }
        }
        #expect(accepted < 20_000)
    }

    @Test func canonicalRoundTripOfRandomPrefixes() throws {
        var random = SeededGenerator(state: 7)
        for _ in 0..<5_000 {
            let v6 = Bool.random(using: &random)
            let value = v6 ? UInt128(random.next()) << 64 | UInt128(random.next() & (random.next() % 3 == 0 ? 0 : .max))
                           : UInt128(UInt32.random(in: 0...UInt32.max, using: &random))
            let family: IPFamily = v6 ? .ipv6 : .ipv4
            let original = IPPrefix(address: IPAddress(family: family, value: value), length: Int.random(in: 0...family.bitWidth, using: &random))
            #expect(try IPPrefix(parsing: original.description) == original)
        }
    }

    @Test(arguments: [-1, -4, 33, 200, Int.max, Int.min])
    func absurdHostBitsAreRejected(hostBits: Int) {
        #expect(throws: PoolDefinitionError.self) { try PoolFamily(prefix: prefix("10.0.0.0/16"), nodeHostBits: hostBits) }
    }

    @Test func poolDefinitionsNameTheProblem() {
        #expect(throws: PoolDefinitionError("pool p has neither an IPv4 nor an IPv6 range")) {
            try PoolDefinition(name: "p", selector: .catchAll, ipv4: nil, ipv6: nil)
        }
        #expect(throws: PoolDefinitionError("per-node host bits 17 are more than the 16 host bits of 10.0.0.0/16")) {
            try PoolFamily(prefix: prefix("10.0.0.0/16"), nodeHostBits: 17)
        }
        #expect(throws: PoolDefinitionError.self) {
            try PoolDefinition(name: "p", selector: .catchAll, ipv4: family("fd00::/64", hostBits: 8), ipv6: nil)
        }
    }

    @Test func garbageSelectorsMatchNothingInsteadOfCrashing() {
        let garbage = PoolSelector.terms([SelectorTerm(matchExpressions: [
            SelectorRequirement(key: "", operator: .greaterThan, values: []),
            SelectorRequirement(key: "k", operator: .lessThan, values: ["1", "2"]),
            SelectorRequirement(key: "k", operator: .in, values: []),
        ])])
        #expect(garbage.matchCount(for: node("n", ["k": "0", "": "9"])) == nil)
        var engine = AllocationEngine()
        engine.upsertPool(pool("g", garbage, v4: "10.0.0.0/16", hostBits: 8))
        #expect(engine.allocate(for: node("n", ["k": "0"])) == .noMatchingPool(node: "n"))
    }

    @Test func hugePoolsAndTinyBlocks() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("all-v4", v4: "0.0.0.0/0", hostBits: 0))
        engine.upsertPool(pool("all-v6", labels(["v6": "yes"]), v6: "::/0", hostBits: 1))
        #expect(engine.allocate(for: node("a")).podCIDRs == ["0.0.0.0/32"])
        #expect(engine.allocate(for: node("b", ["v6": "yes"])).podCIDRs == ["::/127"])
        #expect(engine.statistics(of: "all-v6")[0].total == UInt128(1) << 127)
        // An adopted range that covers a whole pool exhausts it without enumerating blocks.
        engine.adopt(node: node("whole"), podCIDRs: ["::/1"])
        // ::/1 covers half the pool, including the /127 node b holds.
        #expect(engine.statistics(of: "all-v6")[0].free == UInt128(1) << 126)
    }
}
