import Benchmark
import Foundation
import KubeClient

// Real-shaped Nodes through the projection the controller's informer keeps: the 13 KB
// kubelet-shaped fixture (Tests/Fixtures/realistic-node.json, from hack/benchlib.py
// realistic_node: 13 labels, 8 conditions, 40 images, nodeInfo, managedFields).
//
// - decode-realistic-node: one Node read by `ProjectionDecoder.nodeSummary`, what every watch
//   event and LIST item costs before the controller sees it; 1,000 per iteration.
//   Ceiling: p90 ≤ 50 µs per node (50 ms per iteration).
// - 50000-realistic-nodes-kept: 50,000 such Nodes (each its own name and hostname label)
//   read and kept, as the informer keeps them; in a fresh process. Ceiling: resident peak
//   ≤ 96 MiB, the controller's whole budget at 50,000 nodes being 150 MiB (issue 15).

let fixture: Data = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/realistic-node.json")
    guard let data = try? Data(contentsOf: url) else { fatalError("cannot read \(url.path)") }
    return data
}()

/// Where the fixture's name (also its hostname label) lies, to be overwritten in place.
let nameOffsets: [Int] = {
    let name = Array("ip-node-01234".utf8)
    let bytes = Array(fixture)
    return (0...(bytes.count - name.count)).filter { bytes[$0..<($0 + name.count)].elementsEqual(name) }
}()

/// The fixture with its name (and hostname label) replaced by one of the same length.
func node(_ index: Int) -> Data {
    let digits = Array(String(index).utf8)
    var data = fixture
    for offset in nameOffsets {
        for position in 0..<5 {
            let digit = position < 5 - digits.count ? UInt8(ascii: "0") : digits[position - (5 - digits.count)]
            data[offset + 8 + position] = digit
        }
    }
    return data
}

let decodesPerIteration = 1_000
let decodeCeiling = 50_000 * decodesPerIteration // ns per iteration
let keptNodes = 50_000
let residentCeiling = 96 * 1_024 * 1_024 // bytes

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "decode-realistic-node",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .throughput],
            maxDuration: .seconds(5),
            maxIterations: 200,
            // The committed static threshold (Thresholds/) is 0: the tolerance is the ceiling.
            thresholds: [.wallClock: .init(absolute: [.p90: decodeCeiling])]
        )
    ) { benchmark in
        let json = fixture
        for _ in benchmark.scaledIterations {
            for _ in 0..<decodesPerIteration {
                let summary = try ProjectionDecoder.nodeSummary.decode(json)
                guard summary.value.podCIDRs.count == 1 else { fatalError("the fixture has one podCIDR") }
                blackHole(summary)
            }
        }
    }

    Benchmark(
        "50000-realistic-nodes-kept",
        configuration: .init(
            metrics: [.peakMemoryResident, .wallClock, .mallocCountTotal],
            units: [.peakMemoryResident: .kilo],
            warmupIterations: 0,
            maxDuration: .seconds(120),
            maxIterations: 1,
            thresholds: [.peakMemoryResident: .init(absolute: [.p90: residentCeiling])]
        )
    ) { benchmark in
        var kept: [String: NodeSummary] = [:]
        kept.reserveCapacity(keptNodes)
        for index in 0..<keptNodes {
            let summary = try ProjectionDecoder.nodeSummary.decode(node(index)).value
            kept[summary.name] = summary
        }
        guard kept.count == keptNodes, kept["ip-node-00007"]?.labels["kubernetes.io/hostname"] == "ip-node-00007" else {
            fatalError("expected \(keptNodes) distinct nodes, each with its own hostname label")
        }
        blackHole(kept)
    }
}
