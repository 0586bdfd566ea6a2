@testable import MultiCIDR

func prefix(_ text: String) -> IPPrefix {
    do { return try IPPrefix(parsing: text) } catch { fatalError("bad test prefix \(text): \(error)") }
}

func family(_ text: String, hostBits: Int) -> PoolFamily {
    do { return try PoolFamily(prefix: prefix(text), nodeHostBits: hostBits) } catch { fatalError("\(error)") }
}

/// One term with an In requirement per key/value (how users write multi-key selectors).
func labels(_ pairs: KeyValuePairs<String, String>) -> PoolSelector {
    .terms([SelectorTerm(matchExpressions: pairs.map { SelectorRequirement(key: $0.key, operator: .in, values: [$0.value]) })])
}

func pool(_ name: String, _ selector: PoolSelector = .catchAll, v4: String? = nil, v6: String? = nil, hostBits: Int) -> PoolDefinition {
    do {
        return try PoolDefinition(name: name, selector: selector,
                                  ipv4: v4.map { family($0, hostBits: hostBits) },
                                  ipv6: v6.map { family($0, hostBits: hostBits) })
    } catch { fatalError("\(error)") }
}

func node(_ name: String, _ labels: [String: String] = [:]) -> NodeAttributes {
    NodeAttributes(name: name, labels: labels)
}

extension AllocationOutcome {
    var podCIDRs: [String]? {
        if case .allocated(let reservation, _) = self { return reservation.podCIDRs }
        return nil
    }

    var passedOver: [PoolExhaustion]? {
        if case .allocated(_, let trace) = self { return trace.passedOver }
        return nil
    }
}

extension AllocationEngine {
    /// Allocates and confirms, as the controller does after a successful node write.
    mutating func allocateAndConfirm(_ attributes: NodeAttributes) -> [String]? {
        let result = allocate(for: attributes).podCIDRs
        if result != nil { confirm(node: attributes.name) }
        return result
    }
}
