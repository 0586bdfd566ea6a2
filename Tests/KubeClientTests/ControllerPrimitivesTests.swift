import Foundation
import Testing
@testable import KubeClient
import LocalAPIServer
import TestSupport

/// Projection kept by the informer in these tests.
struct NodeView: Sendable, Hashable {
    var name: String
    var podCIDRs: [String]
}

enum Seen: Sendable, Hashable {
    case added(String), updated(String, [String]), deleted(String)
}

@Suite struct InformerTests {
    func makeInformer(_ client: KubernetesClient, _ seen: Collector<Seen>) -> Informer<Node, NodeView> {
        Informer<Node, NodeView>(client: client, resource: .nodes, transform: { NodeView(name: $0.metadata.name ?? "", podCIDRs: $0.podCIDRs) }) { event in
            switch event {
            case .added(let view): seen.push(.added(view.name))
            case .updated(_, let view): seen.push(.updated(view.name, view.podCIDRs))
            case .deleted(let view): seen.push(.deleted(view.name))
            case .resync: break
            }
        }
    }

    @Test func listThenWatchResumesAfterServerClosesTheStream() async throws {
        try await withServer { server, client in
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "before")))
            let seen = Collector<Seen>()
            let informer = makeInformer(client, seen)
            let task = Task { await informer.run() }
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(informer.get("before") == NodeView(name: "before", podCIDRs: []))
            _ = try await seen.next { $0 == .added("before") }
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "during")))
            _ = try await seen.next { $0 == .added("during") }
            // The server ends every watch; the informer resumes without relisting.
            #expect(server.closeWatches() >= 1)
            let _: Node = try await client.patch(.nodes, name: "during", .strategicMerge(Data(#"{"spec":{"podCIDRs":["10.0.0.0/24"],"podCIDR":"10.0.0.0/24"}}"#.utf8)))
            _ = try await seen.next { $0 == .updated("during", ["10.0.0.0/24"]) }
            #expect(informer.listCount == 1)
        }
    }

    @Test func goneTriggersRelistAndTheCacheConverges() async throws {
        try await withServer { server, client in
            for name in ["a", "b", "c"] { _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: name))) }
            let seen = Collector<Seen>()
            let informer = makeInformer(client, seen)
            let task = Task { await informer.run() }
            defer { task.cancel() }
            await informer.waitForSync()
            // A change seen through the watch proves the watch is open.
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "probe")))
            _ = try await seen.next { $0 == .added("probe") }
            // Expire the watch (410): resuming from its resourceVersion is refused, so the
            // informer must relist; changes made meanwhile must still arrive.
            #expect(server.closeWatches(expire: true) >= 1)
            try await client.delete(.nodes, name: "b")
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "d")))
            // Through the relist diff or the new watch, in either order.
            let expected: Set<Seen> = [.deleted("b"), .added("d")]
            let first = try await seen.next { expected.contains($0) }
            let second = try await seen.next { expected.contains($0) && $0 != first }
            #expect(Set([first, second]) == expected)
            #expect(informer.list().map(\.name) == ["a", "c", "d", "probe"])
            #expect(informer.listCount >= 2)
        }
    }
}

@Suite struct InformerFailureTests {
    @Test(.timeLimit(.minutes(1)))
    func anUnreachableServerIsReportedAndWaitingForSyncEndsOnCancel() async throws {
        // A kubeconfig for a server that was stopped: every list fails to connect.
        let path = try await kubeconfigOfStoppedServer()
        let client = KubernetesClient(configuration: try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:]), qps: 0)
        defer { client.shutdown() }
        let failures = Collector<Int>()
        var options = Informer<Node, String>.Options()
        options.initialBackoff = .milliseconds(10)
        let informer = Informer<Node, String>(client: client, resource: .nodes, options: options, transform: { $0.metadata.name ?? "" },
                                              onError: { _, count in failures.push(count) }) { _ in }
        let run = Task { await informer.run() }
        defer { run.cancel() }
        #expect(try await failures.next { _ in true } == 1)
        #expect(try await failures.next { _ in true } == 2, "failures in a row are counted")
        let waiting = Task { await informer.waitForSync() }
        waiting.cancel()
        #expect(await waiting.value == false, "a cancelled wait returns instead of hanging")
        #expect(!informer.hasSynced)
    }
}

@Suite struct LeaderElectionTests {
    /// A renew deadline a starved CI machine keeps (with 2 s, a renewal answered late lost the
    /// Lease in CI and the replica ended with .lostLease instead of .cancelled). Handovers here
    /// come from a release, so the long Lease costs no time; only the lost-Lease test waits it out.
    func config(_ identity: String) -> LeaderElectionConfiguration {
        LeaderElectionConfiguration(namespace: "kube-system", name: "node-ipam-controller", identity: identity,
                                    leaseDuration: .seconds(15), renewDeadline: .seconds(10), retryPeriod: .milliseconds(200))
    }

    @Test func exactlyOneLeadsAndTheOtherTakesOverAfterRelease() async throws {
        try await withServer { _, client in
            let leading = Collector<String>()
            let a = LeaderElector(client: client, configuration: config("a"))
            let b = LeaderElector(client: client, configuration: config("b"))
            let runA = Task { await a.run { leading.push("a"); try? await Task.sleep(for: .seconds(3600)) } }
            let first = try await leading.next { _ in true }
            #expect(first == "a")
            let runB = Task { await b.run { leading.push("b"); try? await Task.sleep(for: .seconds(3600)) } }
            defer { runB.cancel() }
            // b keeps trying while a renews; a stops (releasing the lease) and b takes over.
            runA.cancel()
            #expect(await runA.value == .cancelled)
            #expect(!a.isLeader)
            #expect(try await leading.next { _ in true } == "b")
            #expect(b.isLeader)
            let lease: Lease = try await client.get(.leases, namespace: "kube-system", name: "node-ipam-controller")
            #expect(lease.spec?.holderIdentity == "b")
            #expect(lease.spec?.leaseTransitions == 1)
        }
    }

    @Test func leadingEndsAndTheLeaseIsReleasedWhenTheWorkReturns() async throws {
        try await withServer { _, client in
            let elector = LeaderElector(client: client, configuration: config("a"))
            // The work fails at once (as a controller whose start-up fails would).
            #expect(await elector.run {} == .leadEnded)
            #expect(!elector.isLeader)
            let lease: Lease = try await client.get(.leases, namespace: "kube-system", name: "node-ipam-controller")
            #expect(lease.spec?.holderIdentity == "", "released, so another replica can lead at once")
        }
    }

    @Test func aLeaderThatCannotRenewStopsLeading() async throws {
        try await withServer { server, client in
            let elector = LeaderElector(client: client, configuration: config("a"))
            let started = Collector<Bool>()
            let run = Task { await elector.run { started.push(true); try? await Task.sleep(for: .seconds(3600)) } }
            _ = try await started.next { $0 }
            server.faults.conflictLeaseWrites(count: 1000)
            #expect(await run.value == .lostLease)
            #expect(!elector.isLeader)
        }
    }
}

@Suite struct EventRecorderTests {
    @Test func repeatsAreAggregatedIntoOneEvent() async throws {
        try await withServer { _, client in
            let recorder = EventRecorder(client: client, component: "multiCIDRRangeAllocator", burst: 3)
            let node = EventRecorder.Subject(apiVersion: "v1", kind: "Node", name: "n1", uid: "u1")
            for _ in 0..<3 { #expect(await recorder.record(node, type: .warning, reason: "CIDRNotAvailable", message: "no range")) }
            // Burst spent: the next repeat is dropped, not written.
            #expect(await recorder.record(node, type: .warning, reason: "CIDRNotAvailable", message: "no range") == false)
            let events: ListPage<Event> = try await client.list(.coreEvents, namespace: "default")
            #expect(events.items.count == 1)
            #expect(events.items.first?.count == 3)
            #expect(events.items.first?.type == "Warning" && events.items.first?.source?.component == "multiCIDRRangeAllocator")
            #expect(events.items.first?.involvedObject.name == "n1")
            #expect(recorder.counts == (written: 3, suppressed: 1))
        }
    }
}
