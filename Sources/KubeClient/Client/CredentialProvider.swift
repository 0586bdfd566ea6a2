import Foundation

/// Produces the credentials for each request: static tokens, token files re-read every
/// minute (bound service-account tokens rotate), and exec plugins cached until their
/// `expirationTimestamp` (or until the server answers 401).
public actor CredentialProvider {
    public struct Material: Sendable, Hashable {
        public var authorization: String?
        public var clientCertificate: Data?
        public var clientKey: Data?
    }

    private let credentials: Credentials
    private let source: String
    private var cached: Material?
    private var cachedUntil: ContinuousClock.Instant?
    private let clock = ContinuousClock()
    private let tokenFileRefresh: Duration

    public init(credentials: Credentials, source: String, tokenFileRefresh: Duration = .seconds(60)) {
        self.credentials = credentials
        self.source = source
        self.tokenFileRefresh = tokenFileRefresh
    }

    /// Forgets cached material (after a 401) so the next request fetches it anew.
    public func invalidate() {
        cached = nil
        cachedUntil = nil
    }

    public func material() async throws -> Material {
        if let cached, let until = cachedUntil, clock.now < until { return cached }
        if let cached, cachedUntil == nil { return cached }
        let fresh: Material
        var until: ContinuousClock.Instant?
        switch credentials {
        case .none:
            fresh = Material()
        case .bearerToken(let token):
            fresh = Material(authorization: "Bearer \(token)")
        case .basic(let username, let password):
            fresh = Material(authorization: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
        case .tokenFile(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("\(source): token file \(path) cannot be read")
            }
            fresh = Material(authorization: "Bearer \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
            until = clock.now.advanced(by: tokenFileRefresh)
        case .exec(let exec, let cluster):
            let credential = try await ExecPlugin.run(exec, cluster: cluster, source: source)
            fresh = Material(authorization: credential.token.map { "Bearer \($0)" },
                             clientCertificate: credential.clientCertificateData.map { Data($0.utf8) },
                             clientKey: credential.clientKeyData.map { Data($0.utf8) })
            if let expiry = credential.expirationTimestamp {
                let seconds = expiry.timeIntervalSinceNow
                until = clock.now.advanced(by: .milliseconds(Int64(max(0, seconds) * 1000)))
            }
        }
        cached = fresh
        cachedUntil = until
        return fresh
    }
}

/// Runs exec credential plugins (client.authentication.k8s.io v1 and v1beta1).
enum ExecPlugin {
    struct Credential: Sendable {
        var token: String?
        var clientCertificateData: String?
        var clientKeyData: String?
        var expirationTimestamp: Date?
    }

    private struct ExecCredential: Codable {
        struct Status: Codable {
            var token: String?
            var clientCertificateData: String?
            var clientKeyData: String?
            var expirationTimestamp: String?
        }
        var apiVersion: String?
        var kind: String?
        var status: Status?
    }

    static func run(_ exec: KubeConfig.ExecConfig, cluster: ExecClusterInfo, source: String) async throws -> Credential {
        let apiVersion = exec.apiVersion ?? "client.authentication.k8s.io/v1"
        var info: [String: Any] = ["apiVersion": apiVersion, "kind": "ExecCredential", "spec": ["interactive": false]]
        if exec.provideClusterInfo == true, let data = try? JSONEncoder().encode(cluster),
           let clusterObject = try? JSONSerialization.jsonObject(with: data) {
            info["spec"] = ["interactive": false, "cluster": clusterObject]
        }
        let infoJSON = String(decoding: try JSONSerialization.data(withJSONObject: info), as: UTF8.self)
        let output = try await runProcess(exec, execInfo: infoJSON, source: source)
        let decoded: ExecCredential
        do { decoded = try JSONDecoder().decode(ExecCredential.self, from: output) } catch {
            throw ConfigurationError("\(source): exec plugin \(exec.command) printed no valid ExecCredential JSON: \(error)")
        }
        if let version = decoded.apiVersion, version != apiVersion {
            throw ConfigurationError("\(source): exec plugin \(exec.command) answered \(version), expected \(apiVersion)")
        }
        guard let status = decoded.status, status.token != nil || status.clientCertificateData != nil else {
            throw ConfigurationError("\(source): exec plugin \(exec.command) returned neither a token nor a client certificate")
        }
        return Credential(token: status.token, clientCertificateData: status.clientCertificateData, clientKeyData: status.clientKeyData,
                          expirationTimestamp: KubeTime.parse(status.expirationTimestamp))
    }

    /// Runs the plugin on its own thread (never blocking Swift's cooperative pool).
    private static func runProcess(_ exec: KubeConfig.ExecConfig, execInfo: String, source: String) async throws -> Data {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Data, any Error>) in
            let thread = Thread {
                let executable: String, arguments: [String]
                if exec.command.contains("/") {
                    (executable, arguments) = (exec.command, exec.args ?? [])
                } else {
                    (executable, arguments) = ("/usr/bin/env", [exec.command] + (exec.args ?? []))
                }
                var environment = ProcessInfo.processInfo.environment
                for variable in exec.env ?? [] { environment[variable.name] = variable.value }
                environment["KUBERNETES_EXEC_INFO"] = execInfo
                // posix_spawn, not Foundation's Process (see ChildProcess); both pipes read at once.
                let process: ChildProcess
                do {
                    process = try ChildProcess(executable, arguments, environment: environment, output: .capture, errors: .capture)
                } catch {
                    let hint = exec.installHint.map { " (\($0))" } ?? ""
                    continuation.resume(throwing: ConfigurationError("\(source): exec plugin \(exec.command) cannot be started: \(error)\(hint)"))
                    return
                }
                let (output, errors) = process.readOutput()
                let termination = process.wait()
                guard termination.succeeded else {
                    let text = String(decoding: errors.prefix(400), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    let how = termination.signaled ? "was killed by signal \(termination.status)" : "exited with \(termination.status)"
                    continuation.resume(throwing: ConfigurationError("\(source): exec plugin \(exec.command) \(how): \(text)"))
                    return
                }
                continuation.resume(returning: output)
            }
            thread.start()
        }
    }
}
