import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// An in-memory Kubernetes API server on a loopback port, for tests, demos and benchmarks.
///
/// Real HTTP/1.1 (keep-alive, chunked watch streams) or HTTPS with a generated CA and client
/// certificate, so kubectl, helm and our own client talk to it exactly as to kube-apiserver.
/// See the README for what is approximated (server-side apply field ownership, strategic merge
/// subset, a CEL subset for CRD validation rules, no admission webhooks, no RBAC).
public final class LocalAPIServer: Sendable {
    /// How to run the server.
    public struct Configuration: Sendable {
        /// Loopback address to bind (127.0.0.1 or ::1).
        public var host: String = "127.0.0.1"
        /// 0 picks an ephemeral port.
        public var port: Int = 0
        /// Serve HTTPS with generated certificates; requests need the client certificate or a bearer token.
        public var tls: Bool = false
        /// Accepted bearer tokens; with a non-empty set, plain HTTP also requires one of them.
        public var bearerTokens: Set<String> = []
        /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK.
        public var bookmarkIntervalMilliseconds: Int64 = 5000
        /// How many past events watches can resume from; older versions get 410 Expired.
        public var historyLimit: Int = 10000
        /// Event loop threads.
        public var threads: Int = 2
        /// Keep an audit log of applied writes (`GET /_local/audit?since=RV`).
        public var audit: Bool = false
        /// Evaluate CRDs' CEL validation rules (`x-kubernetes-validations`) as kube-apiserver does; off, the
        /// server stores what only those rules would refuse, like a cluster whose CRD lacks them.
        public var validationRules: Bool = true
        var advertisedAddress: String = ""

        public init(host: String = "127.0.0.1", port: Int = 0, tls: Bool = false, bearerTokens: Set<String> = [],
                    bookmarkIntervalMilliseconds: Int64 = 5000, historyLimit: Int = 10000, threads: Int = 2) {
            self.host = host
            self.port = port
            self.tls = tls
            self.bearerTokens = bearerTokens
            self.bookmarkIntervalMilliseconds = bookmarkIntervalMilliseconds
            self.historyLimit = historyLimit
            self.threads = threads
        }
    }

    /// Programmable failures; see ``FaultInjector``.
    public let faults: FaultInjector
    /// Applied writes with their User-Agent, when `Configuration.audit` is set.
    public let audit: AuditLog
    /// The bound port.
    public let port: Int
    /// Base URL, e.g. `https://127.0.0.1:38211`.
    public let url: String
    /// The generated PKI when serving HTTPS.
    public let certificates: GeneratedCertificates?
    public let configuration: Configuration
    let store: Store
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    private init(configuration: Configuration, faults: FaultInjector, audit: AuditLog, port: Int, url: String, certificates: GeneratedCertificates?,
                 store: Store, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.configuration = configuration
        self.faults = faults
        self.audit = audit
        self.port = port
        self.url = url
        self.certificates = certificates
        self.store = store
        self.group = group
        self.channel = channel
    }

    /// Starts a server; stop it with ``stop()``.
    public static func start(_ configuration: Configuration = Configuration()) async throws -> LocalAPIServer {
        var config = configuration
        let store = Store(historyLimit: config.historyLimit, validationRules: config.validationRules)
        let faults = FaultInjector()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, config.threads))
        var certs: GeneratedCertificates?
        var ssl: NIOSSLContext?
        if config.tls {
            let c = try GeneratedCertificates.generate()
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(c.serverCertificatePEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(c.serverKeyPEM.utf8), format: .pem)))
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(c.caPEM.utf8), format: .pem)])
            // Like kube-apiserver: ask for a client certificate, verify it when sent, otherwise fall back to tokens (or 401).
            tls.certificateVerification = .optionalVerification
            ssl = try NIOSSLContext(configuration: tls)
            certs = c
        }
        let authRequired = config.tls || !config.bearerTokens.isEmpty
        let box = APIHandlerBox()
        do {
            let channel = try await HTTPServer.bind(host: config.host, port: config.port, group: group, api: box.lazyHandler, ssl: ssl)
            let port = channel.localAddress?.port ?? config.port
            let hostPart = config.host.contains(":") ? "[\(config.host)]" : config.host
            config.advertisedAddress = "\(hostPart):\(port)"
            let audit = AuditLog(enabled: config.audit)
            box.set(APIHandler(store: store, faults: faults, config: config, tokens: config.bearerTokens, authRequired: authRequired, audit: audit))
            return LocalAPIServer(configuration: config, faults: faults, audit: audit, port: port, url: "\(config.tls ? "https" : "http")://\(hostPart):\(port)",
                                  certificates: certs, store: store, group: group, channel: channel)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Closes every connection and stops the event loops.
    public func stop() async throws {
        _ = store.closeAllWatches(expire: false)
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    /// A kubeconfig for this server in kind's exact shape (`kind-<name>` cluster, user and context).
    public func kubeconfig(name: String = "local") -> String {
        let id = "kind-\(name)"
        var cluster = "- cluster:\n"
        if let certificates {
            cluster += "    certificate-authority-data: \(Data(certificates.caPEM.utf8).base64EncodedString())\n"
        }
        cluster += "    server: \(url)\n  name: \(id)\n"
        var user = "- name: \(id)\n  user:\n"
        if let certificates {
            user += "    client-certificate-data: \(Data(certificates.clientCertificatePEM.utf8).base64EncodedString())\n"
            user += "    client-key-data: \(Data(certificates.clientKeyPEM.utf8).base64EncodedString())\n"
        } else if let token = configuration.bearerTokens.sorted().first {
            user += "    token: \(token)\n"
        } else {
            user = "- name: \(id)\n  user: {}\n"
        }
        return """
            apiVersion: v1
            clusters:
            \(cluster)contexts:
            - context:
                cluster: \(id)
                user: \(id)
              name: \(id)
            current-context: \(id)
            kind: Config
            preferences: {}
            users:
            \(user)
            """
    }

    /// Ends every open watch stream; with `expire`, each gets a 410 Expired ERROR event first and
    /// resuming from any earlier resourceVersion will also get 410. Returns how many were closed.
    @discardableResult
    public func closeWatches(expire: Bool = false) -> Int { store.closeAllWatches(expire: expire) }

    /// Number of open watch streams.
    public var openWatchCount: Int { store.openWatchCount }

    /// The current global resourceVersion.
    public var resourceVersion: UInt64 { store.resourceVersion }
}

/// Lets the channel initializer be built before the handler exists (the handler needs the bound port).
final class APIHandlerBox: Sendable {
    private let handler = Mutex<APIHandler?>(nil)
    func set(_ h: APIHandler) { handler.withLock { $0 = h } }
    var lazyHandler: LazyAPIHandler { LazyAPIHandler(box: self) }
    func get() -> APIHandler? { handler.withLock { $0 } }
}

/// Resolves the handler on first use.
struct LazyAPIHandler: Sendable {
    let box: APIHandlerBox
    func handle(_ req: Request) -> Reply {
        guard let h = box.get() else { return .error(StatusError(code: 503, reason: "ServiceUnavailable", message: "starting")) }
        return h.handle(req)
    }
}
