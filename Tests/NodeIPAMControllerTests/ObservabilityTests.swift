import Foundation
import Logging
@testable import NodeIPAMController
import Testing

@Suite struct ObservabilityTests {
    @Test func exposition() {
        let registry = MetricsRegistry()
        let counter = registry.counter("c_total", help: "A counter.", labels: ["name"])
        counter.inc(["a \"quoted\"\\name\nx"], by: 2)
        let histogram = registry.histogram("h", help: "A histogram.", buckets: [1, 5])
        histogram.observe([], 0.5)
        histogram.observe([], 3)
        histogram.observe([], 7)
        let text = registry.render()
        #expect(text.contains("# TYPE c_total counter\n"))
        #expect(text.contains(#"c_total{name="a \"quoted\"\\name\nx"} 2"#))
        #expect(text.contains("h_bucket{le=\"1\"} 1\nh_bucket{le=\"5\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 10.5\nh_count 3\n"))
    }

    @Test func deletedPoolsLeaveNoSeries() {
        let metrics = IPAMMetrics(registry: MetricsRegistry())
        metrics.poolFamily(name: "a", cidr: "10.0.0.0/16", maxCIDRs: 256, occupied: 64, free: 192)
        metrics.allocated(name: "a", cidr: "10.0.0.0/16", count: 1)
        metrics.poolFamily(name: "b", cidr: "fd00::/48", maxCIDRs: UInt128(1) << 16, occupied: 0, free: UInt128(1) << 16)
        #expect(metrics.usage.value(["10.0.0.0/16", "a"]) == 0.25)
        metrics.removePool(name: "a")
        let text = metrics.render()
        #expect(!text.contains("clusterCIDRName=\"a\""))
        #expect(text.contains("node_ipam_controller_multicidrset_max_cidrs{clusterCIDR=\"fd00::/48\",clusterCIDRName=\"b\"} 65536"))
    }

    @Test func bindAddresses() throws {
        #expect(try HealthServer.parse(":8081") == ("0.0.0.0", 8081))
        #expect(try HealthServer.parse("[::1]:9") == ("::1", 9))
        #expect(try HealthServer.parse("127.0.0.1:0") == ("127.0.0.1", 0))
        #expect(throws: HealthServer.BindAddressError.self) { try HealthServer.parse("8081") }
        #expect(throws: HealthServer.BindAddressError.self) { try HealthServer.parse("host:99999") }
    }

    @Test func jsonLogLinesParse() throws {
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var lines: [String] = []
        }
        let lines = Lines()
        var handler = IPAMLogHandler(label: "t", format: .json, level: .info) { line in lines.lock.withLock { lines.lines.append(line) } }
        handler.metadata["node"] = "n\"1"
        let logger = Logger(label: "t", factory: { _ in handler })
        logger.info("set podCIDRs", metadata: ["podCIDRs": "10.0.0.0/24"])
        logger.debug("hidden")
        #expect(lines.lines.count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(lines.lines[0].utf8)) as? [String: String]
        #expect(object?["msg"] == "set podCIDRs" && object?["node"] == "n\"1" && object?["podCIDRs"] == "10.0.0.0/24" && object?["level"] == "info")
        #expect(IPAMLogHandler.level(verbosity: 0) == .info && IPAMLogHandler.level(verbosity: 2) == .debug && IPAMLogHandler.level(verbosity: 5) == .trace)
    }
}
