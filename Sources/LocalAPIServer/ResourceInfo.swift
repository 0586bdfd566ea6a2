/// What the server knows about one served resource (built-in or from a CRD).
public struct ResourceInfo: Sendable, Hashable {
    public var group: String
    public var version: String
    public var plural: String
    public var singular: String
    public var kind: String
    public var namespaced: Bool
    public var shortNames: [String] = []
    public var categories: [String] = []
    public var hasStatus: Bool = false
    /// True for custom resources (strategic merge patch is refused; schema validation applies).
    public var isCustom: Bool = false
    /// The CRD's `openAPIV3Schema` for this version, if any.
    public var schema: JSON? = nil
    /// The CRD's `additionalPrinterColumns` for this version.
    public var printerColumns: [JSON] = []

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var groupVersion: String { apiVersion }
    /// Storage key: one store per group+resource, shared by all its versions.
    public var storageKey: String { group.isEmpty ? plural : "\(plural).\(group)" }
    public var listKind: String { kind + "List" }
    static let verbs: JSON = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    static func builtin(_ group: String, _ version: String, _ plural: String, _ kind: String, namespaced: Bool,
                        shortNames: [String] = [], status: Bool = false) -> ResourceInfo {
        ResourceInfo(group: group, version: version, plural: plural, singular: kind.lowercased(), kind: kind,
                     namespaced: namespaced, shortNames: shortNames, hasStatus: status)
    }

    static let builtins: [ResourceInfo] = [
        .builtin("", "v1", "namespaces", "Namespace", namespaced: false, shortNames: ["ns"], status: true),
        .builtin("", "v1", "nodes", "Node", namespaced: false, shortNames: ["no"], status: true),
        .builtin("", "v1", "events", "Event", namespaced: true, shortNames: ["ev"]),
        .builtin("", "v1", "configmaps", "ConfigMap", namespaced: true, shortNames: ["cm"]),
        .builtin("", "v1", "secrets", "Secret", namespaced: true),
        .builtin("", "v1", "serviceaccounts", "ServiceAccount", namespaced: true, shortNames: ["sa"]),
        .builtin("", "v1", "services", "Service", namespaced: true, shortNames: ["svc"], status: true),
        // Stored, never acted on (no pods are started): enough for `helm install` of our chart.
        .builtin("apps", "v1", "deployments", "Deployment", namespaced: true, shortNames: ["deploy"], status: true),
        .builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced: false),
        .builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced: false),
        .builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", namespaced: true),
        .builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", namespaced: true),
        .builtin("coordination.k8s.io", "v1", "leases", "Lease", namespaced: true),
        .builtin("events.k8s.io", "v1", "events", "Event", namespaced: true, shortNames: ["ev"]),
        .builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                 namespaced: false, shortNames: ["crd", "crds"], status: true),
    ]
}
