import KubeClient
import MultiCIDR

extension ClusterCIDR {
    /// The engine's form of this pool, or every validation error.
    public func poolDefinition() throws(InvalidClusterCIDR) -> PoolDefinition {
        var validator = ClusterCIDRValidator(name: name)
        validator.validate(spec)
        guard validator.errors.isEmpty, let spec else { throw InvalidClusterCIDR(validator.errors) }
        do {
            let ipv4 = try validator.ipv4.map { prefix throws(PoolDefinitionError) in
                try PoolFamily(prefix: prefix, nodeHostBits: Int(spec.perNodeHostBits))
            }
            let ipv6 = try validator.ipv6.map { prefix throws(PoolDefinitionError) in
                try PoolFamily(prefix: prefix, nodeHostBits: Int(spec.effectivePerNodeHostBitsIPv6))
            }
            return try PoolDefinition(
                name: name, uid: metadata.uid ?? "", selector: PoolSelector(spec.nodeSelector), ipv4: ipv4, ipv6: ipv6)
        } catch {
            // Validation covers every case the engine refuses; this keeps a disagreement visible.
            throw InvalidClusterCIDR([ClusterCIDRValidationError(name: name, field: "spec", message: error.message)])
        }
    }
}

extension PoolSelector {
    /// The engine selector for a validated `nodeSelector`: nil is the catch-all fallback.
    /// Requirements with an unknown operator never match (validation rejects them first).
    public init(_ selector: NodeSelector?) {
        guard let selector else {
            self = .catchAll
            return
        }
        self = .terms((selector.nodeSelectorTerms ?? []).map { term in
            SelectorTerm(
                matchExpressions: (term.matchExpressions ?? []).map(SelectorRequirement.init(_:)),
                matchFields: (term.matchFields ?? []).map(SelectorRequirement.init(_:)))
        })
    }
}

extension SelectorRequirement {
    init(_ requirement: NodeSelectorRequirement) {
        // An unknown operator becomes "In" with no values, which matches nothing.
        let op = SelectorOperator(rawValue: requirement.operator)
        self.init(key: requirement.key, operator: op ?? .in, values: op == nil ? [] : (requirement.values ?? []))
    }
}
