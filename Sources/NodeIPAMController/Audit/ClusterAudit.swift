import ClusterCIDRAPI
import Foundation
import MultiCIDR

/// One problem `check` found: its kind (a stable CamelCase word), the object it is about
/// (`Node/NAME`, `ClusterCIDR/NAME`) and what is wrong and what to do.
struct Finding: Codable, Sendable, Hashable {
    var kind: String
    var object: String
    var message: String
}

/// `check`: every problem in a cluster's pod ranges, found by asking the engine built from
/// the cluster (ClusterModel), never by rules of its own.
enum ClusterAudit {
    /// A pool family with at least this share of its node ranges in use is nearly full.
    static let nearlyFullPercent: UInt128 = 90

    static func findings(_ snapshot: ClusterSnapshot) -> [Finding] {
        var model = ClusterModel(snapshot)
        var pools: [Finding] = []
        for (name, message) in model.invalidPools.sorted(by: { $0.key < $1.key }) {
            pools.append(Finding(kind: "InvalidClusterCIDR", object: "ClusterCIDR/\(name)", message: message + " (it allocates nothing: delete it and create a corrected one)"))
        }
        for (name, change) in model.changedPools.sorted(by: { $0.key < $1.key }) {
            pools.append(Finding(kind: "ClusterCIDRSpecChanged", object: "ClusterCIDR/\(name)",
                                 message: change.description(nodes: model.engine.associatedNodeCount(of: name))))
        }
        for name in model.engine.poolNames where model.engine.allocates(name) {
            for family in model.engine.statistics(of: name) {
                let used = family.occupied
                let label = "\(family.family == .ipv4 ? "IPv4" : "IPv6") \(family.prefix)"
                if family.free == 0 {
                    pools.append(Finding(kind: "ClusterCIDRExhausted", object: "ClusterCIDR/\(name)",
                                         message: "\(label): all \(family.total) node ranges in use: new nodes it selects wait; add a ClusterCIDR for them"))
                } else if used * 100 >= family.total * nearlyFullPercent {
                    pools.append(Finding(kind: "ClusterCIDRNearlyExhausted", object: "ClusterCIDR/\(name)",
                                         message: "\(label): \(used) of \(family.total) node ranges in use, \(family.free) free: add a ClusterCIDR before it runs out"))
                }
            }
        }
        var nodes: [Finding] = []
        for node in snapshot.nodes.sorted(by: { $0.name < $1.name }) {
            let object = "Node/\(node.name)"
            if let report = model.adoptions[node.name] {
                for problem in report.invalid {
                    nodes.append(Finding(kind: "InvalidPodCIDR", object: object, message: "\(problem.description): left as is; re-register the node"))
                }
                for conflict in report.conflicts {
                    switch conflict.other {
                    case .node(let other):
                        nodes.append(Finding(kind: "PodCIDROverlap", object: object,
                                             message: "\(conflict.range) overlaps \(conflict.otherRange) of node \(other): drain, delete and re-register one of them"))
                    case .excluded(let name) where name == ClusterModel.serviceRangeName:
                        nodes.append(Finding(kind: "ServiceRangeOverlap", object: object,
                                             message: "\(conflict.range) overlaps the Service range \(conflict.otherRange): drain, delete and re-register the node"))
                    case .excluded(let name):
                        nodes.append(Finding(kind: "ExcludedRangeOverlap", object: object,
                                             message: "\(conflict.range) overlaps \(conflict.otherRange), excluded by \(ClusterModel.describe(exclusion: name)): kept; re-register the node to move it out"))
                    }
                }
                if report.invalid.isEmpty, report.isUnassociated, let ranges = report.reservation?.ranges,
                   let (kind, message) = model.unassociatedReason(ranges) {
                    nodes.append(Finding(kind: kind, object: object, message: message))
                }
                continue
            }
            guard node.podCIDRs.isEmpty, !node.deleting else { continue }
            nodes.append(Finding(kind: "NoPodCIDRs", object: object, message: waitingReason(node, &model)))
        }
        return pools + nodes
    }

    /// Why a node has no podCIDRs, from what the engine would do for it now (in name order,
    /// so two waiting nodes never both count on the same free range).
    static func waitingReason(_ node: NodeView, _ model: inout ClusterModel) -> String {
        let outcome = model.engine.allocate(for: node.attributes)
        switch outcome {
        case .allocated(let reservation, _), .alreadyReserved(let reservation):
            return "ClusterCIDR \(reservation.pool ?? "?") has room (it would get \(reservation.podCIDRs.joined(separator: ", "))): "
                + "is the controller running and holding its Lease? (kubectl -n kube-system get lease node-ipam-controller)"
        case .noMatchingPool:
            let invalid = model.invalidPools(selecting: node.attributes)
            if !invalid.isEmpty {
                return "only invalid ClusterCIDRs select it (\(invalid.joined(separator: ", "))): fix them (delete and create corrected ones)"
            }
            return "no ClusterCIDR selects it (labels: \(labelText(node.labels.dictionary))): create one whose nodeSelector matches, or one without nodeSelector as a fallback"
        case .onlyClosedPools(_, let pools):
            let named = pools.map { "\($0) (\(model.engine.isTerminating($0) ? "being deleted" : "spec changed"))" }
            return "the ClusterCIDRs that select it allocate no more: \(named.joined(separator: ", ")): create another ClusterCIDR for it"
        case .exhausted(_, let pools):
            return "the ClusterCIDRs that select it are full: \(pools.map(\.description).joined(separator: "; ")): add a ClusterCIDR or delete nodes"
        }
    }

    static func labelText(_ labels: [String: String]) -> String {
        labels.isEmpty ? "none" : labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}
