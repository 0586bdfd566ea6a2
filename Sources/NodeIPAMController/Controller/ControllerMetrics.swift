import KubeClient
import MultiCIDR

/// What the controller reports to metrics; `IPAMMetrics` implements it for /metrics.
protocol ControllerMetrics: Sendable {
    /// A pool family's counts (capacity, allocated, free), after each status computation.
    func poolFamily(name: String, statistics: PoolFamilyStatistics)
    func allocated(name: String, cidr: String, count: Int)
    func released(name: String, cidr: String, count: Int)
    func allocationTries(name: String, cidr: String, tries: Int)
    func removePool(name: String)
    func setPendingNodes(_ count: Int)
    func observeAllocationLatency(seconds: Double)
    func setLeader(_ leader: Bool)
    func eventRecorded(type: String, reason: String)
    /// Reports the controller's work queues at every scrape: (queue name, keys waiting).
    func observeQueues(_ depths: @escaping @Sendable () -> [(queue: String, waiting: Int)])
    /// The pools that allocate nothing because of their spec, by name: `InvalidSpec` or
    /// `SpecChanged` (the whole set each time).
    func setInvalidPools(_ reasons: [String: String])
    /// The nodes whose podCIDRs overlap another node's or an excluded range (the whole set each time).
    func setOverlappingNodes(_ nodes: Set<String>)
}

/// Metrics that go nowhere (tests that do not look at metrics).
struct NoMetrics: ControllerMetrics {
    func poolFamily(name: String, statistics: PoolFamilyStatistics) {}
    func allocated(name: String, cidr: String, count: Int) {}
    func released(name: String, cidr: String, count: Int) {}
    func allocationTries(name: String, cidr: String, tries: Int) {}
    func removePool(name: String) {}
    func setPendingNodes(_ count: Int) {}
    func observeAllocationLatency(seconds: Double) {}
    func setLeader(_ leader: Bool) {}
    func eventRecorded(type: String, reason: String) {}
    func observeQueues(_ depths: @escaping @Sendable () -> [(queue: String, waiting: Int)]) {}
    func setInvalidPools(_ reasons: [String: String]) {}
    func setOverlappingNodes(_ nodes: Set<String>) {}
}

/// Event reasons (REF's two, and ours).
enum EventReason {
    /// No pool could give the node a range (no selecting pool, or all full).
    static let cidrNotAvailable = "CIDRNotAvailable"
    /// Writing podCIDRs to the node failed.
    static let cidrAssignmentFailed = "CIDRAssignmentFailed"
    /// The node's podCIDRs fit no ClusterCIDR (held, never handed out, not associated).
    static let podCIDROutsideClusterCIDRs = "PodCIDROutsideClusterCIDRs"
    /// The node's podCIDRs overlap another node's (or an excluded range).
    static let duplicatePodCIDR = "DuplicatePodCIDR"
    /// A podCIDR entry is not a valid CIDR.
    static let invalidPodCIDR = "InvalidPodCIDR"
    /// The ClusterCIDR's spec is invalid.
    static let clusterCIDRInvalid = "ClusterCIDRInvalid"
    /// The ClusterCIDR is being deleted but nodes still hold its ranges.
    static let clusterCIDRTerminating = "ClusterCIDRWaitingForNodes"
    /// The ClusterCIDR's spec differs from the one accepted for it; it allocates no more.
    static let clusterCIDRSpecChanged = "ClusterCIDRSpecChanged"
    /// The node got its ranges from a fallback pool because the pools that suit it better are full.
    static let fallbackClusterCIDR = "FallbackClusterCIDR"
}
