import Foundation
import Synchronization

/// Programmable failures for reliability tests: each rule matches requests by verb, resource, name and
/// namespace (nil matches anything) and fires for the next `count` matching requests.
public final class FaultInjector: Sendable {
    /// What a matched request gets.
    public enum Action: Sendable {
        /// Answer with this status (e.g. 500 InternalError, 409 Conflict, 429 TooManyRequests); the request is not applied.
        case status(code: Int, reason: String, message: String)
        /// Close the connection without answering; the request is not applied.
        case drop
        /// Apply the request normally, answer after a delay.
        case delay(milliseconds: Int64)
        /// Apply the write, then close the connection without answering (an ambiguous write).
        case applyThenDrop
        /// Answer 429 TooManyRequests (or another code, e.g. 503) with a `Retry-After` header and
        /// `details.retryAfterSeconds`, as kube-apiserver's max-in-flight and priority-and-fairness
        /// filters do; the request is not applied.
        case throttle(code: Int, retryAfterSeconds: Int)
        /// For watches: serve the watch, then end the stream after `afterEvents` events (not
        /// counting bookmarks); with `expire`, a 410 Expired ERROR event comes last, so the
        /// client must list again.
        case cutWatch(afterEvents: Int, expire: Bool)
    }

    /// One rule.
    public struct Rule: Sendable {
        public var verb: String?
        public var resource: String?
        public var name: String?
        public var namespace: String?
        /// Matches clients whose User-Agent starts with this (one replica, or the controller
        /// but not the test driving it).
        public var userAgent: String?
        public var remaining: Int
        public var action: Action
        public init(verb: String? = nil, resource: String? = nil, name: String? = nil, namespace: String? = nil, userAgent: String? = nil,
                    count: Int = 1, action: Action) {
            self.userAgent = userAgent
            self.verb = verb
            self.resource = resource
            self.name = name
            self.namespace = namespace
            self.remaining = count
            self.action = action
        }
    }

    private struct State {
        var rules: [Rule] = []
        var fired = 0
        var firedByAction: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds a rule; rules are tried in the order added.
    public func add(_ rule: Rule) {
        state.withLock { $0.rules.append(rule) }
    }

    /// Makes the next `count` writes (update/patch) of Leases fail with 409 Conflict.
    public func conflictLeaseWrites(count: Int = 1, name: String? = nil) {
        add(Rule(verb: "update", resource: "leases", name: name, count: count, action: .status(code: 409, reason: "Conflict", message: "")))
        add(Rule(verb: "patch", resource: "leases", name: name, count: count, action: .status(code: 409, reason: "Conflict", message: "")))
    }

    /// Removes the rules that match `predicate`.
    public func remove(where predicate: (Rule) -> Bool) {
        state.withLock { $0.rules.removeAll(where: predicate) }
    }

    /// Removes every rule.
    public func clear() {
        state.withLock { $0.rules.removeAll() }
    }

    /// How many requests met each kind of fault so far (`status 500`, `applyThenDrop`, ...).
    public var firedCounts: [String: Int] { state.withLock { $0.firedByAction } }

    /// How many requests a rule has failed so far.
    public var firedCount: Int { state.withLock { $0.fired } }

    func match(verb: String, resource: String, name: String?, namespace: String?, userAgent: String = "") -> Action? {
        state.withLock { state -> Action? in
            guard !state.rules.isEmpty else { return nil }
            for i in state.rules.indices {
                let r = state.rules[i]
                if let v = r.verb, v != verb { continue }
                if let res = r.resource, res != resource { continue }
                if let n = r.name, n != name { continue }
                if let ns = r.namespace, ns != namespace { continue }
                if let agent = r.userAgent, !userAgent.hasPrefix(agent) { continue }
                state.rules[i].remaining -= 1
                if state.rules[i].remaining <= 0 { state.rules.remove(at: i) }
                state.fired += 1
                state.firedByAction[r.action.name, default: 0] += 1
                return r.action
            }
            return nil
        }
    }
}

extension FaultInjector.Rule {
    /// Builds a rule from JSON (the tool's `--fault` and `POST /_local/faults`):
    /// `{"verb","resource","name","namespace","count","code","reason","message","action","delayMilliseconds",
    /// "retryAfterSeconds","afterEvents","expire"}`; `action` is status, drop, delay, applyThenDrop,
    /// throttle or cutWatch.
    public init(json: JSON) throws(StatusError) {
        let action: FaultInjector.Action
        switch json["action"]?.stringValue ?? "status" {
        case "drop": action = .drop
        case "applyThenDrop": action = .applyThenDrop
        case "delay": action = .delay(milliseconds: json["delayMilliseconds"]?.intValue ?? 1000)
        case "throttle":
            action = .throttle(code: Int(json["code"]?.intValue ?? 429), retryAfterSeconds: Int(json["retryAfterSeconds"]?.intValue ?? 1))
        case "cutWatch":
            action = .cutWatch(afterEvents: Int(json["afterEvents"]?.intValue ?? 0), expire: json["expire"] == .bool(true))
        case "status":
            let code = Int(json["code"]?.intValue ?? 500)
            let reason = json["reason"]?.stringValue ?? FaultInjector.defaultReason(code)
            action = .status(code: code, reason: reason, message: json["message"]?.stringValue ?? "injected fault")
        case let other: throw StatusError.badRequest("unknown fault action \(other)")
        }
        self.init(verb: json["verb"]?.stringValue, resource: json["resource"]?.stringValue, name: json["name"]?.stringValue,
                  namespace: json["namespace"]?.stringValue, userAgent: json["userAgent"]?.stringValue, count: Int(json["count"]?.intValue ?? 1),
                  action: action)
    }
}

extension FaultInjector.Action {
    /// A short name of the kind of fault, for counts.
    public var name: String {
        switch self {
        case .status(let code, _, _): return "status \(code)"
        case .drop: return "drop"
        case .delay: return "delay"
        case .applyThenDrop: return "applyThenDrop"
        case .throttle(let code, _): return "throttle \(code)"
        case .cutWatch(_, let expire): return expire ? "cutWatch with 410" : "cutWatch"
        }
    }
}

extension FaultInjector {
    static func defaultReason(_ code: Int) -> String {
        switch code {
        case 409: return "Conflict"
        case 429: return "TooManyRequests"
        case 500: return "InternalError"
        case 503: return "ServiceUnavailable"
        case 504: return "Timeout"
        case 404: return "NotFound"
        case 403: return "Forbidden"
        default: return "Unknown"
        }
    }
}
