/// A sorted list of unique keys stored in chunks, so that inserts and removals move at most
/// one chunk of elements while ordered iteration stays a walk over contiguous memory.
/// Memory is proportional to the number of keys.
struct SortedKeyList<Key: Comparable & Sendable>: Sendable {
    private var chunks: [[Key]] = []
    private(set) var count = 0
    private let maxChunk = 512

    struct Position: Equatable, Sendable {
        var chunk: Int
        var offset: Int
    }

    var isEmpty: Bool { count == 0 }

    /// Index of the first chunk whose last key is >= key (chunks.count if none).
    private func chunkIndex(for key: Key) -> Int {
        var low = 0, high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            if chunks[mid][chunks[mid].count - 1] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func lowerBound(_ chunk: [Key], _ key: Key) -> Int {
        var low = 0, high = chunk.count
        while low < high {
            let mid = (low + high) / 2
            if chunk[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Position of the first key >= `key`, or nil when every key is smaller.
    func firstPosition(atOrAfter key: Key) -> Position? {
        let c = chunkIndex(for: key)
        guard c < chunks.count else { return nil }
        return Position(chunk: c, offset: Self.lowerBound(chunks[c], key))
    }

    func key(at position: Position) -> Key { chunks[position.chunk][position.offset] }

    func position(after position: Position) -> Position? {
        if position.offset + 1 < chunks[position.chunk].count {
            return Position(chunk: position.chunk, offset: position.offset + 1)
        }
        return position.chunk + 1 < chunks.count ? Position(chunk: position.chunk + 1, offset: 0) : nil
    }

    /// Inserts `key`; returns false when it was already present.
    @discardableResult
    mutating func insert(_ key: Key) -> Bool {
        if chunks.isEmpty {
            chunks.append(Self.newChunk(with: [key]))
            count = 1
            return true
        }
        var c = chunkIndex(for: key)
        if c == chunks.count {
            // Appending past the end (the common next-fit case): start a new chunk rather
            // than splitting a full one, so sequential inserts leave chunks full.
            if chunks[c - 1].count >= maxChunk {
                chunks.append(Self.newChunk(with: [key]))
                count += 1
                return true
            }
            c -= 1
        }
        let offset = Self.lowerBound(chunks[c], key)
        if offset < chunks[c].count && chunks[c][offset] == key { return false }
        chunks[c].insert(key, at: offset)
        count += 1
        if chunks[c].count > maxChunk {
            let upper = Self.newChunk(with: chunks[c][(maxChunk / 2)...])
            chunks[c].removeSubrange((maxChunk / 2)...)
            chunks.insert(upper, at: c + 1)
        }
        return true
    }

    private static func newChunk(with elements: some Collection<Key>) -> [Key] {
        var chunk: [Key] = []
        chunk.reserveCapacity(512 + 1)
        chunk.append(contentsOf: elements)
        return chunk
    }

    /// Removes `key`; returns false when it was absent.
    @discardableResult
    mutating func remove(_ key: Key) -> Bool {
        let c = chunkIndex(for: key)
        guard c < chunks.count else { return false }
        let offset = Self.lowerBound(chunks[c], key)
        guard offset < chunks[c].count && chunks[c][offset] == key else { return false }
        chunks[c].remove(at: offset)
        count -= 1
        if chunks[c].isEmpty { chunks.remove(at: c) }
        return true
    }

    /// Every key in order (for tests and recounts).
    var all: [Key] { chunks.flatMap { $0 } }
}
