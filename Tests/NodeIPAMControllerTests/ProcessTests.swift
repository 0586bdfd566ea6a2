import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
import Logging
import ServiceSupport
@testable import NodeIPAMController
import Testing
import TestSupport

/// The controller as users run it: `run` with --kubeconfig (HTTPS client certificates),
/// leader election, probes and metrics.
@Suite struct ProcessTests {
    func settings(_ h: Harness, identity: String) -> Settings {
        var settings = Settings()
        settings.kubeconfig = h.kubeconfigPath
        settings.webserverBindAddress = "127.0.0.1:0"
        settings.leaderElectID = identity
        settings.leaderElectNamespace = "kube-system"
        // Handovers in these tests come from a released Lease (retryPeriod), never from expiry,
        // so a long deadline costs no time and a starved test machine does not lose the Lease.
        settings.leaseDuration = .seconds(15)
        settings.renewDeadline = .seconds(10)
        settings.retryPeriod = .milliseconds(200)
        settings.qps = 0
        return settings
    }

    /// A logger that keeps the replica's errors, so a failed exit code says why.
    func errorLogger(_ errors: Collector<String>, _ name: String) -> Logger {
        let handler = IPAMLogHandler(label: name, format: .text, level: .error) { errors.push("\(name): \($0)") }
        return Logger(label: name) { _ in handler }
    }

    @Test func twoReplicasOneWritesAndTheOtherTakesOver() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            let errors = Collector<String>()
            let started = Collector<String>()
            let stopA = ShutdownTrigger(), stopB = ShutdownTrigger()
            let a = Task { try await RunCommand.run(settings(h, identity: "a"), environment: [:], logger: errorLogger(errors, "a"), shutdown: stopA) { controller, _ in
                Task { await controller.waitUntilReady(); started.push("a") }
            } }
            #expect(try await started.next { _ in true } == "a")
            let b = Task { try await RunCommand.run(settings(h, identity: "b"), environment: [:], logger: errorLogger(errors, "b"), shutdown: stopB) { controller, _ in
                Task { await controller.waitUntilReady(); started.push("b") }
            } }
            for i in 0..<5 { try await h.createNode("n\(i)") }
            for i in 0..<5 { _ = try await h.podCIDRs(of: "n\(i)") }
            // The leader stops (as on SIGTERM): it releases the Lease and b takes over.
            await stopA.shutdown()
            #expect(try await a.value == 0, "a stopped by the shutdown; errors: \(errors.all)")
            #expect(try await started.next { _ in true } == "b")
            for i in 5..<10 { try await h.createNode("n\(i)") }
            var all: [String] = []
            for i in 0..<10 { all += try await h.podCIDRs(of: "n\(i)") }
            #expect(Set(all).count == 10, "no range handed out twice across the handover")
            let lease: Lease = try await h.client.get(.leases, namespace: "kube-system", name: "node-ipam-controller")
            #expect(lease.spec?.holderIdentity == "b")
            await stopB.shutdown()
            #expect(try await b.value == 0, "b stopped by the shutdown; errors: \(errors.all)")
        }
    }

    @Test func probesAndMetricsFollowTheController() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            var options = settings(h, identity: "solo")
            options.leaderElection = false
            let stop = ShutdownTrigger()
            let servers = Collector<HealthServer>()
            let readyBefore = Collector<Int>()
            let run = Task { try await RunCommand.run(options, environment: [:], logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }, shutdown: stop) { controller, server in
                Task {
                    await server.waitUntilListening()
                    if !controller.isReady { readyBefore.push(try await Self.get(server, "/readyz").status) }
                    await controller.waitUntilReady()
                    servers.push(server)
                }
            } }
            let server = try await servers.next { _ in true }
            // Before the caches synced, /readyz said no (when the probe got there in time).
            #expect(readyBefore.all.allSatisfy { $0 == 503 })
            #expect(try await Self.get(server, "/healthz").status == 200)
            #expect(try await Self.get(server, "/readyz").status == 200)
            #expect(try await Self.get(server, "/nope").status == 404)
            try await h.createNode("n")
            _ = try await h.podCIDRs(of: "n")
            // The node shows its podCIDRs (watch) a moment before the controller has read the
            // PATCH answer and counted it: wait for the count.
            let metrics = try await Self.metrics(server, containing: "node_ipam_controller_node_allocation_duration_seconds_count 1")
            for name in ["node_ipam_controller_multicidrset_cidrs_allocations_total{clusterCIDR=\"10.0.0.0/16\",clusterCIDRName=\"p\"} 1",
                         "node_ipam_controller_multicidrset_max_cidrs", "node_ipam_controller_multicidrset_usage_cidrs",
                         "node_ipam_controller_multicidrset_cidrs_releases_total", "node_ipam_controller_multicidrset_allocation_tries_per_request",
                         "node_ipam_controller_leader 1", "node_ipam_controller_pending_nodes 0", "node_ipam_controller_node_allocation_duration_seconds_count 1",
                         "node_ipam_controller_api_requests_total{verb=\"patch\",code=\"200\"}",
                         "node_ipam_controller_workqueue_depth{queue=\"nodes\"}"] {
                #expect(metrics.contains(name), "missing \(name)")
            }
            // Deleting the pool removes its series.
            try await h.client.delete(.nodes, name: "n")
            try await h.client.delete(.clusterCIDRs, name: "p")
            try await h.waitForPool("p") { $0 == nil }
            let after = String(decoding: try await Self.get(server, "/metrics").body, as: UTF8.self)
            #expect(!after.contains("clusterCIDRName=\"p\""))
            await stop.shutdown()
            #expect(try await run.value == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func shutdownWhileTheAPIServerIsUnreachableExitsZero(leaderElection: Bool) async throws {
        // A kubeconfig whose server is gone: neither the caches nor the Lease can be had.
        let path = try await kubeconfigOfStoppedServer()
        var options = Settings()
        options.kubeconfig = path
        options.webserverBindAddress = "127.0.0.1:0"
        options.leaderElection = leaderElection
        options.leaderElectNamespace = "kube-system"
        options.retryPeriod = .milliseconds(100)
        let stop = ShutdownTrigger()
        let listening = Collector<HealthServer>()
        let run = Task { try await RunCommand.run(options, environment: [:], logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }, shutdown: stop) { _, server in
            Task {
                await server.waitUntilListening()
                listening.push(server)
            }
        } }
        let health = try await listening.next { _ in true }
        #expect(try await Self.get(health, "/readyz").status == 503)
        await stop.shutdown()
        #expect(try await run.value == 0, "SIGTERM before the caches synced is a clean stop")
    }

    /// Scrapes /metrics until `text` appears (at most ~10 s) and returns the scrape.
    static func metrics(_ server: HealthServer, containing text: String) async throws -> String {
        var scrape = ""
        for _ in 0..<500 {
            scrape = String(decoding: try await get(server, "/metrics").body, as: UTF8.self)
            if scrape.contains(text) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return scrape
    }

    static func get(_ server: HealthServer, _ path: String) async throws -> HTTPResponse {
        let transport = CurlTransport(configuration: TransportConfiguration())
        defer { transport.shutdown() }
        return try await transport.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.boundPort ?? 0)\(path)"))
    }
}
