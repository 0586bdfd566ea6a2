/// The engine's node names: the id of a name, and the name of an id (a range's holder) by an
/// array read. Each name is stored once, so a million nodes cost about 33 bytes each here,
/// where a Dictionary from name to id takes about 42 and an array back would add 16: the
/// million-node memory target has no room for that (measured: 126 MiB peak before, 108 after).
struct NodeNameTable: Sendable, Sequence {
    /// Names by id; nil for an id not in use.
    private var names: [String?] = []
    /// Open addressing with linear probing, at most half full, a power of two long. A bucket
    /// holds the low 32 bits of the name's hash (high half) and id + 1 (low half), or 0 when
    /// empty: a probe compares hashes, and a name only when they agree, and moving entries
    /// never hashes a name again. Removal moves the rest of the run back (no tombstones).
    private var buckets: [UInt64] = []
    /// Number of names recorded.
    private(set) var count = 0

    private var mask: Int { buckets.count - 1 }

    private static func hash(_ name: String) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: name.hashValue)) }
    private static func hash(in bucket: UInt64) -> UInt64 { bucket >> 32 }
    private static func id(in bucket: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: bucket) - 1 }

    /// The bucket holding `name`, or nil.
    private func bucket(of name: String) -> Int? {
        guard !buckets.isEmpty else { return nil }
        let hash = Self.hash(name)
        var bucket = Int(hash) & mask
        while buckets[bucket] != 0 {
            let stored = buckets[bucket]
            if Self.hash(in: stored) == hash && names[Int(Self.id(in: stored))] == name { return bucket }
            bucket = (bucket + 1) & mask
        }
        return nil
    }

    /// The id recorded for `name`.
    subscript(name: String) -> UInt32? {
        bucket(of: name).map { Self.id(in: buckets[$0]) }
    }

    /// The name recorded under `id`.
    func name(of id: UInt32) -> String? {
        Int(id) < names.count ? names[Int(id)] : nil
    }

    /// Records `name` under `id`. The name must not be recorded yet, nor the id in use.
    mutating func insert(_ name: String, id: UInt32) {
        assert(self[name] == nil && self.name(of: id) == nil, "node \(name) or id \(id) recorded twice")
        while names.count <= Int(id) { names.append(nil) }
        names[Int(id)] = name
        count += 1
        if count * 2 > buckets.count { rebuild(capacity: Swift.max(16, buckets.count * 2)) }
        place(Self.hash(name) << 32 | UInt64(id + 1))
    }

    /// Forgets `name`; returns the id it had.
    @discardableResult
    mutating func remove(_ name: String) -> UInt32? {
        guard var hole = bucket(of: name) else { return nil }
        let id = Self.id(in: buckets[hole])
        names[Int(id)] = nil
        count -= 1
        // Later members of the run move into the hole unless that would put them before
        // their home bucket, where a lookup would not find them.
        var next = (hole + 1) & mask
        while buckets[next] != 0 {
            let wanted = Int(Self.hash(in: buckets[next])) & mask
            if (next - wanted) & mask >= (next - hole) & mask {
                buckets[hole] = buckets[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        buckets[hole] = 0
        return id
    }

    private mutating func place(_ entry: UInt64) {
        var bucket = Int(Self.hash(in: entry)) & mask
        while buckets[bucket] != 0 { bucket = (bucket + 1) & mask }
        buckets[bucket] = entry
    }

    private mutating func rebuild(capacity: Int) {
        let old = buckets
        buckets = [UInt64](repeating: 0, count: capacity)
        for entry in old where entry != 0 { place(entry) }
    }

    /// Every (name, id) recorded, by id.
    func makeIterator() -> Iterator { Iterator(names: names) }

    struct Iterator: IteratorProtocol {
        fileprivate let names: [String?]
        fileprivate var id = 0

        mutating func next() -> (name: String, id: UInt32)? {
            while id < names.count {
                let current = id
                id += 1
                if let name = names[current] { return (name, UInt32(current)) }
            }
            return nil
        }
    }
}
