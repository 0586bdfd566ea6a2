import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
import Testing
import TestSupport

/// What a new user meets in the first minutes (issue "What a new user hit"): every failure
/// said at once with its fix, no trap on a closed pipe, bad flags refused before any network
/// call. The real binary, as a child process.
@Suite struct FirstRunTests {
    /// The binary with `arguments`; standard output and error to a file, or to a pipe whose
    /// reading end is already closed.
    final class Run: Sendable {
        let process: ChildProcess
        let exited = Collector<ChildProcess.Termination>()
        let log: String

        init(_ arguments: [String], environment: [String: String] = [:], closedPipe: Bool = false) throws {
            log = try writeTemporary("", name: "first-run.log")
            let output: ChildProcess.Stream = closedPipe ? .closedPipe : .file(log)
            process = try ChildProcess(ExecutableTests.binary!, arguments,
                                       environment: ["PATH": "/usr/bin:/bin"].merging(ExecutableTests.sanitizerEnvironment) { $1 }.merging(environment) { $1 },
                                       output: output, errors: output)
            process.onExit { [exited] in exited.push($0) }
        }

        func signal(_ number: Int32) { process.signal(number) }

        /// A test that fails before it stops its controller must not leave the process running.
        deinit {
            process.signal(SIGKILL)
        }

        func exit(within timeout: Duration) async throws -> ChildProcess.Termination {
            do { return try await exited.next(timeout: timeout) { _ in true } } catch {
                signal(SIGKILL)
                Issue.record("did not exit within \(timeout); log:\n\(text)")
                throw error
            }
        }

        var text: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        /// Waits until the log has a line containing `needle` (the process writes it unbuffered).
        func line(containing needle: String, within timeout: Duration = .seconds(10)) async throws -> String {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let line = text.split(separator: "\n").first(where: { $0.contains(needle) }) { return String(line) }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw FaultSafetyTests.NeverHappened(what: "a log line with \"\(needle)\" within \(timeout); log:\n\(text)")
        }
    }

    static let leaderArguments = ["--leader-elect-lease-duration", "15s", "--leader-elect-renew-deadline", "10s",
                                  "--leader-elect-retry-period", "200ms", "--webserver-bind-address", "127.0.0.1:0"]
    static let environment = ["POD_NAMESPACE": "kube-system", "POD_NAME": "first-run"]

    // 1. Say every failure, at once.
    @Test(.enabled(if: ExecutableTests.binary != nil, "skipped: the node-ipam-controller binary is not built; run `swift build` first (hack/test.sh does)"))
    func anUnreachableServerIsSaidAtOnceAndNoLeaseIsSaidReleased() async throws {
        let kubeconfig = try await kubeconfigOfStoppedServer()
        let run = try Run(["--kubeconfig", kubeconfig] + Self.leaderArguments, environment: Self.environment)
        let start = try await run.line(containing: "starting node-ipam-controller")
        #expect(start.contains("leaseDuration=15s") && start.contains("workers=8"), "the effective configuration: \(start)")
        // Said on the first failed attempt, long before the 10 s renew deadline; 8 s leaves a
        // starved machine (the suite runs kubectl and controllers in parallel) its margin.
        let line = try await run.line(containing: "cannot take or renew the Lease", within: .seconds(8))
        #expect(line.contains("ERROR") && line.contains("cannot reach the API server at http://127.0.0.1:") && line.contains("fix="), "\(line)")
        run.signal(SIGTERM)
        #expect(try await run.exit(within: .seconds(5)).status == 0)
        #expect(run.text.contains("stopped before this replica held the Lease"))
        #expect(!run.text.contains("Lease released"), "no Lease was held: \(run.text)")
    }

    @Test(.enabled(if: ExecutableTests.binary != nil, "skipped: the node-ipam-controller binary is not built"),
          arguments: [(401, "did not accept these credentials"), (403, "refused this identity (403 Forbidden): grant it the RBAC in config/rbac/")])
    func refusedCredentialsAreSaidWithTheRightFix(code: Int, fix: String) async throws {
        try await withHarness { h in
            h.server.faults.add(.init(resource: "leases", userAgent: "node-ipam-controller (first-run)", count: 100_000,
                                      action: .status(code: code, reason: code == 401 ? "Unauthorized" : "Forbidden", message: "injected")))
            let run = try Run(["--kubeconfig", h.kubeconfigPath] + Self.leaderArguments, environment: Self.environment)
            // The window starts once the process runs (a loaded machine can take seconds to start it).
            _ = try await run.line(containing: "starting node-ipam-controller")
            // Said on the first failed attempt, long before the 10 s renew deadline; 8 s leaves a
        // starved machine (the suite runs kubectl and controllers in parallel) its margin.
        let line = try await run.line(containing: "cannot take or renew the Lease", within: .seconds(8))
            #expect(line.contains(fix), "\(line)")
            run.signal(SIGTERM)
            #expect(try await run.exit(within: .seconds(5)).status == 0)
        }
    }

    @Test(.enabled(if: ExecutableTests.binary != nil, "skipped: the node-ipam-controller binary is not built"))
    func allocationsAndReleasesAreLoggedAtInfo() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            let run = try Run(["--kubeconfig", h.kubeconfigPath] + Self.leaderArguments, environment: Self.environment)
            try await h.createNode("n")
            let cidrs = try await h.podCIDRs(of: "n")
            let set = try await run.line(containing: "set podCIDRs")
            #expect(set.contains("INFO") && set.contains("node=n") && set.contains("clusterCIDR=p") && set.contains(cidrs[0]), "\(set)")
            try await h.client.delete(.nodes, name: "n")
            let released = try await run.line(containing: "released podCIDRs")
            #expect(released.contains("node=n") && released.contains(cidrs[0]), "\(released)")
            run.signal(SIGTERM)
            #expect(try await run.exit(within: .seconds(5)).status == 0)
        }
    }

    // 2. No write can trap.
    @Test(.enabled(if: ExecutableTests.binary != nil, "skipped: the node-ipam-controller binary is not built"))
    func aClosedPipeNeverStopsTheController() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            let run = try Run(["--kubeconfig", h.kubeconfigPath, "-v", "4"] + Self.leaderArguments, environment: Self.environment, closedPipe: true)
            for i in 0..<5 { try await h.createNode("n\(i)") }
            for i in 0..<5 { _ = try await h.podCIDRs(of: "n\(i)") }
            #expect(run.process.isRunning, "every log line went to a closed pipe, and it still allocates")
            run.signal(SIGTERM)
            let exit = try await run.exit(within: .seconds(5))
            #expect(exit.succeeded, "ended by \(exit)")
        }
    }

    @Test(.enabled(if: ExecutableTests.binary != nil, "skipped: the node-ipam-controller binary is not built"),
          arguments: [["--help"], ["--version"], ["api-requests"], ["--cluster-cidr", "bad"]])
    func outputIntoAClosedPipeEndsNormally(arguments: [String]) async throws {
        let run = try Run(arguments, closedPipe: true)
        let exit = try await run.exit(within: .seconds(5))
        #expect(!exit.signaled, "ended by a signal (\(exit.status)) instead of exiting")
    }

    // 3. Fail fast on bad configuration: exit 2, one line naming the flag, no network call
    // (the kubeconfig points at a server that is not there, so a network call would hang
    // on retries rather than exit).
    @Test(.enabled(if: ExecutableTests.binary != nil, "skipped: the node-ipam-controller binary is not built"),
          arguments: [
              (["--cluster-cidr", "10.0.0.0/33"], "--cluster-cidr=10.0.0.0/33"),
              (["--cluster-cidr", "10.0.0.0/16,10.1.0.0/16"], "two IPv4 CIDRs"),
              (["--cluster-cidr", "10.0.0.0/16", "--node-cidr-mask-size-ipv4", "8"], "--cluster-cidr=10.0.0.0/16"),
              (["--service-cluster-ip-range", "10.96.0.0"], "--service-cluster-ip-range=10.96.0.0"),
              (["--node-cidr-mask-size-ipv6", "129"], "--node-cidr-mask-size-ipv6=129"),
              (["--webserver-bind-address", "localhost:99999"], "--webserver-bind-address=localhost:99999"),
              (["--apiserver", "not a url"], "--apiserver=not a url"),
              (["--kube-api-qps", "-1"], "--kube-api-qps=-1"),
          ])
    func badValuesAreRefusedBeforeAnyNetworkCall(arguments: [String], names: String) async throws {
        let kubeconfig = try await kubeconfigOfStoppedServer()
        let run = try Run(["--kubeconfig", kubeconfig] + arguments)
        let exit = try await run.exit(within: .seconds(5))
        #expect(exit.status == 2, "\(run.text)")
        let lines = run.text.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains(names), "one line naming the flag: \(run.text)")
    }

    @Test(.enabled(if: ExecutableTests.binary != nil, "skipped: the node-ipam-controller binary is not built"))
    func versionSaysWhatRuns() async throws {
        let run = try Run(["--version"])
        #expect(try await run.exit(within: .seconds(5)).status == 0)
        #expect(run.text.hasPrefix("node-ipam-controller 0.1.0 (commit ") && run.text.contains("Swift 6."), "\(run.text)")
    }
}
