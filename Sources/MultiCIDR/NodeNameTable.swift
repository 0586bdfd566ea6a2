/// The engine's node names: the id of a name, and the name of an id (a range's holder) by an
/// array read. Each name is stored once, so a node costs about 24 bytes here, where a
/// Dictionary from name to id plus an array back would take about 36: the million-node memory
/// target has no room for that.
struct NodeNameTable: Sendable, Sequence {
    /// Names by id; nil for an id not in use.
    private var names: [String?] = []
    /// Open addressing with linear probing: each bucket holds id + 1 of a name whose hash
    /// leads there, or 0 when empty. A power of two, at most three quarters full. Removal
    /// moves the rest of the run back, so there are no tombstones.
    private var buckets: [UInt32] = []
    /// Number of names recorded.
    private(set) var count = 0

    private var mask: Int { buckets.count - 1 }

    private func home(_ name: String) -> Int { name.hashValue & mask }

    /// The bucket holding `name`, or nil.
    private func bucket(of name: String) -> Int? {
        guard !buckets.isEmpty else { return nil }
        var bucket = home(name)
        while buckets[bucket] != 0 {
            if names[Int(buckets[bucket] - 1)] == name { return bucket }
            bucket = (bucket + 1) & mask
        }
        return nil
    }

    /// The id recorded for `name`.
    subscript(name: String) -> UInt32? {
        bucket(of: name).map { buckets[$0] - 1 }
    }

    /// The name recorded under `id`.
    func name(of id: UInt32) -> String? {
        Int(id) < names.count ? names[Int(id)] : nil
    }

    /// Records `name` under `id`. The name must not be recorded yet, nor the id in use.
    mutating func insert(_ name: String, id: UInt32) {
        assert(self[name] == nil && self.name(of: id) == nil, "node \(name) or id \(id) recorded twice")
        if Int(id) >= names.count { names.append(contentsOf: repeatElement(nil, count: Int(id) + 1 - names.count)) }
        names[Int(id)] = name
        count += 1
        if count * 4 > buckets.count * 3 {
            rebuild(capacity: Swift.max(16, buckets.count * 2))
        } else {
            place(id)
        }
    }

    /// Forgets `name`; returns the id it had.
    @discardableResult
    mutating func remove(_ name: String) -> UInt32? {
        guard var hole = bucket(of: name) else { return nil }
        let id = buckets[hole] - 1
        names[Int(id)] = nil
        count -= 1
        // Later members of the run move into the hole unless that would put them before
        // their home bucket, where a lookup would not find them.
        var next = (hole + 1) & mask
        while buckets[next] != 0 {
            let moved = buckets[next]
            let wanted = home(names[Int(moved - 1)]!)
            if (next - wanted) & mask >= (next - hole) & mask {
                buckets[hole] = moved
                hole = next
            }
            next = (next + 1) & mask
        }
        buckets[hole] = 0
        return id
    }

    private mutating func place(_ id: UInt32) {
        var bucket = home(names[Int(id)]!)
        while buckets[bucket] != 0 { bucket = (bucket + 1) & mask }
        buckets[bucket] = id + 1
    }

    private mutating func rebuild(capacity: Int) {
        buckets = [UInt32](repeating: 0, count: capacity)
        for id in names.indices where names[id] != nil { place(UInt32(id)) }
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
