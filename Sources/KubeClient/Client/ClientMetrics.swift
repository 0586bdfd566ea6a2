import Foundation
import Synchronization

/// Counts of requests by verb and status code, and their latency; read by the metrics
/// endpoint (through `observe`, or a `snapshot`). Status code 0 means the request failed
/// without an HTTP answer. KubeClient stays free of any metrics library: the application
/// forwards each request to the metrics backend it chose.
public final class ClientMetrics: Sendable {
    public struct Key: Hashable, Sendable {
        public let verb: String
        public let code: Int

        public init(verb: String, code: Int) {
            self.verb = verb
            self.code = code
        }
    }

    /// Upper bounds of the latency histogram buckets, in seconds.
    public static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public struct Snapshot: Sendable {
        public var requests: [Key: UInt64]
        /// Cumulative counts per bucket of `latencyBuckets` (last = +Inf), per verb.
        public var latencyBuckets: [String: [UInt64]]
        public var latencySum: [String: Double]
    }

    /// Sees every request as it completes: verb, status code (0 = no answer), seconds.
    public typealias Observer = @Sendable (_ verb: String, _ code: Int, _ seconds: Double) -> Void

    private struct State {
        var snapshot = Snapshot(requests: [:], latencyBuckets: [:], latencySum: [:])
        var observers: [Observer] = []

        mutating func record(verb: String, code: Int, seconds: Double) {
            snapshot.requests[Key(verb: verb, code: code), default: 0] += 1
            // Updated in place through one lookup (a copy taken out of the dictionary would be
            // copied again on write).
            let bounds = ClientMetrics.latencyBuckets
            func count(_ buckets: inout [UInt64]) {
                for (index, bound) in bounds.enumerated() where seconds <= bound { buckets[index] += 1 }
                buckets[bounds.count] += 1
            }
            count(&snapshot.latencyBuckets[verb, default: Array(repeating: 0, count: bounds.count + 1)])
            snapshot.latencySum[verb, default: 0] += seconds
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Calls `observer` for every request completed from now on.
    public func observe(_ observer: @escaping Observer) {
        state.withLock { $0.observers.append(observer) }
    }

    func record(verb: String, code: Int, seconds: Double) {
        let observers = state.withLock { state -> [Observer] in
            state.record(verb: verb, code: code, seconds: seconds)
            return state.observers
        }
        for observer in observers { observer(verb, code, seconds) }
    }

    public func snapshot() -> Snapshot {
        state.withLock { $0.snapshot }
    }
}
