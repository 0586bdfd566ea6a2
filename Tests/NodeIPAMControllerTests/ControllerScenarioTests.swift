import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
import MultiCIDR
@testable import NodeIPAMController
import Testing
import TestSupport

/// SCENARIOS.md group C end to end: the real controller against LocalAPIServer over HTTPS.
/// Scenarios that use perNodeHostBits below 4 (which our API rejects, REC W16) are scaled to
/// /28 node ranges; the engine tests keep the reference's exact numbers.
@Suite struct ControllerAllocationTests {
    static let node0 = ["testLabel-0": "node0"]
    static let threeLabels = ["testLabel-0": "node0", "testLabel-1": "label1", "testLabel-2": "label2"]

    @Test func c2FirstBlockAndC3ServiceRangeExcluded() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "127.123.234.0/24", hostBits: 4, selector: ["testLabel-0": "node0"])
            _ = await h.startController(ControllerConfiguration(serviceCIDRs: ["127.123.234.0/26"], statusDelay: .milliseconds(20)))
            try await h.createNode("node0", labels: Self.node0)
            #expect(try await h.podCIDRs(of: "node0") == ["127.123.234.64/28"])
            try await h.createNode("node1", labels: Self.node0)
            #expect(try await h.podCIDRs(of: "node1") == ["127.123.234.80/28"])
        }
    }

    @Test func c5MoreMatchingLabelsWinsDualStack() async throws {
        try await withHarness { h in
            try await h.createPool("a", ipv4: "10.0.0.0/8", ipv6: "ace:cab:deca::/112", hostBits: 8, selector: ["testLabel-0": "node0"])
            try await h.createPool("b", ipv4: "127.123.234.0/8", ipv6: "abc:def:deca::/112", hostBits: 8,
                                   selector: ["testLabel-0": "node0", "testLabel-1": "label1"])
            _ = await h.startController(ControllerConfiguration(serviceCIDRs: ["127.123.234.0/26"], statusDelay: .milliseconds(20)))
            try await h.createNode("node0", labels: Self.threeLabels)
            #expect(try await h.podCIDRs(of: "node0") == ["127.0.0.0/24", "abc:def:deca::/120"])
        }
    }

    @Test func c7FewerRangesC9SmallerRangeC11AddressText() async throws {
        try await withHarness { h in
            // C7: pool b has a single range per family and wins on P1.
            try await h.createPool("a", ipv4: "127.123.234.0/8", ipv6: "abc:def:deca::/112", hostBits: 8,
                                   selector: ["testLabel-0": "node0", "testLabel-1": "label1"])
            try await h.createPool("b", ipv4: "10.0.0.0/24", ipv6: "ace:cab:deca::/120", hostBits: 8,
                                   selector: ["testLabel-0": "node0", "testLabel-2": "label2"])
            _ = await h.startController()
            try await h.createNode("node0", labels: Self.threeLabels)
            #expect(try await h.podCIDRs(of: "node0") == ["10.0.0.0/24", "ace:cab:deca::/120"])
            // b is now full: the next node falls back to a.
            try await h.createNode("node1", labels: Self.threeLabels)
            #expect(try await h.podCIDRs(of: "node1") == ["127.0.0.0/24", "abc:def:deca::/120"])
        }
    }

    @Test func c12ExistingRangesAreNeverHandedOutAgain() async throws {
        try await withHarness { h in
            let labels = ["testLabel-0": "nodepool1"]
            try await h.createPool("p", ipv4: "10.10.0.0/22", hostBits: 8, selector: ["testLabel-0": "nodepool1"])
            try await h.createNode("node0", labels: labels, podCIDRs: ["10.10.0.0/24"])
            try await h.createNode("node1", labels: labels, podCIDRs: ["10.10.2.0/24"])
            try await h.createNode("node2", labels: labels)
            let versionBefore = try await h.client.get(.nodes, name: "node0", as: Node.self).metadata.resourceVersion
            _ = await h.startController()
            #expect(try await h.podCIDRs(of: "node2") == ["10.10.1.0/24"])
            // node0 and node1 were not written.
            #expect(try await h.client.get(.nodes, name: "node0", as: Node.self).metadata.resourceVersion == versionBefore)
            #expect(try await h.client.get(.nodes, name: "node1", as: Node.self).podCIDRs == ["10.10.2.0/24"])
        }
    }

    @Test func c13ExhaustedPoolLeavesTheNodeAloneAndSaysWhy() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "127.123.234.0/26", hostBits: 4, selector: ["testLabel-0": "node0"])
            for i in 0..<4 { try await h.createNode("full\(i)", labels: Self.node0, podCIDRs: ["127.123.234.\(i * 16)/28"]) }
            let controller = await h.startController()
            try await h.createNode("node0", labels: Self.node0)
            try await h.waitForPool("p") { $0?.status?.condition(.exhausted)?.status == "True" }
            // The pool was full before node0 came: wait for what node0's sync writes.
            try await h.waitForEvent(reason: EventReason.cidrNotAvailable, about: "node0")
            try await h.waitForEvent(reason: EventReason.cidrNotAvailable, about: "p")
            #expect(try await h.client.get(.nodes, name: "node0", as: Node.self).podCIDRs.isEmpty)
            #expect(await controller.pendingNodes() == ["node0"])
            let events = try await h.events(reason: EventReason.cidrNotAvailable)
            let onNode = events.filter { $0.involvedObject.kind == "Node" }
            #expect(onNode.count == 1 && onNode.first?.type == "Warning" && onNode.first?.involvedObject.name == "node0")
            #expect(onNode.first?.message?.contains("ClusterCIDR p has no free IPv4 range left in 127.123.234.0/26") == true)
            // The pool says it too, once (not once per waiting node or wake-up).
            let onPool = events.filter { $0.involvedObject.kind == ClusterCIDR.kind }
            #expect(onPool.count == 1 && onPool.first?.type == "Warning" && onPool.first?.involvedObject.name == "p")
            // C18: a node goes away; the pending node gets its range at once.
            try await h.client.delete(.nodes, name: "full1")
            #expect(try await h.podCIDRs(of: "node0") == ["127.123.234.16/28"])
        }
    }

    @Test(arguments: [["172.10.0.1/24"], ["172.10.0.1/24", "ace:cab:deca::1/120"], ["10.10.0.1/24", "cdd::/86"]])
    func c14to17PodCIDRsOutsideEveryPoolAreKeptAndReported(podCIDRs: [String]) async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.10.0.0/16", ipv6: "ace:cab:deca::/112", hostBits: 8, selector: ["testLabel-0": "node0"])
            try await h.createNode("node0", labels: Self.node0, podCIDRs: podCIDRs)
            let before = try await h.client.get(.nodes, name: "node0", as: Node.self)
            let controller = await h.startController()
            try await h.waitForPool("p") { $0?.metadata.finalizers != nil && $0?.status?.nodes == 0 }
            #expect(try await h.client.get(.nodes, name: "node0", as: Node.self) == before)
            #expect(await controller.reservation(for: "node0")?.pool == nil)
            #expect(await controller.reservation(for: "node0")?.state == .confirmed)
        }
    }

    @Test func c19DeletedNodesRangeIsReusedAfterTheCursorWraps() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "127.123.234.0/26", hostBits: 4, selector: ["testLabel-0": "node0"])
            for i in 1..<4 { try await h.createNode("fake\(i)", labels: Self.node0, podCIDRs: ["127.123.234.\(i * 16)/28"]) }
            _ = await h.startController()
            try await h.createNode("node0", labels: Self.node0)
            #expect(try await h.podCIDRs(of: "node0") == ["127.123.234.0/28"])
            try await h.client.delete(.nodes, name: "node0")
            try await h.createNode("node1", labels: Self.node0)
            #expect(try await h.podCIDRs(of: "node1") == ["127.123.234.0/28"])
        }
    }

    @Test func pendingNodesAreServedWhenAPoolAppears() async throws {
        try await withHarness { h in
            let controller = await h.startController()
            try await h.createNode("early", labels: ["zone": "a"])
            try await h.waitForNode("early")
            try await h.createPool("zone-a", ipv4: "10.1.0.0/16", hostBits: 8, selector: ["zone": "a"])
            #expect(try await h.podCIDRs(of: "early") == ["10.1.0.0/24"])
            #expect(await controller.pendingNodes().isEmpty)
        }
    }
}

/// SCENARIOS.md group D end to end, plus status and restart behaviour.
@Suite struct ControllerPoolLifecycleTests {
    @Test func d1DefaultPoolFromFlags() async throws {
        try await withHarness { h in
            _ = await h.startController(ControllerConfiguration(clusterCIDRs: ["192.168.0.0/16"], nodeMaskSizeIPv4: 24,
                                                               serviceCIDRs: ["10.1.0.0/16"], statusDelay: .milliseconds(20)))
            try await h.waitForPool(ClusterCIDR.defaultPoolName) { $0?.metadata.finalizers == [ClusterCIDR.finalizer] }
            let pool = try await h.pool(ClusterCIDR.defaultPoolName)
            #expect(pool.spec == ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "192.168.0.0/16"))
            try await h.createNode("n")
            #expect(try await h.podCIDRs(of: "n") == ["192.168.0.0/24"])
        }
    }

    @Test func d2ValidPoolsGetTheFinalizerAndAStatus() async throws {
        try await withHarness { h in
            _ = await h.startController()
            try await h.createPool("dual-ccc", ipv4: "10.2.0.0/16", ipv6: "fd00:1::/112", hostBits: 8)
            try await h.createPool("ipv6-ccc-label", ipv6: "fd00:2::/112", hostBits: 8, selector: ["foo": "bar"])
            for name in ["dual-ccc", "ipv6-ccc-label"] {
                try await h.waitForPool(name) { $0?.status?.condition(.ready)?.status == "True" }
                let pool = try await h.pool(name)
                #expect(pool.metadata.finalizers == [ClusterCIDR.finalizer])
                #expect(pool.status?.observedGeneration == pool.metadata.generation)
            }
            let dual = try await h.pool("dual-ccc")
            let ipv4 = try #require(dual.status?.ipv4)
            #expect(ipv4.cidr == "10.2.0.0/16" && ipv4.perNodeHostBits == 8 && ipv4.total == "256" && ipv4.allocated == 0 && ipv4.free == "256")
            #expect(dual.status?.ipv6?.total == "256")
            try await h.createNode("n")
            try await h.waitForPool("dual-ccc") { $0?.status?.usage == "1/256" && $0?.status?.nodes == 1 }
        }
    }

    @Test func d3InvalidPoolsAreMarkedAndNeverUsed() async throws {
        // The CRD's CEL rules would refuse this pool: serve it without them, as a cluster with an
        // older CRD would, so the controller's own validation is what keeps the pool unused.
        try await withHarness(validationRules: false) { h in
            _ = await h.startController()
            try await h.createPool("bad", ipv4: "10.0.0.0/16", hostBits: 40)
            try await h.waitForPool("bad") { $0?.status?.condition(.invalid)?.status == "True" }
            let bad = try await h.pool("bad")
            #expect(bad.metadata.finalizers == nil)
            #expect(bad.status?.condition(.invalid)?.message.contains("must be less than or equal to 16") == true)
            let events = try await h.events(reason: EventReason.clusterCIDRInvalid)
            #expect(events.count == 1 && events.first?.type == "Warning" && events.first?.involvedObject.kind == "ClusterCIDR")
            try await h.createNode("n")
            try await h.waitForNode("n")
            #expect(try await h.client.get(.nodes, name: "n", as: Node.self).podCIDRs.isEmpty)
        }
    }

    @Test func d4d5DeletionWaitsForTheLastNode() async throws {
        try await withHarness { h in
            _ = await h.startController()
            try await h.createPool("unused", ipv4: "10.9.0.0/16", hostBits: 8, selector: ["never": "matches"])
            try await h.createPool("testing-1", ipv4: "10.1.0.0/16", hostBits: 8, selector: ["foo": "bar"])
            try await h.waitForPool("unused") { $0?.metadata.finalizers == [ClusterCIDR.finalizer] }
            try await h.client.delete(.clusterCIDRs, name: "unused")
            try await h.waitForPool("unused") { $0 == nil }

            try await h.createNode("test-node", labels: ["foo": "bar"])
            #expect(try await h.podCIDRs(of: "test-node") == ["10.1.0.0/24"])
            try await h.client.delete(.clusterCIDRs, name: "testing-1")
            try await h.waitForPool("testing-1") { $0?.status?.condition(.terminating)?.status == "True" }
            #expect(try await h.pool("testing-1").metadata.finalizers == [ClusterCIDR.finalizer])
            // A terminating pool never allocates.
            try await h.createNode("late", labels: ["foo": "bar"])
            try await h.waitForNode("late")
            try await h.client.delete(.nodes, name: "test-node")
            try await h.waitForPool("testing-1") { $0 == nil }
            #expect(try await h.client.get(.nodes, name: "late", as: Node.self).podCIDRs.isEmpty)
        }
    }

    @Test func restartAdoptsEverythingAndChangesNothing() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", ipv6: "fd00::/112", hostBits: 8)
            _ = await h.startController()
            for i in 0..<6 { try await h.createNode("n\(i)") }
            var before: [String: [String]] = [:]
            for i in 0..<6 { before["n\(i)"] = try await h.podCIDRs(of: "n\(i)") }
            #expect(Set(before.values.map { $0[0] }).count == 6)
            try await h.client.delete(.clusterCIDRs, name: "p")
            await h.stopControllers()
            let version = h.server.resourceVersion
            // A new process: adopts, keeps the terminating pool's finalizer (nodes still hold
            // its ranges), writes no node.
            let restarted = await h.startController()
            try await h.createNode("n6")
            try await h.waitForNode("n6")
            for i in 0..<6 { #expect(try await h.client.get(.nodes, name: "n\(i)", as: Node.self).podCIDRs == before["n\(i)"]) }
            #expect(await restarted.reservation(for: "n0")?.pool == "p")
            #expect(try await h.pool("p").metadata.finalizers == [ClusterCIDR.finalizer])
            #expect(h.server.resourceVersion > version)
        }
    }
}

/// Bad inputs and API failures: no crash, no duplicate, clear events.
@Suite struct ControllerFailureTests {
    @Test func ambiguousWriteIsResolvedByReadingTheNode() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            _ = await h.startController()
            // The first node write is applied but its answer is lost.
            h.server.faults.add(FaultInjector.Rule(verb: "patch", resource: "nodes", count: 1, action: .applyThenDrop))
            try await h.createNode("a")
            try await h.createNode("b")
            let a = try await h.podCIDRs(of: "a")
            let b = try await h.podCIDRs(of: "b")
            #expect(a != b)
            #expect(Set([a, b]) == [["10.0.0.0/24"], ["10.0.1.0/24"]])
        }
    }

    @Test func serverErrorsAreRetried() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            _ = await h.startController()
            h.server.faults.add(FaultInjector.Rule(verb: "patch", resource: "nodes", count: 3, action: .status(code: 500, reason: "InternalError", message: "boom")))
            try await h.createNode("a")
            let cidrs = try await h.podCIDRs(of: "a")
            // Each failed write released its block; next fit moved on (REF's cursor semantics).
            #expect(cidrs == ["10.0.3.0/24"])
            let failures = try await h.events(reason: EventReason.cidrAssignmentFailed)
            #expect(failures.count == 1 && failures.first?.count == 3 && failures.first?.type == "Warning")
        }
    }

    @Test func duplicatesAndGarbageAreReportedNotFatal() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            try await h.createNode("a", podCIDRs: ["10.0.5.0/24"])
            try await h.createNode("b", podCIDRs: ["10.0.5.0/24"])
            _ = await h.startController()
            try await h.createNode("c")
            #expect(try await h.podCIDRs(of: "c") == ["10.0.0.0/24"])
            try await h.createNode("d")
            let d = try await h.podCIDRs(of: "d")
            #expect(d == ["10.0.1.0/24"])
            let duplicates = try await h.events(reason: EventReason.duplicatePodCIDR)
            #expect(duplicates.contains { $0.involvedObject.name == "b" && $0.message?.contains("node a") == true })
        }
    }
}
