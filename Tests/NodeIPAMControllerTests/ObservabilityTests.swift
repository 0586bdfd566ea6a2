import Foundation
@testable import KubeClient
import Logging
@testable import MultiCIDR
@testable import NodeIPAMController
import Synchronization
import Testing
import TestSupport

@Suite struct ObservabilityTests {
    /// One sample of an exposition: name, labels, value.
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Parses the text format (the subset swift-prometheus writes: no timestamps).
    static func samples(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line -> Sample? in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
            var labels: [String: String] = [:]
            var rest = series[series.index(after: brace)...].dropLast()
            while let equals = rest.firstIndex(of: "=") {
                let key = String(rest[..<equals])
                var value = ""
                var index = rest.index(equals, offsetBy: 2)
                while rest[index] != "\"" {
                    if rest[index] == "\\" { index = rest.index(after: index) }
                    value.append(rest[index])
                    index = rest.index(after: index)
                }
                labels[key] = value
                rest = rest[rest.index(after: index)...].drop { $0 == "," }
            }
            return Sample(name: String(series[..<brace]), labels: labels, value: value)
        }
    }

    static func value(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples(text).first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }

    static func statistics(_ prefix: String, total: UInt128, allocated: UInt128, free: UInt128) -> PoolFamilyStatistics {
        let parsed = try! IPPrefix(parsing: prefix)
        return PoolFamilyStatistics(family: parsed.family, prefix: parsed, nodePrefixLength: parsed.family == .ipv4 ? 24 : 64,
                                    total: total, allocated: allocated, free: free, reservationsTotal: 0, releasesTotal: 0)
    }

    @Test func poolSeriesPerFamilyAndReferenceNames() {
        let metrics = IPAMMetrics()
        metrics.poolFamily(name: "a", statistics: Self.statistics("10.0.0.0/16", total: 256, allocated: 60, free: 192))
        metrics.poolFamily(name: "a", statistics: Self.statistics("fd00::/48", total: UInt128(1) << 16, allocated: 3, free: (UInt128(1) << 16) - 3))
        metrics.allocated(name: "a", cidr: "10.0.0.0/16", count: 2)
        metrics.allocationTries(name: "a", cidr: "10.0.0.0/16", tries: 3)
        let text = metrics.render()
        // The reference's five keep their camelCase labels.
        #expect(Self.value(text, "node_ipam_controller_multicidrset_usage_cidrs", ["clusterCIDR": "10.0.0.0/16", "clusterCIDRName": "a"]) == 0.25)
        #expect(Self.value(text, "node_ipam_controller_multicidrset_max_cidrs", ["clusterCIDR": "fd00::/48", "clusterCIDRName": "a"]) == 65536)
        #expect(Self.value(text, "node_ipam_controller_multicidrset_cidrs_allocations_total", ["clusterCIDRName": "a", "clusterCIDR": "10.0.0.0/16"]) == 2)
        #expect(Self.value(text, "node_ipam_controller_multicidrset_cidrs_releases_total", ["clusterCIDRName": "a", "clusterCIDR": "10.0.0.0/16"]) == 0)
        #expect(Self.value(text, "node_ipam_controller_multicidrset_allocation_tries_per_request_bucket", ["clusterCIDRName": "a", "le": "5.0"]) == 1)
        // Ours: snake_case, one series per family.
        let v4 = ["pool": "a", "family": "ipv4", "cidr": "10.0.0.0/16"]
        let v6 = ["pool": "a", "family": "ipv6", "cidr": "fd00::/48"]
        #expect(Self.value(text, "node_ipam_controller_pool_capacity_ranges", v4) == 256)
        #expect(Self.value(text, "node_ipam_controller_pool_allocated_ranges", v4) == 60)
        #expect(Self.value(text, "node_ipam_controller_pool_free_ranges", v4) == 192)
        #expect(Self.value(text, "node_ipam_controller_pool_usage_ratio", v4) == 0.25)
        #expect(Self.value(text, "node_ipam_controller_pool_allocated_ranges", v6) == 3)
        #expect(Self.value(text, "node_ipam_controller_build_info", ["version": BuildInfo.version, "git_commit": BuildInfo.commit]) == 1)
        for sample in Self.samples(text) where !IPAMMetrics.referenceNames.contains(where: { sample.name.hasPrefix($0) }) {
            #expect(sample.labels.keys.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } }, "\(sample.name) has a label that is not snake_case")
        }
    }

    @Test func deletedPoolsLeaveNoSeries() {
        let metrics = IPAMMetrics()
        metrics.poolFamily(name: "a", statistics: Self.statistics("10.0.0.0/16", total: 256, allocated: 64, free: 192))
        metrics.allocated(name: "a", cidr: "10.0.0.0/16", count: 1)
        metrics.released(name: "a", cidr: "10.0.0.0/16", count: 1)
        metrics.allocationTries(name: "a", cidr: "10.0.0.0/16", tries: 1)
        metrics.poolFamily(name: "b", statistics: Self.statistics("fd00::/48", total: UInt128(1) << 16, allocated: 0, free: UInt128(1) << 16))
        metrics.removePool(name: "a")
        let samples = Self.samples(metrics.render())
        #expect(!samples.contains { $0.labels["clusterCIDRName"] == "a" || $0.labels["pool"] == "a" })
        #expect(samples.contains { $0.name == "node_ipam_controller_pool_free_ranges" && $0.labels["pool"] == "b" && $0.value == 65536 })
    }

    @Test func clusterLabelOnEverySeriesOnlyWhenSet() throws {
        let client = ClientMetrics()
        for clusterName in [nil, "", "prod-eu"] as [String?] {
            let metrics = IPAMMetrics(clusterName: clusterName)
            metrics.attachClientMetrics(client)
            metrics.observeQueues { [("nodes", 4)] }
            metrics.observeProbes(readiness: { HealthCheck(ok: true, detail: "") }, liveness: { HealthCheck(ok: false, detail: "") })
            metrics.poolFamily(name: "a", statistics: Self.statistics("10.0.0.0/16", total: 256, allocated: 0, free: 256))
            metrics.eventRecorded(type: "Warning", reason: "CIDRNotAvailable")
            metrics.observeAllocationLatency(seconds: 0.2)
            client.record(verb: "PATCH", code: 200, seconds: 0.01)
            let text = metrics.render()
            let samples = Self.samples(text)
            #expect(samples.count > 40)
            if clusterName == "prod-eu" {
                #expect(samples.allSatisfy { $0.labels["cluster"] == "prod-eu" })
            } else {
                #expect(samples.allSatisfy { $0.labels["cluster"] == nil })
            }
            #expect(Self.value(text, "node_ipam_controller_workqueue_depth", ["queue": "nodes"]) == 4)
            #expect(Self.value(text, "node_ipam_controller_ready") == 1)
            #expect(Self.value(text, "node_ipam_controller_healthy") == 0)
            #expect(Self.value(text, "node_ipam_controller_api_requests_total", ["verb": "PATCH", "code": "200"]) == 1)
            #expect(Self.value(text, "process_resident_memory_bytes").map { $0 > 1_000_000 } == true)
            #expect(Self.value(text, "process_open_fds").map { $0 >= 3 } == true)
        }
    }

    @Test func apiErrorsCountFailuresOnly() {
        let client = ClientMetrics()
        let metrics = IPAMMetrics()
        metrics.attachClientMetrics(client)
        for code in [200, 201, 404, 409, 0, 401, 403, 429, 500, 503, 0] { client.record(verb: "GET", code: code, seconds: 0.001) }
        let samples = Self.samples(metrics.render())
        let errors = samples.filter { $0.name == "node_ipam_controller_api_errors_total" }
        #expect(errors.reduce(0) { $0 + $1.value } == 7)
        #expect(Set(errors.map { $0.labels["code"] ?? "" }) == ["0", "401", "403", "429", "500", "503"])
        #expect(samples.filter { $0.name == "node_ipam_controller_api_requests_total" }.reduce(0) { $0 + $1.value } == 11)
        #expect(samples.first { $0.name == "node_ipam_controller_api_request_duration_seconds_count" }?.value == 11)
    }

    @Test func processStatParses() throws {
        // The command name may hold spaces and parentheses.
        let line = "4242 (node (ipam) x) S 1 4242 4242 0 -1 4194560 3100 0 0 0 250 50 0 0 20 0 9 0 123400 812345344 12000 18446744073709551615 1 1 0 0 0 0 0 4096 17987 0 0 0 17 1 0 0 0 0 0"
        let stat = try #require(ProcessMetrics.Stat(line))
        #expect(stat.utimeTicks == 250 && stat.stimeTicks == 50 && stat.startTicks == 123400)
        #expect(stat.virtualBytes == 812345344 && stat.residentPages == 12000)
        #expect(ProcessMetrics.Stat("4242 (x) S 1 2") == nil)
        #expect(ProcessMetrics.bootTime(procStat: "cpu  1 2 3\nbtime 1764547200\nprocesses 9\n") == 1764547200)
        let figures = ProcessMetrics(stat: stat, bootTime: 1764547200, ticksPerSecond: 100, pageSize: 4096, openFDs: 12, maxFDs: 1024)
        #expect(figures.cpuSeconds == 3 && figures.startTimeSeconds == 1764548434 && figures.residentMemoryBytes == 49152000)
        let now = try #require(ProcessMetrics.current())
        #expect(now.startTimeSeconds <= Date().timeIntervalSince1970 + 1 && now.startTimeSeconds > Date().timeIntervalSince1970 - 86400 * 365)
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

    @Test func textLogLinesHaveAPaddedLevelAndQuotedFields() throws {
        let lines = Mutex<[String]>([])
        var handler = IPAMLogHandler(label: "t", format: .text, level: .trace) { line in lines.withLock { $0.append(line) } }
        handler.metadata["node"] = "n\"1 x"
        let logger = Logger(label: "t", factory: { _ in handler })
        logger.info("set podCIDRs", metadata: ["podCIDRs": "10.0.0.0/24", "k": "a=b"])
        logger.warning("w")
        logger.critical("c")
        logger.trace("t")
        let got = lines.withLock { $0 }
        #expect(got.count == 4)
        let rest = got.map { String($0.drop { $0 != " " }.dropFirst()) }
        #expect(rest == [#"INFO     set podCIDRs k="a=b" node="n\"1 x" podCIDRs=10.0.0.0/24"#, #"WARNING  w node="n\"1 x""#, #"CRITICAL c node="n\"1 x""#,
                         #"TRACE    t node="n\"1 x""#])
        #expect(got.allSatisfy { $0.prefix(24).wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil }, "\(got)")
    }
}

/// The condition gauges (`…_pool_invalid`, `…_node_podcidr_overlaps`) follow the controller:
/// present while the condition holds, gone when it ends.
@Suite struct ConditionGaugeTests {
    /// IPAMMetrics, with each published set also pushed to collectors the test awaits.
    final class Watched: ControllerMetrics {
        let inner = IPAMMetrics()
        let invalid = Collector<[String: String]>()
        let overlapping = Collector<Set<String>>()
        func poolFamily(name: String, statistics: PoolFamilyStatistics) { inner.poolFamily(name: name, statistics: statistics) }
        func allocated(name: String, cidr: String, count: Int) { inner.allocated(name: name, cidr: cidr, count: count) }
        func released(name: String, cidr: String, count: Int) { inner.released(name: name, cidr: cidr, count: count) }
        func allocationTries(name: String, cidr: String, tries: Int) { inner.allocationTries(name: name, cidr: cidr, tries: tries) }
        func removePool(name: String) { inner.removePool(name: name) }
        func setPendingNodes(_ count: Int) { inner.setPendingNodes(count) }
        func observeAllocationLatency(seconds: Double) { inner.observeAllocationLatency(seconds: seconds) }
        func setLeader(_ leader: Bool) { inner.setLeader(leader) }
        func eventRecorded(type: String, reason: String) { inner.eventRecorded(type: type, reason: reason) }
        func observeQueues(_ depths: @escaping @Sendable () -> [(queue: String, waiting: Int)]) { inner.observeQueues(depths) }
        func setInvalidPools(_ reasons: [String: String]) { inner.setInvalidPools(reasons); invalid.push(reasons) }
        func setOverlappingNodes(_ nodes: Set<String>) { inner.setOverlappingNodes(nodes); overlapping.push(nodes) }
    }

    @Test func overlappingNodesAndInvalidPoolsHaveASeriesWhileTheConditionHolds() async throws {
        // An API server without the CRD's CEL rules, so that an invalid ClusterCIDR can exist.
        try await withHarness(validationRules: false) { h in
            try await h.createNode("a", podCIDRs: ["10.9.1.0/24"])
            try await h.createNode("b", podCIDRs: ["10.9.1.0/25"])
            try await h.createNode("c", podCIDRs: ["10.9.2.0/24"])
            try await h.createPool("bad", ipv4: "10.8.0.0/30", hostBits: 8) // more host bits than the pool has
            let metrics = Watched()
            _ = await h.startController(metrics: metrics)
            let overlapping = try await metrics.overlapping.next { !$0.isEmpty }
            #expect(overlapping.count == 1 && overlapping.isSubset(of: ["a", "b"]), "one of the two holds the range, the other overlaps it: \(overlapping)")
            _ = try await metrics.invalid.next { $0 == ["bad": "InvalidSpec"] }
            var text = metrics.inner.render()
            #expect(ObservabilityTests.value(text, "node_ipam_controller_node_podcidr_overlaps", ["node": overlapping.first!]) == 1)
            #expect(ObservabilityTests.value(text, "node_ipam_controller_node_podcidr_overlaps", ["node": "c"]) == nil)
            #expect(ObservabilityTests.value(text, "node_ipam_controller_pool_invalid", ["pool": "bad", "reason": "InvalidSpec"]) == 1)
            // The node it overlapped goes: no overlap remains. The invalid pool goes: its series too.
            let other = overlapping.contains("a") ? "b" : "a"
            try await h.client.delete(.nodes, name: other)
            _ = try await metrics.overlapping.next { $0.isEmpty }
            try await h.client.delete(.clusterCIDRs, name: "bad")
            _ = try await metrics.invalid.next { $0.isEmpty }
            text = metrics.inner.render()
            #expect(!text.contains("node_ipam_controller_node_podcidr_overlaps{"))
            #expect(!text.contains("node_ipam_controller_pool_invalid{"))
        }
    }
}
