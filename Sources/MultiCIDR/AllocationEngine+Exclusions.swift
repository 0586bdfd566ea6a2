extension AllocationEngine {
    /// Makes `ranges` exactly the ranges excluded under `name` (a pool's exclusion annotation
    /// as it reads now). Returns true when a range stopped being excluded (waiting nodes may
    /// fit now).
    @discardableResult
    public mutating func setExclusions(_ ranges: [IPPrefix], name: String) -> Bool {
        let current = excludedRanges(named: name)
        guard Set(current) != Set(ranges) else { return false }
        var freed = false
        for range in current where !ranges.contains(where: { $0.contains(range) }) {
            freed = true
        }
        for range in current { unexclude(range, name: name) }
        for range in ranges { exclude(range, name: name) }
        return freed
    }
}
