import Testing
@testable import MultiCIDR

/// The engine evaluates compiled selectors (label keys looked up once per decision); they
/// must agree with `PoolSelector.matchCount` and the ranking of `PoolRankKey` everywhere.
@Suite struct CompiledSelectorTests {
    static let keys = ["zone", "rack", "gpu", "gen", "role", "metadata.name", "kubernetes.io/os"]
    static let values = ["a", "b", "c", "1", "5", "10", "-3", "x1", "true", ""]

    static func requirement(_ random: inout SeededGenerator, field: Bool) -> SelectorRequirement {
        let op = SelectorOperator.allCases.randomElement(using: &random)!
        let key = field ? (Bool.random(using: &random) ? "metadata.name" : "spec.unschedulable") : keys.randomElement(using: &random)!
        let count = op == .exists || op == .doesNotExist ? Int.random(in: 0...1, using: &random) : Int.random(in: 0...3, using: &random)
        let chosen = (0..<count).map { _ in (values + ["n1", "n2"]).randomElement(using: &random)! }
        return SelectorRequirement(key: key, operator: op, values: chosen)
    }

    static func selector(_ random: inout SeededGenerator) -> PoolSelector {
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return .catchAll
        case 1: return .terms([])
        default:
            return .terms((0..<Int.random(in: 1...3, using: &random)).map { _ in
                SelectorTerm(matchExpressions: (0..<Int.random(in: 0...3, using: &random)).map { _ in requirement(&random, field: false) },
                             matchFields: (0..<Int.random(in: 0...1, using: &random)).map { _ in requirement(&random, field: true) })
            })
        }
    }

    static func node(_ random: inout SeededGenerator) -> NodeAttributes {
        var labels: [String: String] = [:]
        for key in keys where Bool.random(using: &random) { labels[key] = values.randomElement(using: &random)! }
        return NodeAttributes(name: ["n1", "n2", "n3"].randomElement(using: &random)!, labels: labels)
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func compiledSelectorsAndRankingAgreeWithTheDefinitions(seed: UInt64) throws {
        var random = SeededGenerator(state: seed)
        var engine = AllocationEngine()
        var definitions: [PoolDefinition] = []
        for index in 0..<40 {
            let family = try PoolFamily(prefix: try IPPrefix(parsing: "10.\(index).0.0/\(16 + index % 5)"), nodeHostBits: 8 - index % 3)
            let pool = try PoolDefinition(name: "pool-\(index)", selector: Self.selector(&random), ipv4: family, ipv6: nil)
            definitions.append(pool)
            engine.upsertPool(pool)
        }
        var table = LabelKeyTable()
        let compiled = definitions.map { CompiledSelector($0.selector, keys: &table) }
        var buffer: [String?] = []
        for _ in 0..<500 {
            let node = Self.node(&random)
            table.values(of: node.labels, into: &buffer)
            for (definition, selector) in zip(definitions, compiled) {
                #expect(selector.matchCount(name: node.name, labels: buffer) == definition.selector.matchCount(for: node),
                        "\(definition.selector) on \(node)")
            }
            // The reference order: selector pools by PoolRankKey, then catch-all pools the same way.
            let expected = definitions.compactMap { pool in pool.selector.matchCount(for: node).map { (pool, $0) } }
                .sorted { a, b in
                    if a.0.selector.isCatchAll != b.0.selector.isCatchAll { return !a.0.selector.isCatchAll }
                    return PoolRankKey(pool: a.0, matchCount: a.1) < PoolRankKey(pool: b.0, matchCount: b.1)
                }
                .map(\.0.name)
            #expect(engine.rankedPools(for: node) == expected)
        }
    }

    @Test func aFullPoolIsSkippedUntilARangeInsideItIsReleased() throws {
        var engine = AllocationEngine()
        let small = try PoolDefinition(name: "a-small", selector: .terms([]), ipv4: try PoolFamily(prefix: try IPPrefix(parsing: "10.0.0.0/30"), nodeHostBits: 1), ipv6: nil)
        let big = try PoolDefinition(name: "b-big", selector: .terms([]), ipv4: try PoolFamily(prefix: try IPPrefix(parsing: "10.1.0.0/24"), nodeHostBits: 1), ipv6: nil)
        engine.upsertPool(small)
        engine.upsertPool(big)
        let reservations = (0..<4).map { engine.allocate(for: NodeAttributes(name: "n\($0)")) }
        let pools = reservations.map { outcome -> String? in if case .allocated(let r, _) = outcome { r.pool } else { nil } }
        #expect(pools == ["a-small", "a-small", "b-big", "b-big"])
        // Releasing a range outside the full pool leaves it full; one inside frees it.
        engine.release(node: "n2")
        guard case .allocated(let next, _) = engine.allocate(for: NodeAttributes(name: "n4")) else { Issue.record("no range"); return }
        #expect(next.pool == "b-big")
        engine.release(node: "n0")
        guard case .allocated(let back, _) = engine.allocate(for: NodeAttributes(name: "n5")) else { Issue.record("no range"); return }
        #expect(back.pool == "a-small" && back.podCIDRs == ["10.0.0.0/31"])
        // An excluded range that is lifted frees blocks as well.
        engine.exclude(try IPPrefix(parsing: "10.0.0.0/30"), name: "svc")
        engine.release(node: "n1")
        engine.release(node: "n5")
        guard case .allocated(let blocked, _) = engine.allocate(for: NodeAttributes(name: "n6")) else { Issue.record("no range"); return }
        #expect(blocked.pool == "b-big")
        engine.unexclude(try IPPrefix(parsing: "10.0.0.0/30"), name: "svc")
        guard case .allocated(let freed, _) = engine.allocate(for: NodeAttributes(name: "n7")) else { Issue.record("no range"); return }
        #expect(freed.pool == "a-small")
    }
}
