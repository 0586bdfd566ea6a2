import KubeClient

/// A pool of pod CIDRs for the nodes its selector picks (`networking.x-k8s.io/v1`, KEP-2593).
public struct ClusterCIDR: Codable, Sendable, Hashable {
    public static let group = "networking.x-k8s.io"
    public static let version = "v1"
    public static let apiVersion = "networking.x-k8s.io/v1"
    public static let kind = "ClusterCIDR"
    public static let listKind = "ClusterCIDRList"
    public static let plural = "clustercidrs"
    public static let singular = "clustercidr"
    public static let shortName = "cc"
    /// Name of the CustomResourceDefinition.
    public static let crdName = "clustercidrs.networking.x-k8s.io"
    /// Kept on a ClusterCIDR while nodes hold ranges from it.
    public static let finalizer = "networking.x-k8s.io/cluster-cidr-finalizer"
    /// Name of the pool derived from cluster CIDR flags.
    public static let defaultPoolName = "default-cluster-cidr"
    /// Minimum `perNodeHostBits` (16 addresses per node).
    public static let minimumPerNodeHostBits: Int32 = 4

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    /// Optional in the reference schema; validation requires it.
    public var spec: ClusterCIDRSpec?
    public var status: ClusterCIDRStatus?

    public init(metadata: ObjectMeta, spec: ClusterCIDRSpec?, status: ClusterCIDRStatus? = nil) {
        self.apiVersion = ClusterCIDR.apiVersion
        self.kind = ClusterCIDR.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(name: String, spec: ClusterCIDRSpec?) {
        self.init(metadata: ObjectMeta(name: name), spec: spec)
    }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, spec, status }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion) ?? ClusterCIDR.apiVersion
        kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? ClusterCIDR.kind
        metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        spec = try container.decodeIfPresent(ClusterCIDRSpec.self, forKey: .spec)
        status = try container.decodeIfPresent(ClusterCIDRStatus.self, forKey: .status)
    }

    /// The object's name, or `""` when it has none.
    public var name: String { metadata.name ?? "" }
}

/// What a ClusterCIDR asks for.
public struct ClusterCIDRSpec: Codable, Sendable, Hashable {
    /// Which nodes may use the pool. Nil: a catch-all pool used after every matching pool;
    /// `nodeSelectorTerms: []`: every node.
    public var nodeSelector: NodeSelector?
    /// Host bits of each node's range: IPv4 nodes get /(32 − bits), IPv6 nodes /(128 − bits).
    public var perNodeHostBits: Int32
    /// Overrides `perNodeHostBits` for IPv6 (an addition to the reference API), so a
    /// dual-stack pool can give /24 IPv4 and /64 IPv6 ranges.
    public var perNodeHostBitsIPv6: Int32?
    /// IPv4 pool in CIDR notation, e.g. `10.0.0.0/8`.
    public var ipv4: String?
    /// IPv6 pool in CIDR notation, e.g. `2001:db8::/48`.
    public var ipv6: String?

    public init(nodeSelector: NodeSelector? = nil, perNodeHostBits: Int32, perNodeHostBitsIPv6: Int32? = nil, ipv4: String? = nil, ipv6: String? = nil) {
        self.nodeSelector = nodeSelector
        self.perNodeHostBits = perNodeHostBits
        self.perNodeHostBitsIPv6 = perNodeHostBitsIPv6
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// Host bits that govern IPv6 ranges: `perNodeHostBitsIPv6` when set, else `perNodeHostBits`.
    public var effectivePerNodeHostBitsIPv6: Int32 { perNodeHostBitsIPv6 ?? perNodeHostBits }

    /// The IPv4 CIDR text when set and non-empty.
    var ipv4Text: String? { ipv4.flatMap { $0.isEmpty ? nil : $0 } }
    /// The IPv6 CIDR text when set and non-empty.
    var ipv6Text: String? { ipv6.flatMap { $0.isEmpty ? nil : $0 } }
}

/// A page of ClusterCIDRs as returned by LIST.
public struct ClusterCIDRList: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ListMeta
    public var items: [ClusterCIDR]

    public init(metadata: ListMeta = ListMeta(), items: [ClusterCIDR]) {
        self.apiVersion = ClusterCIDR.apiVersion
        self.kind = ClusterCIDR.listKind
        self.metadata = metadata
        self.items = items
    }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, items }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion) ?? ClusterCIDR.apiVersion
        kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? ClusterCIDR.listKind
        metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try container.decodeIfPresent([ClusterCIDR].self, forKey: .items) ?? []
    }
}

extension ClusterCIDR: KubernetesObject {}
