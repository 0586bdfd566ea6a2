/// The reference's ranking of candidate pools for a node (REFERENCE §2.2), with the pool
/// name as a final tie-break so the order is total. Smaller sorts first (= preferred).
public struct PoolRankKey: Sendable, Hashable, Comparable {
    /// P0: requirements of the best matching selector term (more is better).
    public var matchCount: Int
    /// P1: node ranges in the smallest family of the pool (fewer is better).
    public var maxAllocatable: UInt128
    /// P2: node prefix length, IPv4 if the pool has IPv4 else IPv6 (longer is better).
    public var nodePrefixLength: Int
    /// P3: canonical selector text (byte order).
    public var selectorText: String
    /// P4: pool label, the IPv4 pool CIDR if present else IPv6, compared as a string.
    public var poolLabel: String
    /// P5: ClusterCIDR name.
    public var name: String

    public init(matchCount: Int, maxAllocatable: UInt128, nodePrefixLength: Int, selectorText: String, poolLabel: String, name: String) {
        self.matchCount = matchCount
        self.maxAllocatable = maxAllocatable
        self.nodePrefixLength = nodePrefixLength
        self.selectorText = selectorText
        self.poolLabel = poolLabel
        self.name = name
    }

    public init(pool: PoolDefinition, matchCount: Int) {
        self.init(
            matchCount: matchCount,
            maxAllocatable: pool.families.map(\.capacity).min() ?? 0,
            nodePrefixLength: (pool.ipv4 ?? pool.ipv6)?.nodePrefixLength ?? 0,
            selectorText: pool.selector.canonicalText,
            poolLabel: (pool.ipv4 ?? pool.ipv6).map { $0.prefix.description } ?? "",
            name: pool.name
        )
    }

    public static func < (a: PoolRankKey, b: PoolRankKey) -> Bool {
        if a.matchCount != b.matchCount { return a.matchCount > b.matchCount }
        if a.maxAllocatable != b.maxAllocatable { return a.maxAllocatable < b.maxAllocatable }
        if a.nodePrefixLength != b.nodePrefixLength { return a.nodePrefixLength > b.nodePrefixLength }
        if a.selectorText != b.selectorText { return a.selectorText.utf8.lexicographicallyPrecedes(b.selectorText.utf8) }
        if a.poolLabel != b.poolLabel { return a.poolLabel.utf8.lexicographicallyPrecedes(b.poolLabel.utf8) }
        return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }
}
