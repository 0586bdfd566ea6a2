import KubeClient
import MultiCIDR

/// What the controller reports about a ClusterCIDR (status subresource; an addition to the
/// reference API, which has no status). The controller writes only what `compose` returns.
public struct ClusterCIDRStatus: Codable, Sendable, Hashable {
    public var ipv4: ClusterCIDRFamilyStatus?
    public var ipv6: ClusterCIDRFamilyStatus?
    /// Number of nodes holding ranges from this pool.
    public var nodes: Int?
    /// `allocated/total` node ranges of the family with fewer ranges (the pool's limit).
    public var usage: String?
    /// One word for `kubectl get cc`: `Ready`, `Exhausted`, `Invalid` or `Terminating`.
    public var state: String?
    /// What `state` means for this pool, and what to do about it.
    public var message: String?
    /// Conditions of types `Ready`, `Exhausted`, `Terminating` and `Invalid`.
    public var conditions: [Condition]?
    /// The `metadata.generation` this status was computed from.
    public var observedGeneration: Int64?
    /// Released node ranges kept out of allocation until their time (`--release-cooldown`).
    public var coolingRanges: [ClusterCIDRCoolingRange]?

    public init() {}

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

/// Why a pool does not allocate although it is not being deleted.
public enum ClusterCIDRProblem: Sendable, Hashable {
    /// The spec was never accepted: it fails validation. The pool has no ranges in use.
    case invalidSpec(message: String)
    /// The spec differs from the one accepted when the pool was created (admission without
    /// our CEL rules let a change through). The accepted definition still counts the pool's
    /// nodes; nothing more is allocated from it.
    case specChanged(ClusterCIDRSpecChange)
}

extension ClusterCIDRStatus {
    /// At most this many node names in a terminating pool's message.
    public static let namedHolders = 5

    /// The status the controller writes, from the engine's figures: `families` (empty for a
    /// pool not in the engine), the `nodes` holding its ranges and, for a terminating pool,
    /// their names (`holders`, read only then), whether it is being deleted, and a problem
    /// that keeps it from allocating. Conditions keep their transition time from `previous`.
    public static func compose(
        previous: ClusterCIDRStatus?, generation: Int64?, families: [PoolFamilyStatistics], nodes: Int,
        holders: [String] = [], terminating: Bool, problem: ClusterCIDRProblem?, now: String,
        cooling: [ClusterCIDRCoolingRange] = []
    ) -> ClusterCIDRStatus {
        var status = ClusterCIDRStatus()
        status.conditions = previous?.conditions
        status.coolingRanges = cooling.isEmpty ? nil : cooling.sorted { ($0.until, $0.cidr) < ($1.until, $1.cidr) }
        for family in families {
            var composed = ClusterCIDRFamilyStatus.compose(family)
            let count = cooling.filter { $0.cidr.contains(":") == (family.family == .ipv6) }.count
            composed.cooling = count == 0 ? nil : Int64(count)
            if family.family == .ipv4 { status.ipv4 = composed } else { status.ipv6 = composed }
        }
        let limiting = families.min { $0.total < $1.total }
        status.usage = limiting.map { "\($0.allocated)/\($0.total)" }
        status.nodes = families.isEmpty && nodes == 0 ? nil : nodes
        status.observedGeneration = generation

        func set(_ type: ClusterCIDRConditionType, _ value: Bool, _ reason: String, _ message: String) {
            status.setCondition(type, value, reason: reason, message: message, observedGeneration: generation, now: now)
        }
        let exhausted = families.filter { $0.free == 0 }
        let exhaustedMessage = "No free node range left in \(exhausted.map(\.prefix.description).joined(separator: ", ")): nodes that only this pool selects wait until a range is freed or another ClusterCIDR selects them."
        if exhausted.isEmpty {
            set(.exhausted, false, ClusterCIDRConditionReason.rangesFree, "Every family has free node ranges.")
        } else {
            set(.exhausted, true, ClusterCIDRConditionReason.noFreeRanges, exhaustedMessage)
        }
        var state = ClusterCIDRState.ready
        var stateMessage = "The pool allocates node ranges."
        switch problem {
        case .invalidSpec(let message):
            set(.invalid, true, ClusterCIDRConditionReason.invalidSpec, message)
            set(.ready, false, ClusterCIDRConditionReason.invalidSpec, message)
            (state, stateMessage) = (ClusterCIDRState.invalid, message)
        case .specChanged(let change):
            let message = change.description(nodes: nodes)
            set(.invalid, true, ClusterCIDRConditionReason.specChanged, message)
            set(.ready, false, ClusterCIDRConditionReason.specChanged, message)
            (state, stateMessage) = (ClusterCIDRState.invalid, message)
        case nil:
            set(.invalid, false, ClusterCIDRConditionReason.validSpec, "The spec is valid.")
            if !exhausted.isEmpty { (state, stateMessage) = (ClusterCIDRState.exhausted, exhaustedMessage) }
        }
        if terminating {
            let message = terminatingMessage(nodes: nodes, holders: holders)
            set(.terminating, true, ClusterCIDRConditionReason.waitingForNodes, message)
            set(.ready, false, ClusterCIDRConditionReason.waitingForNodes, message)
            (state, stateMessage) = (ClusterCIDRState.terminating, message)
        } else {
            set(.terminating, false, ClusterCIDRConditionReason.notTerminating, "Not being deleted.")
            if problem == nil { set(.ready, true, ClusterCIDRConditionReason.poolRegistered, "The pool allocates node ranges.") }
        }
        status.state = state.rawValue
        status.message = stateMessage
        return status
    }

    /// "Being deleted: 7 nodes (a, b, c, d, e and 2 more) still hold ranges from this pool…"
    static func terminatingMessage(nodes: Int, holders: [String]) -> String {
        guard nodes > 0 else { return "Being deleted: no node holds a range from this pool any more; the finalizer is being removed." }
        return "Being deleted: \(holdersPhrase(nodes: nodes, holders: holders)) still hold ranges from this pool; "
            + "it allocates no more, and its finalizer stays until they are deleted."
    }

    /// `3 nodes (a, b, c)`, or with more than five `7 nodes (a, b, c, d, e and 2 more)`:
    /// the first names in order, and how many more.
    public static func holdersPhrase(nodes: Int, holders: [String]) -> String {
        let named = holders.sorted().prefix(namedHolders)
        let count = nodes == 1 ? "1 node" : "\(nodes) nodes"
        guard !named.isEmpty else { return count }
        let more = nodes > named.count ? " and \(nodes - named.count) more" : ""
        return "\(count) (\(named.joined(separator: ", "))\(more))"
    }
}

/// The one-word summary of a pool in `status.state`, most pressing first.
public enum ClusterCIDRState: String, Sendable, Hashable, CaseIterable {
    case terminating = "Terminating"
    case invalid = "Invalid"
    case exhausted = "Exhausted"
    case ready = "Ready"
}

/// Capacity and use of one family of a pool. `allocated` is an integer (it counts nodes);
/// `total` and `free` are decimal strings because an IPv6 pool can hold more than 2^63 node
/// ranges, more than a JSON integer of Kubernetes (int64) can say.
public struct ClusterCIDRFamilyStatus: Codable, Sendable, Hashable {
    /// The pool prefix in canonical form (host bits masked).
    public var cidr: String
    /// Host bits of each node's range in this family.
    public var perNodeHostBits: Int32?
    /// Number of node ranges the pool holds.
    public var total: String
    /// Node ranges in use by this pool's nodes (allocated or adopted).
    public var allocated: Int64
    /// Node ranges still free (overlapping nothing held anywhere).
    public var free: String
    /// `allocated/total`, for `kubectl get cc`.
    public var usage: String?
    /// Released node ranges still cooling (`--release-cooldown`): not in `free` until their time.
    public var cooling: Int64?

    /// The status of one family from the engine's figures.
    public static func compose(_ family: PoolFamilyStatistics) -> ClusterCIDRFamilyStatus {
        ClusterCIDRFamilyStatus(
            cidr: family.prefix.description, perNodeHostBits: Int32(family.family.bitWidth - family.nodePrefixLength),
            total: String(family.total), allocated: Int64(clamping: family.allocated), free: String(family.free),
            usage: "\(family.allocated)/\(family.total)")
    }

    private init(cidr: String, perNodeHostBits: Int32?, total: String, allocated: Int64, free: String, usage: String?) {
        self.cidr = cidr
        self.perNodeHostBits = perNodeHostBits
        self.total = total
        self.allocated = allocated
        self.free = free
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey { case cidr, perNodeHostBits, total, allocated, free, usage, cooling }

    /// Also reads the status of earlier versions, which wrote `allocated` as a string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cidr = try container.decode(String.self, forKey: .cidr)
        perNodeHostBits = try container.decodeIfPresent(Int32.self, forKey: .perNodeHostBits)
        total = try container.decode(String.self, forKey: .total)
        free = try container.decode(String.self, forKey: .free)
        usage = try container.decodeIfPresent(String.self, forKey: .usage)
        cooling = try container.decodeIfPresent(Int64.self, forKey: .cooling)
        if let number = try? container.decode(Int64.self, forKey: .allocated) {
            allocated = number
        } else if let text = try? container.decode(String.self, forKey: .allocated), let number = Int64(text) {
            allocated = number
        } else {
            throw DecodingError.dataCorruptedError(forKey: .allocated, in: container, debugDescription: "allocated is neither an integer nor a decimal string")
        }
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
    /// The spec is invalid, or changed after it was accepted; the message says which.
    case invalid = "Invalid"
}

/// Reasons the controller writes on ClusterCIDR conditions (CamelCase, stable for alerting).
public enum ClusterCIDRConditionReason {
    /// Ready=True: the pool is registered and allocates.
    public static let poolRegistered = "PoolRegistered"
    /// Ready=False, Invalid=True: the spec failed validation.
    public static let invalidSpec = "InvalidSpec"
    /// Ready=False, Invalid=True: the spec differs from the one accepted at creation.
    public static let specChanged = "SpecChanged"
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
