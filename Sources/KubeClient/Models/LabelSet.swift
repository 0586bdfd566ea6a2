import Synchronization

/// A node's labels as a long-lived cache keeps them: each distinct key and value is stored
/// once per process (`LabelTable`), and a set is a sorted array of (key, value) numbers.
///
/// Why: a kubelet-registered node carries 15–25 labels, most keys and many values longer than
/// the 15 bytes Swift keeps inline, and nearly all of them repeat on every node. As a
/// `[String: String]` that is ~3 KB of heap per node (50,000 nodes: ~150 MiB); as a `LabelSet`
/// it is one array of 8 bytes per label plus the strings no other node shares (the hostname).
///
/// Strings are reference-counted in the table: when the last set naming a string goes, so
/// does the string, so node churn (new hostnames every day) does not grow the table.
/// Two sets are equal when they hold the same labels, whatever order they were read in.
public final class LabelSet: Sendable, Hashable, CustomStringConvertible {
    /// (key number << 32 | value number), sorted: by key, since a key appears once.
    private let pairs: [UInt64]

    public static let empty = LabelSet([:])

    /// Interns `labels` (one lock for the whole set).
    public init(_ labels: [String: String]) {
        pairs = labels.isEmpty ? [] : LabelTable.shared.retain(labels)
    }

    /// Interns labels read as (key, value) pairs; keys must be distinct.
    init(pairs labels: [(key: String, value: String)]) {
        pairs = labels.isEmpty ? [] : LabelTable.shared.retain(labels)
    }

    deinit {
        if !pairs.isEmpty { LabelTable.shared.release(pairs) }
    }

    public var count: Int { pairs.count }
    public var isEmpty: Bool { pairs.isEmpty }

    /// The value of `key`, nil when the node has no such label.
    public subscript(key: String) -> String? {
        guard !pairs.isEmpty else { return nil }
        return LabelTable.shared.value(of: key, in: pairs)
    }

    /// The labels as a dictionary (for selector evaluation and messages; built on demand).
    public var dictionary: [String: String] {
        pairs.isEmpty ? [:] : LabelTable.shared.dictionary(pairs)
    }

    public static func == (lhs: LabelSet, rhs: LabelSet) -> Bool { lhs === rhs || lhs.pairs == rhs.pairs }

    public func hash(into hasher: inout Hasher) { hasher.combine(pairs) }

    public var description: String {
        dictionary.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// The process-wide table of label strings behind `LabelSet`: string ↔ number, with a count of
/// the sets naming each number. Numbers of strings no set names any more are reused.
final class LabelTable: Sendable {
    static let shared = LabelTable()

    private struct State {
        var numbers: [String: UInt32] = [:]
        var strings: [String] = []
        var references: [Int] = []
        var unused: [UInt32] = []

        mutating func retain(_ string: String) -> UInt32 {
            if let number = numbers[string] {
                references[Int(number)] += 1
                return number
            }
            let number: UInt32
            if let reused = unused.popLast() {
                number = reused
                strings[Int(number)] = string
                references[Int(number)] = 1
            } else {
                number = UInt32(strings.count)
                strings.append(string)
                references.append(1)
            }
            numbers[string] = number
            return number
        }

        mutating func release(_ number: UInt32) {
            let index = Int(number)
            references[index] -= 1
            guard references[index] == 0 else { return }
            numbers[strings[index]] = nil
            strings[index] = ""
            unused.append(number)
        }
    }

    private let state = Mutex(State())

    /// A label as one number: its key's number in the high half, its value's in the low.
    private static func pair(key: UInt32, value: UInt32) -> UInt64 { UInt64(key) << 32 | UInt64(value) }
    private static func key(_ pair: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: pair >> 32) }
    private static func value(_ pair: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: pair) }

    /// Whether `string` is held (tests: strings no set names any more must go).
    func holds(_ string: String) -> Bool { state.withLock { $0.numbers[string] != nil } }

    func retain(_ labels: some Collection<(key: String, value: String)>) -> [UInt64] {
        var pairs: [UInt64] = []
        pairs.reserveCapacity(labels.count)
        state.withLock { state in
            for (key, value) in labels {
                pairs.append(Self.pair(key: state.retain(key), value: state.retain(value)))
            }
        }
        pairs.sort()
        return pairs
    }

    func release(_ pairs: [UInt64]) {
        state.withLock { state in
            for pair in pairs {
                state.release(Self.key(pair))
                state.release(Self.value(pair))
            }
        }
    }

    func value(of key: String, in pairs: [UInt64]) -> String? {
        state.withLock { state -> String? in
            guard let number = state.numbers[key] else { return nil }
            var low = 0, high = pairs.count
            while low < high {
                let middle = (low + high) / 2
                let found = Self.key(pairs[middle])
                if found == number { return state.strings[Int(Self.value(pairs[middle]))] }
                if found < number { low = middle + 1 } else { high = middle }
            }
            return nil
        }
    }

    func dictionary(_ pairs: [UInt64]) -> [String: String] {
        state.withLock { state in
            var labels: [String: String] = [:]
            labels.reserveCapacity(pairs.count)
            for pair in pairs {
                labels[state.strings[Int(Self.key(pair))]] = state.strings[Int(Self.value(pair))]
            }
            return labels
        }
    }
}
