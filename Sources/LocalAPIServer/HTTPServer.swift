import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A parsed HTTP request as the API layer sees it.
struct Request: Sendable {
    var method: HTTPMethod
    var path: String
    var query: [String: String]
    var headers: HTTPHeaders
    var body: [UInt8]
    var clientCertificate: Bool

    var verbName: String { method.rawValue }

    init(head: HTTPRequestHead, body: [UInt8], clientCertificate: Bool) {
        method = head.method
        headers = head.headers
        self.body = body
        self.clientCertificate = clientCertificate
        let uri = head.uri
        if let q = uri.firstIndex(of: "?") {
            path = String(uri[..<q])
            var query: [String: String] = [:]
            for pair in uri[uri.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let k = Request.decode(kv[0])
                query[k] = kv.count > 1 ? Request.decode(kv[1]) : ""
            }
            self.query = query
        } else {
            path = uri
            query = [:]
        }
        self.path = path.removingPercentEncoding ?? path
    }

    static func decode(_ s: Substring) -> String {
        let plus = s.replacingOccurrences(of: "+", with: " ")
        return plus.removingPercentEncoding ?? plus
    }
}

/// What the API layer answers.
enum Reply: Sendable {
    case full(status: Int, contentType: String, body: String)
    /// A chunked stream (watch): `start` gets a writer and returns nothing; it owns the writer from then on.
    case stream(contentType: String, start: @Sendable (StreamWriter) -> Void)
    /// Close the connection without answering (fault injection).
    case drop
    /// Answer after a delay (fault injection).
    indirect case delayed(milliseconds: Int64, Reply)
    /// A full answer with extra headers (e.g. `Retry-After`).
    indirect case withHeaders([(String, String)], Reply)

    static func json(_ status: Int, _ body: JSON) -> Reply { .full(status: status, contentType: "application/json", body: body.serialized()) }
    static func error(_ e: StatusError) -> Reply { .json(e.code, e.status) }
}

/// Writes the chunks of one streaming response; safe from any thread.
/// `@unchecked`: its lock must be recursive (NIO can close the channel inside a write and the
/// close ends the stream on the same thread), and Synchronization's `Mutex` is not.
final class StreamWriter: @unchecked Sendable {
    private let channel: any Channel
    // Recursive: a write can close the channel synchronously, and closing ends the stream on this same thread.
    private let lock = NSRecursiveLock()
    private var finished = false
    private var cleanups: [@Sendable () -> Void] = []
    let keepAlive: Bool

    init(channel: any Channel, keepAlive: Bool) {
        self.channel = channel
        self.keepAlive = keepAlive
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    func send(_ text: String) {
        var buf = channel.allocator.buffer(capacity: text.utf8.count)
        buf.writeString(text)
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        // Every write goes through the event loop's queue, in the order taken under the lock:
        // a write made on the loop runs at once, one from another thread later, so mixing the
        // two could put a chunk after the response's end (NIO traps on that; seen in the soak).
        let channel = self.channel
        let part = HTTPServerResponsePart.body(.byteBuffer(buf))
        channel.eventLoop.execute { channel.writeAndFlush(part, promise: nil) }
    }

    /// Runs `cleanup` when the stream ends (immediately if it already has).
    func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
        lock.lock()
        if finished {
            lock.unlock()
            cleanup()
            return
        }
        cleanups.append(cleanup)
        lock.unlock()
    }

    /// Ends the response normally.
    func finish() { end(graceful: true) }

    /// Ends by closing the connection (peer went away, or fault injection).
    func abort() { end(graceful: false) }

    private func end(graceful: Bool) {
        lock.lock()
        if finished {
            lock.unlock()
            return
        }
        finished = true
        let todo = cleanups
        cleanups = []
        let keepAlive = self.keepAlive
        let channel = self.channel
        if graceful {
            channel.eventLoop.execute {
                channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
                    if !keepAlive { channel.close(promise: nil) }
                }
            }
        } else {
            channel.eventLoop.execute { channel.close(promise: nil) }
        }
        lock.unlock()
        // Cleanups may take the store lock, and end() can run under it: run them later.
        if !todo.isEmpty { channel.eventLoop.execute { for c in todo { c() } } }
    }
}

final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: LazyAPIHandler
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var stream: StreamWriter?
    private let tls: Bool

    init(api: LazyAPIHandler, tls: Bool) {
        self.api = api
        self.tls = tls
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.removeAll(keepingCapacity: true)
        case .body(var buf):
            body.append(contentsOf: buf.readBytes(length: buf.readableBytes) ?? [])
        case .end:
            guard let head else { return }
            self.head = nil
            var hasCert = false
            if tls, let ssl = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) {
                hasCert = ssl.peerCertificate != nil
            }
            let req = Request(head: head, body: body, clientCertificate: hasCert)
            respond(context: context, reply: api.handle(req), keepAlive: head.isKeepAlive)
        }
    }

    private func respond(context: ChannelHandlerContext, reply: Reply, keepAlive: Bool, extraHeaders: [(String, String)] = []) {
        switch reply {
        case .withHeaders(let extra, let inner):
            respond(context: context, reply: inner, keepAlive: keepAlive, extraHeaders: extraHeaders + extra)
        case .full(let status, let contentType, let text):
            var headers = HTTPHeaders(extraHeaders)
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            headers.add(name: "Cache-Control", value: "no-cache, private")
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))),
                          promise: nil)
            var buf = context.channel.allocator.buffer(capacity: text.utf8.count)
            buf.writeString(text)
            context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        case .stream(let contentType, let start):
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Transfer-Encoding", value: "chunked")
            headers.add(name: "Cache-Control", value: "no-cache, private")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            let writer = StreamWriter(channel: context.channel, keepAlive: keepAlive)
            stream = writer
            start(writer)
        case .drop:
            context.close(promise: nil)
        case .delayed(let ms, let inner):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                let (handler, ctx) = bound.value
                handler.respond(context: ctx, reply: inner, keepAlive: keepAlive, extraHeaders: extraHeaders)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream?.abort()
        stream = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stream?.abort()
        context.close(promise: nil)
    }
}

/// Binds the NIO server; TLS when an `NIOSSLContext` is given.
struct HTTPServer {
    static func bind(host: String, port: Int, group: any EventLoopGroup, api: LazyAPIHandler, ssl: NIOSSLContext?) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    if let ssl { try ops.addHandler(NIOSSLServerHandler(context: ssl)) }
                    try ops.configureHTTPServerPipeline(withErrorHandling: true)
                    try ops.addHandler(HTTPHandler(api: api, tls: ssl != nil))
                }
            }
        return try await bootstrap.bind(host: host, port: port).get()
    }
}
