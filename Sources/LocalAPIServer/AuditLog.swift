import Foundation
import Synchronization

/// The writes the server applied, in the order of their resourceVersions, with the client's
/// User-Agent: what kube-apiserver's audit log would show. Fault-safety checks use it to tell
/// which replica wrote what, and whether it held the Lease at that moment.
public final class AuditLog: Sendable {
    /// One applied write.
    public struct Entry: Sendable {
        public var resourceVersion: UInt64
        public var verb: String
        public var resource: String
        public var namespace: String?
        public var name: String?
        public var uid: String?
        public var subresource: String?
        public var userAgent: String
        /// For Leases: the holder after the write.
        public var holder: String?
        /// For Nodes: the podCIDRs after the write.
        public var podCIDRs: [String]?

        var json: JSON {
            var object: [String: JSON] = [
                "resourceVersion": .string(String(resourceVersion)), "verb": .string(verb), "resource": .string(resource),
                "userAgent": .string(userAgent),
            ]
            if let namespace { object["namespace"] = .string(namespace) }
            if let name { object["name"] = .string(name) }
            if let uid { object["uid"] = .string(uid) }
            if let subresource { object["subresource"] = .string(subresource) }
            if let holder { object["holder"] = .string(holder) }
            if let podCIDRs { object["podCIDRs"] = .array(podCIDRs.map { .string($0) }) }
            return .object(object)
        }
    }

    /// Whether writes are recorded (`Configuration.audit`).
    public let enabled: Bool
    private let items = Mutex<[Entry]>([])

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func record(verb: String, resource: String, namespace: String?, name: String?, subresource: String?, userAgent: String, response: String) {
        let object = (try? JSON.parse(response)) ?? .null
        let rv = object["metadata"]?["resourceVersion"]?.stringValue.flatMap { UInt64($0) } ?? 0
        var entry = Entry(resourceVersion: rv, verb: verb, resource: resource, namespace: namespace, name: name ?? object["metadata"]?["name"]?.stringValue,
                          uid: object["metadata"]?["uid"]?.stringValue, subresource: subresource, userAgent: userAgent)
        if resource == "leases" { entry.holder = object["spec"]?["holderIdentity"]?.stringValue ?? "" }
        if resource == "nodes" { entry.podCIDRs = (object["spec"]?["podCIDRs"]?.arrayValue ?? []).compactMap(\.stringValue) }
        items.withLock { $0.append(entry) }
    }

    /// Entries with a resourceVersion above `after`, in resourceVersion order.
    public func entries(after: UInt64 = 0) -> [Entry] {
        items.withLock { $0.filter { $0.resourceVersion > after } }.sorted { $0.resourceVersion < $1.resourceVersion }
    }
}
