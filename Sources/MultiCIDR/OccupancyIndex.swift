/// Who holds a range in the occupancy index.
public enum RangeHolder: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// A node's podCIDR (allocated by us, or found on the node).
    case node(String)
    /// A range that must never be handed out (for example a Service CIDR), by name.
    case excluded(String)

    public var description: String {
        switch self {
        case .node(let name): return "node \(name)"
        case .excluded(let name): return "excluded range \(name)"
        }
    }
}

/// Every range taken in the cluster for one address family: ranges of any size, from any
/// pool or none, possibly held by several holders at once (a duplicate). Answers overlap
/// queries and finds free aligned blocks. Memory grows with the number of ranges held
/// (24 bytes each), never with the size of a pool. Holders are small integer ids that the
/// engine maps to names.
struct OccupancyIndex: Sendable {
    let family: IPFamily

    /// One held range and one holder; sorted by address, then length (larger ranges
    /// first), then holder. Two UInt64 halves keep the stride at 24 bytes.
    struct Entry: Comparable, Sendable {
        var high: UInt64
        var low: UInt64
        var length: UInt8
        var holder: UInt32

        init(start: UInt128, length: Int, holder: UInt32) {
            self.high = UInt64(truncatingIfNeeded: start >> 64)
            self.low = UInt64(truncatingIfNeeded: start)
            self.length = UInt8(length)
            self.holder = holder
        }

        var start: UInt128 { UInt128(high) << 64 | UInt128(low) }

        static func < (a: Entry, b: Entry) -> Bool {
            (a.high, a.low, a.length, a.holder) < (b.high, b.low, b.length, b.holder)
        }

        func sameRange(_ other: Entry) -> Bool { high == other.high && low == other.low && length == other.length }
    }

    private var entries = SortedKeyList<Entry>()
    private var lengthCounts = [Int](repeating: 0, count: 129)
    /// Prefix lengths currently in use, ascending; ancestor lookups only probe these.
    private var usedLengths: [Int] = []

    init(family: IPFamily) {
        self.family = family
    }

    /// Number of (range, holder) pairs held.
    var count: Int { entries.count }

    func prefix(_ entry: Entry) -> IPPrefix {
        IPPrefix(address: IPAddress(family: family, value: entry.start), length: Int(entry.length))
    }

    private func lastAddress(_ entry: Entry) -> UInt128 {
        entry.start | IPPrefix.hostMask(hostBits: family.bitWidth - Int(entry.length))
    }

    /// Records that `holder` holds `prefix`. Returns false if it already did.
    @discardableResult
    mutating func insert(_ prefix: IPPrefix, holder: UInt32) -> Bool {
        precondition(prefix.family == family)
        guard entries.insert(Entry(start: prefix.first, length: prefix.length, holder: holder)) else { return false }
        lengthCounts[prefix.length] += 1
        if lengthCounts[prefix.length] == 1 {
            usedLengths.append(prefix.length)
            usedLengths.sort()
        }
        return true
    }

    /// Drops `holder`'s hold on exactly `prefix`. Returns false if it did not hold it.
    @discardableResult
    mutating func remove(_ prefix: IPPrefix, holder: UInt32) -> Bool {
        guard entries.remove(Entry(start: prefix.first, length: prefix.length, holder: holder)) else { return false }
        lengthCounts[prefix.length] -= 1
        if lengthCounts[prefix.length] == 0 { usedLengths.removeAll { $0 == prefix.length } }
        return true
    }

    /// Whether anyone holds exactly the range (start, length).
    private func isHeld(start: UInt128, length: Int) -> Bool {
        let probe = Entry(start: start, length: length, holder: 0)
        guard let position = entries.firstPosition(atOrAfter: probe) else { return false }
        return entries.key(at: position).sameRange(probe)
    }

    /// A held range of length <= `maxLength` that contains the address `start`.
    private func heldAncestor(start: UInt128, maxLength: Int) -> (start: UInt128, length: Int)? {
        for length in usedLengths {
            if length > maxLength { break }
            let candidate = start & IPPrefix.networkMask(family: family, length: length)
            if isHeld(start: candidate, length: length) { return (candidate, length) }
        }
        return nil
    }

    /// Every (range, holder) that shares an address with `prefix`.
    func overlapping(_ prefix: IPPrefix) -> [(range: IPPrefix, holder: UInt32)] {
        var result: [(range: IPPrefix, holder: UInt32)] = []
        for length in usedLengths where length < prefix.length {
            let start = prefix.first & IPPrefix.networkMask(family: family, length: length)
            var position = entries.firstPosition(atOrAfter: Entry(start: start, length: length, holder: 0))
            while let current = position, entries.key(at: current).start == start, Int(entries.key(at: current).length) == length {
                result.append((self.prefix(entries.key(at: current)), entries.key(at: current).holder))
                position = entries.position(after: current)
            }
        }
        let last = prefix.last
        var position = entries.firstPosition(atOrAfter: Entry(start: prefix.first, length: prefix.length, holder: 0))
        while let current = position {
            let found = entries.key(at: current)
            if found.start > last { break }
            result.append((self.prefix(found), found.holder))
            position = entries.position(after: current)
        }
        return result
    }

    /// True when no held range shares an address with `prefix`.
    func isFree(_ prefix: IPPrefix) -> Bool {
        if heldAncestor(start: prefix.first, maxLength: prefix.length - 1) != nil { return false }
        guard let position = entries.firstPosition(atOrAfter: Entry(start: prefix.first, length: prefix.length, holder: 0)) else { return true }
        return entries.key(at: position).start > prefix.last
    }

    /// Index (within `pool`, in blocks of `blockLength`) of the first block that overlaps no
    /// held range, searching from `startIndex` to the end and then from 0 (next fit).
    func firstFreeBlock(in pool: IPPrefix, blockLength: Int, from startIndex: UInt128) -> UInt128? {
        if heldAncestor(start: pool.first, maxLength: pool.length) != nil { return nil }
        let capacity: UInt128 = UInt128(1) << UInt128(blockLength - pool.length)
        let start = startIndex < capacity ? startIndex : 0
        if let found = scan(pool: pool, blockLength: blockLength, from: start, to: capacity) { return found }
        return start > 0 ? scan(pool: pool, blockLength: blockLength, from: 0, to: start) : nil
    }

    private func scan(pool: IPPrefix, blockLength: Int, from low: UInt128, to high: UInt128) -> UInt128? {
        let hostBits = family.bitWidth - blockLength
        let blockMask = IPPrefix.hostMask(hostBits: hostBits)
        func blockStart(_ index: UInt128) -> UInt128 { hostBits >= 128 ? pool.first : pool.first | (index << UInt128(hostBits)) }
        func blockIndex(_ address: UInt128) -> UInt128 { hostBits >= 128 ? 0 : (address - pool.first) >> UInt128(hostBits) }
        // Only ranges shorter than a block can contain it without starting inside it.
        let probeAncestors = usedLengths.first.map { $0 < blockLength } ?? false
        var index = low
        var position = entries.firstPosition(atOrAfter: Entry(start: blockStart(index), length: 0, holder: 0))
        while index < high {
            let first = blockStart(index)
            let last = first | blockMask
            if probeAncestors, let ancestor = heldAncestor(start: first, maxLength: blockLength - 1) {
                let ancestorLast = ancestor.start | IPPrefix.hostMask(hostBits: family.bitWidth - ancestor.length)
                if ancestorLast >= pool.last { return nil }
                index = blockIndex(ancestorLast) + 1
                position = entries.firstPosition(atOrAfter: Entry(start: blockStart(index), length: 0, holder: 0))
                continue
            }
            // Ranges starting before this block end before it (no ancestor holds it).
            while let current = position, entries.key(at: current).start < first {
                position = entries.position(after: current)
            }
            guard let current = position else { return index }
            let next = entries.key(at: current)
            if next.start > last { return index }
            // Blocked by a range inside this block: continue after the block holding its end.
            let nextLast = lastAddress(next)
            if nextLast >= pool.last { return nil }
            index = blockIndex(nextLast) + 1
        }
        return nil
    }

    /// Number of `blockLength` blocks of `pool` that overlap at least one held range.
    func occupiedBlockCount(in pool: IPPrefix, blockLength: Int) -> UInt128 {
        let capacity: UInt128 = UInt128(1) << UInt128(blockLength - pool.length)
        if heldAncestor(start: pool.first, maxLength: pool.length) != nil { return capacity }
        let hostBits = family.bitWidth - blockLength
        func blockIndex(_ address: UInt128) -> UInt128 { hostBits >= 128 ? 0 : (address - pool.first) >> UInt128(hostBits) }
        var count: UInt128 = 0
        var runStart: UInt128 = 0, runEnd: UInt128 = 0, inRun = false
        var position = entries.firstPosition(atOrAfter: Entry(start: pool.first, length: pool.length, holder: 0))
        while let current = position {
            let found = entries.key(at: current)
            if found.start > pool.last { break }
            let low = blockIndex(found.start), high = blockIndex(lastAddress(found))
            if inRun && low <= runEnd {
                runEnd = max(runEnd, high)
            } else {
                if inRun { count += runEnd - runStart + 1 }
                runStart = low; runEnd = high; inRun = true
            }
            position = entries.position(after: current)
        }
        if inRun { count += runEnd - runStart + 1 }
        return count
    }

    /// Every (range, holder) in address order (tests and recounts).
    var all: [(range: IPPrefix, holder: UInt32)] { entries.all.map { (prefix($0), $0.holder) } }
}
