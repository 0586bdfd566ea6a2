import Foundation
import KubeClient
import MultiCIDR
import Prometheus
import Synchronization

/// The controller's metrics, kept in a swift-prometheus registry and served on /metrics.
///
/// Names and labels: docs/deploy.md ("Metrics"). The five `node_ipam_controller_multicidrset_*`
/// series keep the Go reference's names and camelCase labels (`clusterCIDR`,
/// `clusterCIDRName`) so existing dashboards and alerts keep working; every other metric
/// uses snake_case labels and, where it is per family, a `family` label (`ipv4`, `ipv6`).
/// With `CLUSTER_NAME` set, every series carries `cluster="<name>"`.
///
/// Why the registry's own API and not swift-metrics' `Counter`/`Gauge`/`Timer` through
/// `PrometheusMetricsFactory`: swift-metrics has no help text, so those families get no
/// `# HELP` line and `promtool check metrics` reports each ("no help text"); and
/// swift-prometheus stops the process when one name is registered both with and without help.
final class IPAMMetrics: ControllerMetrics, Sendable {
    /// The five series named after the Go reference (labels kept for compatibility).
    static let referenceNames: Set<String> = [
        "node_ipam_controller_multicidrset_cidrs_allocations_total",
        "node_ipam_controller_multicidrset_cidrs_releases_total",
        "node_ipam_controller_multicidrset_max_cidrs",
        "node_ipam_controller_multicidrset_usage_cidrs",
        "node_ipam_controller_multicidrset_allocation_tries_per_request",
    ]
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let triesBuckets: [Double] = [1, 5, 25, 125, 625]

    let registry: PrometheusCollectorRegistry
    /// `[("cluster", CLUSTER_NAME)]`, or empty.
    let constantLabels: [(String, String)]

    private struct State {
        /// Every series of a pool, to unregister when the pool goes.
        var poolSeries: [String: [ObjectIdentifier: Series]] = [:]
        /// `…_pool_invalid` series by pool and reason, and `…_node_podcidr_overlaps` by node:
        /// present only while the condition holds.
        var invalidSeries: [String: Gauge] = [:]
        var overlapSeries: [String: Gauge] = [:]
        /// Run before each scrape (gauges read at scrape time).
        var scrapeHooks: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())
    private struct RequestSeries {
        let requests: Counter
        let errors: Counter?
        let latency: ValueHistogram
    }
    private let requestSeriesCache = Mutex<[ClientMetrics.Key: RequestSeries]>([:])
    /// One scrape at a time: the hooks refresh gauges that the rendering then reads.
    private let scrapeLock = Mutex(())

    private let pending: Gauge
    private let latency: ValueHistogram
    private let leader: Gauge

    private enum Series {
        case counter(Counter)
        case gauge(Gauge)
        case histogram(ValueHistogram)

        var id: ObjectIdentifier {
            switch self {
            case .counter(let series): ObjectIdentifier(series)
            case .gauge(let series): ObjectIdentifier(series)
            case .histogram(let series): ObjectIdentifier(series)
            }
        }
    }

    /// `clusterName`: the value of `CLUSTER_NAME`; nil or empty adds no `cluster` label.
    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), clusterName: String? = nil) {
        self.registry = registry
        constantLabels = clusterName.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : [("cluster", $0)] } ?? []
        pending = Self.gauge(registry, constantLabels, "node_ipam_controller_pending_nodes", "Nodes without podCIDRs that no pool can serve right now.")
        latency = Self.histogram(registry, constantLabels, "node_ipam_controller_node_allocation_duration_seconds",
                                 "Time from a node first seen without podCIDRs to its podCIDRs written.", buckets: Self.latencyBuckets)
        leader = Self.gauge(registry, constantLabels, "node_ipam_controller_leader", "1 while this process holds the Lease (or runs without leader election).")
        Self.gauge(registry, constantLabels, "node_ipam_controller_build_info", "Always 1; the labels say which build runs.",
                   ["version": BuildInfo.version, "swift_version": BuildInfo.swiftVersion, "git_commit": BuildInfo.commit]).set(to: 1)
        leader.set(to: 0)
        pending.set(to: 0)
        addScrapeHook { [registry, constantLabels] in Self.updateProcessMetrics(registry, constantLabels) }
    }

    // MARK: Registration

    private static func labels(_ constant: [(String, String)], _ labels: KeyValuePairs<String, String>) -> [(String, String)] {
        constant + labels.map { ($0.key, $0.value) }
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    @discardableResult
    private static func gauge(_ registry: PrometheusCollectorRegistry, _ constant: [(String, String)], _ name: String, _ help: String,
                              _ labels: KeyValuePairs<String, String> = [:]) -> Gauge {
        registry.makeGauge(descriptor: descriptor(name, help), labels: Self.labels(constant, labels))
    }

    private static func counter(_ registry: PrometheusCollectorRegistry, _ constant: [(String, String)], _ name: String, _ help: String,
                                _ labels: KeyValuePairs<String, String> = [:]) -> Counter {
        registry.makeCounter(descriptor: descriptor(name, help), labels: Self.labels(constant, labels))
    }

    private static func histogram(_ registry: PrometheusCollectorRegistry, _ constant: [(String, String)], _ name: String, _ help: String,
                                  _ labels: KeyValuePairs<String, String> = [:], buckets: [Double]) -> ValueHistogram {
        registry.makeValueHistogram(descriptor: descriptor(name, help), labels: Self.labels(constant, labels), buckets: buckets)
    }

    private func gauge(_ name: String, _ help: String, _ labels: KeyValuePairs<String, String> = [:]) -> Gauge {
        Self.gauge(registry, constantLabels, name, help, labels)
    }

    private func counter(_ name: String, _ help: String, _ labels: KeyValuePairs<String, String> = [:]) -> Counter {
        Self.counter(registry, constantLabels, name, help, labels)
    }

    private func histogram(_ name: String, _ help: String, _ labels: KeyValuePairs<String, String> = [:], buckets: [Double]) -> ValueHistogram {
        Self.histogram(registry, constantLabels, name, help, labels, buckets: buckets)
    }

    /// Remembers a pool's series so `removePool` can drop them.
    private func track(_ pool: String, _ series: Series) {
        state.withLock { $0.poolSeries[pool, default: [:]][series.id] = series }
    }

    // MARK: Pools (the reference's five and ours)

    private func referenceAllocations(_ name: String, _ cidr: String) -> Counter {
        counter("node_ipam_controller_multicidrset_cidrs_allocations_total", "Node ranges reserved from the pool.",
                ["clusterCIDR": cidr, "clusterCIDRName": name])
    }

    private func referenceReleases(_ name: String, _ cidr: String) -> Counter {
        counter("node_ipam_controller_multicidrset_cidrs_releases_total", "Node ranges released back to the pool.",
                ["clusterCIDR": cidr, "clusterCIDRName": name])
    }

    func poolFamily(name: String, statistics family: PoolFamilyStatistics) {
        let cidr = family.prefix.description
        let familyName = family.family == .ipv4 ? "ipv4" : "ipv6"
        let total = Double(family.total)
        let reference: KeyValuePairs<String, String> = ["clusterCIDR": cidr, "clusterCIDRName": name]
        let ours: KeyValuePairs<String, String> = ["pool": name, "family": familyName, "cidr": cidr]
        let maxCIDRs = gauge("node_ipam_controller_multicidrset_max_cidrs", "Node ranges the pool holds.", reference)
        let usage = gauge("node_ipam_controller_multicidrset_usage_cidrs", "Fraction of the pool's node ranges in use (0 to 1).", reference)
        let capacity = gauge("node_ipam_controller_pool_capacity_ranges", "Node ranges of the pool, per family.", ours)
        let allocated = gauge("node_ipam_controller_pool_allocated_ranges", "Node ranges held by nodes of the pool, per family.", ours)
        let free = gauge("node_ipam_controller_pool_free_ranges", "Node ranges of the pool that overlap nothing in use, per family (0: exhausted).", ours)
        let ratio = gauge("node_ipam_controller_pool_usage_ratio",
                          "Fraction of the pool's node ranges that overlap something in use, per family (0 to 1; 1: exhausted).", ours)
        let used = total == 0 ? 0 : Double(family.occupied) / total
        maxCIDRs.set(to: total)
        usage.set(to: used)
        capacity.set(to: total)
        allocated.set(to: Double(family.allocated))
        free.set(to: Double(family.free))
        ratio.set(to: used)
        for series in [maxCIDRs, usage, capacity, allocated, free, ratio] { track(name, .gauge(series)) }
        // Counters appear at 0 with the pool, so rate() and increase() see their first step.
        for series in [referenceAllocations(name, cidr), referenceReleases(name, cidr)] { track(name, .counter(series)) }
    }

    func allocated(name: String, cidr: String, count: Int) {
        let series = referenceAllocations(name, cidr)
        series.increment(by: Int64(count))
        track(name, .counter(series))
    }

    func released(name: String, cidr: String, count: Int) {
        let series = referenceReleases(name, cidr)
        series.increment(by: Int64(count))
        track(name, .counter(series))
    }

    func allocationTries(name: String, cidr: String, tries: Int) {
        let series = histogram("node_ipam_controller_multicidrset_allocation_tries_per_request", "Candidates skipped before a free node range was found.",
                               ["clusterCIDR": cidr, "clusterCIDRName": name], buckets: Self.triesBuckets)
        series.record(Double(tries))
        track(name, .histogram(series))
    }

    /// Removes every series of a deleted pool.
    func removePool(name: String) {
        let series = state.withLock { $0.poolSeries.removeValue(forKey: name) ?? [:] }
        for item in series.values {
            switch item {
            case .counter(let counter): registry.unregisterCounter(counter)
            case .gauge(let gauge): registry.unregisterGauge(gauge)
            case .histogram(let histogram): registry.unregisterValueHistogram(histogram)
            }
        }
    }

    // MARK: Controller

    func setPendingNodes(_ count: Int) { pending.set(to: Double(count)) }
    func observeAllocationLatency(seconds: Double) { latency.record(seconds) }
    func setLeader(_ isLeader: Bool) { leader.set(to: isLeader ? 1 : 0) }

    func eventRecorded(type: String, reason: String) {
        counter("node_ipam_controller_events_total", "Events recorded, by type and reason.", ["type": type, "reason": reason]).increment()
    }

    func setInvalidPools(_ reasons: [String: String]) {
        let wanted = Dictionary(uniqueKeysWithValues: reasons.map { ("\($0.key)\u{0}\($0.value)", $0) })
        replaceSeries(\.invalidSeries, wanted: Set(wanted.keys)) { key in
            let (pool, reason) = wanted[key]!
            return self.gauge("node_ipam_controller_pool_invalid",
                              "1 while a ClusterCIDR allocates nothing because of its spec: reason InvalidSpec (fails validation) or SpecChanged (differs from the accepted spec).",
                              ["pool": pool, "reason": reason])
        }
    }

    func setOverlappingNodes(_ nodes: Set<String>) {
        replaceSeries(\.overlapSeries, wanted: nodes) { node in
            self.gauge("node_ipam_controller_node_podcidr_overlaps",
                       "1 while the node's podCIDRs overlap another node's or an excluded range (a range held twice).", ["node": node])
        }
    }

    /// Keeps exactly the `wanted` series of a condition gauge (value 1), dropping the others.
    private func replaceSeries(_ table: WritableKeyPath<State, [String: Gauge]>, wanted: Set<String>, make: (String) -> Gauge) {
        let (gone, missing) = state.withLock { state -> ([Gauge], [String]) in
            let current = state[keyPath: table]
            let gone = current.filter { !wanted.contains($0.key) }
            for key in gone.keys { state[keyPath: table][key] = nil }
            return (Array(gone.values), wanted.filter { current[$0] == nil })
        }
        for gauge in gone { registry.unregisterGauge(gauge) }
        for key in missing {
            let gauge = make(key)
            gauge.set(to: 1)
            state.withLock { $0[keyPath: table][key] = gauge }
        }
    }

    func observeQueues(_ depths: @escaping @Sendable () -> [(queue: String, waiting: Int)]) {
        addScrapeHook { [weak self] in
            guard let self else { return }
            for (queue, waiting) in depths() {
                self.gauge("node_ipam_controller_workqueue_depth", "Keys waiting for a worker, by queue (busy or stuck: compare with pending nodes).",
                           ["queue": queue]).set(to: Double(waiting))
            }
        }
    }

    /// `ready` and `healthy` gauges, read from the probes at each scrape (what /readyz and /healthz answer).
    func observeProbes(readiness: @escaping @Sendable () -> HealthCheck, liveness: @escaping @Sendable () -> HealthCheck) {
        let ready = gauge("node_ipam_controller_ready", "1 while /readyz answers 200 (caches synced, or a healthy standby).")
        let healthy = gauge("node_ipam_controller_healthy", "1 while /healthz answers 200.")
        ready.set(to: 0)
        healthy.set(to: 0)
        addScrapeHook {
            ready.set(to: readiness().ok ? 1 : 0)
            healthy.set(to: liveness().ok ? 1 : 0)
        }
    }

    // MARK: API client

    /// Requests to the API server: counts by verb and code, errors, latency by verb.
    func attachClientMetrics(_ metrics: ClientMetrics) {
        metrics.observe { [weak self] verb, code, seconds in
            guard let self else { return }
            let series = self.requestSeries(verb: verb, code: code)
            series.requests.increment()
            series.errors?.increment()
            series.latency.record(seconds)
        }
    }

    /// The series one request updates. Looked up in the registry once per verb and code, then
    /// kept: the registry's lookup (its lock, the name, the label pairs) cost more than the
    /// update itself, on every request.
    private func requestSeries(verb: String, code: Int) -> RequestSeries {
        let key = ClientMetrics.Key(verb: verb, code: code)
        if let known = requestSeriesCache.withLock({ $0[key] }) { return known }
        let codeText = String(code)
        let series = RequestSeries(
            requests: counter("node_ipam_controller_api_requests_total", "Requests to the API server by verb and status code (0 = no answer).",
                              ["verb": verb, "code": codeText]),
            errors: Self.isError(code: code)
                ? counter("node_ipam_controller_api_errors_total",
                          "Requests to the API server that failed: no answer (code 0), 401, 403, 429 or 5xx; by verb and code.",
                          ["verb": verb, "code": codeText])
                : nil,
            latency: histogram("node_ipam_controller_api_request_duration_seconds", "Latency of requests to the API server by verb.",
                               ["verb": verb], buckets: ClientMetrics.latencyBuckets))
        requestSeriesCache.withLock { $0[key] = series }
        return series
    }

    /// What counts as an API error: the server did not answer, refused our credentials or
    /// rights, throttled us, or failed. 404 and 409 are normal answers of a controller
    /// (a deleted object, a lost optimistic-concurrency race) and not counted.
    static func isError(code: Int) -> Bool { code == 0 || code == 401 || code == 403 || code == 429 || code >= 500 }

    // MARK: Process

    private static func updateProcessMetrics(_ registry: PrometheusCollectorRegistry, _ constant: [(String, String)]) {
        guard let process = ProcessMetrics.current() else { return }
        gauge(registry, constant, "process_resident_memory_bytes", "Resident memory size in bytes.").set(to: process.residentMemoryBytes)
        gauge(registry, constant, "process_virtual_memory_bytes", "Virtual memory size in bytes.").set(to: process.virtualMemoryBytes)
        gauge(registry, constant, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.").set(to: process.startTimeSeconds)
        gauge(registry, constant, "process_open_fds", "Number of open file descriptors.").set(to: process.openFDs)
        if let maxFDs = process.maxFDs {
            gauge(registry, constant, "process_max_fds", "Maximum number of open file descriptors.").set(to: maxFDs)
        }
        // A counter that the kernel keeps: set to its value (scrapes are serialised by `render`).
        let cpu = counter(registry, constant, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
        cpu.reset()
        cpu.increment(by: process.cpuSeconds)
    }

    // MARK: Scrape

    private func addScrapeHook(_ hook: @escaping @Sendable () -> Void) {
        state.withLock { $0.scrapeHooks.append(hook) }
    }

    /// The exposition text (format 0.0.4): scrape-time gauges refreshed, then every series.
    func render() -> String {
        scrapeLock.withLock { _ in
            for hook in state.withLock({ $0.scrapeHooks }) { hook() }
            return registry.emitToString()
        }
    }
}
