import ClusterCIDRAPI
import Foundation
import KubeClient
import Testing
import TestSupport

/// The built `node-ipam-controller` binary as a child process, started the way users start
/// it (flags, `POD_*` variables, a kind-shaped kubeconfig over HTTPS), stopped by signals.
@Suite struct ExecutableTests {
    /// Next to the test bundle in SwiftPM's bin directory (`swift build` puts it there;
    /// hack/test.sh builds before it tests).
    static let binary: String? = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [beside, beside.deletingLastPathComponent(), URL(fileURLWithPath: repositoryRoot + "/.build/debug")]
            .map { $0.appendingPathComponent("node-ipam-controller").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The sanitizer settings of hack/sanitizers.sh (report files, suppressions), passed on to
    /// the child so that its reports are collected like the test process's own.
    static let sanitizerEnvironment = ProcessInfo.processInfo.environment.filter {
        $0.key.hasSuffix("SAN_OPTIONS") || $0.key == "SWIFT_BACKTRACE"
    }

    /// A controller process; its exit status arrives through `exited`.
    final class ControllerProcess: Sendable {
        let process: ChildProcess
        let exited = Collector<Int32>()
        let log: String

        init(_ h: Harness, identity: String) throws {
            log = try writeTemporary("", name: "controller-\(identity).log")
            process = try ChildProcess(ExecutableTests.binary!, [
                "--kubeconfig", h.kubeconfigPath, "--webserver-bind-address", "127.0.0.1:0",
                "--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
                "--leader-elect-retry-period", "200ms", "--kube-api-qps", "0", "-v", "2",
            ], environment: ["POD_NAMESPACE": "kube-system", "POD_NAME": identity, "PATH": "/usr/bin:/bin"]
                .merging(ExecutableTests.sanitizerEnvironment) { $1 }, output: .file(log), errors: .file(log))
            process.onExit { [exited] in exited.push($0.status) }
        }

        func signal(_ number: Int32) { process.signal(number) }

        /// The exit status; the timeout is the contract (Kubernetes' grace period), and
        /// keeps a hung process from hanging the suite.
        func exitStatus(within timeout: Duration) async throws -> Int32 {
            do { return try await exited.next(timeout: timeout) { _ in true } } catch {
                signal(SIGKILL)
                Issue.record("the controller did not exit within \(timeout); its log:\n\(logText)")
                throw error
            }
        }

        var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    }

    func lease(_ h: Harness) async throws -> Lease {
        try await h.client.get(.leases, namespace: "kube-system", name: "node-ipam-controller")
    }

    /// Waits (through the node watch) until every named node has podCIDRs; returns them.
    func podCIDRs(_ h: Harness, _ names: [String]) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for name in names { result[name] = try await h.podCIDRs(of: name) }
        return result
    }

    @Test(.enabled(if: binary != nil, "skipped: the node-ipam-controller binary is not built; run `swift build` first (hack/test.sh does)"))
    func sigtermReleasesTheLeaseAndRestartsChangeNothing() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", ipv6: "fd00::/48", hostBits: 8, hostBitsIPv6: 64)
            let first = (0..<6).map { "n\($0)" }
            for name in first { try await h.createNode(name) }

            // 1. Allocate, then SIGTERM: exit 0, Lease released.
            let one = try ControllerProcess(h, identity: "replica-1")
            let before = try await podCIDRs(h, first)
            #expect(try await lease(h).spec?.holderIdentity == "replica-1")
            one.signal(SIGTERM)
            #expect(try await one.exitStatus(within: .seconds(5)) == 0, "log:\n\(one.logText)")
            #expect(try await lease(h).spec?.holderIdentity == "", "SIGTERM releases the Lease")

            // 2. Restart: adopts everything, changes nothing, serves a new node; then SIGKILL
            //    (no release: the Lease stays held until it expires).
            let two = try ControllerProcess(h, identity: "replica-2")
            try await h.createNode("n6")
            let afterRestart = try await podCIDRs(h, first + ["n6"])
            for name in first { #expect(afterRestart[name] == before[name], "restart changed \(name)") }
            two.signal(SIGKILL)
            #expect(try await two.exitStatus(within: .seconds(5)) == SIGKILL)

            // 3. A third replica takes over the unreleased Lease once it expires, adopts, and
            //    never hands out a range twice.
            let three = try ControllerProcess(h, identity: "replica-3")
            try await h.createNode("n7")
            let all = try await podCIDRs(h, first + ["n6", "n7"])
            #expect(try await lease(h).spec?.holderIdentity == "replica-3")
            for name in first + ["n6"] { #expect(all[name] == afterRestart[name], "takeover changed \(name)") }
            let ranges = all.values.flatMap { $0 }
            #expect(ranges.count == 16, "every node dual-stack: \(all)")
            #expect(Set(ranges).count == ranges.count, "a range was handed out twice: \(all)")
            for node in all.values { #expect(node.count == 2 && node[0].contains(".") && node[1].contains(":"), "IPv4 first: \(node)") }
            three.signal(SIGINT)
            #expect(try await three.exitStatus(within: .seconds(5)) == 0, "log:\n\(three.logText)")
        }
    }
}
