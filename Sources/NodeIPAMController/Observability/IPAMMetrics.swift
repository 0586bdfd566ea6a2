import Foundation
import KubeClient

/// The controller's metrics: the reference's five `node_ipam_controller_multicidrset_*`
/// series (labels `clusterCIDR`, `clusterCIDRName`) and ours.
final class IPAMMetrics: ControllerMetrics, @unchecked Sendable {
    let registry: MetricsRegistry
    let allocations: MetricsRegistry.Family
    let releases: MetricsRegistry.Family
    let maxCIDRs: MetricsRegistry.Family
    let usage: MetricsRegistry.Family
    let tries: MetricsRegistry.Family
    let pending: MetricsRegistry.Family
    let freeRanges: MetricsRegistry.Family
    let latency: MetricsRegistry.Family
    let leader: MetricsRegistry.Family
    let events: MetricsRegistry.Family
    private let lock = NSLock()
    private var client: ClientMetrics?

    init(registry: MetricsRegistry) {
        self.registry = registry
        let pool = ["clusterCIDR", "clusterCIDRName"]
        allocations = registry.counter("node_ipam_controller_multicidrset_cidrs_allocations_total", help: "Node ranges reserved from the pool.", labels: pool)
        releases = registry.counter("node_ipam_controller_multicidrset_cidrs_releases_total", help: "Node ranges released back to the pool.", labels: pool)
        maxCIDRs = registry.gauge("node_ipam_controller_multicidrset_max_cidrs", help: "Node ranges the pool holds.", labels: pool)
        usage = registry.gauge("node_ipam_controller_multicidrset_usage_cidrs", help: "Fraction of the pool's node ranges in use (0 to 1).", labels: pool)
        tries = registry.histogram("node_ipam_controller_multicidrset_allocation_tries_per_request", help: "Candidates skipped before a free node range was found.",
                                   labels: pool, buckets: [1, 5, 25, 125, 625])
        pending = registry.gauge("node_ipam_controller_pending_nodes", help: "Nodes without podCIDRs that no pool can serve right now.")
        freeRanges = registry.gauge("node_ipam_controller_pool_free_ranges", help: "Node ranges of the pool that overlap nothing in use.", labels: ["clusterCIDRName", "clusterCIDR"])
        latency = registry.histogram("node_ipam_controller_node_allocation_duration_seconds", help: "Time from a node first seen without podCIDRs to its podCIDRs written.",
                                     buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
        leader = registry.gauge("node_ipam_controller_leader", help: "1 while this process holds the Lease (or runs without leader election).")
        events = registry.counter("node_ipam_controller_events_total", help: "Events recorded, by type and reason.", labels: ["type", "reason"])
        let buildInfo = registry.gauge("node_ipam_controller_build_info", help: "Always 1; the labels say which build runs.",
                                       labels: ["version", "swift_version", "git_commit"])
        buildInfo.set([BuildInfo.version, BuildInfo.swiftVersion, BuildInfo.commit], 1)
        leader.set([], 0)
        pending.set([], 0)
        registry.addCollector { [weak self] in self?.renderClientMetrics() ?? "" }
    }

    func poolFamily(name: String, cidr: String, maxCIDRs: UInt128, occupied: UInt128, free: UInt128) {
        self.maxCIDRs.set([cidr, name], Double(maxCIDRs))
        usage.set([cidr, name], maxCIDRs == 0 ? 0 : Double(occupied) / Double(maxCIDRs))
        freeRanges.set([name, cidr], Double(free))
    }

    func allocated(name: String, cidr: String, count: Int) { allocations.inc([cidr, name], by: Double(count)) }
    func released(name: String, cidr: String, count: Int) { releases.inc([cidr, name], by: Double(count)) }
    func allocationTries(name: String, cidr: String, tries: Int) { self.tries.observe([cidr, name], Double(tries)) }

    /// Removes every series of a deleted pool.
    func removePool(name: String) {
        for family in [allocations, releases, maxCIDRs, usage, tries] { family.removeAll { $0.count == 2 && $0[1] == name } }
        freeRanges.removeAll { $0.first == name }
    }

    func setPendingNodes(_ count: Int) { pending.set([], Double(count)) }
    func observeAllocationLatency(seconds: Double) { latency.observe([], seconds) }
    func setLeader(_ isLeader: Bool) { leader.set([], isLeader ? 1 : 0) }
    func eventRecorded(type: String, reason: String) { events.inc([type, reason]) }

    func attachClientMetrics(_ metrics: ClientMetrics) { lock.withLock { client = metrics } }

    func observeQueues(_ depths: @escaping @Sendable () -> [(queue: String, waiting: Int)]) {
        registry.addCollector {
            var text = "# HELP node_ipam_controller_workqueue_depth Keys waiting for a worker, by queue (busy or stuck: compare with pending nodes).\n"
            text += "# TYPE node_ipam_controller_workqueue_depth gauge\n"
            for (queue, waiting) in depths() {
                text += "node_ipam_controller_workqueue_depth\(MetricsRegistry.labels(["queue"], [queue])) \(waiting)\n"
            }
            return text
        }
    }

    func render() -> String { registry.render() }

    /// API requests by verb and code, and their latency, from the client's counters.
    private func renderClientMetrics() -> String {
        guard let snapshot = lock.withLock({ client })?.snapshot() else { return "" }
        var text = "# HELP node_ipam_controller_api_requests_total Requests to the API server by verb and status code (0 = no answer).\n"
        text += "# TYPE node_ipam_controller_api_requests_total counter\n"
        for key in snapshot.requests.keys.sorted(by: { ($0.verb, $0.code) < ($1.verb, $1.code) }) {
            text += "node_ipam_controller_api_requests_total\(MetricsRegistry.labels(["verb", "code"], [key.verb, String(key.code)])) \(snapshot.requests[key]!)\n"
        }
        text += "# HELP node_ipam_controller_api_request_duration_seconds Latency of requests to the API server by verb.\n"
        text += "# TYPE node_ipam_controller_api_request_duration_seconds histogram\n"
        for verb in snapshot.latencyBuckets.keys.sorted() {
            let counts = snapshot.latencyBuckets[verb]!
            for (index, bound) in ClientMetrics.latencyBuckets.enumerated() {
                text += "node_ipam_controller_api_request_duration_seconds_bucket\(MetricsRegistry.labels(["verb", "le"], [verb, MetricsRegistry.format(bound)])) \(counts[index])\n"
            }
            text += "node_ipam_controller_api_request_duration_seconds_bucket\(MetricsRegistry.labels(["verb", "le"], [verb, "+Inf"])) \(counts[ClientMetrics.latencyBuckets.count])\n"
            text += "node_ipam_controller_api_request_duration_seconds_sum\(MetricsRegistry.labels(["verb"], [verb])) \(MetricsRegistry.format(snapshot.latencySum[verb] ?? 0))\n"
            text += "node_ipam_controller_api_request_duration_seconds_count\(MetricsRegistry.labels(["verb"], [verb])) \(counts[ClientMetrics.latencyBuckets.count])\n"
        }
        return text
    }
}
