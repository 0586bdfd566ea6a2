import Benchmark
import MultiCIDR

// Next-fit allocation in one IPv4 /8 pool with a /24 per node (perNodeHostBits 8), driven the
// way the controller drives the engine: allocate for a node without podCIDRs, then confirm
// once the node carries them. One iteration is a batch of 1,000 distinct nodes; wall clock
// is reported per allocation (scaled by the batch).
//
// The pool holds 65,536 node ranges. The engine persists across iterations so that every
// batch allocates into a pool that already holds the previous batches (occupancy from 0 up
// to 64,000 ranges); when the next batch no longer fits, a fresh engine is built outside
// the measured region.
//
// Target (issue): at most 200 ns per allocation. Not met: measured p50 ~400 ns, p90 ~620 ns
// on this 2-core machine (2026-12-01). Most of what is left is hashing node names and labels
// (SipHash in Swift's Dictionary: the "already reserved?" lookup, the insert, the label
// lookup of the selector, and confirm's lookup) and growing the node table; see
// Benchmarks/README.md. The committed ceiling is a regression guard at 1,000 ns (p90).

let nodesPerBatch = BenchmarkScalingFactor.kilo.rawValue
let perAllocationCeiling = 1_000 // ns

let benchmarks: @Sendable () -> Void = {
    let pool = makeSlash8Pool()
    let capacity = 1 << 16
    let nodes = (0..<capacity).map { index in
        let name = "node-\(index)"
        return NodeAttributes(name: name, labels: [
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/zone": "zone-\(index % 3)",
        ])
    }

    func makeEngine() -> AllocationEngine {
        var engine = AllocationEngine()
        engine.upsertPool(pool)
        return engine
    }

    var engine = makeEngine()
    var allocated = 0

    Benchmark(
        "nextfit-ipv4-slash8-per-node-slash24",
        configuration: .init(
            metrics: [.wallClock, .throughput],
            timeUnits: .nanoseconds,
            warmupIterations: 5,
            scalingFactor: .kilo,
            maxDuration: .seconds(5),
            maxIterations: 650,
            // Raw values cover one batch of 1,000 allocations. The committed static threshold
            // (Thresholds/) is 0, so this tolerance is the ceiling: p90 <= 1,000 ns/allocation.
            thresholds: [.wallClock: .init(absolute: [.p90: perAllocationCeiling * nodesPerBatch])]
        )
    ) { benchmark in
        if allocated + nodesPerBatch > nodes.count {
            engine = makeEngine()
            allocated = 0
        }
        benchmark.startMeasurement()
        for offset in benchmark.scaledIterations {
            let node = nodes[allocated + offset]
            guard case .allocated = engine.allocate(for: node) else {
                fatalError("no range for \(node.name): the benchmark's pool should have room")
            }
            engine.confirm(node: node.name)
        }
        benchmark.stopMeasurement()
        allocated += nodesPerBatch
    }
}

private func makeSlash8Pool() -> PoolDefinition {
    do {
        let selector = PoolSelector.terms([
            SelectorTerm(matchExpressions: [SelectorRequirement(key: "kubernetes.io/os", operator: .in, values: ["linux"])]),
        ])
        let ipv4 = try PoolFamily(prefix: try IPPrefix(parsing: "10.0.0.0/8"), nodeHostBits: 8)
        return try PoolDefinition(name: "ipv4-slash8", selector: selector, ipv4: ipv4, ipv6: nil)
    } catch {
        fatalError("benchmark pool: \(error)")
    }
}
