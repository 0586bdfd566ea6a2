import ClusterCIDRAPI
import KubeClient
import MultiCIDR

/// What `check` and `plan` read: the pools and nodes of a cluster (or of files), and the
/// ranges the controller's flags exclude.
struct ClusterSnapshot: Sendable {
    var pools: [ClusterCIDR]
    var nodes: [NodeView]
    var serviceCIDRs: [IPPrefix] = []
    var excludeCIDRs: [IPPrefix] = []
}

/// The allocation engine built from a snapshot the way the controller builds it at start-up
/// (bootstrap): flag exclusions, every usable pool with its exclusion annotation (the spec
/// accepted for it, terminating and suspended ones marked), then every node's podCIDRs
/// adopted. `check` and `plan` ask this engine; they hold no rules of their own.
struct ClusterModel: Sendable {
    var engine = AllocationEngine()
    /// Pools that cannot be used, with the reason (validation messages).
    var invalidPools: [String: String] = [:]
    /// Pools whose spec differs from the one accepted for them (they allocate no more).
    var changedPools: [String: ClusterCIDRSpecChange] = [:]
    /// What adopting each node with podCIDRs reported, by node name.
    var adoptions: [String: AdoptionReport] = [:]
    /// The objects, by name.
    var pools: [String: ClusterCIDR] = [:]

    init(_ snapshot: ClusterSnapshot) {
        for range in snapshot.serviceCIDRs { engine.exclude(range, name: Self.serviceRangeName) }
        for range in snapshot.excludeCIDRs { engine.exclude(range, name: IPAMController.excludeCIDRsName) }
        for pool in snapshot.pools.sorted(by: { $0.name < $1.name }) {
            pools[pool.name] = pool
            let accepted = pool.metadata.hasFinalizer(ClusterCIDR.finalizer) ? (pool.acceptedSpec?.spec ?? pool.spec) : pool.spec
            do throws(InvalidClusterCIDR) {
                let definition = try pool.withSpec(accepted).poolDefinition()
                let excluded = try pool.excludedRanges(within: definition)
                engine.upsertPool(definition)
                engine.setExclusions(excluded, name: IPAMController.exclusionName(of: pool.name))
                if pool.metadata.deletionTimestamp != nil { engine.setTerminating(pool.name) }
                if let accepted, let change = ClusterCIDRSpecChange(accepted: accepted, current: pool.spec) {
                    engine.setSuspended(pool.name)
                    changedPools[pool.name] = change
                }
            } catch {
                invalidPools[pool.name] = error.errors.map(\.description).joined(separator: "; ")
            }
        }
        for node in snapshot.nodes.sorted(by: { $0.name < $1.name }) where !node.podCIDRs.isEmpty {
            adoptions[node.name] = engine.adopt(node: node.attributes, podCIDRs: node.podCIDRs)
        }
    }

    /// The engine's name for the Service ranges (as the controller's bootstrap names them).
    static let serviceRangeName = "service-cluster-ip-range"

    /// Words for what holds an excluded range.
    static func describe(exclusion name: String) -> String {
        switch name {
        case serviceRangeName: return "the Service range"
        case IPAMController.excludeCIDRsName: return "--exclude-cidrs"
        default: return name
        }
    }

    /// Invalid pools that would select the node (their spec's selector read as is).
    func invalidPools(selecting node: NodeAttributes) -> [String] {
        invalidPools.keys.sorted().filter { name in
            guard let spec = pools[name]?.spec else { return false }
            return PoolSelector(spec.nodeSelector).matchCount(for: node) != nil
        }
    }

    /// Why the node's adopted ranges belong to no pool: outside every pool, the wrong size
    /// for the pool they lie in, or from two pools. Nil when they belong to one.
    func unassociatedReason(_ ranges: [IPPrefix]) -> (kind: String, message: String)? {
        let definitions = engine.poolNames.compactMap { engine.pool(named: $0) }
        var outside: [IPPrefix] = []
        var wrongSize: [String] = []
        var fitting: [String] = []
        for range in ranges {
            let containing = definitions.filter { $0.family(range.family)?.prefix.contains(range) == true }
            if containing.isEmpty {
                outside.append(range)
            } else if let fit = containing.first(where: { $0.family(range.family)?.nodePrefixLength == range.length }) {
                fitting.append("\(range) fits ClusterCIDR \(fit.name)")
            } else {
                let pool = containing[0]
                wrongSize.append("\(range) lies in ClusterCIDR \(pool.name) (\(pool.family(range.family)!.prefix)), whose nodes get /\(pool.family(range.family)!.nodePrefixLength)")
            }
        }
        if !outside.isEmpty {
            return ("OutsideClusterCIDRs", "\(outside.map(\.description).joined(separator: ", ")) lie\(outside.count == 1 ? "s" : "") in no ClusterCIDR: "
                + "kept and never handed out; add a ClusterCIDR covering \(outside.count == 1 ? "it" : "them") if the node should count in a pool")
        }
        if !wrongSize.isEmpty {
            return ("PodCIDRSizeMismatch", wrongSize.joined(separator: "; ") + ": kept, counted in no pool; re-register the node for a range of the pool's size")
        }
        if fitting.count > 1 {
            return ("PodCIDRsFromTwoClusterCIDRs", fitting.joined(separator: ", ") + ": a node's ranges come from one pool; re-register the node")
        }
        return nil
    }
}
