#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import ServiceLifecycle
import Synchronization

/// A probe result: 200 with "ok", or 503 with the detail.
public struct HealthCheck: Sendable {
    public var ok: Bool
    public var detail: String

    public init(ok: Bool, detail: String) {
        self.ok = ok
        self.detail = detail
    }
}

/// Serves /healthz, /readyz and /metrics (the reference's `:8081` endpoints).
///
/// Written on POSIX sockets rather than swift-nio: the endpoints answer a kubelet probe every
/// few seconds and a scrape every few tens of seconds, and swift-nio (with its event loops
/// and the libraries it brings) was most of the production binary's mapped memory
/// (docs/architecture.md, "The production binary"). One thread accepts; each connection is
/// served on a thread of its own (HTTP/1.1 keep-alive, 5 s idle and read timeouts), at most
/// `maximumConnections` at once — more are closed at once, so a client that opens many
/// connections cannot starve the probes for long.
public final class HealthServer: Service, Sendable {
    public struct BindAddressError: Error, CustomStringConvertible {
        public let address: String
        public var description: String { "--webserver-bind-address \"\(address)\" is not HOST:PORT (examples: :8081, 127.0.0.1:8081, [::1]:8081)" }
    }

    /// Why binding failed, with the address and the system's reason.
    public struct BindError: Error, CustomStringConvertible {
        public let address: String
        public let reason: String
        public var description: String { "cannot listen on \(address): \(reason)" }
    }

    public static let maximumConnections = 32
    static let idleTimeoutSeconds = 5
    static let maximumHeaderBytes = 16 * 1024
    #if canImport(Glibc)
    private static let closeOnExec = Int32(SOCK_CLOEXEC.rawValue)
    #else
    private static let closeOnExec: Int32 = 0
    #endif

    public let bindAddress: String
    private let responder: Responder
    private let listening = ReadinessFlag()
    private let state = Mutex(State())

    private struct State {
        var listener: Int32 = -1
        /// Written by `stop` to wake the accept loop's poll.
        var wake: (read: Int32, write: Int32) = (-1, -1)
        var port: Int?
        var connections: Set<Int32> = []
        var stopped = false
        /// Resumed when the accept loop and every connection thread have ended.
        var finished: [CheckedContinuation<Void, Never>] = []
        var threads = 0
    }

    public init(bindAddress: String, liveness: @escaping @Sendable () -> HealthCheck, readiness: @escaping @Sendable () -> HealthCheck,
                metrics: @escaping @Sendable () -> String) {
        self.bindAddress = bindAddress
        self.responder = Responder(liveness: liveness, readiness: readiness, metrics: metrics)
    }

    /// The bound port once started (useful with port 0).
    public var boundPort: Int? { state.withLock { $0.port } }

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
        let listener = try Self.openListener(host: host, port: port, address: bindAddress)
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            close(listener)
            throw BindError(address: bindAddress, reason: String(cString: strerror(errno)))
        }
        let bound = Self.localPort(listener) ?? port
        let wakeRead = pipeEnds[0]
        state.withLock {
            $0.listener = listener
            $0.wake = (pipeEnds[0], pipeEnds[1])
            $0.port = bound
            $0.threads += 1
        }
        let thread = Thread { [self] in acceptLoop(listener: listener, wake: wakeRead) }
        thread.name = "healthz-accept"
        thread.start()
        listening.set(true)
        return bound
    }

    /// Stops accepting, ends open connections and returns when every thread has ended.
    public func stop() async {
        let wake: Int32? = state.withLock {
            guard !$0.stopped, $0.listener >= 0 else { return nil }
            $0.stopped = true
            for connection in $0.connections { shutdown(connection, Int32(SHUT_RDWR)) }
            return $0.wake.write
        }
        guard let wake else { return }
        var byte: UInt8 = 1
        _ = write(wake, &byte, 1)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.threads == 0 { return true }
                state.finished.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
        state.withLock {
            close($0.wake.read)
            close($0.wake.write)
            $0.wake = (-1, -1)
        }
    }

    /// As a service: serve until graceful shutdown.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await stop()
    }

    // MARK: Sockets

    private static func openListener(host: String, port: Int, address: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw BindError(address: address, reason: "cannot resolve \"\(host)\": \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Self.closeOnExec, info.pointee.ai_protocol)
            guard fd >= 0 else { reason = String(cString: strerror(errno)); continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 64) == 0 { return fd }
            reason = String(cString: strerror(errno))
            close(fd)
        }
        throw BindError(address: address, reason: reason)
    }

    private static func localPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET: return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6: return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default: return nil
        }
    }

    private func acceptLoop(listener: Int32, wake: Int32) {
        defer {
            close(listener)
            threadEnded()
        }
        while true {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || fds[1].revents != 0 || state.withLock({ $0.stopped }) { return }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue } // EAGAIN, ECONNABORTED, EMFILE: try the next one
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped, state.connections.count < Self.maximumConnections else { return false }
                state.connections.insert(connection)
                state.threads += 1
                return true
            }
            guard admitted else {
                close(connection)
                continue
            }
            let thread = Thread { [self] in
                serve(connection)
                state.withLock { _ = $0.connections.remove(connection) }
                close(connection)
                threadEnded()
            }
            thread.name = "healthz-conn"
            thread.start()
        }
    }

    private func threadEnded() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.threads -= 1
            guard state.threads == 0 else { return [] }
            defer { state.finished = [] }
            return state.finished
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: HTTP/1.1

    /// Serves requests on one connection until the client closes it, asks to, goes idle or errs.
    private func serve(_ connection: Int32) {
        var timeout = timeval(tv_sec: Self.idleTimeoutSeconds, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            // Read until a whole head is buffered.
            var headEnd = HTTPRequestHead.endOfHead(in: buffer)
            while headEnd == nil {
                guard buffer.count < Self.maximumHeaderBytes else {
                    sendResponse(connection, status: 431, reason: "Request Header Fields Too Large", body: "request head too large\n", keepAlive: false, head: false)
                    return
                }
                let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return } // closed, idle timeout or error
                buffer.append(contentsOf: chunk[0..<count])
                headEnd = HTTPRequestHead.endOfHead(in: buffer)
            }
            guard let end = headEnd, let request = HTTPRequestHead(Array(buffer[0..<end])) else {
                sendResponse(connection, status: 400, reason: "Bad Request", body: "malformed request\n", keepAlive: false, head: false)
                return
            }
            buffer.removeFirst(end)
            // A body (none expected) is read and dropped, so the next request starts clean.
            var remaining = request.contentLength
            let buffered = min(remaining, buffer.count)
            buffer.removeFirst(buffered)
            remaining -= buffered
            while remaining > 0 {
                let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, min($0.count, remaining), 0) }
                guard count > 0 else { return }
                remaining -= count
            }
            let response = responder.respond(method: request.method, path: request.path)
            guard sendResponse(connection, status: response.status, reason: response.reason, body: response.body, contentType: response.contentType,
                       keepAlive: request.keepAlive, head: request.method == "HEAD"), request.keepAlive else { return }
        }
    }

    @discardableResult
    private func sendResponse(_ connection: Int32, status: Int, reason: String, body: String, contentType: String = "text/plain; charset=utf-8",
                      keepAlive: Bool, head: Bool) -> Bool {
        var text = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n"
        if !keepAlive { text += "Connection: close\r\n" }
        text += "\r\n"
        if !head { text += body }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            bytes = bytes.dropFirst(written)
        }
        return true
    }
}

/// The request line and the headers we act on.
struct HTTPRequestHead: Equatable {
    var method: String
    var path: String
    var keepAlive: Bool
    var contentLength: Int

    /// The index just past the blank line that ends the head, if buffered.
    static func endOfHead(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count where bytes[index] == 10 {
            if bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 { return index + 1 }
        }
        return nil
    }

    /// Parses a head (request line and headers, CRLF-separated); nil when it is not HTTP/1.x.
    init?(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        var lines = text.components(separatedBy: "\r\n").makeIterator()
        guard let requestLine = lines.next() else { return nil }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0", parts[1].hasPrefix("/") || parts[1] == "*",
              parts[0].utf8.allSatisfy({ (65...90).contains($0) }) else { return nil }
        method = String(parts[0])
        path = String(parts[1])
        var connection: String?
        contentLength = 0
        while let line = lines.next(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "connection": connection = value.lowercased()
            case "content-length":
                guard let length = Int(value), length >= 0, length <= 1 << 20 else { return nil }
                contentLength = length
            case "transfer-encoding": return nil // no chunked bodies: no probe or scrape sends one
            default: break
            }
        }
        keepAlive = parts[2] == "HTTP/1.1" ? connection != "close" : connection == "keep-alive"
    }
}

struct Responder: Sendable {
    let liveness: @Sendable () -> HealthCheck
    let readiness: @Sendable () -> HealthCheck
    let metrics: @Sendable () -> String

    struct Response {
        var status: Int
        var reason: String
        var contentType: String
        var body: String
    }

    func respond(method: String, path: String) -> Response {
        guard method == "GET" || method == "HEAD" else { return Response(status: 405, reason: "Method Not Allowed", contentType: "text/plain", body: "method not allowed\n") }
        let route = path.split(separator: "?").first.map(String.init) ?? path
        switch route {
        case "/healthz", "/livez": return probe(liveness())
        case "/readyz": return probe(readiness())
        case "/metrics": return Response(status: 200, reason: "OK", contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics())
        default: return Response(status: 404, reason: "Not Found", contentType: "text/plain", body: "not found\n")
        }
    }

    private func probe(_ check: HealthCheck) -> Response {
        check.ok ? Response(status: 200, reason: "OK", contentType: "text/plain; charset=utf-8", body: "ok\n")
            : Response(status: 503, reason: "Service Unavailable", contentType: "text/plain; charset=utf-8", body: check.detail + "\n")
    }
}
