import KubeClient
import MultiCIDR

/// What the controller reports about a ClusterCIDR (status subresource; an addition to the
/// reference API, which has no status).
public struct ClusterCIDRStatus: Codable, Sendable, Hashable {
    public var ipv4: ClusterCIDRFamilyStatus?
    public var ipv6: ClusterCIDRFamilyStatus?
    /// Number of nodes holding ranges from this pool.
    public var nodes: Int?
    /// `allocated/total` node ranges of the family with fewer ranges (the pool's limit);
    /// shown by `kubectl get cc`.
    public var usage: String?
    /// Conditions of types `Ready`, `Exhausted`, `Terminating` and `Invalid`.
    public var conditions: [Condition]?
    /// The `metadata.generation` this status was computed from.
    public var observedGeneration: Int64?

    public init(
        ipv4: ClusterCIDRFamilyStatus? = nil,
        ipv6: ClusterCIDRFamilyStatus? = nil,
        nodes: Int? = nil,
        conditions: [Condition]? = nil,
        observedGeneration: Int64? = nil
    ) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.nodes = nodes
        self.usage = ClusterCIDRStatus.usage(ipv4: ipv4, ipv6: ipv6)
        self.conditions = conditions
        self.observedGeneration = observedGeneration
    }

    /// `allocated/total` of the family with the fewest node ranges, nil without families.
    public static func usage(ipv4: ClusterCIDRFamilyStatus?, ipv6: ClusterCIDRFamilyStatus?) -> String? {
        let families = [ipv4, ipv6].compactMap { $0 }
        let limiting = families.min { (UInt128($0.total) ?? .max) < (UInt128($1.total) ?? .max) }
        return limiting.map { "\($0.allocated)/\($0.total)" }
    }

    /// The condition of the given type, if present.
    public func condition(_ type: ClusterCIDRConditionType) -> Condition? {
        conditions?.condition(ofType: type.rawValue)
    }

    /// Sets a condition, keeping its transition time when its status does not change.
    public mutating func setCondition(
        _ type: ClusterCIDRConditionType, _ value: Bool, reason: String, message: String,
        observedGeneration: Int64?, now: String
    ) {
        var list = conditions ?? []
        list.set(Condition(
            type: type.rawValue, status: value ? Condition.statusTrue : Condition.statusFalse,
            observedGeneration: observedGeneration, lastTransitionTime: now, reason: reason, message: message))
        conditions = list
    }
}

/// Capacity and use of one family of a pool. Counts are decimal strings: an IPv6 pool can
/// hold more than 2^63 node ranges.
public struct ClusterCIDRFamilyStatus: Codable, Sendable, Hashable {
    /// The pool prefix in canonical form (host bits masked).
    public var cidr: String
    /// Host bits of each node's range in this family.
    public var perNodeHostBits: Int32?
    /// Number of node ranges the pool holds.
    public var total: String
    /// Node ranges in use (allocated or adopted).
    public var allocated: String
    /// Node ranges still free.
    public var free: String

    public init(cidr: String, perNodeHostBits: Int32?, total: String, allocated: String, free: String) {
        self.cidr = cidr
        self.perNodeHostBits = perNodeHostBits
        self.total = total
        self.allocated = allocated
        self.free = free
    }

    /// Computes `free` as `total − allocated` (never negative).
    public init(cidr: String, perNodeHostBits: Int32?, total: UInt128, allocated: UInt128) {
        self.init(
            cidr: cidr, perNodeHostBits: perNodeHostBits, total: String(total), allocated: String(allocated),
            free: String(total >= allocated ? total - allocated : 0))
    }
}

/// Condition types of a ClusterCIDR.
public enum ClusterCIDRConditionType: String, Sendable, Hashable, CaseIterable {
    /// The pool is registered and can allocate.
    case ready = "Ready"
    /// Every node range of at least one family is taken.
    case exhausted = "Exhausted"
    /// The object is being deleted; the pool no longer allocates.
    case terminating = "Terminating"
    /// The spec is invalid; the message lists the problems.
    case invalid = "Invalid"
}

extension ClusterCIDRFamilyStatus {
    /// The status of one engine pool family with `allocated` node ranges in use.
    public init(_ family: PoolFamily, allocated: UInt128) {
        self.init(cidr: family.prefix.description, perNodeHostBits: Int32(family.nodeHostBits), total: family.capacity, allocated: allocated)
    }
}

/// Reasons the controller writes on ClusterCIDR conditions (CamelCase, stable for alerting).
public enum ClusterCIDRConditionReason {
    /// Ready=True: the pool is registered and allocates.
    public static let poolRegistered = "PoolRegistered"
    /// Ready=False, Invalid=True: the spec failed validation.
    public static let invalidSpec = "InvalidSpec"
    /// Invalid=False: the spec is valid.
    public static let validSpec = "ValidSpec"
    /// Exhausted=True: a family has no free node range.
    public static let noFreeRanges = "NoFreeRanges"
    /// Exhausted=False: every family has free node ranges.
    public static let rangesFree = "RangesFree"
    /// Terminating=True / Ready=False: deletion waits for nodes to release their ranges.
    public static let waitingForNodes = "WaitingForNodes"
    /// Terminating=False: the object is not being deleted.
    public static let notTerminating = "NotTerminating"
}
