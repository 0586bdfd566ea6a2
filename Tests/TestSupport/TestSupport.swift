import Foundation
import KubeClient
import LocalAPIServer

/// Starts a LocalAPIServer, hands a client for it to `body`, stops both afterwards.
public func withServer<R>(_ configuration: LocalAPIServer.Configuration = .init(), qps: Double = 0, burst: Int = 100,
                   _ body: (LocalAPIServer, KubernetesClient) async throws -> R) async throws -> R {
    let server = try await LocalAPIServer.start(configuration)
    let path = try writeTemporary(server.kubeconfig(), name: "kubeconfig")
    let client = KubernetesClient(configuration: try ClientConfiguration.resolve(kubeconfigPath: path, environment: [:]), qps: qps, burst: burst)
    do {
        let result = try await body(server, client)
        client.shutdown()
        try await server.stop()
        return result
    } catch {
        client.shutdown()
        try? await server.stop()
        throw error
    }
}

/// A kubeconfig for a LocalAPIServer that has been stopped: every request fails to connect
/// (an API server that is down or unreachable).
public func kubeconfigOfStoppedServer() async throws -> String {
    for _ in 0..<20 {
        let server = try await LocalAPIServer.start()
        let path = try writeTemporary(server.kubeconfig(), name: "kubeconfig")
        try await server.stop()
        // Hold the port, bound but not listening, for the rest of the test process: connecting
        // is refused, and no server another test starts in parallel can take the port (one did,
        // and the "unreachable" server answered with a reset instead of a refusal).
        if holdClosedPort(server.port) { return path }
    }
    throw ConfigurationError("test setup: no port of a stopped server could be held closed")
}

/// Binds (without listening) a TCP socket to 127.0.0.1:`port` and keeps it open; false when
/// the port is taken already.
private func holdClosedPort(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if bound != 0 { close(fd) }
    return bound == 0
}

public func writeTemporary(_ text: String, name: String, executable: Bool = false) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeclient-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent(name).path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
    return path
}

/// Collects values pushed from callbacks and lets a test await the next one that matches.
public final class Collector<Value: Sendable>: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var values: [Value] = []
    private var consumed = 0
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    public func push(_ value: Value) {
        let toResume: [CheckedContinuation<Void, Never>] = lock.withLock {
            values.append(value)
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for waiter in toResume { waiter.resume() }
    }

    public var all: [Value] { lock.withLock { values } }

    private func take(_ predicate: (Value) -> Bool) -> Value? {
        lock.withLock {
            while consumed < values.count {
                let value = values[consumed]
                consumed += 1
                if predicate(value) { return value }
            }
            return nil
        }
    }

    /// Waits for the next value matching `predicate`; `timeout` is a safety net so a broken
    /// build fails instead of hanging, not a synchronisation.
    public func next(timeout: Duration = .seconds(30), where predicate: @escaping @Sendable (Value) -> Bool) async throws -> Value {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let value = take(predicate) { return value }
            if ContinuousClock.now >= deadline { throw TimedOut() }
            let id = UUID()
            let timer = Task { [weak self] in
                try? await Task.sleep(until: deadline)
                self?.wake(id)
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready: Bool = lock.withLock {
                    if consumed < values.count || ContinuousClock.now >= deadline { return true }
                    waiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
            timer.cancel()
        }
    }

    private func wake(_ id: UUID) {
        let waiter = lock.withLock { waiters.removeValue(forKey: id) }
        waiter?.resume()
    }

    public struct TimedOut: Error {}
}
