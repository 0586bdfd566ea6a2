/// The ranges a node holds, and the pool they are associated with.
public struct Reservation: Sendable, Hashable, CustomStringConvertible {
    public enum Origin: Sendable, Hashable {
        /// Chosen by the engine for a node without podCIDRs.
        case allocated
        /// Found on the node (podCIDRs written earlier, by us or anyone else).
        case adopted
    }

    public enum State: Sendable, Hashable {
        /// Reserved by the engine, not yet seen on the node: the write is in flight or unknown.
        case pending
        /// The node carries exactly these ranges.
        case confirmed
    }

    public let node: String
    /// One range per family, IPv4 first (the order of `spec.podCIDRs`).
    public internal(set) var ranges: [IPPrefix]
    /// The ClusterCIDR the ranges are associated with; nil when they fit no pool.
    public internal(set) var pool: String?
    public let origin: Origin
    public internal(set) var state: State

    /// The ranges as `spec.podCIDRs` strings.
    public var podCIDRs: [String] { ranges.map(\.description) }

    public var description: String {
        "node \(node): [\(podCIDRs.joined(separator: ", "))] from \(pool.map { "ClusterCIDR \($0)" } ?? "no ClusterCIDR") (\(origin == .allocated ? "allocated" : "adopted"), \(state == .pending ? "pending" : "confirmed"))"
    }
}

/// What `allocate` decided.
public enum AllocationOutcome: Sendable, Hashable, CustomStringConvertible {
    /// New pending reservation: write `reservation.podCIDRs` to the node, then `confirm`.
    /// The trace tells how the engine got there (for metrics and Events).
    case allocated(Reservation, AllocationTrace)
    /// The node already holds a reservation (pending or confirmed); nothing new was taken.
    case alreadyReserved(Reservation)
    /// No ClusterCIDR selects the node.
    case noMatchingPool(node: String)
    /// Only ClusterCIDRs that allocate no more select the node (being deleted, or suspended).
    case onlyClosedPools(node: String, pools: [String])
    /// Every selecting ClusterCIDR is full in at least one of its families.
    case exhausted(node: String, pools: [PoolExhaustion])

    public var description: String {
        switch self {
        case .allocated(let reservation, _):
            return "allocated \(reservation.podCIDRs.joined(separator: ", ")) to node \(reservation.node) from ClusterCIDR \(reservation.pool ?? "?")"
        case .alreadyReserved(let reservation):
            return "node \(reservation.node) already holds \(reservation.podCIDRs.joined(separator: ", "))"
        case .noMatchingPool(let node):
            return "no ClusterCIDR selects node \(node): create a ClusterCIDR whose nodeSelector matches the node's labels, or one without nodeSelector as a fallback"
        case .onlyClosedPools(let node, let pools):
            return "node \(node) is selected only by ClusterCIDRs that allocate no more (\(pools.joined(separator: ", ")): being deleted, or their spec changed after it was accepted; see their status): create another ClusterCIDR for it"
        case .exhausted(let node, let pools):
            return "no free range for node \(node): \(pools.map(\.description).joined(separator: "; ")): add a ClusterCIDR for these nodes or delete nodes to free ranges"
        }
    }
}

/// How `allocate` reached a new reservation: what it passed over on the way.
public struct AllocationTrace: Sendable, Hashable {
    /// The better-ranked pools passed over because they were full: non-empty when the node
    /// is served by a fallback pool.
    public let passedOver: [PoolExhaustion]
    var skipped = PerFamily<UInt128>(ipv4: 0, ipv6: 0)

    init(passedOver: [PoolExhaustion]) {
        self.passedOver = passedOver
    }

    /// The candidate blocks of the pool's `family` passed over (occupied, or overlapping
    /// something held) between the pool's cursor and the block taken: the reference's
    /// "allocation tries per request". Zero for a family the pool does not have.
    public func skippedBlocks(_ family: IPFamily) -> UInt128 { skipped[family] }
}

/// A pool that could not serve a node, and the family that ran out.
public struct PoolExhaustion: Sendable, Hashable, CustomStringConvertible {
    public let pool: String
    public let family: IPFamily
    public let prefix: IPPrefix

    public var description: String { "ClusterCIDR \(pool) has no free \(family) range left in \(prefix)" }
}

/// Another holder of an address that a node's range covers.
public struct RangeConflict: Sendable, Hashable, CustomStringConvertible {
    public let range: IPPrefix
    public let other: RangeHolder
    public let otherRange: IPPrefix

    public var description: String { "\(range) overlaps \(otherRange) held by \(other)" }
}

/// A podCIDR entry that could not be taken as a range.
public struct InvalidPodCIDR: Sendable, Hashable, CustomStringConvertible {
    public let value: String
    public let reason: String

    public var description: String { "podCIDR \"\(value)\": \(reason)" }
}

/// What `adopt` found and did for a node that already carries podCIDRs.
public struct AdoptionReport: Sendable, Hashable {
    public enum Change: Sendable, Hashable {
        /// First time these ranges are recorded.
        case recorded
        /// A pending allocation of ours was seen on the node.
        case confirmedPending
        /// Already recorded exactly so.
        case unchanged
        /// The node carries ranges other than those recorded for it; the old ones were released.
        case replaced(previous: [IPPrefix])
    }

    /// Nil only when no entry of podCIDRs could be parsed.
    public let reservation: Reservation?
    public let change: Change
    /// Whether the pool (if any) selects the node by its current labels.
    public let selectorMatches: Bool
    public let conflicts: [RangeConflict]
    public let invalid: [InvalidPodCIDR]

    /// True when the ranges are held but belong to no pool (unmanaged or outside every pool).
    public var isUnassociated: Bool { reservation != nil && reservation?.pool == nil }
}

/// Counts for one family of one pool. All counts are in node ranges (blocks).
public struct PoolFamilyStatistics: Sendable, Hashable {
    public let family: IPFamily
    public let prefix: IPPrefix
    public let nodePrefixLength: Int
    /// Node ranges the pool holds in all.
    public let total: UInt128
    /// Node ranges held by nodes associated with this pool.
    public let allocated: UInt128
    /// Node ranges that overlap nothing held anywhere (what can still be handed out).
    public let free: UInt128
    /// Ranges reserved through this pool since it was added (allocations and adoptions).
    public let reservationsTotal: UInt64
    /// Ranges released from this pool since it was added.
    public let releasesTotal: UInt64

    /// Node ranges that overlap something held (by this pool's nodes or anyone else).
    public var occupied: UInt128 { total - free }
}
