import Foundation
import KubeClient
import MultiCIDR

/// A node range released from the pool that is kept out of allocation until `until`
/// (`--release-cooldown`): stale routes and conntrack entries may still point at it. Kept in
/// the pool's status so that a restarted controller or a new leader honours it.
public struct ClusterCIDRCoolingRange: Codable, Sendable, Hashable {
    /// The node range, canonical CIDR.
    public var cidr: String
    /// When it may be handed out again (RFC 3339, UTC).
    public var until: String

    public init(cidr: String, until: String) {
        self.cidr = cidr
        self.until = until
    }

    /// The range and its end, nil for an entry that does not parse (written by hand).
    public var parsed: (range: IPPrefix, until: Date)? {
        guard let range = try? IPPrefix(parsing: cidr), let date = KubeTime.parse(until) else { return nil }
        return (range, date)
    }
}

extension ClusterCIDRStatus {
    /// The cooling ranges of a status still cooling at `now`.
    public func coolingRanges(at now: Date) -> [(range: IPPrefix, until: Date)] {
        (coolingRanges ?? []).compactMap(\.parsed).filter { $0.until > now }
    }
}
