import ClusterCIDRAPI
import Foundation
import KubeClient

/// Every API request the controller makes, by resource: what RBAC must allow. The chart and
/// config/rbac are checked against this list (`node-ipam-controller api-requests`).
struct APIRequest: Codable, Sendable, Equatable {
    var group: String
    var resource: String
    var verbs: [String]
    var namespaced: Bool
    /// Non-empty when requests only ever name these objects.
    var resourceNames: [String]
}

enum APIRequestCatalog {
    static func requests(leaseName: String) -> [APIRequest] {
        [
            // Informer LIST/WATCH, re-reads after ambiguous writes (get), podCIDR writes (patch).
            APIRequest(group: "", resource: "nodes", verbs: ["get", "list", "watch", "patch"], namespaced: false, resourceNames: []),
            // Informer, default pool creation, finalizer add/remove (update).
            APIRequest(group: ClusterCIDR.group, resource: ClusterCIDR.plural, verbs: ["get", "list", "watch", "create", "update"], namespaced: false, resourceNames: []),
            APIRequest(group: ClusterCIDR.group, resource: ClusterCIDR.plural + "/status", verbs: ["update", "patch"], namespaced: false, resourceNames: []),
            // Aggregated events: create, then patch count/lastTimestamp.
            APIRequest(group: "", resource: "events", verbs: ["create", "patch"], namespaced: true, resourceNames: []),
            // Leader election: create cannot be limited by name; get/update only touch our Lease.
            APIRequest(group: "coordination.k8s.io", resource: "leases", verbs: ["create"], namespaced: true, resourceNames: []),
            APIRequest(group: "coordination.k8s.io", resource: "leases", verbs: ["get", "update"], namespaced: true, resourceNames: [leaseName]),
        ]
    }

    /// What `check` and `plan` request: list (and get) only (config/check/cluster_role.yaml).
    static let readOnlyRequests = [
        APIRequest(group: "", resource: "nodes", verbs: ["get", "list"], namespaced: false, resourceNames: []),
        APIRequest(group: ClusterCIDR.group, resource: ClusterCIDR.plural, verbs: ["get", "list"], namespaced: false, resourceNames: []),
    ]

    static func json(leaseName: String, readOnly: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let requests = readOnly ? readOnlyRequests : requests(leaseName: leaseName)
        return String(decoding: (try? encoder.encode(requests)) ?? Data("[]".utf8), as: UTF8.self)
    }
}
