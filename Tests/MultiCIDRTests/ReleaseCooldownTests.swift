import Testing
@testable import MultiCIDR

/// `--release-cooldown`: a released range is skipped by every pool until its time, then
/// handed out again; exclusion sets replace each other whole.
@Suite struct ReleaseCooldownTests {
    @Test func aCoolingRangeIsSkippedUntilItsTime() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/27", hostBits: 4)) // two /28s
        var cooldown = ReleaseCooldown()
        let a = engine.allocateAndConfirm(node("a")), b = engine.allocateAndConfirm(node("b"))
        #expect(a == ["10.0.0.0/28"] && b == ["10.0.0.16/28"])
        let released = engine.release(node: "a")?.ranges ?? []
        cooldown.start(released, pool: "p", until: 100, in: &engine)
        #expect(cooldown.entries(of: "p") == [ReleaseCooldown.Entry(range: prefix("10.0.0.0/28"), until: 100)])
        #expect(cooldown.nextEnd(of: "p") == 100)
        #expect(engine.statistics(of: "p").first?.free == 0, "a cooling range is not free")
        let whileCooling = engine.allocate(for: node("c")).podCIDRs
        let early = cooldown.expire(pool: "p", now: 99, in: &engine)
        let stillCooling = engine.allocate(for: node("c")).podCIDRs
        #expect(whileCooling == nil && early.isEmpty && stillCooling == nil)
        let ended = cooldown.expire(pool: "p", now: 100, in: &engine)
        #expect(ended == [prefix("10.0.0.0/28")])
        #expect(cooldown.nextEnd(of: "p") == nil)
        let c = engine.allocateAndConfirm(node("c"))
        #expect(c == ["10.0.0.0/28"])
    }

    @Test func rangesEndOneByOneAndAGonePoolDropsThem() {
        var engine = AllocationEngine()
        engine.upsertPool(pool("p", v4: "10.0.0.0/26", hostBits: 4))
        var cooldown = ReleaseCooldown()
        cooldown.start([prefix("10.0.0.0/28")], pool: "p", until: 10, in: &engine)
        cooldown.start([prefix("10.0.0.16/28")], pool: "p", until: 20, in: &engine)
        #expect(engine.statistics(of: "p").first?.free == 2)
        let first = cooldown.expire(pool: "p", now: 15, in: &engine)
        #expect(first == [prefix("10.0.0.0/28")])
        #expect(engine.isFree(prefix("10.0.0.0/28")) && !engine.isFree(prefix("10.0.0.16/28")))
        let forgotten = cooldown.forget(pool: "p", in: &engine)
        #expect(forgotten && engine.isFree(prefix("10.0.0.16/28")))
        let again = cooldown.forget(pool: "p", in: &engine)
        #expect(!again)
    }

    @Test func exclusionSetsAreReplacedWhole() {
        var engine = AllocationEngine()
        let nothing = engine.setExclusions([], name: "x")
        let added = engine.setExclusions([prefix("10.0.0.0/24")], name: "x")
        let widened = engine.setExclusions([prefix("10.0.0.0/16")], name: "x")
        #expect(!nothing && !added && !widened, "adding or widening frees nothing")
        #expect(engine.excludedRanges(named: "x") == [prefix("10.0.0.0/16")])
        let narrowed = engine.setExclusions([prefix("10.0.1.0/24")], name: "x")
        #expect(narrowed, "narrowing frees addresses")
        #expect(engine.isFree(prefix("10.0.0.0/24")) && !engine.isFree(prefix("10.0.1.0/24")))
        let cleared = engine.setExclusions([], name: "x")
        #expect(cleared && engine.isFree(prefix("10.0.1.0/24")))
    }
}
