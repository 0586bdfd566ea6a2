import MultiCIDR

/// One address of an ADD: which range set and range it came from, and whether this call reserves it.
public struct PlannedAddress: Sendable, Hashable {
    public let setIndex: Int
    public let address: IPAddress
    public let range: AddressRange
    /// False when the container already held it (a repeated ADD returns the same address).
    public let isNew: Bool
}

/// The decision of an ADD, computed from a snapshot before anything is written, so a full
/// range set leaves the store untouched (dual-stack is all or nothing).
public struct AddPlan: Sendable, Hashable {
    public let addresses: [PlannedAddress]
    /// New `last_reserved_ip.<set>` values.
    public let cursorUpdates: [Int: IPAddress]

    public var newAddresses: [PlannedAddress] { addresses.filter(\.isNew) }
}

/// Address choice: pure functions of the range sets, the store snapshot and a random source.
public enum Allocator {
    public static func planAdd(rangeSets: [RangeSet], strategy: AllocationStrategy, snapshot: StoreSnapshot,
                               containerID: String, ifname: String,
                               using generator: inout some RandomNumberGenerator) throws(CNIError) -> AddPlan {
        let held = snapshot.addresses(of: containerID, ifname: ifname)
        var taken = Set(snapshot.allocations.keys)
        var planned: [PlannedAddress] = []
        var cursors: [Int: IPAddress] = [:]
        for (index, set) in rangeSets.enumerated() {
            if let address = held.first(where: set.contains), let range = set.range(assigning: address) {
                planned.append(PlannedAddress(setIndex: index, address: address, range: range, isNew: false))
                continue
            }
            let takenValues = Set(taken.lazy.filter { $0.family == set.family }.map(\.value))
            let choice: (AddressRange, UInt128)?
            switch strategy {
            case .sequential:
                choice = nextSequential(in: set, after: snapshot.cursors[index]) { takenValues.contains($0) }
            case .random:
                choice = randomFree(in: set, taken: takenValues, using: &generator)
            }
            guard let (range, value) = choice else {
                throw exhausted(setIndex: index, set: set, inUse: inUse(set, taken: takenValues))
            }
            let address = range.address(value)
            taken.insert(address)
            planned.append(PlannedAddress(setIndex: index, address: address, range: range, isNew: true))
            cursors[index] = address
        }
        return AddPlan(addresses: planned, cursorUpdates: cursors)
    }

    /// host-local's order: the address after the cursor (when the cursor is in the set), else
    /// the first range's start; on through the ranges, wrapping; nil once back at the start.
    /// The network address, IPv4 broadcast and gateway are skipped.
    public static func nextSequential(in set: RangeSet, after cursor: IPAddress?,
                                      isTaken: (UInt128) -> Bool) -> (AddressRange, UInt128)? {
        let ranges = set.ranges
        var rangeIndex = 0
        var current: UInt128?
        if let cursor, cursor.family == set.family, let index = ranges.firstIndex(where: { $0.contains(cursor.value) }) {
            rangeIndex = index
            current = cursor.value
        }
        var first: (Int, UInt128)?
        while true {
            let range = ranges[rangeIndex]
            if let value = current {
                if value == range.end {
                    rangeIndex = (rangeIndex + 1) % ranges.count
                    current = ranges[rangeIndex].start
                } else {
                    current = value + 1
                }
            } else {
                current = range.start
            }
            let value = current!
            if let first {
                if first == (rangeIndex, value) { return nil }
            } else {
                first = (rangeIndex, value)
            }
            let candidate = ranges[rangeIndex]
            if candidate.isNeverAssigned(value) || isTaken(value) { continue }
            return (candidate, value)
        }
    }

    /// Uniform over the free addresses of the set, in time linear in the number of taken
    /// addresses (never in the size of the range): draw the k-th free address, then step
    /// over the taken ones below it.
    public static func randomFree(in set: RangeSet, taken: Set<UInt128>,
                                  using generator: inout some RandomNumberGenerator) -> (AddressRange, UInt128)? {
        let blocks = set.ranges.map { blocked(in: $0, taken: taken) }
        var total: UInt128 = 0
        for (range, blocked) in zip(set.ranges, blocks) {
            let (sum, overflow) = total.addingReportingOverflow(range.size - UInt128(blocked.count))
            total = overflow ? .max : sum
        }
        guard total > 0 else { return nil }
        var pick = UInt128.random(in: 0..<total, using: &generator)
        for (range, blocked) in zip(set.ranges, blocks) {
            let free = range.size - UInt128(blocked.count)
            guard pick < free else { pick -= free; continue }
            var value = range.start + pick
            for address in blocked {
                if address <= value { value += 1 } else { break }
            }
            return (range, value)
        }
        return nil
    }

    /// Addresses of `range` that cannot be handed out, ascending and distinct.
    static func blocked(in range: AddressRange, taken: Set<UInt128>) -> [UInt128] {
        var values = Set(taken.filter(range.contains))
        values.formUnion(range.neverAssigned)
        return values.sorted()
    }

    /// Addresses of the set in use by pods (for messages and STATUS).
    public static func inUse(_ set: RangeSet, taken: Set<UInt128>) -> UInt128 {
        set.ranges.reduce(UInt128(0)) { total, range in
            total + UInt128(taken.filter { range.isAssignable($0) }.count)
        }
    }

    /// Free addresses of each range set, for STATUS.
    public static func freeCounts(rangeSets: [RangeSet], snapshot: StoreSnapshot) -> [UInt128] {
        rangeSets.map { set in
            let taken = Set(snapshot.allocations.keys.lazy.filter { $0.family == set.family }.map(\.value))
            return set.capacity - inUse(set, taken: taken)
        }
    }

    static func exhausted(setIndex: Int, set: RangeSet, inUse: UInt128) -> CNIError {
        CNIError(.rangeSetExhausted, "no IP addresses available in range set \(setIndex) (\(set)): \(inUse) of \(set.capacity) in use",
                 details: "delete pods on this node, release leaked addresses with GC, or give the node a larger podCIDR")
    }

    /// CHECK: the container must hold an address in every range set, and `prevResult`
    /// (when given) must show exactly those addresses for our ranges.
    public static func check(rangeSets: [RangeSet], snapshot: StoreSnapshot, containerID: String, ifname: String,
                             previous: [IPAddress]?, storeDirectory: String) throws(CNIError) {
        let held = snapshot.addresses(of: containerID, ifname: ifname)
        for (index, set) in rangeSets.enumerated() {
            guard let address = held.first(where: set.contains) else {
                throw CNIError(.reservationMissing,
                               "container \(containerID) interface \(ifname) holds no address of range set \(index) (\(set)) in \(storeDirectory)",
                               details: "it was released (DEL or GC) or never allocated; delete and recreate the pod")
            }
            guard let previous else { continue }
            if !previous.contains(address) {
                throw CNIError(.reservationMismatch,
                               "container \(containerID) interface \(ifname) holds \(address) but prevResult lists \(previous.map(\.description).joined(separator: ", "))",
                               details: "the pod's addresses no longer match the store; delete and recreate the pod")
            }
            for other in previous where set.contains(other) && !held.contains(other) {
                throw CNIError(.reservationMismatch,
                               "prevResult lists \(other) for container \(containerID) interface \(ifname), but the store does not reserve it for them",
                               details: "the pod's addresses no longer match the store; delete and recreate the pod")
            }
        }
    }

    /// DEL: every address `(containerID, ifname)` holds, in any range (the config may have changed).
    public static func releasable(snapshot: StoreSnapshot, containerID: String, ifname: String) -> [IPAddress] {
        snapshot.addresses(of: containerID, ifname: ifname)
    }

    /// GC: every address not held by a valid attachment, including unreadable files.
    public static func garbage(snapshot: StoreSnapshot, valid: [Attachment]) -> [IPAddress] {
        let keep = Set(valid)
        let keepIDs = Set(valid.map(\.containerID))
        return snapshot.allocations.compactMap { address, owner in
            guard let owner else { return address }
            if let ifname = owner.ifname {
                return keep.contains(Attachment(containerID: owner.containerID, ifname: ifname)) ? nil : address
            }
            return keepIDs.contains(owner.containerID) ? nil : address
        }.sorted()
    }
}
