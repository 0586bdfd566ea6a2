/// One family of a pool: the pool prefix and the prefix length given to each node.
public struct PoolFamily: Sendable, Hashable, CustomStringConvertible {
    public let prefix: IPPrefix
    /// Prefix length of each node's range (address width minus per-node host bits).
    public let nodePrefixLength: Int

    public var family: IPFamily { prefix.family }
    /// Host bits of each node's range.
    public var nodeHostBits: Int { family.bitWidth - nodePrefixLength }
    /// Number of node ranges the pool holds, 2^(nodePrefixLength - prefix.length).
    public var capacity: UInt128 { UInt128(1) << UInt128(nodePrefixLength - prefix.length) }

    /// Fails with a message naming the prefix when the node range does not fit in the pool.
    public init(prefix: IPPrefix, nodeHostBits: Int) throws(PoolDefinitionError) {
        guard nodeHostBits >= 0 else {
            throw PoolDefinitionError("per-node host bits \(nodeHostBits) must not be negative")
        }
        guard nodeHostBits <= prefix.hostBits else {
            throw PoolDefinitionError("per-node host bits \(nodeHostBits) are more than the \(prefix.hostBits) host bits of \(prefix)")
        }
        let nodeLength = prefix.family.bitWidth - nodeHostBits
        guard nodeLength - prefix.length < 128 else {
            throw PoolDefinitionError("\(prefix) with per-node host bits \(nodeHostBits) holds 2^128 node ranges, which cannot be counted; use more host bits per node")
        }
        self.prefix = prefix
        self.nodePrefixLength = nodeLength
    }

    public var description: String { "\(prefix) (/\(nodePrefixLength) per node)" }
}

/// Why a pool definition is unusable.
public struct PoolDefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A pool as the engine sees it: the engine-level form of a ClusterCIDR.
public struct PoolDefinition: Sendable, Hashable {
    /// ClusterCIDR name: unique, and the final ranking tie-break.
    public let name: String
    /// Identity of the API object; a different uid under the same name is a new pool.
    public let uid: String
    public let selector: PoolSelector
    public let ipv4: PoolFamily?
    public let ipv6: PoolFamily?

    public init(name: String, uid: String = "", selector: PoolSelector, ipv4: PoolFamily?, ipv6: PoolFamily?) throws(PoolDefinitionError) {
        guard ipv4 != nil || ipv6 != nil else {
            throw PoolDefinitionError("pool \(name) has neither an IPv4 nor an IPv6 range")
        }
        if let ipv4, ipv4.family != .ipv4 {
            throw PoolDefinitionError("pool \(name): \(ipv4.prefix) is not an IPv4 range")
        }
        if let ipv6, ipv6.family != .ipv6 {
            throw PoolDefinitionError("pool \(name): \(ipv6.prefix) is not an IPv6 range")
        }
        self.name = name
        self.uid = uid
        self.selector = selector
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// The families in the order they are written to `podCIDRs` (IPv4 first).
    public var families: [PoolFamily] { [ipv4, ipv6].compactMap { $0 } }

    public func family(_ family: IPFamily) -> PoolFamily? { family == .ipv4 ? ipv4 : ipv6 }
}
