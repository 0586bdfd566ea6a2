/// The allocation engine: pools, the per-family occupancy index of every range in the
/// cluster, and node reservations. A value type with no I/O; the controller owns one inside
/// an actor and moves data between it and the API server.
///
/// Storage is compact so that a million nodes fit in about 100 MiB: a node is a 32-byte slot
/// addressed by a small integer id, and the occupancy index stores (range, holder id) pairs.
public struct AllocationEngine: Sendable {
    /// What a decision reads and writes of a pool: plain values only, so reading and
    /// updating it in place never retains or copies the definition.
    struct PoolState: Sendable {
        /// False for an id that is free for reuse.
        var live = true
        var families: PerFamily<FamilyState>
        var catchAll = false
        var terminating = false
        /// Set while the pool must not allocate for another reason (its object's spec changed).
        var suspended = false
        var associatedCount = 0
        /// Position in the order of PoolRankKey with equal match counts (P1...P5).
        var staticRank = 0

        init(_ definition: PoolDefinition) {
            families = PerFamily { FamilyState(range: definition.family($0)) }
            catchAll = definition.selector.isCatchAll
        }
    }

    /// One family of a pool as decisions see it.
    struct FamilyState: Sendable {
        /// Nil when the pool has no range of the family.
        var range: PoolFamily?
        /// Block index where the next search for a free block starts (next fit).
        var cursor: UInt128 = 0
        /// No free block at the last look; only a release of a range that overlaps the pool
        /// can change that (holding more ranges never frees one).
        var full = false
        /// Kept when the pool's definition is replaced.
        var counts = FamilyCounts()
    }

    struct FamilyCounts: Sendable {
        var allocated: UInt128 = 0
        var reservations: UInt64 = 0
        var releases: UInt64 = 0
    }

    /// One node's ranges: at most one per family inline (anything else, which only invalid
    /// input produces, goes to `overflowRanges`).
    struct NodeSlot: Sendable {
        static let noPool = UInt32.max
        static let noRange = UInt8.max
        var v6High: UInt64 = 0
        var v6Low: UInt64 = 0
        var v4: UInt32 = 0
        var pool: UInt32 = noPool
        var v4Length: UInt8 = noRange
        var v6Length: UInt8 = noRange
        var adopted = false
        var confirmed = false

        var ranges: [IPPrefix] {
            var result: [IPPrefix] = []
            result.reserveCapacity(2)
            if v4Length != Self.noRange {
                result.append(IPPrefix(address: IPAddress(family: .ipv4, value: UInt128(v4)), length: Int(v4Length)))
            }
            if v6Length != Self.noRange {
                result.append(IPPrefix(address: IPAddress(family: .ipv6, value: UInt128(v6High) << 64 | UInt128(v6Low)), length: Int(v6Length)))
            }
            return result
        }

        /// Stores `range` inline; false when its family's place is taken.
        mutating func store(_ range: IPPrefix) -> Bool {
            if range.family == .ipv4 {
                guard v4Length == Self.noRange else { return false }
                v4 = UInt32(truncatingIfNeeded: range.first)
                v4Length = UInt8(range.length)
            } else {
                guard v6Length == Self.noRange else { return false }
                v6High = UInt64(truncatingIfNeeded: range.first >> 64)
                v6Low = UInt64(truncatingIfNeeded: range.first)
                v6Length = UInt8(range.length)
            }
            return true
        }

        func has(_ family: IPFamily) -> Bool { (family == .ipv4 ? v4Length : v6Length) != Self.noRange }
    }

    /// Pools by id: definition (nil for a free id), decision state, compiled selector.
    private var definitions: [PoolDefinition?] = []
    private var states: [PoolState] = []
    /// Pool names by id (read without copying the definition).
    private var names: [String] = []
    private var selectors: [CompiledSelector] = []
    private var labelKeys = LabelKeyTable()
    private var poolIDs: [String: UInt32] = [:]
    private var freePoolIDs: [UInt32] = []
    /// Reused by decisions: the node's label values by slot, and the ranked candidates.
    private var labelScratch: [String?] = []
    private var rankScratch: [(order: UInt64, id: UInt32)] = []

    private var nodeIDs = NodeNameTable()
    private var slots: [NodeSlot] = []
    private var freeNodeIDs: [UInt32] = []
    private var overflowRanges: [UInt32: [IPPrefix]] = [:]

    private static let firstExclusionID: UInt32 = 0x8000_0000
    private var exclusions: [String: [IPPrefix]] = [:]
    private var exclusionIDs: [String: UInt32] = [:]
    /// Exclusion names by id − firstExclusionID.
    private var exclusionNames: [String] = []

    private var occupancy = PerFamily { OccupancyIndex(family: $0) }

    public init() {}

    // MARK: - Occupancy

    private mutating func hold(_ range: IPPrefix, _ holder: UInt32) {
        occupancy.update(range.family) { $0.insert(range, holder: holder) }
    }

    private mutating func unhold(_ range: IPPrefix, _ holder: UInt32) {
        guard occupancy.update(range.family, { $0.remove(range, holder: holder) }) else { return }
        // A pool found full may have room again if the freed range lies in it.
        for id in states.indices where states[id].families[range.family].full {
            if let family = states[id].families[range.family].range, family.prefix.overlaps(range) {
                states[id].families[range.family].full = false
            }
        }
    }

    private func holderName(_ id: UInt32) -> RangeHolder {
        if id >= Self.firstExclusionID {
            let index = Int(id - Self.firstExclusionID)
            return .excluded(index < exclusionNames.count ? exclusionNames[index] : "?")
        }
        return .node(nodeIDs.name(of: id) ?? "?")
    }

    /// True when nothing held anywhere overlaps `prefix`.
    public func isFree(_ prefix: IPPrefix) -> Bool { occupancy[prefix.family].isFree(prefix) }

    /// Every held range overlapping `prefix`, with its holder.
    public func holders(overlapping prefix: IPPrefix) -> [(range: IPPrefix, holder: RangeHolder)] {
        occupancy[prefix.family].overlapping(prefix).map { ($0.range, holderName($0.holder)) }
    }

    /// Number of (range, holder) pairs held in `family`.
    public func heldRangeCount(_ family: IPFamily) -> Int { occupancy[family].count }

    // MARK: - Exclusions (e.g. Service CIDRs)

    private mutating func exclusionID(_ name: String) -> UInt32 {
        if let id = exclusionIDs[name] { return id }
        let id = Self.firstExclusionID + UInt32(exclusionNames.count)
        exclusionIDs[name] = id
        exclusionNames.append(name)
        return id
    }

    /// Marks `prefix` as never to be handed out, under `name`. Coverage semantics per name:
    /// adding a range already covered is a no-op; a larger range absorbs smaller ones.
    public mutating func exclude(_ prefix: IPPrefix, name: String) {
        var ranges = exclusions[name] ?? []
        if ranges.contains(where: { $0.contains(prefix) }) { return }
        let holder = exclusionID(name)
        for absorbed in ranges where prefix.contains(absorbed) { unhold(absorbed, holder) }
        ranges.removeAll { prefix.contains($0) }
        ranges.append(prefix)
        hold(prefix, holder)
        exclusions[name] = ranges
    }

    /// Removes `prefix` from the ranges excluded under `name`, splitting larger ranges.
    public mutating func unexclude(_ prefix: IPPrefix, name: String) {
        guard var ranges = exclusions[name] else { return }
        let holder = exclusionID(name)
        var added: [IPPrefix] = []
        for range in ranges where range.overlaps(prefix) {
            unhold(range, holder)
            if range.length < prefix.length { added += Self.complement(of: prefix, within: range) }
        }
        ranges.removeAll { $0.overlaps(prefix) }
        for piece in added { hold(piece, holder) }
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
        if let id = poolIDs[definition.name], let previous = definitions[Int(id)] {
            if previous == definition { return .unchanged }
            let old = states[Int(id)]
            var state = PoolState(definition)
            state.associatedCount = old.associatedCount
            state.families.updateEach { family, new in
                new.counts = old.families[family].counts
                if previous.family(family) == definition.family(family) { new.cursor = old.families[family].cursor }
            }
            definitions[Int(id)] = definition
            states[Int(id)] = state
            names[Int(id)] = definition.name
            var lost: Set<String> = []
            for (name, nodeID) in nodeIDs where slots[Int(nodeID)].pool == id {
                if overflowRanges[nodeID] == nil && Self.fits(slots[Int(nodeID)].ranges, definition) { continue }
                disassociate(nodeID, countingRelease: false)
                lost.insert(name)
            }
            poolsChanged()
            return .replaced(disassociated: lost)
        }
        let id: UInt32
        if let reused = freePoolIDs.popLast() {
            id = reused
            definitions[Int(id)] = definition
            states[Int(id)] = PoolState(definition)
            names[Int(id)] = definition.name
        } else {
            id = UInt32(definitions.count)
            definitions.append(definition)
            states.append(PoolState(definition))
            names.append(definition.name)
        }
        poolIDs[definition.name] = id
        poolsChanged()
        return .added
    }

    /// Removes a pool. Its nodes keep their ranges (held, now unassociated); returns them.
    @discardableResult
    public mutating func removePool(named name: String) -> Set<String> {
        guard let id = poolIDs.removeValue(forKey: name) else { return [] }
        var lost: Set<String> = []
        for (node, nodeID) in nodeIDs where slots[Int(nodeID)].pool == id {
            slots[Int(nodeID)].pool = NodeSlot.noPool
            lost.insert(node)
        }
        definitions[Int(id)] = nil
        states[Int(id)].live = false
        states[Int(id)].families.updateEach { _, family in family.full = false }
        names[Int(id)] = ""
        freePoolIDs.append(id)
        poolsChanged()
        return lost
    }

    /// Marks a pool as being deleted: it keeps its nodes but never allocates again.
    public mutating func setTerminating(_ name: String, _ terminating: Bool = true) {
        if let id = poolIDs[name] { states[Int(id)].terminating = terminating }
    }

    /// Stops (or resumes) allocating from a pool that is not being deleted; it keeps its
    /// definition, its nodes and its counts, and still adopts ranges that fit it.
    public mutating func setSuspended(_ name: String, _ suspended: Bool = true) {
        if let id = poolIDs[name] { states[Int(id)].suspended = suspended }
    }

    private func liveID(_ name: String) -> Int? { poolIDs[name].map(Int.init) }

    public func pool(named name: String) -> PoolDefinition? { liveID(name).flatMap { definitions[$0] } }
    public func isTerminating(_ name: String) -> Bool { liveID(name).map { states[$0].terminating } ?? false }
    /// True for a registered pool that is neither terminating nor suspended.
    public func allocates(_ name: String) -> Bool { liveID(name).map { !states[$0].terminating && !states[$0].suspended } ?? false }
    public var poolNames: [String] { poolIDs.keys.sorted() }

    /// Number of nodes whose ranges are associated with the pool (what blocks its deletion).
    public func associatedNodeCount(of name: String) -> Int { liveID(name).map { states[$0].associatedCount } ?? 0 }

    /// Names of the nodes associated with the pool (walks every node).
    public func associatedNodes(of name: String) -> Set<String> {
        guard let id = poolIDs[name] else { return [] }
        return Set(nodeIDs.lazy.filter { self.slots[Int($0.id)].pool == id }.map(\.name))
    }

    /// Counts per family for a pool (free ranges are counted by walking the ranges held
    /// inside the pool).
    public func statistics(of name: String) -> [PoolFamilyStatistics] {
        guard let id = liveID(name), let definition = definitions[id] else { return [] }
        let state = states[id]
        return definition.families.map { family in
            let counts = state.families[family.family].counts
            let occupied = occupancy[family.family].occupiedBlockCount(in: family.prefix, blockLength: family.nodePrefixLength)
            return PoolFamilyStatistics(
                family: family.family, prefix: family.prefix, nodePrefixLength: family.nodePrefixLength,
                total: family.capacity, allocated: counts.allocated, free: family.capacity - occupied,
                reservationsTotal: counts.reservations, releasesTotal: counts.releases)
        }
    }

    /// After any pool is added, replaced or removed: static ranks and compiled selectors.
    private mutating func poolsChanged() {
        let ordered = definitions.compactMap { $0 }.map { PoolRankKey(pool: $0, matchCount: 0) }.sorted()
        for (rank, key) in ordered.enumerated() {
            if let id = poolIDs[key.name] { states[Int(id)].staticRank = rank }
        }
        var keys = LabelKeyTable()
        selectors = definitions.map { CompiledSelector($0?.selector ?? .catchAll, keys: &keys) }
        labelKeys = keys
    }

    /// Ids of the pools that select the node, best first, into `rankScratch`.
    private mutating func rankPools(for node: NodeAttributes) {
        labelKeys.values(of: node.labels, into: &labelScratch)
        rankScratch.removeAll(keepingCapacity: true)
        for id in states.indices where states[id].live {
            guard let count = selectors[id].matchCount(name: node.name, labels: labelScratch) else { continue }
            // Selector pools before catch-all ones, more matched requirements first, then the static rank.
            let order = (states[id].catchAll ? UInt64(1) << 63 : 0) | UInt64(UInt32.max - UInt32(clamping: count)) << 31
                | UInt64(states[id].staticRank)
            rankScratch.append((order, UInt32(id)))
        }
        if rankScratch.count > 1 { rankScratch.sort { $0.order < $1.order } }
    }

    /// Pools that select `node`, best first (REFERENCE §2.2 with REC: catch-all pools after
    /// selector pools, ranked the same way; name as final tie-break). Includes terminating pools.
    public func rankedPools(for node: NodeAttributes) -> [String] {
        var copy = self
        copy.rankPools(for: node)
        return copy.rankScratch.compactMap { definitions[Int($0.id)]?.name }
    }

    // MARK: - Reservations

    private func reservation(_ id: UInt32, node: String) -> Reservation {
        let slot = slots[Int(id)]
        var ranges = slot.ranges
        if !overflowRanges.isEmpty, let overflow = overflowRanges[id] { ranges += overflow }
        return Reservation(
            node: node, ranges: ranges,
            pool: slot.pool == NodeSlot.noPool || !states[Int(slot.pool)].live ? nil : names[Int(slot.pool)],
            origin: slot.adopted ? .adopted : .allocated, state: slot.confirmed ? .confirmed : .pending)
    }

    public func reservation(for node: String) -> Reservation? {
        nodeIDs[node].map { reservation($0, node: node) }
    }

    /// Every reservation, by node name.
    public var allReservations: [Reservation] {
        nodeIDs.sorted { $0.name < $1.name }.map { reservation($0.id, node: $0.name) }
    }

    /// Number of nodes holding ranges.
    public var reservationCount: Int { nodeIDs.count }

    private mutating func newNode(_ name: String, _ slot: NodeSlot) -> UInt32 {
        let id: UInt32
        if let reused = freeNodeIDs.popLast() {
            id = reused
            slots[Int(id)] = slot
        } else {
            id = UInt32(slots.count)
            slots.append(slot)
        }
        nodeIDs.insert(name, id: id)
        return id
    }

    private mutating func associate(_ nodeID: UInt32, with poolID: UInt32) {
        let slot = slots[Int(nodeID)]
        slots[Int(nodeID)].pool = poolID
        guard states[Int(poolID)].live else { return }
        states[Int(poolID)].associatedCount += 1
        states[Int(poolID)].families.updateEach { family, state in
            guard slot.has(family) else { return }
            state.counts.allocated += 1
            state.counts.reservations += 1
        }
    }

    private mutating func disassociate(_ nodeID: UInt32, countingRelease: Bool) {
        let slot = slots[Int(nodeID)]
        slots[Int(nodeID)].pool = NodeSlot.noPool
        guard slot.pool != NodeSlot.noPool, states[Int(slot.pool)].live else { return }
        let id = Int(slot.pool)
        states[id].associatedCount -= 1
        states[id].families.updateEach { family, state in
            guard slot.has(family) else { return }
            state.counts.allocated -= 1
            if countingRelease { state.counts.releases += 1 }
        }
    }

    /// Reserves one range per family of the best pool that has room in every family
    /// (atomic: nothing is taken from a pool that cannot serve all its families).
    public mutating func allocate(for node: NodeAttributes) -> AllocationOutcome {
        if let id = nodeIDs[node.name] { return .alreadyReserved(reservation(id, node: node.name)) }
        rankPools(for: node)
        if rankScratch.isEmpty { return .noMatchingPool(node: node.name) }
        var exhausted: [PoolExhaustion] = []
        var closed: [String] = []
        for candidate in rankScratch.indices {
            let poolID = Int(rankScratch[candidate].id)
            if states[poolID].terminating || states[poolID].suspended {
                closed.append(names[poolID])
                continue
            }
            // IPv4 then IPv6 (the order of podCIDRs), without building arrays on this hot path.
            var slot = NodeSlot()
            var blocks = PerFamily<UInt128>(ipv4: 0, ipv6: 0)
            guard pick(.ipv4, of: poolID, into: &slot, &blocks, exhausted: &exhausted),
                  pick(.ipv6, of: poolID, into: &slot, &blocks, exhausted: &exhausted) else { continue }
            let nodeID = newNode(node.name, slot)
            var trace = AllocationTrace(passedOver: exhausted)
            trace.skipped.ipv4 = take(blocks.ipv4, of: .ipv4, poolID, for: nodeID)
            trace.skipped.ipv6 = take(blocks.ipv6, of: .ipv6, poolID, for: nodeID)
            associate(nodeID, with: UInt32(poolID))
            return .allocated(reservation(nodeID, node: node.name), trace)
        }
        if exhausted.isEmpty { return .onlyClosedPools(node: node.name, pools: closed) }
        return .exhausted(node: node.name, pools: exhausted)
    }

    /// The next free block of one family of a pool (next fit), remembering when there is none.
    private mutating func freeBlock(_ poolID: Int, _ pool: PoolFamily) -> UInt128? {
        let family = pool.family
        if states[poolID].families[family].full { return nil }
        let found = occupancy[family].firstFreeBlock(in: pool.prefix, blockLength: pool.nodePrefixLength,
                                                     from: states[poolID].families[family].cursor)
        if found == nil { states[poolID].families[family].full = true }
        return found
    }

    /// Picks the next free block of one family of a pool for the node being built (a pool
    /// without the family has nothing to pick); false, noted in `exhausted`, when it is full.
    private mutating func pick(_ family: IPFamily, of poolID: Int, into slot: inout NodeSlot, _ blocks: inout PerFamily<UInt128>,
                               exhausted: inout [PoolExhaustion]) -> Bool {
        guard let pool = states[poolID].families[family].range else { return true }
        guard let found = freeBlock(poolID, pool) else {
            exhausted.append(PoolExhaustion(pool: names[poolID], family: pool.family, prefix: pool.prefix))
            return false
        }
        blocks[family] = found
        _ = slot.store(pool.block(at: found))
        return true
    }

    /// Holds a block of one family of a pool (if it has the family) for the node and moves the
    /// family's cursor past it; returns the blocks passed over between the cursor and this one.
    private mutating func take(_ block: UInt128, of family: IPFamily, _ poolID: Int, for nodeID: UInt32) -> UInt128 {
        guard let pool = states[poolID].families[family].range else { return 0 }
        hold(pool.block(at: block), nodeID)
        let cursor = states[poolID].families[family].cursor
        let next = block + 1
        states[poolID].families[family].cursor = next == pool.capacity ? 0 : next
        return block >= cursor ? block - cursor : pool.capacity - cursor + block
    }

    /// Records that the node now carries its pending reservation; false when it holds none.
    @discardableResult
    public mutating func confirm(node: String) -> Bool {
        guard let id = nodeIDs[node] else { return false }
        slots[Int(id)].confirmed = true
        return true
    }

    /// Releases everything the node holds (by node, never by its labels). Returns what was
    /// released, with the pool it belonged to.
    @discardableResult
    public mutating func release(node: String) -> Reservation? {
        guard let id = nodeIDs[node] else { return nil }
        let released = reservation(id, node: node)
        for range in released.ranges { unhold(range, id) }
        disassociate(id, countingRelease: true)
        nodeIDs.remove(node)
        overflowRanges[id] = nil
        slots[Int(id)] = NodeSlot()
        freeNodeIDs.append(id)
        return released
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
        if let id = nodeIDs[node.name] {
            let existing = reservation(id, node: node.name)
            if Set(existing.ranges) == Set(ranges) {
                change = existing.state == .pending ? .confirmedPending : .unchanged
                slots[Int(id)].confirmed = true
            } else {
                release(node: node.name)
                change = .replaced(previous: existing.ranges)
            }
        }
        if ranges.isEmpty {
            return AdoptionReport(reservation: nil, change: change, selectorMatches: false, conflicts: [], invalid: invalid)
        }
        let nodeID: UInt32
        if let id = nodeIDs[node.name] {
            nodeID = id
        } else {
            var slot = NodeSlot()
            slot.adopted = true
            slot.confirmed = true
            let overflow = ranges.filter { !slot.store($0) }
            nodeID = newNode(node.name, slot)
            if !overflow.isEmpty { overflowRanges[nodeID] = overflow }
            for range in ranges { hold(range, nodeID) }
        }
        // Association: keep a valid one; otherwise find the best pool. Invalid input
        // (two ranges of one family) is held but never associated.
        var selectorMatches = false
        let current = slots[Int(nodeID)].pool
        if current != NodeSlot.noPool, let definition = definitions[Int(current)] {
            selectorMatches = definition.selector.matchCount(for: node) != nil
        } else if overflowRanges[nodeID] == nil, let (poolID, matches) = bestFit(for: ranges, node: node) {
            associate(nodeID, with: poolID)
            selectorMatches = matches
        }
        var conflicts: [RangeConflict] = []
        for range in ranges {
            for (other, holder) in occupancy[range.family].overlapping(range) where holder != nodeID {
                conflicts.append(RangeConflict(range: range, other: holderName(holder), otherRange: other))
            }
        }
        return AdoptionReport(reservation: reservation(nodeID, node: node.name), change: change,
                              selectorMatches: selectorMatches, conflicts: conflicts, invalid: invalid)
    }

    /// True when every range lies in the pool with exactly the pool's node prefix length.
    static func fits(_ ranges: [IPPrefix], _ pool: PoolDefinition) -> Bool {
        !ranges.isEmpty && ranges.allSatisfy { range in
            guard let family = pool.family(range.family) else { return false }
            return family.prefix.contains(range) && range.length == family.nodePrefixLength
        }
    }

    private mutating func bestFit(for ranges: [IPPrefix], node: NodeAttributes) -> (UInt32, Bool)? {
        rankPools(for: node)
        for candidate in rankScratch {
            if Self.fits(ranges, definitions[Int(candidate.id)]!) { return (candidate.id, true) }
        }
        let byRank = definitions.indices.filter { definitions[$0] != nil }.sorted { states[$0].staticRank < states[$1].staticRank }
        for id in byRank where Self.fits(ranges, definitions[id]!) {
            return (UInt32(id), false)
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
