import Foundation
@testable import KubeClient
import Testing

// LabelSet: interned labels for the node informer's projection (docs/realistic-nodes.md).

@Test func aLabelSetAnswersAsTheDictionaryItWasBuiltFrom() {
    let labels = ["kubernetes.io/hostname": "ip-10-0-1-17.eu-west-1.compute.internal", "kubernetes.io/os": "linux",
                  "topology.kubernetes.io/zone": "eu-west-1a", "empty": "", "same": "same"]
    let set = LabelSet(labels)
    #expect(set.dictionary == labels)
    #expect(set.count == 5)
    for (key, value) in labels { #expect(set[key] == value) }
    #expect(set["kubernetes.io/arch"] == nil)
    #expect(set["linux"] == nil, "a string held as a value is not a key of this set")
    #expect(LabelSet([:]).isEmpty && LabelSet([:]).dictionary.isEmpty && LabelSet([:])["x"] == nil)
}

@Test func equalLabelsMakeEqualSetsWhateverTheirOrder() {
    var forward: [String: String] = [:]
    var backward: [String: String] = [:]
    let entries = (0..<40).map { ("example.com/label-\($0)-with-a-long-key", "value-\($0 % 7)-long-enough-to-leave-inline-storage") }
    for (key, value) in entries { forward[key] = value }
    for (key, value) in entries.reversed() { backward[key] = value }
    // Both alive at once: numbers are only stable while a set names them.
    let a = LabelSet(forward), b = LabelSet(backward)
    #expect(a == b)
    #expect(a.hashValue == b.hashValue)
    var changed = forward
    changed["example.com/label-3-with-a-long-key"] = "other"
    #expect(LabelSet(changed) != LabelSet(forward))
    changed = forward
    changed["example.com/label-3-with-a-long-key"] = nil
    #expect(LabelSet(changed) != LabelSet(forward))
}

@Test func stringsNoSetNamesAnyMoreLeaveTheTable() {
    let host = "churned-node-\(UUID().uuidString).example.internal"
    let key = "example.com/only-on-churned-\(UUID().uuidString)"
    var first: LabelSet? = LabelSet(["kubernetes.io/hostname": host, key: host])
    var second: LabelSet? = LabelSet(["kubernetes.io/hostname": host])
    #expect(LabelTable.shared.holds(host) && LabelTable.shared.holds(key))
    #expect(first?[key] == host)
    first = nil
    #expect(!LabelTable.shared.holds(key))
    #expect(LabelTable.shared.holds(host), "still named by the second set")
    #expect(second?["kubernetes.io/hostname"] == host)
    second = nil
    #expect(!LabelTable.shared.holds(host))
    // A number freed by one string is reused for another without mixing them up.
    let reused = LabelSet(["kubernetes.io/hostname": "reused-\(UUID().uuidString)", "other": "x"])
    #expect(reused["kubernetes.io/hostname"]?.hasPrefix("reused-") == true && reused["other"] == "x")
}

@Test func setsBuiltAndDroppedOnManyThreadsKeepTheirValues() async {
    await withTaskGroup(of: Bool.self) { group in
        for worker in 0..<8 {
            group.addTask {
                var ok = true
                for round in 0..<2_000 {
                    let labels = ["kubernetes.io/hostname": "node-\(worker)-\(round % 17)-long-host-name", "zone": "zone-\(round % 3)",
                                  "kubernetes.io/os": "linux"]
                    let set = LabelSet(labels)
                    ok = ok && set.dictionary == labels && set["zone"] == labels["zone"]
                }
                return ok
            }
        }
        for await ok in group { #expect(ok) }
    }
}
