import Foundation
import Testing
@testable import KubeClient

/// Kubeconfig loading: kind's shape, tokens, exec plugins, KUBECONFIG merging, broken files.
@Suite struct KubeConfigTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let caPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    static func kindConfig(server: String = "https://127.0.0.1:36443") -> String {
        let b64 = Data(caPEM.utf8).base64EncodedString()
        return """
        apiVersion: v1
        clusters:
        - cluster:
            certificate-authority-data: \(b64)
            server: \(server)
          name: kind-kind
        contexts:
        - context:
            cluster: kind-kind
            user: kind-kind
          name: kind-kind
        current-context: kind-kind
        kind: Config
        preferences: {}
        users:
        - name: kind-kind
          user:
            client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
            client-key-data: \(Data("KEY".utf8).base64EncodedString())
        """
    }

    @Test func kindKubeconfig() throws {
        let path = try write("kind", Self.kindConfig())
        let config = try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:])
        #expect(config.server == "https://127.0.0.1:36443")
        #expect(config.tls.certificateAuthority == Data(Self.caPEM.utf8))
        #expect(config.tls.clientCertificate == Data("CERT".utf8))
        #expect(config.tls.clientKey == Data("KEY".utf8))
        #expect(config.tls.insecureSkipVerify == false)
        #expect(config.credentials == .none)
        #expect(config.namespace == "default")
        #expect(config.source.contains(path) && config.source.contains("kind-kind"))
    }

    @Test func apiServerOverride() throws {
        let path = try write("kind", Self.kindConfig())
        let config = try ClientConfiguration.resolve(kubeconfigPath: path, apiServer: "https://10.0.0.1:6443/", environment: [:])
        #expect(config.server == "https://10.0.0.1:6443")
        #expect(config.tls.clientCertificate != nil)
        let bare = try ClientConfiguration.resolve(kubeconfigPath: nil, apiServer: "http://127.0.0.1:8080", environment: [:])
        #expect(bare.server == "http://127.0.0.1:8080" && bare.credentials == .none)
    }

    @Test func tokensFilesAndRelativePaths() throws {
        _ = try write("token.txt", "file-token\n")
        _ = try write("ca.crt", Self.caPEM)
        let path = try write("token", """
        apiVersion: v1
        kind: Config
        clusters:
        - name: c
          cluster: {server: "https://example:6443", certificate-authority: ca.crt, tls-server-name: kubernetes, proxy-url: "http://proxy:3128"}
        users:
        - {name: static, user: {token: abc}}
        - {name: file, user: {tokenFile: token.txt}}
        contexts:
        - {name: a, context: {cluster: c, user: static, namespace: kube-system}}
        - {name: b, context: {cluster: c, user: file}}
        current-context: a
        """)
        let a = try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:])
        #expect(a.credentials == .bearerToken("abc"))
        #expect(a.namespace == "kube-system")
        #expect(a.tls.certificateAuthority == Data(Self.caPEM.utf8))
        #expect(a.tls.serverName == "kubernetes")
        #expect(a.proxyURL == "http://proxy:3128")
        let b = try ClientConfiguration.resolve(kubeconfigPath: path, context: "b", environment: [:])
        #expect(b.credentials == .tokenFile(directory + "/token.txt"))
    }

    @Test func execPluginConfig() throws {
        let path = try write("exec", """
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://h:443"}}]
        users:
        - name: u
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: ./plugin.sh
              args: [--flag]
              env: [{name: A, value: B}]
              provideClusterInfo: true
              interactiveMode: Never
        contexts: [{name: x, context: {cluster: c, user: u}}]
        current-context: x
        """)
        let config = try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:])
        guard case .exec(let exec, let info) = config.credentials else { Issue.record("not exec"); return }
        #expect(exec.command == directory + "/./plugin.sh")
        #expect(exec.args == ["--flag"] && exec.env?.first?.value == "B")
        #expect(info.server == "https://h:443")
    }

    @Test func kubeconfigListMergesLikeKubectl() throws {
        let first = try write("one", """
        clusters: [{name: c, cluster: {server: "https://first:1"}}]
        users: [{name: u, user: {token: first}}]
        contexts: [{name: x, context: {cluster: c, user: u}}]
        """)
        let second = try write("two", """
        clusters: [{name: c, cluster: {server: "https://second:2"}}, {name: d, cluster: {server: "https://d:3"}}]
        users: [{name: u, user: {token: second}}]
        contexts: [{name: y, context: {cluster: d, user: u}}]
        current-context: y
        """)
        let merged = try ClientConfiguration.resolve(kubeconfigPath: nil, environment: ["KUBECONFIG": "\(first):\(directory)/missing:\(second)"])
        // current-context comes from the second file; user u from the first (first wins).
        #expect(merged.server == "https://d:3")
        #expect(merged.credentials == .bearerToken("first"))
        let x = try ClientConfiguration.fromFiles([first, second], context: "x", requireAll: false)
        #expect(x.server == "https://first:1")
    }

    @Test func inClusterConfiguration() throws {
        let sa = directory + "/sa"
        try FileManager.default.createDirectory(atPath: sa, withIntermediateDirectories: true)
        try "tok".write(toFile: sa + "/token", atomically: true, encoding: .utf8)
        try Self.caPEM.write(toFile: sa + "/ca.crt", atomically: true, encoding: .utf8)
        try "ipam\n".write(toFile: sa + "/namespace", atomically: true, encoding: .utf8)
        let config = try ClientConfiguration.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], serviceAccountDirectory: sa)
        #expect(config.server == "https://[fd00::1]:443")
        #expect(config.credentials == .tokenFile(sa + "/token"))
        #expect(config.namespace == "ipam")
        #expect(throws: ConfigurationError.self) { try ClientConfiguration.inCluster(environment: [:], serviceAccountDirectory: sa) }
    }

    @Test(arguments: [
        ("kind: Config\nclusters: [{name: c, cluster: {server: 'https://x:1'}}]\ncontexts: [{name: x, context: {cluster: c}}]\n", "no current-context"),
        ("current-context: nope\ncontexts: [{name: x, context: {cluster: c}}]\n", "context \"nope\" is not defined (contexts: x)"),
        ("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n", "cluster \"c\" is not defined"),
        ("current-context: x\nclusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]\n", "cluster \"c\" has no server"),
        ("current-context: x\nclusters: [{name: c, cluster: {server: 'https://x:1'}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n", "user \"u\" is not defined"),
        ("current-context: x\nclusters: [{name: c, cluster: {server: 'https://x:1', certificate-authority: /nonexistent/ca.crt}}]\ncontexts: [{name: x, context: {cluster: c}}]\n", "certificate-authority file /nonexistent/ca.crt cannot be read"),
        ("current-context: x\nclusters: [{name: c, cluster: {server: 'https://x:1'}}]\nusers: [{name: u, user: {client-certificate-data: Q0VSVA==}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n", "no client-key"),
        ("current-context: x\nclusters: [{name: c, cluster: {server: 'https://x:1'}}]\nusers: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n", "v1alpha1\" is not supported"),
        ("clusters: [1, 2", "not valid"),
        ("clusters: {name: c}", "not a valid kubeconfig"),
        ("current-context: x\nclusters: [{name: c, cluster: {server: 'x:1'}}]\ncontexts: [{name: x, context: {cluster: c}}]\n", "is not an http(s) URL"),
        ("current-context: x\nclusters: [{name: c, cluster: {server: 'https://'}}]\ncontexts: [{name: x, context: {cluster: c}}]\n", "server \"https://\" is not an http(s) URL"),
    ])
    func brokenKubeconfigsNameTheProblem(text: String, expected: String) throws {
        let path = try write("broken-\(abs(text.hashValue))", text)
        do {
            _ = try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:])
            Issue.record("accepted a broken kubeconfig")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(error.message.contains(path))
        }
    }

    @Test func unreadableKubeconfigsSayWhy() throws {
        let binary = directory + "/binary"
        #expect(FileManager.default.createFile(atPath: binary, contents: Data([0x61, 0x3A, 0x20, 0xFF, 0xFE, 0x0A])))
        #expect(throws: ConfigurationError("kubeconfig \(binary) is not UTF-8 text (a kubeconfig is YAML, which must be UTF-8)")) {
            try ClientConfiguration.resolve(kubeconfigPath: binary, environment: [:])
        }
        #expect(throws: ConfigurationError("kubeconfig \(directory) cannot be read: Is a directory")) {
            try ClientConfiguration.resolve(kubeconfigPath: directory, environment: [:])
        }
    }

    @Test func missingExplicitFileAndNothingAtAll() {
        #expect(throws: ConfigurationError("kubeconfig /nonexistent/config does not exist")) {
            try ClientConfiguration.resolve(kubeconfigPath: "/nonexistent/config", environment: [:])
        }
        #expect(throws: ConfigurationError.self) { try ClientConfiguration.resolve(kubeconfigPath: nil, environment: ["HOME": "/nonexistent"]) }
    }
}

@Suite struct TokenBucketTests {
    @Test func burstThenSteadyRate() {
        let bucket = TokenBucket(qps: 10, burst: 3)
        let start = ContinuousClock.now
        #expect((0..<3).map { _ in bucket.reserve(now: start) } == [.zero, .zero, .zero])
        // The 4th and 5th wait 100 ms and 200 ms at 10 QPS.
        #expect(bucket.reserve(now: start) == .milliseconds(100))
        #expect(bucket.reserve(now: start) == .milliseconds(200))
        // After a quiet second the bucket holds at most `burst` tokens again.
        let later = start.advanced(by: .seconds(10))
        #expect((0..<3).map { _ in bucket.reserve(now: later) } == [.zero, .zero, .zero])
        #expect(bucket.reserve(now: later) > .zero)
    }

    @Test func disabledWhenQPSIsZero() {
        let bucket = TokenBucket(qps: 0, burst: 1)
        #expect((0..<100).allSatisfy { _ in bucket.reserve() == .zero })
    }
}
