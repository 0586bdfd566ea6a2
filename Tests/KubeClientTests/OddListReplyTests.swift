import Foundation
import KubeClient
import Testing

// A LIST answer with an absurd remainingItemCount (a hint the client sizes its buffer from)
// is read, not trusted: Int.max once overflowed the typed listAll into a crash.

/// Serves one canned HTTP answer per connection on 127.0.0.1 (an API server's odd reply).
private final class CannedServer: Sendable {
    let port: Int
    private let fd: Int32

    init(body: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard ok else {
            close(listener)
            throw ConfigurationError("canned server: cannot listen on 127.0.0.1")
        }
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let answer = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
        Thread {
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                var request: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !request.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
                    let count = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
                    if count <= 0 { break }
                    request += buffer[0..<count]
                }
                _ = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                close(connection)
            }
        }.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

@Test(arguments: ["9223372036854775807", "-5", "0"])
func aListWithAnOddRemainingItemCountIsReadWhole(remaining: String) async throws {
    let body = #"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"7","remainingItemCount":\#(remaining)},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#
    let server = try CannedServer(body: body)
    defer { server.stop() }
    let client = KubernetesClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(server.port)"), qps: 0)
    let typed = try await client.listAll(.nodes, as: Node.self) { $0.metadata.name ?? "" }
    #expect(typed.items == ["a", "b"] && typed.resourceVersion == "7")
    let projected = try await client.listAll(.nodes, projection: .nodeSummary)
    #expect(projected.items.map(\.name) == ["a", "b"] && projected.resourceVersion == "7")
}
