import Testing
import MultiCIDR
@testable import CNIIPAM

/// A seeded generator, so random choices are repeatable in tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func ip(_ text: String) -> IPAddress { try! IPAddress(parsing: text) }

/// A tiny in-memory store driven through the planner, as the shell drives the disk store.
struct MemoryStore {
    var snapshot = StoreSnapshot()
    var generator = SplitMix64(state: 42)

    mutating func add(_ sets: [RangeSet], _ id: String, ifname: String = "eth0",
                      strategy: AllocationStrategy = .sequential) throws -> [String] {
        let plan = try Allocator.planAdd(rangeSets: sets, strategy: strategy, snapshot: snapshot,
                                         containerID: id, ifname: ifname, using: &generator)
        for planned in plan.newAddresses {
            snapshot.allocations[planned.address] = Owner(containerID: id, ifname: ifname)
        }
        snapshot.cursors.merge(plan.cursorUpdates) { $1 }
        return plan.addresses.map(\.address.description)
    }

    mutating func del(_ id: String, ifname: String = "eth0") {
        for address in Allocator.releasable(snapshot: snapshot, containerID: id, ifname: ifname) {
            snapshot.allocations[address] = nil
        }
    }
}

func sets(_ ipamMembers: String) throws -> [RangeSet] { try ipamConfig(ipamMembers).rangeSets }

@Suite struct SequentialAllocationTests {
    @Test func startsAtTheFirstHostAfterTheGatewayAndSkipsIt() throws {
        var store = MemoryStore()
        let ranges = try sets(#""subnet":"10.244.1.0/24""#)
        #expect(try store.add(ranges, "a") == ["10.244.1.2"])
        #expect(try store.add(ranges, "b") == ["10.244.1.3"])
    }

    @Test func rangeStartAndEndBoundTheChoice() throws {
        var store = MemoryStore()
        let ranges = try sets(#""subnet":"10.88.0.0/24","rangeStart":"10.88.0.10","rangeEnd":"10.88.0.11""#)
        #expect(try store.add(ranges, "a") == ["10.88.0.10"])
        #expect(try store.add(ranges, "b") == ["10.88.0.11"])
        #expect(errorCode { _ = try store.add(ranges, "c") } == 110)
    }

    @Test func neverHandsOutNetworkBroadcastOrGatewayEvenWhenTheRangeIncludesThem() throws {
        var store = MemoryStore()
        let ranges = try sets(#""subnet":"10.0.0.0/29","rangeStart":"10.0.0.0","rangeEnd":"10.0.0.7","gateway":"10.0.0.3""#)
        var got: [String] = []
        for index in 0..<4 { got += try store.add(ranges, "c\(index)") }
        #expect(got == ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5"])
        #expect(try store.add(ranges, "c4") == ["10.0.0.6"])
        let error = try #require(configErrorOf { _ = try store.add(ranges, "c5") })
        #expect(error.code == .rangeSetExhausted)
        #expect(error.msg == "no IP addresses available in range set 0 (10.0.0.0/29): 5 of 5 in use")
    }

    @Test func continuesAfterTheCursorAndWrapsWithoutReusingAFreedAddressAtOnce() throws {
        var store = MemoryStore()
        let ranges = try sets(#""subnet":"10.0.0.0/29""#)   // hosts .2-.6 (gateway .1)
        for name in ["a", "b", "c"] { _ = try store.add(ranges, name) }   // .2 .3 .4
        store.del("a")                                                    // .2 free
        #expect(try store.add(ranges, "d") == ["10.0.0.5"])
        #expect(try store.add(ranges, "e") == ["10.0.0.6"])
        #expect(try store.add(ranges, "f") == ["10.0.0.2"])               // wrapped around
        #expect(errorCode { _ = try store.add(ranges, "g") } == 110)
    }

    @Test func cursorOutsideTheSetRestartsAtTheStart() throws {
        var store = MemoryStore()
        store.snapshot.cursors[0] = ip("192.168.0.9")
        #expect(try store.add(try sets(#""subnet":"10.0.0.0/24""#), "a") == ["10.0.0.2"])
    }

    @Test func walksThroughEveryRangeOfASet() throws {
        var store = MemoryStore()
        let ranges = try sets(#""ranges":[[{"subnet":"10.0.0.0/30"},{"subnet":"10.0.1.0/30"}]]"#)
        #expect(try store.add(ranges, "a") == ["10.0.0.2"])
        #expect(try store.add(ranges, "b") == ["10.0.1.2"])
        #expect(errorCode { _ = try store.add(ranges, "c") } == 110)
    }

    @Test func dualStackGivesOneAddressPerFamilyWithCanonicalIPv6() throws {
        var store = MemoryStore()
        let ranges = try sets(#""ranges":[[{"subnet":"10.244.1.0/24"}],[{"subnet":"FD00:0010:0244:0001:0000::/64"}]]"#)
        #expect(try store.add(ranges, "a") == ["10.244.1.2", "fd00:10:244:1::2"])
        #expect(store.snapshot.cursors == [0: ip("10.244.1.2"), 1: ip("fd00:10:244:1::2")])
    }

    @Test func dualStackIsAllOrNothing() throws {
        var store = MemoryStore()
        let ranges = try sets(#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/126"}]]"#)
        _ = try store.add(ranges, "a")   // fd00::2
        _ = try store.add(ranges, "b")   // fd00::3
        let before = store.snapshot.allocations
        #expect(errorCode { _ = try store.add(ranges, "c") } == 110)
        #expect(store.snapshot.allocations == before)
    }

    @Test func repeatedAddReturnsTheSameAddressesAndFillsOnlyMissingFamilies() throws {
        var store = MemoryStore()
        let v4 = try sets(#""subnet":"10.0.0.0/24""#)
        let dual = try sets(#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/64"}]]"#)
        #expect(try store.add(v4, "a") == ["10.0.0.2"])
        #expect(try store.add(v4, "a") == ["10.0.0.2"])
        #expect(try store.add(dual, "a") == ["10.0.0.2", "fd00::2"])
        #expect(try store.add(dual, "a", ifname: "net1") == ["10.0.0.3", "fd00::3"])
    }
}

@Suite struct RandomAllocationTests {
    @Test func choosesOnlyFreeAssignableAddressesAndFillsTheRange() throws {
        var store = MemoryStore()
        let ranges = try sets(#""subnet":"10.0.0.0/28","gateway":"10.0.0.7""#)
        var seen = Set<String>()
        for index in 0..<13 {
            let got = try store.add(ranges, "c\(index)", strategy: .random)
            #expect(seen.insert(got[0]).inserted)
        }
        #expect(!seen.contains("10.0.0.0") && !seen.contains("10.0.0.7") && !seen.contains("10.0.0.15"))
        #expect(seen.count == 13)
        #expect(errorCode { _ = try store.add(ranges, "full", strategy: .random) } == 110)
    }

    @Test func isUniformOverTheFreeAddresses() throws {
        let set = try sets(#""subnet":"10.0.0.0/29""#)[0]   // .2 .. .6
        let taken: Set<UInt128> = [ip("10.0.0.4").value]
        var generator = SplitMix64(state: 7)
        var counts: [UInt128: Int] = [:]
        for _ in 0..<8000 {
            let (_, value) = try #require(Allocator.randomFree(in: set, taken: taken, using: &generator))
            counts[value, default: 0] += 1
        }
        #expect(Set(counts.keys) == Set(["10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6"].map { ip($0).value }))
        #expect(counts.values.allSatisfy { (1800...2200).contains($0) }, "\(counts)")
    }

    @Test func largeIPv6RangeNeedsNoScan() throws {
        // A /64 with 2^64 candidates: the choice walks only the taken addresses.
        var store = MemoryStore()
        let ranges = try sets(#""subnet":"fd00:1::/64""#)
        var seen = Set<String>()
        for index in 0..<500 { seen.insert(try store.add(ranges, "c\(index)", strategy: .random)[0]) }
        #expect(seen.count == 500)
        #expect(seen.allSatisfy { $0.hasPrefix("fd00:1:0:0:") || $0.hasPrefix("fd00:1::") })
        let full = try sets(#""ranges":[[{"subnet":"fd00:2::/64","rangeStart":"fd00:2::ffff:ffff:ffff:fff0"}]]"#)
        for index in 0..<16 { _ = try store.add(full, "f\(index)", strategy: .random) }
        #expect(errorCode { _ = try store.add(full, "f16", strategy: .random) } == 110)
    }
}

@Suite struct CheckDelGCTests {
    @Test func checkPassesForTheHolderAndFailsWhenMissingOrChanged() throws {
        var store = MemoryStore()
        let ranges = try sets(#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/64"}]]"#)
        _ = try store.add(ranges, "a")
        try Allocator.check(rangeSets: ranges, snapshot: store.snapshot, containerID: "a", ifname: "eth0",
                            previous: [ip("10.0.0.2"), ip("fd00::2")], storeDirectory: "/s")
        try Allocator.check(rangeSets: ranges, snapshot: store.snapshot, containerID: "a", ifname: "eth0",
                            previous: nil, storeDirectory: "/s")
        #expect(errorCode { try Allocator.check(rangeSets: ranges, snapshot: store.snapshot, containerID: "b", ifname: "eth0", previous: nil, storeDirectory: "/s") } == 100)
        #expect(errorCode { try Allocator.check(rangeSets: ranges, snapshot: store.snapshot, containerID: "a", ifname: "eth0", previous: [ip("10.0.0.9"), ip("fd00::2")], storeDirectory: "/s") } == 101)
        #expect(errorCode { try Allocator.check(rangeSets: ranges, snapshot: store.snapshot, containerID: "a", ifname: "eth0", previous: [ip("10.0.0.2"), ip("10.0.0.3"), ip("fd00::2")], storeDirectory: "/s") } == 101)
    }

    @Test func delReleasesEveryAddressOfTheInterfaceAndLegacyIDOnlyFiles() throws {
        var snapshot = StoreSnapshot()
        snapshot.allocations[ip("10.0.0.2")] = Owner(containerID: "a", ifname: "eth0")
        snapshot.allocations[ip("10.9.9.9")] = Owner(containerID: "a", ifname: "eth0")   // range no longer configured
        snapshot.allocations[ip("10.0.0.3")] = Owner(containerID: "a", ifname: "net1")
        snapshot.allocations[ip("10.0.0.4")] = Owner(containerID: "a", ifname: nil)
        snapshot.allocations[ip("10.0.0.5")] = .some(nil)
        #expect(Allocator.releasable(snapshot: snapshot, containerID: "a", ifname: "eth0").map(\.description) == ["10.0.0.2", "10.0.0.4", "10.9.9.9"])
        #expect(Allocator.releasable(snapshot: snapshot, containerID: "zzz", ifname: "eth0").isEmpty)
    }

    @Test func gcReleasesEverythingButValidAttachments() throws {
        var snapshot = StoreSnapshot()
        snapshot.allocations[ip("10.0.0.2")] = Owner(containerID: "keep", ifname: "eth0")
        snapshot.allocations[ip("fd00::2")] = Owner(containerID: "keep", ifname: "eth0")
        snapshot.allocations[ip("10.0.0.3")] = Owner(containerID: "keep", ifname: "net1")
        snapshot.allocations[ip("10.0.0.4")] = Owner(containerID: "gone", ifname: "eth0")
        snapshot.allocations[ip("10.0.0.5")] = Owner(containerID: "keep", ifname: nil)
        snapshot.allocations[ip("10.0.0.6")] = .some(nil)
        let garbage = Allocator.garbage(snapshot: snapshot, valid: [Attachment(containerID: "keep", ifname: "eth0")])
        #expect(garbage.map(\.description) == ["10.0.0.3", "10.0.0.4", "10.0.0.6"])
        #expect(Allocator.garbage(snapshot: snapshot, valid: []).count == 6)
    }

    @Test func freeCountsForStatus() throws {
        var store = MemoryStore()
        let ranges = try sets(#""ranges":[[{"subnet":"10.0.0.0/30"}],[{"subnet":"fd00::/64"}]]"#)
        #expect(Allocator.freeCounts(rangeSets: ranges, snapshot: store.snapshot) == [1, UInt128(1) << 64 - 2])
        _ = try store.add(ranges, "a")
        #expect(Allocator.freeCounts(rangeSets: ranges, snapshot: store.snapshot)[0] == 0)
    }
}

func configErrorOf(_ body: () throws -> Void) -> CNIError? {
    do { try body() } catch let error as CNIError { return error } catch { return nil }
    return nil
}
