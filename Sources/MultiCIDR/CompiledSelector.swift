/// A pool's selector prepared for fast evaluation: label keys are replaced by slots in a
/// table shared by every pool of the engine, so a decision looks each distinct label key
/// of a node up once instead of once per requirement of every pool. Same semantics as
/// `PoolSelector.matchCount(for:)`, which the property tests compare it with.
struct CompiledSelector: Sendable {
    struct Requirement: Sendable {
        /// Where the requirement reads its value from.
        enum Source: Sendable {
            case label(slot: Int)
            case nodeName
            /// A field selector on anything but `metadata.name`: never matches.
            case unsupportedField
        }

        let source: Source
        let `operator`: SelectorOperator
        let values: [String]
        /// Gt/Lt bound, parsed once; nil when the requirement can never hold.
        let bound: Int64?

        func matches(_ value: String?) -> Bool { self.operator.holds(for: value, values: values, bound: bound) }
    }

    struct Term: Sendable {
        let requirements: [Requirement]
    }

    enum Form: Sendable {
        case catchAll
        case everyNode
        case terms([Term])
    }

    let form: Form

    var isCatchAll: Bool { if case .catchAll = form { true } else { false } }

    /// Compiles `selector`, adding label keys it reads to `keys`.
    init(_ selector: PoolSelector, keys: inout LabelKeyTable) {
        switch selector {
        case .catchAll:
            form = .catchAll
        case .terms(let terms) where terms.isEmpty:
            form = .everyNode
        case .terms(let terms):
            form = .terms(terms.map { term in
                let expressions = term.matchExpressions.map { requirement in
                    Requirement(source: .label(slot: keys.slot(for: requirement.key)), operator: requirement.operator,
                                values: requirement.values, bound: requirement.bound)
                }
                let fields = term.matchFields.map { requirement in
                    Requirement(source: requirement.key == "metadata.name" ? .nodeName : .unsupportedField,
                                operator: requirement.operator, values: requirement.values, bound: requirement.bound)
                }
                return Term(requirements: expressions + fields)
            })
        }
    }

    /// Ranking key P0 (requirements of the largest matching term), nil when no term matches.
    /// `labels[slot]` is the node's value of the table's key at `slot`.
    func matchCount(name: String, labels: [String?]) -> Int? {
        switch form {
        case .catchAll, .everyNode:
            return 0
        case .terms(let terms):
            var best: Int?
            terms: for term in terms where !term.requirements.isEmpty {
                for requirement in term.requirements {
                    let value: String?
                    switch requirement.source {
                    case .label(let slot): value = labels[slot]
                    case .nodeName: value = name
                    case .unsupportedField: continue terms
                    }
                    if !requirement.matches(value) { continue terms }
                }
                best = max(best ?? 0, term.requirements.count)
            }
            return best
        }
    }
}

/// The label keys any pool's selector reads, each with a slot number.
struct LabelKeyTable: Sendable {
    private(set) var keys: [String] = []
    private var slots: [String: Int] = [:]

    mutating func slot(for key: String) -> Int {
        if let slot = slots[key] { return slot }
        slots[key] = keys.count
        keys.append(key)
        return keys.count - 1
    }

    /// The node's value for every key, by slot, into `buffer` (reused between calls).
    func values(of labels: [String: String], into buffer: inout [String?]) {
        buffer.removeAll(keepingCapacity: true)
        for key in keys { buffer.append(labels[key]) }
    }
}
