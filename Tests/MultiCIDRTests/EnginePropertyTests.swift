import Testing
@testable import MultiCIDR

/// Deterministic pseudo-random numbers (SplitMix64) so failures reproduce from the seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random sequences of pool add/remove/terminate, node allocate/adopt/release, label
/// changes and exclusions; after every step the engine is checked against a recount made
/// from first principles (plain lists, no index).
@Suite struct EnginePropertyTests {
    static let catalog: [PoolDefinition] = [
        pool("zone-a", labels(["zone": "a"]), v4: "10.0.0.0/22", v6: "fd00::/120", hostBits: 6),
        pool("zone-a-small", labels(["zone": "a"]), v4: "10.0.1.0/24", hostBits: 4),
        pool("zone-b", labels(["zone": "b"]), v4: "10.0.0.0/21", hostBits: 8),
        pool("rack", .terms([SelectorTerm(matchExpressions: [SelectorRequirement(key: "rack", operator: .exists)]),
                             SelectorTerm(matchFields: [SelectorRequirement(key: "metadata.name", operator: .in, values: ["n3", "n4"])])]),
             v6: "fd00::/116", hostBits: 8),
        pool("everything", .terms([]), v4: "10.0.2.0/23", v6: "fd00::/118", hostBits: 7),
        pool("fallback", v4: "10.0.4.0/22", hostBits: 8),
        pool("fallback-dual", v4: "10.0.0.0/20", v6: "fd00::/112", hostBits: 9),
        pool("tiny", labels(["zone": "b", "rack": "r1"]), v4: "10.0.3.0/28", hostBits: 2),
    ]
    static let labelChoices: [[String: String]] = [
        [:], ["zone": "a"], ["zone": "b"], ["zone": "b", "rack": "r1"], ["rack": "r2"], ["zone": "a", "rack": "r1"],
    ]

    struct Model {
        var pools: [String: PoolDefinition] = [:]
        var terminating: Set<String> = []
        var labels: [String: [String: String]] = [:]
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func invariantsHoldAfterEveryStep(seed: UInt64) {
        var random = SeededGenerator(state: seed)
        var engine = AllocationEngine()
        var model = Model()
        let nodes = (0..<24).map { "n\($0)" }
        for step in 0..<600 {
            let nodeName = nodes.randomElement(using: &random)!
            let attributes = node(nodeName, model.labels[nodeName] ?? [:])
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<10:
                let definition = Self.catalog.randomElement(using: &random)!
                engine.upsertPool(definition)
                model.pools[definition.name] = definition
                model.terminating.remove(definition.name)
            case 10..<13:
                let name = Self.catalog.randomElement(using: &random)!.name
                engine.removePool(named: name)
                model.pools[name] = nil
                model.terminating.remove(name)
            case 13..<16:
                let name = Self.catalog.randomElement(using: &random)!.name
                if model.pools[name] != nil {
                    engine.setTerminating(name)
                    model.terminating.insert(name)
                }
            case 16..<50:
                let before = engine.allReservations
                let outcome = engine.allocate(for: attributes)
                if case .allocated(let reservation, _) = outcome {
                    // A fresh allocation overlaps nothing that was held before.
                    for range in reservation.ranges {
                        for other in before where other.node != nodeName {
                            #expect(!other.ranges.contains { $0.overlaps(range) }, "seed \(seed) step \(step): \(range) overlaps \(other)")
                        }
                        for name in ["svc", "blocked"] {
                            #expect(!engine.excludedRanges(named: name).contains { $0.overlaps(range) })
                        }
                    }
                    // It came from the best non-terminating selecting pool that had room.
                    let pool = model.pools[reservation.pool!]!
                    #expect(pool.selector.matchCount(for: attributes) != nil)
                    #expect(!model.terminating.contains(pool.name))
                    #expect(reservation.ranges.count == pool.families.count)
                    if Bool.random(using: &random) { engine.confirm(node: nodeName) }
                } else if case .alreadyReserved = outcome {
                    #expect(before.contains { $0.node == nodeName })
                } else {
                    #expect(!before.contains { $0.node == nodeName })
                }
            case 50..<62:
                let family = Bool.random(using: &random) ? "10.0.\(Int.random(in: 0..<16, using: &random)).\(Int.random(in: 0..<4, using: &random) * 64)/\(Int.random(in: 22...26, using: &random))"
                                                          : "fd00::\(String(Int.random(in: 0..<64, using: &random) * 256, radix: 16))/\(Int.random(in: 110...120, using: &random))"
                let held = engine.allReservations
                let report = engine.adopt(node: attributes, podCIDRs: [family])
                let range = prefix(family)
                let overlapsOthers = held.contains { $0.node != nodeName && $0.ranges.contains { $0.overlaps(range) } }
                    || ["svc", "blocked"].contains { engine.excludedRanges(named: $0).contains { $0.overlaps(range) } }
                #expect(report.conflicts.isEmpty == !overlapsOthers, "seed \(seed) step \(step): conflicts \(report.conflicts)")
                #expect(engine.reservation(for: nodeName)?.ranges == [range])
            case 62..<80:
                let before = engine.reservation(for: nodeName)
                #expect(engine.release(node: nodeName) == before)
                #expect(engine.reservation(for: nodeName) == nil)
            case 80..<90:
                model.labels[nodeName] = Self.labelChoices.randomElement(using: &random)!
            case 90..<95:
                engine.exclude(prefix("10.0.\(Int.random(in: 0..<16, using: &random)).0/\(Int.random(in: 23...27, using: &random))"), name: "svc")
            default:
                engine.unexclude(prefix("10.0.\(Int.random(in: 0..<16, using: &random)).0/\(Int.random(in: 22...26, using: &random))"), name: "svc")
            }
            checkInvariants(engine, model, seed: seed, step: step)
        }
    }

    func checkInvariants(_ engine: AllocationEngine, _ model: Model, seed: UInt64, step: Int) {
        let reservations = engine.allReservations
        // Allocated reservations never overlap each other.
        let allocated = reservations.filter { $0.origin == .allocated }
        for (i, a) in allocated.enumerated() {
            for b in allocated[(i + 1)...] {
                for x in a.ranges { #expect(!b.ranges.contains { $0.overlaps(x) }, "seed \(seed) step \(step): \(a) overlaps \(b)") }
            }
        }
        #expect(Set(engine.poolNames) == Set(model.pools.keys))
        for (name, definition) in model.pools {
            let members = reservations.filter { $0.pool == name }
            // Every associated reservation lies in its pool with the pool's node size.
            for member in members { #expect(AllocationEngine.fits(member.ranges, definition), "seed \(seed) step \(step): \(member)") }
            #expect(engine.associatedNodes(of: name) == Set(members.map(\.node)))
            #expect(engine.associatedNodeCount(of: name) == members.count)
            for (family, stats) in zip(definition.families, engine.statistics(of: name)) {
                #expect(stats.allocated == UInt128(members.filter { $0.ranges.contains { $0.family == family.family } }.count))
                // Recount occupied blocks by brute force over plain lists.
                let held = reservations.flatMap(\.ranges) + engine.excludedRanges(named: "svc")
                var occupied: UInt128 = 0
                for blockIndex in 0..<family.capacity where held.contains(where: { $0.overlaps(family.block(at: blockIndex)) }) {
                    occupied += 1
                }
                #expect(stats.occupied == occupied, "seed \(seed) step \(step): pool \(name) \(family.family)")
                #expect(stats.total == family.capacity)
            }
        }
        let heldPairs = reservations.reduce(0) { $0 + $1.ranges.count } + engine.excludedRanges(named: "svc").count
        #expect(engine.heldRangeCount(.ipv4) + engine.heldRangeCount(.ipv6) == heldPairs)
    }
}
