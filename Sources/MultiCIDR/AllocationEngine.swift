/// The allocation engine: pools, the per-family occupancy index of every range in the
/// cluster, and node reservations. A value type with no I/O; the controller owns one inside
/// an actor and moves data between it and the API server.
public struct AllocationEngine: Sendable {
    struct PoolRecord: Sendable {
        var definition: PoolDefinition
        var terminating = false
        var cursors: [IPFamily: UInt128] = [:]
        var associated: Set<String> = []
        var reservationsTotal: [IPFamily: UInt64] = [:]
        var releasesTotal: [IPFamily: UInt64] = [:]
        /// Position in the order of PoolRankKey with equal match counts (P1...P5).
        var staticRank = 0
    }

    private var pools: [String: PoolRecord] = [:]
    private var ipv4 = OccupancyIndex(family: .ipv4)
    private var ipv6 = OccupancyIndex(family: .ipv6)
    private var reservations: [String: Reservation] = [:]
    private var exclusions: [String: [IPPrefix]] = [:]

    public init() {}

    // MARK: - Occupancy

    private func index(_ family: IPFamily) -> OccupancyIndex { family == .ipv4 ? ipv4 : ipv6 }

    private mutating func withIndex<R>(_ family: IPFamily, _ body: (inout OccupancyIndex) -> R) -> R {
        family == .ipv4 ? body(&ipv4) : body(&ipv6)
    }

    /// True when nothing held anywhere overlaps `prefix`.
    public func isFree(_ prefix: IPPrefix) -> Bool { index(prefix.family).isFree(prefix) }

    /// Every held range overlapping `prefix`, with its holders.
    public func holders(overlapping prefix: IPPrefix) -> [(range: IPPrefix, holders: [RangeHolder])] {
        index(prefix.family).overlapping(prefix)
    }

    /// Number of distinct ranges held in `family`.
    public func heldRangeCount(_ family: IPFamily) -> Int { index(family).rangeCount }

    // MARK: - Exclusions (e.g. Service CIDRs)

    /// Marks `prefix` as never to be handed out, under `name`. Coverage semantics per name:
    /// adding a range already covered is a no-op; a larger range absorbs smaller ones.
    public mutating func exclude(_ prefix: IPPrefix, name: String) {
        var ranges = exclusions[name] ?? []
        if ranges.contains(where: { $0.contains(prefix) }) { return }
        let holder = RangeHolder.excluded(name)
        for absorbed in ranges where prefix.contains(absorbed) {
            withIndex(absorbed.family) { _ = $0.remove(absorbed, holder: holder) }
        }
        ranges.removeAll { prefix.contains($0) }
        ranges.append(prefix)
        withIndex(prefix.family) { _ = $0.insert(prefix, holder: holder) }
        exclusions[name] = ranges
    }

    /// Removes `prefix` from the ranges excluded under `name`, splitting larger ranges.
    public mutating func unexclude(_ prefix: IPPrefix, name: String) {
        guard var ranges = exclusions[name] else { return }
        let holder = RangeHolder.excluded(name)
        var added: [IPPrefix] = []
        for range in ranges where range.overlaps(prefix) {
            withIndex(range.family) { _ = $0.remove(range, holder: holder) }
            if range.length < prefix.length {
                added += Self.complement(of: prefix, within: range)
            }
        }
        ranges.removeAll { $0.overlaps(prefix) }
        for piece in added { withIndex(piece.family) { _ = $0.insert(piece, holder: holder) } }
        ranges += added
        exclusions[name] = ranges.isEmpty ? nil : ranges
    }

    /// The ranges currently excluded under `name`.
    public func excludedRanges(named name: String) -> [IPPrefix] { (exclusions[name] ?? []).sorted() }

    /// The prefixes covering `outer` minus `inner` (inner inside outer): one sibling per level.
    static func complement(of inner: IPPrefix, within outer: IPPrefix) -> [IPPrefix] {
        var pieces: [IPPrefix] = []
        let width = outer.family.bitWidth
        for length in (outer.length + 1)...inner.length {
            let bit = UInt128(1) << UInt128(width - length)
            let onPath = inner.first & IPPrefix.networkMask(family: outer.family, length: length)
            pieces.append(IPPrefix(address: IPAddress(family: outer.family, value: onPath ^ bit), length: length))
        }
        return pieces
    }

    // MARK: - Pools

    /// Whether `upsertPool` added, replaced or left a pool as it was.
    public enum PoolUpdate: Sendable, Hashable {
        case added
        case unchanged
        /// A different definition under the same name (a new object or a new spec). Nodes
        /// whose ranges no longer fit it lost their association.
        case replaced(disassociated: Set<String>)
    }

    /// Adds or replaces a pool. Ranges already held stay held whatever happens to pools.
    @discardableResult
    public mutating func upsertPool(_ definition: PoolDefinition) -> PoolUpdate {
        if var record = pools[definition.name] {
            if record.definition == definition { return .unchanged }
            let previous = record.definition
            record.definition = definition
            record.terminating = false
            for family in [IPFamily.ipv4, .ipv6] where previous.family(family)?.prefix != definition.family(family)?.prefix
                || previous.family(family)?.nodePrefixLength != definition.family(family)?.nodePrefixLength {
                record.cursors[family] = nil
            }
            var lost: Set<String> = []
            for node in record.associated {
                if let reservation = reservations[node], Self.fits(reservation.ranges, definition) { continue }
                lost.insert(node)
            }
            record.associated.subtract(lost)
            for node in lost { reservations[node]?.pool = nil }
            pools[definition.name] = record
            recomputeStaticRanks()
            return .replaced(disassociated: lost)
        }
        pools[definition.name] = PoolRecord(definition: definition)
        recomputeStaticRanks()
        return .added
    }

    /// Removes a pool. Its nodes keep their ranges (held, now unassociated); returns them.
    @discardableResult
    public mutating func removePool(named name: String) -> Set<String> {
        guard let record = pools.removeValue(forKey: name) else { return [] }
        for node in record.associated { reservations[node]?.pool = nil }
        recomputeStaticRanks()
        return record.associated
    }

    /// Marks a pool as being deleted: it keeps its nodes but never allocates again.
    public mutating func setTerminating(_ name: String, _ terminating: Bool = true) {
        pools[name]?.terminating = terminating
    }

    public func pool(named name: String) -> PoolDefinition? { pools[name]?.definition }
    public func isTerminating(_ name: String) -> Bool { pools[name]?.terminating ?? false }
    public var poolNames: [String] { pools.keys.sorted() }

    /// Nodes whose ranges are associated with the pool (what blocks its deletion).
    public func associatedNodes(of name: String) -> Set<String> { pools[name]?.associated ?? [] }

    /// Counts per family for a pool (walks the ranges held inside the pool).
    public func statistics(of name: String) -> [PoolFamilyStatistics] {
        guard let record = pools[name] else { return [] }
        return record.definition.families.map { family in
            let occupied = index(family.family).occupiedBlockCount(in: family.prefix, blockLength: family.nodePrefixLength)
            let allocated = record.associated.reduce(into: UInt128(0)) { count, node in
                if reservations[node]?.ranges.contains(where: { $0.family == family.family }) == true { count += 1 }
            }
            return PoolFamilyStatistics(
                family: family.family, prefix: family.prefix, nodePrefixLength: family.nodePrefixLength,
                total: family.capacity, allocated: allocated, free: family.capacity - occupied,
                reservationsTotal: record.reservationsTotal[family.family] ?? 0,
                releasesTotal: record.releasesTotal[family.family] ?? 0)
        }
    }

    private mutating func recomputeStaticRanks() {
        let ordered = pools.values.map { PoolRankKey(pool: $0.definition, matchCount: 0) }.sorted()
        for (rank, key) in ordered.enumerated() { pools[key.name]?.staticRank = rank }
    }

    /// Pools that select `node`, best first (REFERENCE §2.2 with REC: catch-all pools after
    /// selector pools, ranked the same way; name as final tie-break). Includes terminating pools.
    public func rankedPools(for node: NodeAttributes) -> [String] {
        var matches: [(catchAll: Bool, count: Int, rank: Int, name: String)] = []
        for (name, record) in pools {
            guard let count = record.definition.selector.matchCount(for: node) else { continue }
            matches.append((record.definition.selector.isCatchAll, count, record.staticRank, name))
        }
        matches.sort { a, b in
            if a.catchAll != b.catchAll { return !a.catchAll }
            if a.count != b.count { return a.count > b.count }
            return a.rank < b.rank
        }
        return matches.map(\.name)
    }

    // MARK: - Reservations

    public func reservation(for node: String) -> Reservation? { reservations[node] }
    public var allReservations: [Reservation] { reservations.keys.sorted().compactMap { reservations[$0] } }

    /// Reserves one range per family of the best pool that has room in every family
    /// (atomic: nothing is taken from a pool that cannot serve all its families).
    public mutating func allocate(for node: NodeAttributes) -> AllocationOutcome {
        if let existing = reservations[node.name] { return .alreadyReserved(existing) }
        let ranked = rankedPools(for: node)
        if ranked.isEmpty { return .noMatchingPool(node: node.name) }
        var exhausted: [PoolExhaustion] = []
        var terminating: [String] = []
        candidates: for name in ranked {
            guard let record = pools[name] else { continue }
            if record.terminating {
                terminating.append(name)
                continue
            }
            var picked: [(PoolFamily, UInt128)] = []
            for family in record.definition.families {
                let cursor = record.cursors[family.family] ?? 0
                guard let blockIndex = index(family.family).firstFreeBlock(in: family.prefix, blockLength: family.nodePrefixLength, from: cursor) else {
                    exhausted.append(PoolExhaustion(pool: name, family: family.family, prefix: family.prefix))
                    continue candidates
                }
                picked.append((family, blockIndex))
            }
            var ranges: [IPPrefix] = []
            for (family, blockIndex) in picked {
                let range = family.block(at: blockIndex)
                withIndex(family.family) { _ = $0.insert(range, holder: .node(node.name)) }
                pools[name]?.cursors[family.family] = (blockIndex + 1) == family.capacity ? 0 : blockIndex + 1
                pools[name]?.reservationsTotal[family.family, default: 0] += 1
                ranges.append(range)
            }
            pools[name]?.associated.insert(node.name)
            let reservation = Reservation(node: node.name, ranges: ranges, pool: name, origin: .allocated, state: .pending)
            reservations[node.name] = reservation
            return .allocated(reservation)
        }
        if exhausted.isEmpty { return .onlyTerminatingPools(node: node.name, pools: terminating) }
        return .exhausted(node: node.name, pools: exhausted)
    }

    /// Records that the node now carries its pending reservation.
    @discardableResult
    public mutating func confirm(node: String) -> Reservation? {
        reservations[node]?.state = .confirmed
        return reservations[node]
    }

    /// Releases everything the node holds (by node, never by its labels). Returns what was
    /// released, with the pool it belonged to.
    @discardableResult
    public mutating func release(node: String) -> Reservation? {
        guard let reservation = reservations.removeValue(forKey: node) else { return nil }
        for range in reservation.ranges {
            withIndex(range.family) { _ = $0.remove(range, holder: .node(node)) }
        }
        if let pool = reservation.pool, pools[pool] != nil {
            pools[pool]?.associated.remove(node)
            for range in reservation.ranges { pools[pool]?.releasesTotal[range.family, default: 0] += 1 }
        }
        return reservation
    }

    /// Records the podCIDRs a node carries. They are never changed: they are held in the
    /// occupancy index whatever they are, associated with the best selecting pool they fit
    /// exactly (all ranges or none; terminating pools included so their deletion stays
    /// blocked), else with any pool they fit, else with none. Overlaps with other holders
    /// are reported as conflicts.
    @discardableResult
    public mutating func adopt(node: NodeAttributes, podCIDRs: [String]) -> AdoptionReport {
        var invalid: [InvalidPodCIDR] = []
        var ranges: [IPPrefix] = []
        for value in podCIDRs {
            do {
                let range = try IPPrefix(parsing: value)
                if ranges.contains(where: { $0.family == range.family }) {
                    invalid.append(InvalidPodCIDR(value: value, reason: "a second \(range.family) range; a node has at most one range per family"))
                }
                if !ranges.contains(range) { ranges.append(range) }
            } catch {
                invalid.append(InvalidPodCIDR(value: value, reason: error.reason))
            }
        }
        ranges.sort { $0.family < $1.family }
        var change = AdoptionReport.Change.recorded
        if let existing = reservations[node.name] {
            if Set(existing.ranges) == Set(ranges) {
                change = existing.state == .pending ? .confirmedPending : .unchanged
                reservations[node.name]?.state = .confirmed
            } else {
                release(node: node.name)
                change = .replaced(previous: existing.ranges)
            }
        }
        if ranges.isEmpty {
            return AdoptionReport(reservation: nil, change: change, selectorMatches: false, conflicts: [], invalid: invalid)
        }
        if reservations[node.name] == nil {
            for range in ranges { withIndex(range.family) { _ = $0.insert(range, holder: .node(node.name)) } }
            reservations[node.name] = Reservation(node: node.name, ranges: ranges, pool: nil, origin: .adopted, state: .confirmed)
        }
        // Association: keep a valid one; otherwise find the best pool.
        var selectorMatches = false
        if let current = reservations[node.name]?.pool, let record = pools[current] {
            selectorMatches = record.definition.selector.matchCount(for: node) != nil
        } else if let (pool, matches) = bestFit(for: ranges, node: node) {
            reservations[node.name]?.pool = pool
            pools[pool]?.associated.insert(node.name)
            for range in ranges { pools[pool]?.reservationsTotal[range.family, default: 0] += 1 }
            selectorMatches = matches
        }
        var conflicts: [RangeConflict] = []
        for range in ranges {
            for (other, holders) in index(range.family).overlapping(range) {
                for holder in holders where holder != .node(node.name) {
                    conflicts.append(RangeConflict(range: range, other: holder, otherRange: other))
                }
            }
        }
        return AdoptionReport(reservation: reservations[node.name], change: change, selectorMatches: selectorMatches,
                              conflicts: conflicts, invalid: invalid)
    }

    /// True when every range lies in the pool with exactly the pool's node prefix length.
    static func fits(_ ranges: [IPPrefix], _ pool: PoolDefinition) -> Bool {
        !ranges.isEmpty && ranges.allSatisfy { range in
            guard let family = pool.family(range.family) else { return false }
            return family.prefix.contains(range) && range.length == family.nodePrefixLength
        }
    }

    private func bestFit(for ranges: [IPPrefix], node: NodeAttributes) -> (String, Bool)? {
        for name in rankedPools(for: node) where Self.fits(ranges, pools[name]!.definition) {
            return (name, true)
        }
        let byRank = pools.values.sorted { $0.staticRank < $1.staticRank }
        for record in byRank where Self.fits(ranges, record.definition) {
            return (record.definition.name, false)
        }
        return nil
    }
}

extension PoolFamily {
    /// The node range with the given index (REF's index → block mapping).
    public func block(at index: UInt128) -> IPPrefix {
        let hostBits = family.bitWidth - nodePrefixLength
        let offset: UInt128 = hostBits >= 128 ? 0 : index << UInt128(hostBits)
        return IPPrefix(address: IPAddress(family: family, value: prefix.first | offset), length: nodePrefixLength)
    }

    /// Index of the node range containing the first address of `range`.
    public func blockIndex(of range: IPPrefix) throws(PoolDefinitionError) -> UInt128 {
        guard range.family == family, prefix.contains(IPPrefix(address: range.address, length: family.bitWidth)) else {
            throw PoolDefinitionError("CIDR: \(range) is out of the range of CIDR allocator \(prefix)")
        }
        let hostBits = family.bitWidth - nodePrefixLength
        return hostBits >= 128 ? 0 : (range.first - prefix.first) >> UInt128(hostBits)
    }
}
