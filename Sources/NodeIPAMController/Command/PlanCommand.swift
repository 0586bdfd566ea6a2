import ClusterCIDRAPI
import Foundation
import KubeClient
import MultiCIDR

/// `node-ipam-controller plan -f FILE|DIR`: what the controller would do if these ClusterCIDRs
/// were applied (and those named by `--delete` deleted), computed by the engine built from the
/// cluster as it is and as it would be. Read-only.
enum PlanCommand {
    static let usage = """
        node-ipam-controller plan -f FILE|DIR [--delete NAMES] [--nodes FILE] [--kubeconfig FILE] [-o table|json]
          Shows what applying the ClusterCIDR manifests (and deleting the ClusterCIDRs named by --delete)
          would do: which waiting nodes get which ranges, how many more nodes of each label group each
          pool can take, conflicts with ranges in use, and nodes a deletion would leave outside every pool.
          Read-only (get and list). --nodes FILE (Node objects, e.g. kubectl get nodes -o yaml) plans
          offline, without a cluster: the manifests are then the only pools.
          Exit code 0: nothing wrong; 1: the change has problems (Refused, Invalid, Conflict, Orphan); 2: could not plan.
        """

    static let flags = [
        FlagSpec(flag: "f", environment: "", defaultValue: "", help: "A ClusterCIDR manifest, or a directory of them (YAML or JSON)."),
        FlagSpec(flag: "filename", environment: "", defaultValue: "", help: "Same as -f."),
        FlagSpec(flag: "delete", environment: "", defaultValue: "", help: "Comma-separated names of ClusterCIDRs to delete."),
        FlagSpec(flag: "nodes", environment: "", defaultValue: "", help: "Node objects to plan against, offline (no cluster is read)."),
    ]

    /// One line of the plan: what happens to which object.
    struct Step: Codable, Sendable, Hashable {
        var action: String
        var object: String
        var detail: String
    }

    struct Report: Codable, Sendable {
        var steps: [Step]
        var problems: Int
    }

    /// Actions that make the exit code 1.
    static let problemActions: Set<String> = ["Refused", "Invalid", "Conflict", "Orphan"]

    static func main(_ arguments: [String], environment: [String: String]) async -> Int32 {
        await execute(arguments, environment: environment).emit()
    }

    static func execute(_ arguments: [String], environment: [String: String]) async -> CommandResult {
        do throws(CommandFailure) {
            let parsed = try ReadOnlyCommand.parse(arguments, extra: flags, environment: environment, usage: usage)
            guard case .run(let flags, let settings, let json) = parsed else { return CommandResult(code: 0, output: parsed.helpText ?? usage) }
            guard let path = flags["f"] ?? flags["filename"], !path.isEmpty else {
                throw CommandFailure("-f is required: a ClusterCIDR manifest or a directory of them")
            }
            let manifests = try ManifestFiles.objects(path, flag: "-f", kind: ClusterCIDR.kind, as: ClusterCIDR.self)
            let live: (pools: [ClusterCIDR], nodes: [NodeView])
            if let nodesPath = flags["nodes"], !nodesPath.isEmpty {
                live = ([], try ManifestFiles.objects(nodesPath, flag: "--nodes", kind: "Node", as: Node.self).map(NodeView.init))
            } else {
                live = try await ReadOnlyCommand.readCluster(settings, environment: environment)
            }
            let deletions = Settings.list(flags["delete"] ?? "")
            guard !manifests.isEmpty || !deletions.isEmpty else {
                throw CommandFailure("-f \(path): no ClusterCIDR in it (and no --delete): nothing to plan")
            }
            let report = try plan(current: ReadOnlyCommand.snapshot(pools: live.pools, nodes: live.nodes, settings: settings),
                                  apply: manifests, delete: deletions)
            return CommandResult(code: report.problems == 0 ? 0 : 1, output: json ? ReportTable.json(report) : render(report))
        } catch {
            return CommandResult(code: 2, error: "node-ipam-controller plan: \(error.description)")
        }
    }

    /// The plan of applying `apply` and deleting `delete` in the cluster `current`.
    static func plan(current: ClusterSnapshot, apply: [ClusterCIDR], delete: [String]) throws(CommandFailure) -> Report {
        let before = ClusterModel(current)
        var pools = Dictionary(current.pools.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        var poolSteps: [Step] = []
        var added: [String] = []
        for name in delete where pools[name] == nil {
            throw CommandFailure("--delete \(name): there is no ClusterCIDR \(name) in the cluster")
        }
        for manifest in apply {
            let name = manifest.name
            let object = "ClusterCIDR/\(name)"
            if let existing = pools[name] {
                if existing.spec != manifest.spec {
                    let change = manifest.spec.flatMap { ClusterCIDRSpecChange(accepted: $0, current: existing.spec) }
                    poolSteps.append(Step(action: "Refused", object: object,
                                          detail: "its spec cannot change (\(change?.paths ?? "spec") differ\(change?.fields.count == 1 ? "s" : "")): "
                                              + "create the new spec under a new name, then delete this one"))
                    continue
                }
                guard existing.excludeCIDRsText != manifest.excludeCIDRsText else {
                    poolSteps.append(Step(action: "Unchanged", object: object, detail: "same spec and exclusions"))
                    continue
                }
                var changed = existing
                var annotations = changed.metadata.annotations ?? [:]
                annotations[ClusterCIDR.excludeCIDRsAnnotation] = manifest.excludeCIDRsText
                changed.metadata.annotations = annotations
                pools[name] = changed
                poolSteps.append(Step(action: "Change", object: object,
                                      detail: "excluded ranges \(existing.excludeCIDRsText ?? "none") -> \(manifest.excludeCIDRsText ?? "none")"))
            } else {
                var fresh = manifest
                // A manifest is not an acceptance: what it says is what the controller would accept.
                fresh.metadata.finalizers = nil
                fresh.metadata.deletionTimestamp = nil
                fresh.status = nil
                pools[name] = fresh
                added.append(name)
            }
        }
        for name in delete { pools[name] = nil }
        var afterSnapshot = current
        afterSnapshot.pools = pools.values.sorted { $0.name < $1.name }
        var after = ClusterModel(afterSnapshot)

        for name in added {
            let object = "ClusterCIDR/\(name)"
            if let message = after.invalidPools[name] {
                poolSteps.append(Step(action: "Invalid", object: object, detail: message))
                continue
            }
            guard let definition = after.engine.pool(named: name) else { continue }
            let families = definition.families.map { "\($0.prefix) (/\($0.nodePrefixLength) per node)" }.joined(separator: ", ")
            poolSteps.append(Step(action: "Add", object: object, detail: "\(families); selects \(selectorText(pools[name]?.spec?.nodeSelector))"))
            if let conflict = conflicts(of: definition, in: after) {
                poolSteps.append(Step(action: "Conflict", object: object, detail: conflict))
            }
        }
        var nodeSteps: [Step] = []
        for name in delete {
            let holders = before.engine.associatedNodes(of: name)
            let detail = holders.isEmpty
                ? "deleted at once: no node holds its ranges"
                : "stays Terminating (allocates no more) until the nodes holding its ranges are deleted: "
                    + ClusterCIDRStatus.holdersPhrase(nodes: holders.count, holders: Array(holders))
            poolSteps.append(Step(action: "Delete", object: "ClusterCIDR/\(name)", detail: detail))
            for node in holders.sorted() {
                guard let ranges = after.engine.reservation(for: node), ranges.pool == nil else { continue }
                nodeSteps.append(Step(action: "Orphan", object: "Node/\(node)",
                                      detail: "\(ranges.podCIDRs.joined(separator: ", ")) would lie in no remaining ClusterCIDR: kept, never handed out, "
                                          + "but counted in no pool; add a ClusterCIDR covering them first, or delete the node"))
            }
        }
        for node in current.nodes.sorted(by: { $0.name < $1.name }) where node.podCIDRs.isEmpty && !node.deleting {
            if case .allocated(let reservation, _) = after.engine.allocate(for: node.attributes) {
                nodeSteps.append(Step(action: "Assign", object: "Node/\(node.name)",
                                      detail: "\(reservation.podCIDRs.joined(separator: ", ")) from ClusterCIDR \(reservation.pool ?? "?")"))
            } else {
                nodeSteps.append(Step(action: "Wait", object: "Node/\(node.name)", detail: ClusterAudit.waitingReason(node, &after)))
            }
        }
        let touched = Set(added).union(delete)
        let steps = poolSteps + nodeSteps + capacity(before: before, after: after, nodes: current.nodes,
                                                     specs: (current.pools + afterSnapshot.pools).compactMap(\.spec),
                                                     newSpecs: added.compactMap { pools[$0]?.spec }, touched: touched)
        return Report(steps: steps, problems: steps.filter { problemActions.contains($0.action) }.count)
    }

    /// Ranges in use inside a new pool that it will not count as its own: other pools' nodes,
    /// nodes of no pool, excluded ranges. They are skipped (never handed out twice), so the pool
    /// holds fewer free ranges than its size says.
    static func conflicts(of pool: PoolDefinition, in model: ClusterModel) -> String? {
        var nodes: Set<String> = []
        var excluded: [String] = []
        for family in pool.families {
            for (range, holder) in model.engine.holders(overlapping: family.prefix) {
                switch holder {
                case .node(let name) where model.engine.reservation(for: name)?.pool != pool.name: nodes.insert(name)
                case .excluded(let name) where name != IPAMController.exclusionName(of: pool.name):
                    excluded.append("\(range) (\(ClusterModel.describe(exclusion: name)))")
                default: break
                }
            }
        }
        var parts: [String] = []
        if !nodes.isEmpty { parts.append("ranges of \(ClusterCIDRStatus.holdersPhrase(nodes: nodes.count, holders: Array(nodes))) of other pools or none") }
        if !excluded.isEmpty { parts.append("excluded \(excluded.joined(separator: ", "))") }
        guard !parts.isEmpty else { return nil }
        return "overlaps ranges in use: \(parts.joined(separator: "; ")): they are skipped, so it has fewer free ranges than its size says"
    }

    /// For each group of nodes (their labels that some pool's selector reads), the pools that
    /// would serve a new node of the group, best first, and how many more each can take.
    /// Only groups whose pools the change touches (an added or a deleted pool among them); the
    /// new pools' own selectors make groups too (nodes that do not exist yet).
    static func capacity(before: ClusterModel, after model: ClusterModel, nodes: [NodeView], specs: [ClusterCIDRSpec],
                         newSpecs: [ClusterCIDRSpec], touched: Set<String>) -> [Step] {
        var keys: Set<String> = []
        for spec in specs {
            for term in spec.nodeSelector?.nodeSelectorTerms ?? [] {
                for requirement in term.matchExpressions ?? [] { keys.insert(requirement.key) }
            }
        }
        var groups: Set<[String: String]> = [[:]]
        if !nodes.isEmpty { groups = Set(nodes.map { $0.labels.dictionary.filter { keys.contains($0.key) } }) }
        for spec in newSpecs {
            for term in spec.nodeSelector?.nodeSelectorTerms ?? [] {
                var labels: [String: String] = [:]
                for requirement in term.matchExpressions ?? [] where requirement.operator == "In" || requirement.operator == "Exists" {
                    labels[requirement.key] = requirement.values?.first ?? ""
                }
                groups.insert(labels)
            }
        }
        return groups.sorted { ClusterAudit.labelText($0) < ClusterAudit.labelText($1) }.compactMap { labels -> Step? in
            let attributes = NodeAttributes(name: "", labels: labels)
            let pools = model.engine.rankedPools(for: attributes).filter { model.engine.allocates($0) }
            guard !touched.isDisjoint(with: pools) || !touched.isDisjoint(with: before.engine.rankedPools(for: attributes)) else { return nil }
            let object = "nodes with " + (labels.isEmpty ? "no selected labels" : ClusterAudit.labelText(labels))
            guard !pools.isEmpty else { return Step(action: "Capacity", object: object, detail: "no ClusterCIDR selects them") }
            let shown = 3
            let each = pools.prefix(shown).map { name in
                let free = model.engine.statistics(of: name).map(\.free).min() ?? 0
                return "ClusterCIDR \(name): \(free) more"
            }
            let rest = pools.count > shown ? " (and \(pools.count - shown) more pool\(pools.count - shown == 1 ? "" : "s"))" : ""
            return Step(action: "Capacity", object: object, detail: each.joined(separator: ", then ") + rest)
        }
    }

    static func selectorText(_ selector: NodeSelector?) -> String {
        guard let selector else { return "every node no other pool serves (no nodeSelector)" }
        let terms = (selector.nodeSelectorTerms ?? []).map { term in
            (term.matchExpressions ?? []).map { "\($0.key) \($0.operator) \(($0.values ?? []).joined(separator: "|"))".trimmingCharacters(in: .whitespaces) }
                .joined(separator: " and ")
        }
        return terms.isEmpty ? "every node" : terms.map { $0.isEmpty ? "(empty term)" : $0 }.joined(separator: " or ")
    }

    static func render(_ report: Report) -> String {
        let table = ReportTable.render(header: ["ACTION", "OBJECT", "DETAIL"], rows: report.steps.map { [$0.action, $0.object, $0.detail] })
        let count = { (action: String) in report.steps.filter { $0.action == action }.count }
        var summary = "Plan: \(count("Add")) to add, \(count("Change")) to change, \(count("Delete")) to delete; "
            + "\(count("Assign")) waiting node\(count("Assign") == 1 ? "" : "s") would get ranges, \(count("Wait")) would wait"
        summary += report.problems == 0 ? "." : "; \(report.problems) problem\(report.problems == 1 ? "" : "s")."
        return table + "\n\n" + summary
    }
}
