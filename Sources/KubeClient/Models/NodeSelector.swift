/// A node selector (`core/v1.NodeSelector`): the terms are ORed.
public struct NodeSelector: Codable, Sendable, Hashable {
    /// Required by the API; nil only when a manifest leaves it out (`nodeSelector: {}`),
    /// which validation reports instead of failing to decode.
    public var nodeSelectorTerms: [NodeSelectorTerm]?

    /// Pass nil only to model a manifest that leaves the field out.
    public init(nodeSelectorTerms: [NodeSelectorTerm]?) {
        self.nodeSelectorTerms = nodeSelectorTerms
    }
}

/// One term (`core/v1.NodeSelectorTerm`): all its requirements must hold.
public struct NodeSelectorTerm: Codable, Sendable, Hashable {
    /// Requirements on node labels.
    public var matchExpressions: [NodeSelectorRequirement]?
    /// Requirements on node fields (only `metadata.name` is supported).
    public var matchFields: [NodeSelectorRequirement]?

    public init(matchExpressions: [NodeSelectorRequirement]? = nil, matchFields: [NodeSelectorRequirement]? = nil) {
        self.matchExpressions = matchExpressions
        self.matchFields = matchFields
    }
}

/// One requirement (`core/v1.NodeSelectorRequirement`). The operator is kept as text so
/// that an unknown operator decodes and can be reported by validation.
public struct NodeSelectorRequirement: Codable, Sendable, Hashable {
    public var key: String
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    public var `operator`: String
    public var values: [String]?

    public init(key: String, operator: String, values: [String]? = nil) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }
}
