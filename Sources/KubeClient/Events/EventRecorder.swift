import Foundation
import Synchronization

/// Records core/v1 Events with aggregation and a rate limit, so retries never produce
/// storms: one Event object per (object, type, reason, message), whose count and
/// lastTimestamp are updated on repeats; per object and reason at most `burst` writes,
/// then one per `refill`.
public final class EventRecorder: Sendable {
    public enum EventType: String, Sendable { case normal = "Normal", warning = "Warning" }

    /// What an event is about.
    public struct Subject: Sendable, Hashable {
        public var apiVersion: String
        public var kind: String
        public var name: String
        public var namespace: String?
        public var uid: String?

        public init(apiVersion: String, kind: String, name: String, namespace: String? = nil, uid: String? = nil) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.uid = uid
        }
    }

    private struct AggregateKey: Hashable {
        var subject: Subject
        var type: String
        var reason: String
        var message: String
    }

    private struct Aggregate {
        var eventName: String
        var namespace: String
        var count: Int
        var firstTimestamp: String
    }

    private struct State {
        var aggregates: [AggregateKey: Aggregate] = [:]
        var buckets: [String: TokenBucket] = [:]
        var written = 0
        var suppressed = 0
    }

    private let client: KubernetesClient
    private let component: String
    private let host: String?
    private let burst: Int
    private let refill: Duration
    private let state = Mutex(State())

    /// `component` becomes `source.component` (the reference uses `multiCIDRRangeAllocator`).
    public init(client: KubernetesClient, component: String, host: String? = nil, burst: Int = 25, refill: Duration = .seconds(300)) {
        self.client = client
        self.component = component
        self.host = host
        self.burst = burst
        self.refill = refill
    }

    /// Events written and events dropped by the rate limit so far.
    public var counts: (written: Int, suppressed: Int) { state.withLock { ($0.written, $0.suppressed) } }

    /// Records an event; never throws (events are best effort) and returns whether it was written.
    @discardableResult
    public func record(_ subject: Subject, type: EventType, reason: String, message: String) async -> Bool {
        let rateKey = "\(subject.kind)/\(subject.namespace ?? "")/\(subject.name)/\(reason)"
        let (refill, burst) = (self.refill, self.burst)
        let allowed: Bool = state.withLock { state in
            let bucket = state.buckets[rateKey] ?? TokenBucket(qps: 1.0 / refill.inSeconds, burst: burst)
            state.buckets[rateKey] = bucket
            let ok = bucket.reserve() == .zero
            if !ok { state.suppressed += 1 }
            return ok
        }
        guard allowed else { return false }
        let key = AggregateKey(subject: subject, type: type.rawValue, reason: reason, message: message)
        let timestamp = KubeTime.seconds(Date())
        // Cluster-scoped objects' events live in "default", as client-go does.
        let namespace = subject.namespace ?? "default"
        let existing = state.withLock { $0.aggregates[key] }
        if let existing {
            let count = existing.count + 1
            let patch = #"{"count":\#(count),"lastTimestamp":"\#(timestamp)"}"#
            do {
                let _: Event = try await client.patch(.coreEvents, namespace: existing.namespace, name: existing.eventName, .merge(Data(patch.utf8)))
                state.withLock { state in
                    state.aggregates[key]?.count = count
                    state.written += 1
                }
                return true
            } catch let error as APIError where error.isNotFound {
                // Expired or deleted: start a new aggregate below.
                _ = state.withLock { $0.aggregates.removeValue(forKey: key) }
            } catch {
                return false
            }
        }
        let name = "\(subject.name).\(String(UInt64(Date().timeIntervalSince1970 * 1_000_000_000), radix: 16))"
        let event = Event(metadata: ObjectMeta(name: name, namespace: namespace),
                          involvedObject: .init(apiVersion: subject.apiVersion, kind: subject.kind, name: subject.name,
                                                namespace: subject.namespace, uid: subject.uid),
                          reason: reason, message: message, type: type.rawValue, count: 1,
                          firstTimestamp: timestamp, lastTimestamp: timestamp, component: component, host: host)
        do {
            _ = try await client.create(.coreEvents, namespace: namespace, event)
            state.withLock { state in
                state.aggregates[key] = Aggregate(eventName: name, namespace: namespace, count: 1, firstTimestamp: timestamp)
                state.written += 1
            }
            return true
        } catch {
            return false
        }
    }
}
