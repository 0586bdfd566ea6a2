/// The attributes of a node that pool selection looks at.
public struct NodeAttributes: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]

    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }
}

/// Operators of a Kubernetes node selector requirement.
public enum SelectorOperator: String, Sendable, Hashable, CaseIterable {
    case `in` = "In"
    case notIn = "NotIn"
    case exists = "Exists"
    case doesNotExist = "DoesNotExist"
    case greaterThan = "Gt"
    case lessThan = "Lt"
}

extension SelectorOperator {
    /// Kubernetes semantics for a value (nil = key absent): NotIn and DoesNotExist hold when
    /// the key is absent; Gt/Lt compare integers and fail when the value is not one or there
    /// is no `bound` (the requirement's single value as an integer).
    func holds(for value: String?, values: [String], bound: Int64?) -> Bool {
        switch self {
        case .in: return value.map { values.contains($0) } ?? false
        case .notIn: return value.map { !values.contains($0) } ?? true
        case .exists: return value != nil
        case .doesNotExist: return value == nil
        case .greaterThan, .lessThan:
            guard let value, let bound, let actual = Int64(value) else { return false }
            return self == .greaterThan ? actual > bound : actual < bound
        }
    }
}

/// One requirement: a key, an operator and values (on a label, or on `metadata.name`).
public struct SelectorRequirement: Sendable, Hashable {
    public var key: String
    public var `operator`: SelectorOperator
    public var values: [String]

    public init(key: String, operator: SelectorOperator, values: [String] = []) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }

    /// Evaluates the requirement against an optional value (nil = key absent).
    func matches(_ value: String?) -> Bool { self.operator.holds(for: value, values: values, bound: bound) }

    /// The Gt/Lt bound: the single value as an integer; nil when there is none.
    var bound: Int64? { values.count == 1 ? Int64(values[0]) : nil }

    /// Canonical text in the style of Kubernetes' label selector strings.
    var canonicalText: String {
        let sorted = values.sorted()
        switch self.operator {
        case .in: return "\(key) in (\(sorted.joined(separator: ",")))"
        case .notIn: return "\(key) notin (\(sorted.joined(separator: ",")))"
        case .exists: return key
        case .doesNotExist: return "!\(key)"
        case .greaterThan: return "\(key)>\(sorted.first ?? "")"
        case .lessThan: return "\(key)<\(sorted.first ?? "")"
        }
    }
}

/// One node selector term: every expression (on labels) and field (on `metadata.name`) must hold.
public struct SelectorTerm: Sendable, Hashable {
    public var matchExpressions: [SelectorRequirement]
    public var matchFields: [SelectorRequirement]

    public init(matchExpressions: [SelectorRequirement] = [], matchFields: [SelectorRequirement] = []) {
        self.matchExpressions = matchExpressions
        self.matchFields = matchFields
    }

    public var requirementCount: Int { matchExpressions.count + matchFields.count }

    /// An empty term matches nothing (Kubernetes semantics).
    func matches(_ node: NodeAttributes) -> Bool {
        guard requirementCount > 0 else { return false }
        for requirement in matchExpressions where !requirement.matches(node.labels[requirement.key]) {
            return false
        }
        for requirement in matchFields {
            // Only metadata.name is a valid node field selector; anything else never matches.
            let value: String? = requirement.key == "metadata.name" ? node.name : nil
            guard requirement.key == "metadata.name", requirement.matches(value) else { return false }
        }
        return true
    }

    var canonicalText: String {
        (matchExpressions + matchFields).map(\.canonicalText).sorted().joined(separator: ",")
    }
}

/// Which nodes a pool serves.
public enum PoolSelector: Sendable, Hashable {
    /// No `nodeSelector`: a fallback pool, offered after every pool whose selector matches.
    case catchAll
    /// A `nodeSelector`: terms are ORed; `[]` (no terms) selects every node.
    case terms([SelectorTerm])

    /// Whether the selector matches, and with how many requirements (the largest matching
    /// term), which is ranking key P0. Nil when it does not match.
    public func matchCount(for node: NodeAttributes) -> Int? {
        switch self {
        case .catchAll:
            return 0
        case .terms(let terms):
            if terms.isEmpty { return 0 }
            var best: Int?
            for term in terms where term.matches(node) {
                best = max(best ?? 0, term.requirementCount)
            }
            return best
        }
    }

    public var isCatchAll: Bool { if case .catchAll = self { true } else { false } }

    /// Canonical text, ranking key P3: requirements of a term sorted and joined with ",",
    /// terms joined with " || ". Catch-all pools share the reference's internal key.
    public var canonicalText: String {
        switch self {
        case .catchAll: return "kubernetes.io/clusterCIDR in (default)"
        case .terms(let terms): return terms.map(\.canonicalText).joined(separator: " || ")
        }
    }
}
