import Testing
@testable import MultiCIDR

/// The outcome's skipped blocks feed the reference's allocation-tries histogram: the candidates
/// between the pool's cursor and the block taken.
@Test func skippedBlocksCountTheCandidatesPassedOver() throws {
    var engine = AllocationEngine()
    let pool = try PoolDefinition(name: "p", selector: .catchAll,
                                  ipv4: try PoolFamily(prefix: try IPPrefix(parsing: "10.0.0.0/28"), nodeHostBits: 2),
                                  ipv6: try PoolFamily(prefix: try IPPrefix(parsing: "fd00::/120"), nodeHostBits: 6))
    engine.upsertPool(pool)
    // Another node holds the first two IPv4 blocks (one /29): the first allocation passes over them.
    engine.adopt(node: NodeAttributes(name: "old"), podCIDRs: ["10.0.0.0/29"])
    guard case .allocated(let first, let firstTrace) = engine.allocate(for: NodeAttributes(name: "a")) else { Issue.record("no range"); return }
    #expect(first.podCIDRs == ["10.0.0.8/30", "fd00::/122"])
    #expect(firstTrace.skippedBlocks(.ipv4) == 2 && firstTrace.skippedBlocks(.ipv6) == 0)
    guard case .allocated(_, let secondTrace) = engine.allocate(for: NodeAttributes(name: "b")) else { Issue.record("no range"); return }
    #expect(secondTrace.skippedBlocks(.ipv4) == 0 && secondTrace.skippedBlocks(.ipv6) == 0)
    // The IPv4 cursor wrapped to block 0, held by "old" until it goes; then nothing is skipped.
    engine.release(node: "old")
    guard case .allocated(let third, let thirdTrace) = engine.allocate(for: NodeAttributes(name: "c")) else { Issue.record("no range"); return }
    #expect(third.podCIDRs == ["10.0.0.0/30", "fd00::80/122"])
    #expect(thirdTrace.skippedBlocks(.ipv4) == 0 && thirdTrace.skippedBlocks(.ipv6) == 0)
    // Block 1 is free, 2 and 3 are taken: from cursor 1 nothing is skipped; then the next
    // allocation wraps past the taken 2 and 3 and takes nothing (full) — the outcome says so.
    guard case .allocated(let fourth, _) = engine.allocate(for: NodeAttributes(name: "d")) else { Issue.record("no range"); return }
    #expect(fourth.podCIDRs.first == "10.0.0.4/30")
    guard case .exhausted = engine.allocate(for: NodeAttributes(name: "e")) else { Issue.record("expected a full pool"); return }
}
