/// Released node ranges kept out of allocation until their time (`--release-cooldown`): stale
/// routes and conntrack entries may still point at a range its node just gave back. A cooling
/// range is an exclusion of the engine under its pool's cooldown name, so every pool skips it
/// and counts it as not free. Times are seconds since the Unix epoch, passed in: no clock here.
public struct ReleaseCooldown: Sendable {
    /// One cooling range and when it may be handed out again.
    public struct Entry: Sendable, Hashable {
        public let range: IPPrefix
        public let until: Int64

        public init(range: IPPrefix, until: Int64) {
            self.range = range
            self.until = until
        }
    }

    private var byPool: [String: [Entry]] = [:]

    public init() {}

    /// The engine's exclusion name for a pool's cooling ranges.
    public static func exclusionName(of pool: String) -> String { "release-cooldown of ClusterCIDR \(pool)" }

    /// The pool's cooling ranges, soonest first.
    public func entries(of pool: String) -> [Entry] {
        (byPool[pool] ?? []).sorted { ($0.until, $0.range) < ($1.until, $1.range) }
    }

    /// When the pool's next cooldown ends; nil when none cools.
    public func nextEnd(of pool: String) -> Int64? { byPool[pool]?.map(\.until).min() }

    /// Keeps `ranges` of `pool` out of allocation until `until`.
    public mutating func start(_ ranges: [IPPrefix], pool: String, until: Int64, in engine: inout AllocationEngine) {
        for range in ranges {
            engine.exclude(range, name: Self.exclusionName(of: pool))
            byPool[pool, default: []].append(Entry(range: range, until: until))
        }
    }

    /// Ends the cooldown of the pool's ranges whose time is at or before `now`; returns them.
    @discardableResult
    public mutating func expire(pool: String, now: Int64, in engine: inout AllocationEngine) -> [IPPrefix] {
        guard let entries = byPool[pool] else { return [] }
        let ended = entries.filter { $0.until <= now }
        guard !ended.isEmpty else { return [] }
        let rest = entries.filter { $0.until > now }
        byPool[pool] = rest.isEmpty ? nil : rest
        // Rebuilt from what still cools: two entries of one range (released, handed out by
        // hand, released again) keep it excluded until the later one ends.
        engine.setExclusions(rest.map(\.range), name: Self.exclusionName(of: pool))
        return ended.map(\.range)
    }

    /// Drops every cooling range of a pool that is gone; true when one was dropped.
    @discardableResult
    public mutating func forget(pool: String, in engine: inout AllocationEngine) -> Bool {
        guard byPool.removeValue(forKey: pool) != nil else { return false }
        engine.setExclusions([], name: Self.exclusionName(of: pool))
        return true
    }
}
