import ArgumentParser
import Dispatch
import Foundation
import LocalAPIServer

/// `local-apiserver`: runs the in-memory API server on a loopback port and writes a kubeconfig for it.
@main
struct LocalAPIServerTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-apiserver",
        abstract: "Run an in-memory Kubernetes API server on a loopback port and write a kubeconfig for it.",
        discussion: """
            Runs until SIGINT or SIGTERM. Faults can be injected while it runs with
            POST /_local/faults (JSON: verb, resource, name, namespace, count, code, reason,
            action=status|drop|delay|applyThenDrop|throttle|cutWatch, delayMilliseconds, retryAfterSeconds, afterEvents, expire)
            and POST /_local/watches/close?expire=true, or at start with --fault. With --audit, GET /_local/audit?since=RV
            lists the applied writes with their User-Agent.
            """)

    @Option(help: "Address to bind (127.0.0.1 or ::1).") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).") var port = 0
    @Flag(help: "Serve HTTPS with a generated CA and client certificate (kind-shaped kubeconfig).") var tls = false
    @Option(help: "Accepted bearer token (repeatable).") var token: [String] = []
    @Option(help: "Where to write the kubeconfig.") var kubeconfig = "./local-apiserver.kubeconfig"
    @Option(help: "Bookmark interval for watches, in milliseconds.") var bookmarkInterval: Int64 = 5000
    @Option(help: "Events kept for watch resumption.") var history = 10000
    @Option(help: "Fault rule at start, e.g. verb=patch,resource=nodes,count=3,code=500 (repeatable).") var fault: [String] = []
    @Flag(help: "Keep an audit log of applied writes (GET /_local/audit).") var audit = false
    @Flag(help: "Do not evaluate CRDs' CEL validation rules (x-kubernetes-validations), like a cluster whose CRD lacks them.")
    var noValidationRules = false

    func run() async throws {
        var configuration = LocalAPIServer.Configuration(host: host, port: port, tls: tls, bearerTokens: Set(token),
                                                         bookmarkIntervalMilliseconds: bookmarkInterval, historyLimit: history)
        configuration.audit = audit
        configuration.validationRules = !noValidationRules
        let server = try await LocalAPIServer.start(configuration)
        for f in fault {
            var fields: [String: JSON] = [:]
            for kv in f.split(separator: ",") {
                let p = kv.split(separator: "=", maxSplits: 1).map(String.init)
                guard p.count == 2 else { throw ValidationError("bad --fault item '\(kv)'") }
                fields[p[0]] = Int64(p[1]).map { .int($0) } ?? .string(p[1])
            }
            server.faults.add(try FaultInjector.Rule(json: .object(fields)))
        }
        try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        print("local-apiserver listening on \(server.url); kubeconfig written to \(kubeconfig)")
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGINT, SIGTERM].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            s.setEventHandler { continuation.yield(sig) }
            s.resume()
            return s
        }
        defer { sources.forEach { $0.cancel() } }
        for await sig in stream {
            print("local-apiserver: signal \(sig), stopping")
            break
        }
        try await server.stop()
    }
}
