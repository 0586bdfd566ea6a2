import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
import Logging
import MultiCIDR
@testable import NodeIPAMController
import Testing
import TestSupport

/// Deterministic reproductions of what the fault soak found (issue "Fault safety"), one per
/// finding, kept as regression tests. Each failed before its fix.
@Suite struct FaultSafetyTests {
    static let zoneA: [String: String] = ["zone": "a"]
    static let zoneB: [String: String] = ["zone": "b"]

    struct NeverHappened: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting until \(what)" }
    }

    /// Polls controller state that no watch can show (an in-memory reservation).
    func until(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw NeverHappened(what: what) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func contained(_ cidrs: [String], in pool: String) throws -> Bool {
        let outer = try IPPrefix(parsing: pool)
        return try cidrs.allSatisfy { outer.contains(try IPPrefix(parsing: $0)) }
    }

    // Finding 1: at start-up a pool without our finalizer (created while no replica led) was
    // registered and allocated from before the finalizer was written; deleted in that window
    // it vanished under its nodes.
    @Test func aPoolWithoutOurFinalizerIsNotAllocatedFromBeforeTheFinalizerIsOnTheServer() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.1.0.0/24", hostBits: 4, selector: ["zone": "a"])
            try await h.createNode("n", labels: Self.zoneA)
            // The finalizer cannot be written for now.
            h.server.faults.add(.init(verb: "update", resource: "clustercidrs", count: 100_000,
                                      action: .status(code: 500, reason: "InternalError", message: "injected")))
            let controller = await h.startController()
            #expect(await controller.reservation(for: "n") == nil, "nothing is reserved from an unprotected pool")
            // Deleted in that window, the pool goes at once (it has no finalizer).
            try await h.client.delete(.clusterCIDRs, name: "p")
            try await h.waitForPool("p") { $0 == nil }
            h.server.faults.clear()
            try await h.createPool("q", ipv4: "10.2.0.0/24", hostBits: 4, selector: ["zone": "a"])
            let cidrs = try await h.podCIDRs(of: "n")
            #expect(try contained(cidrs, in: "10.2.0.0/24"), "n got \(cidrs), not a range of the pool that was deleted")
        }
    }

    // Finding 2: a reservation whose write failed stayed pending after its pool was removed,
    // and the retry wrote it anyway.
    @Test func aPendingReservationOfARemovedPoolIsNeverWritten() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.1.0.0/24", hostBits: 4, selector: ["zone": "a"])
            let controller = await h.startController()
            try await h.waitForPool("p") { $0?.metadata.finalizers == [ClusterCIDR.finalizer] }
            // Every write of n fails and so does every read: the outcome stays unknown.
            for verb in ["patch", "get"] {
                h.server.faults.add(.init(verb: verb, resource: "nodes", name: "n", userAgent: "node-ipam-controller", count: 100_000,
                                          action: .status(code: 500, reason: "InternalError", message: "injected")))
            }
            try await h.createNode("n", labels: Self.zoneA)
            try await until("n holds a pending reservation") { await controller.reservation(for: "n")?.state == .pending }
            // The pool goes away without us (its finalizer removed by hand, as an admin might).
            let _: ClusterCIDR = try await h.client.patch(.clusterCIDRs, name: "p", .merge(Data(#"{"metadata":{"finalizers":null}}"#.utf8)))
            try await h.client.delete(.clusterCIDRs, name: "p")
            try await h.waitForPool("p") { $0 == nil }
            try await until("the controller forgot p") { await controller.statistics(of: "p").isEmpty }
            // Two more failed syncs of n: one started after p was forgotten has finished, and no
            // write prepared before is still on its way.
            let failures = controller.nodeQueue.retries("n")
            try await touch(h, "n")
            try await until("n synced twice more") { controller.nodeQueue.retries("n") >= failures + 2 }
            // Writes would now succeed; reads still fail, so nothing tells what n carries.
            h.server.faults.remove { $0.verb == "patch" }
            try await touch(h, "n")
            try await until("n synced again") { controller.nodeQueue.retries("n") >= failures + 3 }
            let written = h.server.audit.entries().filter { entry in entry.resource == "nodes" && !(entry.podCIDRs ?? []).isEmpty }
            #expect(written.isEmpty, "the reservation of the removed pool was written")
            // Reads work again: the reservation is dropped; a new pool serves n.
            h.server.faults.clear()
            try await touch(h, "n")
            try await until("the reservation is gone") { await controller.reservation(for: "n") == nil }
            try await h.createPool("q", ipv4: "10.2.0.0/24", hostBits: 4, selector: ["zone": "a"])
            let cidrs = try await h.podCIDRs(of: "n")
            #expect(try contained(cidrs, in: "10.2.0.0/24"), "n got \(cidrs) from the removed pool")
        }
    }

    /// A label change (by a client the faults do not hit): the controller syncs the node now
    /// rather than at the end of its backoff.
    func touch(_ h: Harness, _ name: String) async throws {
        let configuration = try ClientConfiguration.resolve(kubeconfigPath: h.kubeconfigPath, environment: [:])
        let client = KubernetesClient(configuration: configuration, qps: 0, userAgent: "fault-safety-test")
        defer { client.shutdown() }
        let _: Node = try await client.patch(.nodes, name: name, .merge(Data(#"{"metadata":{"labels":{"touched":"\#(UUID().uuidString)"}}}"#.utf8)))
    }

    // Finding 3: a node deleted and re-created under the same name inherited the old node's
    // range, even when its labels no longer matched the old node's pool.
    @Test func aNodeReCreatedUnderTheSameNameIsANewNode() async throws {
        try await withHarness { h in
            try await h.createPool("a", ipv4: "10.1.0.0/24", hostBits: 4, selector: ["zone": "a"])
            try await h.createPool("b", ipv4: "10.2.0.0/24", hostBits: 4, selector: ["zone": "b"])
            let controller = await h.startController()
            try await h.createNode("n", labels: Self.zoneA)
            let first = try await h.podCIDRs(of: "n")
            #expect(try contained(first, in: "10.1.0.0/24"))
            // The controller's node watch is cut with 410 Expired and its lists fail, so it
            // sees the delete and the re-create only through one later re-list: the same
            // name, another uid.
            h.server.faults.add(.init(verb: "list", resource: "nodes", count: 100_000,
                                      action: .status(code: 500, reason: "InternalError", message: "injected")))
            h.server.faults.add(.init(verb: "watch", resource: "nodes", count: 100_000,
                                      action: .status(code: 500, reason: "InternalError", message: "injected")))
            _ = h.server.closeWatches(expire: true)
            try await h.client.delete(.nodes, name: "n")
            let recreated = try await h.createNode("n", labels: Self.zoneB)
            h.server.faults.clear()
            let second = try await h.waitForNode("n") { $0.uid == recreated.metadata.uid && !$0.podCIDRs.isEmpty }.podCIDRs
            #expect(try contained(second, in: "10.2.0.0/24"), "the new n got \(second), not a range of the pool its labels select")
            try await until("the old range is free again") { await controller.statistics(of: "a").first?.allocated == 0 }
        }
    }

    // Finding 3, the write itself: a PATCH prepared for one node object never lands on
    // another object under the same name.
    @Test func thePodCIDRWriteAppliesOnlyToTheNodeObjectItWasMadeFor() async throws {
        try await withHarness { h in
            let old = try await h.createNode("n")
            try await h.client.delete(.nodes, name: "n")
            try await h.createNode("n")
            let patch = PodCIDRPatch(podCIDRs: ["10.1.0.0/28"], uid: old.metadata.uid ?? "").json
            await #expect(throws: APIError.self) {
                let _: Node = try await h.client.patch(.nodes, name: "n", .json(patch))
            }
            #expect(try await h.client.get(.nodes, name: "n", as: Node.self).podCIDRs.isEmpty)
        }
    }

    // Finding 4: a paused leader sent queued writes after its Lease had expired. Writes now
    // leave only while the fence is open: before `last renewal sent + renewDeadline`.
    @Test func aLeaderWhoseLeaseMayHaveExpiredSendsNoWrite() async throws {
        try await withHarness { h in
            try await h.createNode("n")
            let configuration = try ClientConfiguration.resolve(kubeconfigPath: h.kubeconfigPath, environment: [:])
            let fence = WriteFence()
            let fenced = KubernetesClient(configuration: configuration, qps: 0, writeFence: fence)
            defer { fenced.shutdown() }
            let patch = PodCIDRPatch(podCIDRs: ["10.1.0.0/28"], uid: "").json
            // Never opened: nothing is sent.
            await #expect(throws: TransportError.self) { let _: Node = try await fenced.patch(.nodes, name: "n", .json(patch)) }
            // Open until a moment that has passed (a renewal, then a pause longer than the deadline).
            fence.extend(to: .now + .milliseconds(50))
            _ = try await fenced.get(.nodes, name: "n", as: Node.self) // reads are never fenced
            try await Task.sleep(until: .now + .milliseconds(60), clock: .continuous)
            do {
                let _: Node = try await fenced.patch(.nodes, name: "n", .json(patch))
                Issue.record("a write left after the fence closed")
            } catch let error as TransportError {
                #expect(error.kind == .fenced)
            }
            #expect(h.server.audit.entries().filter { $0.resource == "nodes" && $0.verb == "patch" }.isEmpty, "the server saw no write")
            // Open: the write goes through.
            fence.extend(to: .now + .seconds(30))
            let written: Node = try await fenced.patch(.nodes, name: "n", .json(patch))
            #expect(written.podCIDRs == ["10.1.0.0/28"])
        }
    }

    // Finding 4, the elector side: the fence follows renewals and closes by itself when
    // renewals fail, before the elector's loop notices.
    @Test func theFenceClosesWhenRenewalsStop() async throws {
        try await withHarness { h in
            // A renew deadline long enough that the first Lease write's answer always comes back
            // before it (on a starved CI machine it took more than 3 s, and leading began with
            // the fence already closed, as it should then).
            let configuration = LeaderElectionConfiguration(namespace: "kube-system", name: "fence-test", identity: "me",
                                                            leaseDuration: .seconds(15), renewDeadline: .seconds(10), retryPeriod: .milliseconds(200))
            let elector = LeaderElector(client: h.client, configuration: configuration)
            let opened = Collector<ContinuousClock.Instant?>()
            let run = Task { await elector.run { opened.push(elector.fence.deadline); try? await Task.sleep(for: .seconds(3600)) } }
            // Open when leading starts, until at most renewDeadline later.
            let open = try #require(try await opened.next { _ in true })
            #expect(open <= .now + configuration.renewDeadline)
            // From now on every renewal fails: the fence closes by itself at the deadline of
            // the last successful renewal, whatever the elector's loop is doing.
            h.server.faults.add(.init(verb: "update", resource: "leases", count: 100_000,
                                      action: .status(code: 500, reason: "InternalError", message: "injected")))
            // (A renewal already on its way when the fault went in may still extend it, once.)
            for _ in 0..<3 {
                guard let last = elector.fence.deadline else { break }
                try await Task.sleep(until: last + .milliseconds(1), clock: .continuous)
            }
            #expect(elector.fence.deadline == nil, "closed at the renew deadline of the last successful renewal")
            #expect(await run.value == .lostLease)
        }
    }

    // Finding 5: Lease renewals queued behind node writes on one shared transport; with a
    // slow API server the leader missed its renew deadline and exited.
    @Test func slowNodeWritesDoNotStarveTheLease() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            var settings = Settings()
            settings.kubeconfig = h.kubeconfigPath
            settings.webserverBindAddress = "127.0.0.1:0"
            settings.leaderElectID = "slow"
            settings.leaderElectNamespace = "kube-system"
            settings.leaseDuration = .seconds(3)
            settings.renewDeadline = .seconds(2)
            settings.retryPeriod = .milliseconds(200)
            settings.qps = 0
            settings.workers = 8
            let logger = { var logger = Logger(label: "test"); logger.logLevel = .critical; return logger }()
            let ready = Collector<Bool>()
            let stop = ShutdownTrigger()
            let run = Task { try await RunCommand.run(settings, environment: [:], logger: logger, shutdown: stop) { controller, _ in
                Task { await controller.waitUntilReady(); ready.push(true) }
            } }
            _ = try await ready.next { $0 }
            // Every node write takes 2.5 s to answer: the controller's four connections stay
            // busy for longer than the renew deadline.
            h.server.faults.add(.init(verb: "patch", resource: "nodes", count: 16, action: .delay(milliseconds: 2500)))
            for i in 0..<16 { try await h.createNode("n\(i)") }
            for i in 0..<16 { _ = try await h.podCIDRs(of: "n\(i)") }
            let lease: Lease = try await h.client.get(.leases, namespace: "kube-system", name: "node-ipam-controller")
            #expect(lease.spec?.holderIdentity == "slow" && lease.spec?.leaseTransitions == 0, "the Lease was held throughout")
            await stop.shutdown()
            #expect(try await run.value == 0, "stopped by the shutdown, not by a lost Lease")
        }
    }

    // Finding 6: libcurl re-sends a request by itself when a reused connection dies before
    // any answer, so an applied PATCH is sent twice. Shown here on one connection; the
    // controller's node PATCH is safe to repeat (see the next test).
    @Test func libcurlResendsAWriteWhoseAnswerWasLostOnAReusedConnection() async throws {
        try await withHarness { h in
            try await h.createNode("n")
            let configuration = try ClientConfiguration.resolve(kubeconfigPath: h.kubeconfigPath, environment: [:])
            let client = KubernetesClient(configuration: configuration, qps: 0, concurrency: 1)
            defer { client.shutdown() }
            _ = try await client.get(.nodes, name: "n", as: Node.self) // the connection is now reused
            h.server.faults.add(.init(verb: "patch", resource: "nodes", name: "n", count: 1, action: .applyThenDrop))
            let written: Node = try await client.patch(.nodes, name: "n", .json(PodCIDRPatch(podCIDRs: ["10.1.0.0/28"], uid: "").json))
            #expect(written.podCIDRs == ["10.1.0.0/28"])
            let patches = h.server.audit.entries().filter { $0.resource == "nodes" && $0.verb == "patch" }
            #expect(patches.count == 2, "applied, answer lost, re-sent by libcurl and applied again")
        }
    }

    @Test func thePodCIDRWriteIsSafeToRepeat() async throws {
        try await withHarness { h in
            let node = try await h.createNode("n")
            let patch = PodCIDRPatch(podCIDRs: ["10.1.0.0/28", "fd00::/124"], uid: node.metadata.uid ?? "").json
            let first: Node = try await h.client.patch(.nodes, name: "n", .json(patch))
            let again: Node = try await h.client.patch(.nodes, name: "n", .json(patch))
            #expect(first.podCIDRs == ["10.1.0.0/28", "fd00::/124"] && again.podCIDRs == first.podCIDRs)
            #expect(again.metadata.resourceVersion == first.metadata.resourceVersion, "the repeat changed nothing")
            // Another range can never replace it.
            let other = PodCIDRPatch(podCIDRs: ["10.9.0.0/28"], uid: node.metadata.uid ?? "").json
            await #expect(throws: APIError.self) { let _: Node = try await h.client.patch(.nodes, name: "n", .json(other)) }
        }
    }

    // Finding 6, end to end: an applied PATCH whose answer is lost, with every connection
    // of the controller reused: the node carries its range once and the pool counts it once.
    @Test func aNodeWriteWhoseAnswerIsLostIsSettledAndCountedOnce() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.1.0.0/24", hostBits: 4)
            let controller = await h.startController()
            for i in 0..<8 { try await h.createNode("warm\(i)") }
            for i in 0..<8 { _ = try await h.podCIDRs(of: "warm\(i)") }
            h.server.faults.add(.init(verb: "patch", resource: "nodes", name: "n", count: 2, action: .applyThenDrop))
            try await h.createNode("n")
            let cidrs = try await h.podCIDRs(of: "n")
            try await until("n confirmed") { await controller.reservation(for: "n")?.state == .confirmed }
            #expect(await controller.reservation(for: "n")?.podCIDRs == cidrs)
            #expect(await controller.statistics(of: "p").first?.allocated == 9)
        }
    }

    // Finding 7: each wake-up of pending nodes wrote one Event per pending node.
    @Test func wakingPendingNodesWritesNoEventWhenNothingChanged() async throws {
        try await withHarness { h in
            try await h.createPool("full", ipv4: "10.1.0.0/28", hostBits: 4, selector: ["zone": "a"])
            _ = await h.startController()
            for i in 0..<10 { try await h.createNode("n\(i)", labels: Self.zoneA) }
            _ = try await h.podCIDRs(of: "n0")
            // Nine nodes wait. Pools that select none of them come and go: each wakes them all.
            for round in 0..<5 {
                try await h.createPool("other\(round)", ipv4: "10.\(10 + round).0.0/24", hostBits: 4, selector: ["zone": "b"])
                try await h.waitForPool("other\(round)") { $0?.status?.condition(.ready)?.status == "True" }
            }
            try await h.waitForPool("full") { $0?.status?.condition(.exhausted)?.status == "True" }
            // Events are written after the decisions that call for them: wait for all ten.
            try await until("nine node Events and one pool Event") { try await h.events(reason: EventReason.cidrNotAvailable).count >= 10 }
            let events = try await h.events(reason: EventReason.cidrNotAvailable)
            let onNodes = events.filter { $0.involvedObject.kind == "Node" }
            #expect(onNodes.count == 9, "one Event per waiting node")
            #expect(onNodes.allSatisfy { $0.count == 1 }, "no Event was written again on a wake-up: \(onNodes.map { $0.count ?? 0 })")
            #expect(events.filter { $0.involvedObject.kind == ClusterCIDR.kind }.count == 1, "one Event on the exhausted pool")
        }
    }

    // Finding 8: status was PUT from the cached object; a cache behind the server (right
    // after the finalizer write, or on a busy machine) turned every write into a 409 retry.
    @Test func statusWritesNeverConflictAndConverge() async throws {
        try await withHarness { h in
            _ = await h.startController()
            try await h.createPool("p", ipv4: "10.1.0.0/24", hostBits: 4)
            try await h.createNode("n0")
            try await h.createNode("n1")
            try await h.waitForPool("p") { $0?.status?.ipv4?.allocated == 2 }
            let statusWrites = h.server.audit.entries().filter { $0.resource == "clustercidrs" && $0.subresource == "status" }
            #expect(!statusWrites.isEmpty && statusWrites.allSatisfy { $0.verb == "patch" }, "status is merge-patched, without a precondition")
            let conflicts = h.client.metrics.snapshot().requests.filter { $0.key.code == 409 }
            #expect(conflicts.isEmpty, "no request of the controller met a conflict: \(conflicts)")
        }
    }
}
