/// An API resource declared once: where it lives and what it is called.
public struct Resource: Sendable, Hashable, CustomStringConvertible {
    /// API group; "" for the core group.
    public let group: String
    public let version: String
    public let plural: String
    public let kind: String
    public let namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// Path of the collection or of one object (and its subresource).
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { path += "/namespaces/\(Self.escape(namespace))" }
        path += "/\(plural)"
        if let name { path += "/\(Self.escape(name))" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(.init(charactersIn: "/?#"))) ?? segment
    }

    public static let nodes = Resource(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false)
    public static let namespaces = Resource(group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public static let coreEvents = Resource(group: "", version: "v1", plural: "events", kind: "Event", namespaced: true)
    public static let leases = Resource(group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true)
    public static let configMaps = Resource(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
}

import Foundation
