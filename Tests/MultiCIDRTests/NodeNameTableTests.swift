import Testing
@testable import MultiCIDR

/// The node table answers like a Dictionary from name to id and an array back, through
/// growth, id reuse and removals from the middle of probe runs.
@Suite struct NodeNameTableTests {
    @Test(arguments: [1, 2, 3] as [UInt64]) func agreesWithADictionaryThroughInsertsAndRemovals(seed: UInt64) {
        var random = SeededGenerator(state: seed)
        var table = NodeNameTable()
        var model: [String: UInt32] = [:]
        var freeIDs: [UInt32] = []
        var nextID: UInt32 = 0
        // Few distinct names, so that removals and re-inserts hit long runs of the same buckets.
        for step in 0..<20_000 {
            let name = "node-\(Int.random(in: 0..<600, using: &random))"
            if let id = model[name] {
                #expect(table.remove(name) == id, "step \(step): remove \(name)")
                model[name] = nil
                freeIDs.append(id)
            } else {
                let id: UInt32
                if let reused = freeIDs.popLast() { id = reused } else { id = nextID; nextID += 1 }
                table.insert(name, id: id)
                model[name] = id
            }
            if step % 997 == 0 {
                for index in 0..<600 {
                    let probe = "node-\(index)"
                    #expect(table[probe] == model[probe], "step \(step): lookup \(probe)")
                }
            }
        }
        #expect(table.count == model.count)
        #expect(Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0.id) }) == model)
        for (name, id) in model { #expect(table.name(of: id) == name) }
        for id in freeIDs { #expect(table.name(of: id) == nil) }
        #expect(table.remove("never-recorded") == nil)
    }

    @Test func aRangesHolderIsNamedAfterItsIDWasReused() throws {
        var engine = AllocationEngine()
        engine.adopt(node: NodeAttributes(name: "first"), podCIDRs: ["10.0.0.0/24"])
        engine.release(node: "first")
        // "second" takes the id "first" had; "third" overlaps it and must name "second".
        engine.adopt(node: NodeAttributes(name: "second"), podCIDRs: ["10.0.1.0/24"])
        engine.exclude(try IPPrefix(parsing: "10.0.2.0/24"), name: "services")
        let report = engine.adopt(node: NodeAttributes(name: "third"), podCIDRs: ["10.0.0.0/22"])
        #expect(Set(report.conflicts.map(\.other)) == [.node("second"), .excluded("services")])
        #expect(engine.holders(overlapping: try IPPrefix(parsing: "10.0.1.0/24")).map(\.holder).sorted()
            == [.node("second"), .node("third")])
    }
}
