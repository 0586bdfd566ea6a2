import Foundation
import LocalAPIServer
#if canImport(Glibc)
import Glibc
#endif

/// A tiny blocking HTTP/1.1 client over a loopback socket: enough to see exactly what the server sends.
struct HTTPResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var json: JSON { (try? JSON.parse(body)) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }
}

struct TestError: Error, CustomStringConvertible { var description: String }

final class Connection {
    let fd: Int32
    var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError(description: "socket failed") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw TestError(description: "connect failed") }
    }

    deinit { close(fd) }

    func send(_ method: String, _ path: String, body: String? = nil, contentType: String = "application/json",
              headers: [String: String] = [:]) throws {
        var req = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (k, v) in headers { req += "\(k): \(v)\r\n" }
        if let body {
            req += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            req += "\r\n"
        }
        let bytes = Array(req.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestError(description: "send failed") }
            off += n
        }
    }

    /// Reads more bytes; false at EOF.
    func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw TestError(description: "recv timed out or failed (errno \(errno))") }
        if n == 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    func readLine() throws -> String? {
        while true {
            if let i = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<i])
                buffer.removeFirst(i + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { return nil }
        }
    }

    func readBytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { guard try fill() else { throw TestError(description: "EOF in body") } }
        let out = Array(buffer[..<count])
        buffer.removeFirst(count)
        return out
    }

    /// Reads the status line and headers.
    func readHead() throws -> (Int, [String: String]) {
        guard let statusLine = try readLine() else { throw TestError(description: "connection closed before a response") }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw TestError(description: "bad status line \(statusLine)") }
        var headers: [String: String] = [:]
        while let line = try readLine(), !line.isEmpty {
            if let c = line.firstIndex(of: ":") {
                headers[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (status, headers)
    }

    func readResponse() throws -> HTTPResponse {
        let (status, headers) = try readHead()
        if let len = headers["content-length"].flatMap(Int.init) {
            return HTTPResponse(status: status, headers: headers, body: try readBytes(len))
        }
        var body: [UInt8] = []
        while let chunk = try readChunk() { body += chunk }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// One chunk of a chunked body; nil at the last chunk.
    func readChunk() throws -> [UInt8]? {
        guard let sizeLine = try readLine(), let size = Int(sizeLine, radix: 16) else { return nil }
        if size == 0 {
            _ = try readLine()
            return nil
        }
        let data = try readBytes(size)
        _ = try readLine()
        return data
    }
}

/// A watch stream: one JSON event per line.
final class WatchStream {
    let conn: Connection
    var pending: [UInt8] = []
    let status: Int

    init(port: Int, path: String, headers: [String: String] = [:]) throws {
        conn = try Connection(port: port)
        try conn.send("GET", path, headers: headers)
        (status, _) = try conn.readHead()
    }

    /// The next event, or nil when the server ended the stream.
    func next() throws -> JSON? {
        while true {
            if let i = pending.firstIndex(of: 0x0A) {
                let line = Array(pending[..<i])
                pending.removeFirst(i + 1)
                return try JSON.parse(line)
            }
            guard let chunk = try conn.readChunk() else { return nil }
            pending += chunk
        }
    }
}

extension LocalAPIServer {
    /// One request on a fresh connection.
    func request(_ method: String, _ path: String, _ body: JSON? = nil, contentType: String = "application/json",
                 headers: [String: String] = [:]) throws -> HTTPResponse {
        let c = try Connection(port: port)
        try c.send(method, path, body: body?.serialized(), contentType: contentType, headers: headers)
        return try c.readResponse()
    }
}

/// Runs `body` against a fresh plain-HTTP server and always stops it.
func withServer<T>(_ config: LocalAPIServer.Configuration = .init(), _ body: (LocalAPIServer) async throws -> T) async throws -> T {
    let server = try await LocalAPIServer.start(config)
    do {
        let r = try await body(server)
        try await server.stop()
        return r
    } catch {
        try? await server.stop()
        throw error
    }
}

func node(_ name: String, labels: [String: String] = [:], podCIDRs: [String]? = nil) -> JSON {
    var n: JSON = ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name)]]
    if !labels.isEmpty { n[path: ["metadata", "labels"]] = .object(labels.mapValues { .string($0) }) }
    if let podCIDRs { n[path: ["spec", "podCIDRs"]] = .array(podCIDRs.map { .string($0) }) }
    return n
}
