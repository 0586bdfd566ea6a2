import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A probe result: 200 with "ok", or 503 with the detail.
public struct HealthCheck: Sendable {
    public var ok: Bool
    public var detail: String

    public init(ok: Bool, detail: String) {
        self.ok = ok
        self.detail = detail
    }
}

/// Serves /healthz, /readyz and /metrics (the reference's `:8081` endpoints) on swift-nio.
public final class HealthServer: Service, @unchecked Sendable {
    public struct BindAddressError: Error, CustomStringConvertible {
        public let address: String
        public var description: String { "--webserver-bind-address \"\(address)\" is not HOST:PORT (examples: :8081, 127.0.0.1:8081, [::1]:8081)" }
    }

    public let bindAddress: String
    private let liveness: @Sendable () -> HealthCheck
    private let readiness: @Sendable () -> HealthCheck
    private let metrics: @Sendable () -> String
    private let lock = NSLock()
    private var channel: (any Channel)?
    private var group: MultiThreadedEventLoopGroup?
    private var port: Int?

    public init(bindAddress: String, liveness: @escaping @Sendable () -> HealthCheck, readiness: @escaping @Sendable () -> HealthCheck,
         metrics: @escaping @Sendable () -> String) {
        self.bindAddress = bindAddress
        self.liveness = liveness
        self.readiness = readiness
        self.metrics = metrics
    }

    private let listening = ReadinessFlag()

    /// The bound port once started (useful with port 0).
    public var boundPort: Int? { lock.withLock { port } }

    /// Returns once the server accepts connections.
    public func waitUntilListening() async { await listening.wait() }

    public static func parse(_ address: String) throws(BindAddressError) -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":") else { throw BindAddressError(address: address) }
        var host = String(address[..<colon])
        guard let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else { throw BindAddressError(address: address) }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        return (host, port)
    }

    /// Binds and starts serving; returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        let (host, port) = try Self.parse(bindAddress)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handler = Responder(liveness: liveness, readiness: readiness, metrics: metrics)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(5)))
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(responder: handler))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: host, port: port).get()
            let bound = channel.localAddress?.port ?? port
            lock.withLock {
                self.channel = channel
                self.group = group
                self.port = bound
            }
            listening.set(true)
            return bound
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    public func stop() async {
        let (channel, group) = lock.withLock { (self.channel, self.group) }
        try? await channel?.close()
        try? await group?.shutdownGracefully()
        lock.withLock {
            self.channel = nil
            self.group = nil
        }
    }

    /// As a service: serve until graceful shutdown.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await stop()
    }
}

private struct Responder: Sendable {
    let liveness: @Sendable () -> HealthCheck
    let readiness: @Sendable () -> HealthCheck
    let metrics: @Sendable () -> String

    func respond(method: HTTPMethod, path: String) -> (HTTPResponseStatus, String, String) {
        guard method == .GET || method == .HEAD else { return (.methodNotAllowed, "text/plain", "method not allowed\n") }
        let route = path.split(separator: "?").first.map(String.init) ?? path
        switch route {
        case "/healthz", "/livez":
            let check = liveness()
            return (check.ok ? .ok : .serviceUnavailable, "text/plain; charset=utf-8", check.ok ? "ok\n" : check.detail + "\n")
        case "/readyz":
            let check = readiness()
            return (check.ok ? .ok : .serviceUnavailable, "text/plain; charset=utf-8", check.ok ? "ok\n" : check.detail + "\n")
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
        default:
            return (.notFound, "text/plain", "not found\n")
        }
    }
}

private final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: Responder
    private var head: HTTPRequestHead?

    init(responder: Responder) { self.responder = responder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            let (status, contentType, body) = responder.respond(method: request.method, path: request.uri)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
            if request.method != .HEAD {
                var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
                buffer.writeString(body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            let keepAlive = request.isKeepAlive
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
