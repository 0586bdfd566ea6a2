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
/// queries and finds free aligned blocks. Memory grows with the number of ranges held,
/// never with the size of a pool.
public struct OccupancyIndex: Sendable {
    public let family: IPFamily

    struct Key: Hashable, Comparable, Sendable {
        var start: UInt128
        var length: UInt8
        static func < (a: Key, b: Key) -> Bool { (a.start, a.length) < (b.start, b.length) }
    }

    private var keys = SortedKeyList<Key>()
    private var holdersByKey: [Key: [RangeHolder]] = [:]
    private var lengthCounts = [Int](repeating: 0, count: 129)
    /// Prefix lengths currently in use, ascending; ancestor lookups only probe these.
    private var usedLengths: [Int] = []

    public init(family: IPFamily) {
        self.family = family
    }

    /// Number of distinct ranges held.
    public var rangeCount: Int { keys.count }

    private func key(_ prefix: IPPrefix) -> Key {
        precondition(prefix.family == family, "\(prefix) is not an \(family) range")
        return Key(start: prefix.first, length: UInt8(prefix.length))
    }

    private func prefix(_ key: Key) -> IPPrefix {
        IPPrefix(address: IPAddress(family: family, value: key.start), length: Int(key.length))
    }

    private func lastAddress(_ key: Key) -> UInt128 {
        key.start | IPPrefix.hostMask(hostBits: family.bitWidth - Int(key.length))
    }

    /// Records that `holder` holds `prefix`. Returns false if it already did.
    @discardableResult
    public mutating func insert(_ prefix: IPPrefix, holder: RangeHolder) -> Bool {
        let k = key(prefix)
        if var existing = holdersByKey[k] {
            if existing.contains(holder) { return false }
            existing.append(holder)
            holdersByKey[k] = existing
            return true
        }
        holdersByKey[k] = [holder]
        keys.insert(k)
        let length = Int(k.length)
        lengthCounts[length] += 1
        if lengthCounts[length] == 1 {
            usedLengths.append(length)
            usedLengths.sort()
        }
        return true
    }

    /// Drops `holder`'s hold on exactly `prefix`. Returns false if it did not hold it.
    @discardableResult
    public mutating func remove(_ prefix: IPPrefix, holder: RangeHolder) -> Bool {
        let k = key(prefix)
        guard var existing = holdersByKey[k], let at = existing.firstIndex(of: holder) else { return false }
        existing.remove(at: at)
        if !existing.isEmpty {
            holdersByKey[k] = existing
            return true
        }
        holdersByKey[k] = nil
        keys.remove(k)
        let length = Int(k.length)
        lengthCounts[length] -= 1
        if lengthCounts[length] == 0 { usedLengths.removeAll { $0 == length } }
        return true
    }

    /// Holders of exactly `prefix`.
    public func holders(of prefix: IPPrefix) -> [RangeHolder] {
        holdersByKey[key(prefix)] ?? []
    }

    /// A held range that contains the block starting at `start` with `length`, probing only
    /// the lengths in use that are shorter than or equal to `maxLength`.
    private func heldAncestor(start: UInt128, maxLength: Int) -> Key? {
        for length in usedLengths {
            if length > maxLength { break }
            let candidate = Key(start: start & IPPrefix.networkMask(family: family, length: length), length: UInt8(length))
            if holdersByKey[candidate] != nil { return candidate }
        }
        return nil
    }

    /// Every held range that shares an address with `prefix`, with its holders.
    public func overlapping(_ prefix: IPPrefix) -> [(range: IPPrefix, holders: [RangeHolder])] {
        let k = key(prefix)
        var result: [(range: IPPrefix, holders: [RangeHolder])] = []
        for length in usedLengths where length < prefix.length {
            let ancestor = Key(start: k.start & IPPrefix.networkMask(family: family, length: length), length: UInt8(length))
            if let holders = holdersByKey[ancestor] { result.append((self.prefix(ancestor), holders)) }
        }
        let last = prefix.last
        var position = keys.firstPosition(atOrAfter: k)
        while let current = position {
            let found = keys.key(at: current)
            if found.start > last { break }
            result.append((self.prefix(found), holdersByKey[found] ?? []))
            position = keys.position(after: current)
        }
        return result
    }

    /// True when no held range shares an address with `prefix`.
    public func isFree(_ prefix: IPPrefix) -> Bool {
        let k = key(prefix)
        if heldAncestor(start: k.start, maxLength: prefix.length - 1) != nil { return false }
        guard let position = keys.firstPosition(atOrAfter: k) else { return true }
        return keys.key(at: position).start > prefix.last
    }

    /// Index (within `pool`, in blocks of `blockLength`) of the first block that overlaps no
    /// held range, searching from `startIndex` to the end and then from 0 (next fit).
    public func firstFreeBlock(in pool: IPPrefix, blockLength: Int, from startIndex: UInt128) -> UInt128? {
        precondition(blockLength >= pool.length && blockLength <= family.bitWidth)
        if heldAncestor(start: pool.first, maxLength: pool.length) != nil { return nil }
        let capacityBits = blockLength - pool.length
        let capacity: UInt128 = UInt128(1) << UInt128(capacityBits)
        let start = startIndex < capacity ? startIndex : 0
        if let found = scan(pool: pool, blockLength: blockLength, from: start, to: capacity) { return found }
        return start > 0 ? scan(pool: pool, blockLength: blockLength, from: 0, to: start) : nil
    }

    private func scan(pool: IPPrefix, blockLength: Int, from low: UInt128, to high: UInt128) -> UInt128? {
        let hostBits = family.bitWidth - blockLength
        let blockMask = IPPrefix.hostMask(hostBits: hostBits)
        func blockStart(_ index: UInt128) -> UInt128 { hostBits >= 128 ? pool.first : pool.first | (index << UInt128(hostBits)) }
        func blockIndex(_ address: UInt128) -> UInt128 { hostBits >= 128 ? 0 : (address - pool.first) >> UInt128(hostBits) }
        // Only lengths shorter than a block can contain it without starting inside it.
        let probeAncestors = usedLengths.first.map { $0 < blockLength } ?? false
        var index = low
        var position = keys.firstPosition(atOrAfter: Key(start: blockStart(index), length: UInt8(blockLength)))
        while index < high {
            let first = blockStart(index)
            let last = first | blockMask
            if probeAncestors, let ancestor = heldAncestor(start: first, maxLength: blockLength - 1) {
                let ancestorLast = lastAddress(ancestor)
                if ancestorLast >= pool.last { return nil }
                index = blockIndex(ancestorLast) + 1
                position = keys.firstPosition(atOrAfter: Key(start: blockStart(index), length: 0))
                continue
            }
            // Skip keys that end before this block (they start before it).
            while let current = position, keys.key(at: current).start < first {
                position = keys.position(after: current)
            }
            guard let current = position else { return index }
            let next = keys.key(at: current)
            if next.start > last { return index }
            // Blocked by a range inside this block: continue after the block holding its end.
            let nextLast = lastAddress(next)
            if nextLast >= pool.last { return nil }
            index = blockIndex(nextLast) + 1
        }
        return nil
    }

    /// Number of `blockLength` blocks of `pool` that overlap at least one held range.
    public func occupiedBlockCount(in pool: IPPrefix, blockLength: Int) -> UInt128 {
        let capacityBits = blockLength - pool.length
        let capacity: UInt128 = UInt128(1) << UInt128(capacityBits)
        if heldAncestor(start: pool.first, maxLength: pool.length) != nil { return capacity }
        let hostBits = family.bitWidth - blockLength
        func blockIndex(_ address: UInt128) -> UInt128 { hostBits >= 128 ? 0 : (address - pool.first) >> UInt128(hostBits) }
        var count: UInt128 = 0
        var runStart: UInt128 = 0, runEnd: UInt128 = 0, inRun = false
        var position = keys.firstPosition(atOrAfter: key(pool))
        while let current = position {
            let found = keys.key(at: current)
            if found.start > pool.last { break }
            let low = blockIndex(found.start), high = blockIndex(lastAddress(found))
            if inRun && low <= runEnd {
                runEnd = max(runEnd, high)
            } else {
                if inRun { count += runEnd - runStart + 1 }
                runStart = low; runEnd = high; inRun = true
            }
            position = keys.position(after: current)
        }
        if inRun { count += runEnd - runStart + 1 }
        return count
    }

    /// Every held range with its holders, in address order.
    public var entries: [(range: IPPrefix, holders: [RangeHolder])] {
        keys.all.map { (prefix($0), holdersByKey[$0] ?? []) }
    }
}
