import Benchmark
import MultiCIDR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Memory of a million nodes: 1,000,000 allocations (allocate, then confirm, as the
// controller does) in one IPv6 /32 pool with a /64 per node (perNodeHostBits 64), into a
// fresh engine in a process that runs nothing else: what a controller process that starts
// and takes on a million nodes holds. One iteration only: further fills in the same process
// measure how malloc reuses the freed memory of the previous one, not the engine (measured:
// 168 MB resident peak for the second and third fills, against 132 MB for the first).
//
// Metrics:
// - peakMemoryResident: the resident set of the process, sampled by package-benchmark
//   every 5 ms while the benchmark runs;
// - max-resident-bytes: the kernel's high-water mark of the resident set (getrusage
//   ru_maxrss), which no short peak escapes;
// - wallClock and mallocCountTotal of the whole iteration, for information.
// Target: resident peak <= 128 MiB, on both resident metrics.

let nodeCount = 1_000_000
let residentTarget = 128 * 1_024 * 1_024 // bytes

let maxResident = BenchmarkMetric.custom("max-resident-bytes", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    let pool: PoolDefinition
    do {
        let ipv6 = try PoolFamily(prefix: try IPPrefix(parsing: "2001:db8::/32"), nodeHostBits: 64)
        pool = try PoolDefinition(name: "ipv6-slash32", selector: .catchAll, ipv4: nil, ipv6: ipv6)
    } catch {
        fatalError("benchmark pool: \(error)")
    }

    Benchmark(
        "1M-allocations-ipv6-slash32-per-node-slash64",
        configuration: .init(
            metrics: [.peakMemoryResident, maxResident, .wallClock, .mallocCountTotal],
            units: [.peakMemoryResident: .kilo, maxResident: .kilo],
            warmupIterations: 0,
            maxDuration: .seconds(60),
            maxIterations: 1,
            // The committed static thresholds (Thresholds/) are 0, so these tolerances are the
            // ceilings: p90 <= 128 MiB.
            thresholds: [
                .peakMemoryResident: .init(absolute: [.p90: residentTarget]),
                maxResident: .init(absolute: [.p90: residentTarget]),
            ]
        )
    ) { benchmark in
        var engine = AllocationEngine()
        engine.upsertPool(pool)
        for index in 0..<nodeCount {
            let node = NodeAttributes(name: "node-\(index)")
            guard case .allocated = engine.allocate(for: node) else {
                fatalError("no range for \(node.name): the benchmark's pool should have room")
            }
            engine.confirm(node: node.name)
        }
        guard engine.reservationCount == nodeCount, engine.heldRangeCount(.ipv6) == nodeCount else {
            fatalError("expected \(nodeCount) reservations, found \(engine.reservationCount)")
        }
        benchmark.measurement(maxResident, maxResidentBytes())
        blackHole(engine)
    }
}

/// The process's resident high-water mark in bytes (ru_maxrss is in KiB on Linux, bytes on macOS).
private func maxResidentBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
    return Int(usage.ru_maxrss) * 1_024
    #else
    guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
    return Int(usage.ru_maxrss)
    #endif
}
