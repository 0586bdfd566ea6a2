#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ServiceSupport
import Testing

/// The probes and metrics server on POSIX sockets, spoken to byte by byte.
@Suite(.timeLimit(.minutes(1))) struct HealthServerTests {
    static func server(ready: Bool = false, bind: String = "127.0.0.1:0") -> HealthServer {
        HealthServer(bindAddress: bind, liveness: { HealthCheck(ok: true, detail: "") },
                     readiness: { HealthCheck(ok: ready, detail: "caches not synced") },
                     metrics: { "# HELP up Up.\n# TYPE up gauge\nup 1\n" })
    }

    /// A client connection: writes raw bytes, reads what comes until the server closes it.
    final class Client {
        let fd: Int32

        init(port: Int, host: String = "127.0.0.1") throws {
            let family = host.contains(":") ? AF_INET6 : AF_INET
            fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let connected: Int32
            if family == AF_INET {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = UInt16(port).bigEndian
                inet_pton(AF_INET, host, &address.sin_addr)
                connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            } else {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = UInt16(port).bigEndian
                inet_pton(AF_INET6, host, &address.sin6_addr)
                connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            }
            guard connected == 0 else { close(fd); throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }

        deinit { close(fd) }

        func write(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Everything until the server closes the connection (or 20 s pass).
        func readToEnd() -> String {
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                data += chunk[0..<count]
            }
            return String(decoding: data, as: UTF8.self)
        }

        /// Reads until `count` whole responses (head + Content-Length body) have arrived.
        func readResponses(_ count: Int) -> [(status: Int, headers: [String: String], body: String)] {
            var buffer: [UInt8] = []
            var responses: [(Int, [String: String], String)] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while responses.count < count {
                if let parsed = Self.parseOne(&buffer) { responses.append(parsed); continue }
                let read = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard read > 0 else { break }
                buffer += chunk[0..<read]
            }
            return responses
        }

        static func parseOne(_ buffer: inout [UInt8]) -> (Int, [String: String], String)? {
            let text = String(decoding: buffer, as: UTF8.self)
            guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
            let lines = text[..<headEnd.lowerBound].components(separatedBy: "\r\n")
            let status = Int(lines[0].split(separator: " ")[1]) ?? 0
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
            }
            let headBytes = text[..<headEnd.upperBound].utf8.count
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard buffer.count >= headBytes + length else { return nil }
            let body = String(decoding: buffer[headBytes..<(headBytes + length)], as: UTF8.self)
            buffer.removeFirst(headBytes + length)
            return (status, headers, body)
        }
    }

    @Test func routesAnswerLikeTheProbesExpect() async throws {
        let server = Self.server()
        let port = try await server.start()
        defer { Task { await server.stop() } }
        let client = try Client(port: port)
        client.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics?x=1 HTTP/1.1\r\n\r\n"
                     + "GET /nope HTTP/1.1\r\n\r\nPOST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /livez HTTP/1.1\r\nConnection: close\r\n\r\n")
        let responses = client.readResponses(6)
        #expect(responses.map(\.status) == [200, 503, 200, 404, 405, 200])
        #expect(responses[0].body == "ok\n")
        #expect(responses[1].body == "caches not synced\n")
        #expect(responses[2].headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8" && responses[2].body.contains("up 1"))
        #expect(responses.last?.headers["connection"] == "close" && responses.last?.body == "ok\n")
        #expect(client.readToEnd() == "", "asked to close: nothing more, and the connection ends")
        // HEAD: the length of the body it would have, and no body.
        let head = try Client(port: port)
        head.write("HEAD /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        let answer = head.readToEnd()
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.contains("Content-Length: 3\r\n") && answer.hasSuffix("\r\n\r\n"), "\(answer)")
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        let server = Self.server(ready: true)
        let port = try await server.start()
        defer { Task { await server.stop() } }
        let plain = try Client(port: port)
        plain.write("GET /readyz HTTP/1.0\r\n\r\n")
        #expect(plain.readToEnd().hasSuffix("\r\n\r\nok\n"))
        let kept = try Client(port: port)
        kept.write("GET /readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(kept.readResponses(1).first?.status == 200)
        kept.write("GET /healthz HTTP/1.0\r\n\r\n")
        #expect(kept.readToEnd().hasSuffix("ok\n"), "the same connection served a second request")
    }

    @Test(arguments: ["garbage\r\n\r\n", "GET /healthz SPDY/3\r\n\r\n", "GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
                      "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                      "GET healthz HTTP/1.1\r\n\r\n", "\u{FF}\u{FE} / HTTP/1.1\r\n\r\n", "get / HTTP/1.1\r\n\r\n"])
    func malformedRequestsGet400AndAClosedConnection(request: String) async throws {
        let server = Self.server()
        let port = try await server.start()
        defer { Task { await server.stop() } }
        let client = try Client(port: port)
        client.write(request)
        let answer = client.readToEnd()
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && answer.contains("Connection: close"), "\(answer)")
        // The server still serves others.
        let next = try Client(port: port)
        next.write("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(next.readToEnd().hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func anOversizedHeadGets431() async throws {
        let server = Self.server()
        let port = try await server.start()
        defer { Task { await server.stop() } }
        let client = try Client(port: port)
        client.write("GET /healthz HTTP/1.1\r\nX-Padding: " + String(repeating: "a", count: 20_000) + "\r\n\r\n")
        #expect(client.readToEnd().hasPrefix("HTTP/1.1 431 "))
    }

    @Test func connectionsBeyondTheLimitAreClosedAndTheProbesComeBack() async throws {
        let server = Self.server()
        let port = try await server.start()
        defer { Task { await server.stop() } }
        // Each idle connection is admitted (it answers a request), until the limit.
        var idle: [Client] = []
        for _ in 0..<HealthServer.maximumConnections {
            let client = try Client(port: port)
            client.write("GET /healthz HTTP/1.1\r\n\r\n")
            #expect(client.readResponses(1).first?.status == 200)
            idle.append(client)
        }
        let refused = try Client(port: port)
        refused.write("GET /healthz HTTP/1.1\r\n\r\n")
        #expect(refused.readToEnd() == "", "closed without an answer")
        idle.removeAll() // closes them; their threads end when they see the close
        var served = false
        for _ in 0..<200 where !served {
            let client = try Client(port: port)
            client.write("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
            served = client.readToEnd().hasPrefix("HTTP/1.1 200 OK")
        }
        #expect(served, "a probe is served again once the idle connections are gone")
    }

    @Test func stopEndsOpenConnectionsAndRefusesNewOnes() async throws {
        let server = Self.server()
        let port = try await server.start()
        let idle = try Client(port: port)
        idle.write("GET /healthz HTTP/1.1\r\n\r\n")
        #expect(idle.readResponses(1).first?.status == 200)
        await server.stop() // returns with the idle connection still open on the client's side
        #expect(idle.readToEnd() == "", "the server closed the kept-alive connection")
        #expect(throws: POSIXError.self) { _ = try Client(port: port) }
        await server.stop() // a second stop is harmless
    }

    @Test func bindErrorsNameTheAddressAndIPv6Loopback() async throws {
        let first = Self.server(bind: "[::1]:0")
        let port: Int
        do {
            port = try await first.start()
        } catch {
            print("skipped the IPv6 part: ::1 cannot be bound here (\(error))")
            return
        }
        defer { Task { await first.stop() } }
        let client = try Client(port: port, host: "::1")
        client.write("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(client.readToEnd().hasPrefix("HTTP/1.1 200 OK"))
        let second = Self.server(bind: "[::1]:\(port)")
        await #expect { try await second.start() } throws: { error in
            "\(error)".contains("[::1]:\(port)") && "\(error)".contains("in use")
        }
        let unresolvable = Self.server(bind: "no-such-host.invalid:0")
        await #expect { try await unresolvable.start() } throws: { "\($0)".contains("no-such-host.invalid") }
    }
}
