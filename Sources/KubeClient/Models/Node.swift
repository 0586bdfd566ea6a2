/// An object with standard metadata.
public protocol KubernetesObject: Codable, Sendable {
    var metadata: ObjectMeta { get }
}

/// A core/v1 Node, as much as IPAM needs (metadata and pod CIDRs). Unknown fields are ignored.
public struct Node: KubernetesObject, Hashable {
    public struct Spec: Codable, Sendable, Hashable {
        public var podCIDR: String?
        public var podCIDRs: [String]?
        public var providerID: String?
        public var unschedulable: Bool?

        public init(podCIDR: String? = nil, podCIDRs: [String]? = nil, providerID: String? = nil, unschedulable: Bool? = nil) {
            self.podCIDR = podCIDR
            self.podCIDRs = podCIDRs
            self.providerID = providerID
            self.unschedulable = unschedulable
        }
    }

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.apiVersion = "v1"
        self.kind = "Node"
        self.metadata = metadata
        self.spec = spec
    }

    /// `spec.podCIDRs`, falling back to `spec.podCIDR` (older writers set only that).
    public var podCIDRs: [String] { spec?.effectivePodCIDRs ?? [] }
}

extension Node.Spec {
    /// `podCIDRs`, else the single `podCIDR` (older writers set only that), else none.
    public var effectivePodCIDRs: [String] {
        if let podCIDRs, !podCIDRs.isEmpty { return podCIDRs }
        if let podCIDR, !podCIDR.isEmpty { return [podCIDR] }
        return []
    }
}

/// A coordination.k8s.io/v1 Lease.
public struct Lease: KubernetesObject, Hashable {
    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        /// MicroTime (RFC 3339 with microseconds).
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int?

        public init(holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: String? = nil,
                    renewTime: String? = nil, leaseTransitions: Int? = nil) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }

    public var apiVersion: String? = "coordination.k8s.io/v1"
    public var kind: String? = "Lease"
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// A core/v1 Event.
public struct Event: KubernetesObject, Hashable {
    public struct ObjectReference: Codable, Sendable, Hashable {
        public var apiVersion: String?
        public var kind: String?
        public var name: String?
        public var namespace: String?
        public var uid: String?
        public var resourceVersion: String?

        public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil,
                    uid: String? = nil, resourceVersion: String? = nil) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }

    public struct Source: Codable, Sendable, Hashable {
        public var component: String?
        public var host: String?
    }

    public var apiVersion: String? = "v1"
    public var kind: String? = "Event"
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String?
    public var message: String?
    public var type: String?
    public var count: Int?
    public var firstTimestamp: String?
    public var lastTimestamp: String?
    public var source: Source?
    public var reportingComponent: String?
    public var reportingInstance: String?

    public init(metadata: ObjectMeta, involvedObject: ObjectReference, reason: String?, message: String?, type: String?,
                count: Int?, firstTimestamp: String?, lastTimestamp: String?, component: String, host: String?) {
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.type = type
        self.count = count
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.source = Source(component: component, host: host)
        self.reportingComponent = component
        self.reportingInstance = host
    }
}
