import Foundation
import Synchronization

/// A deduplicating work queue with client-go's guarantees: a key is never processed by two
/// workers at once; a key added while being processed is processed again afterwards;
/// failures are retried with per-key exponential backoff.
final class WorkQueue: Sendable {
    private typealias Waiter = CheckedContinuation<String?, Never>

    private struct State {
        var queue: [String] = []
        var head = 0
        var dirty: Set<String> = []
        var processing: Set<String> = []
        var failures: [String: Int] = [:]
        /// When each delayed key is due (the earliest pending timer per key).
        var timers: [String: ContinuousClock.Instant] = [:]
        var waiters: [Waiter] = []
        var shuttingDown = false

        /// Hands `key` to a waiting worker, or queues it. Call with `key` dirty and not processing.
        mutating func dispatch(_ key: String) -> Waiter? {
            if !waiters.isEmpty {
                dirty.remove(key)
                processing.insert(key)
                return waiters.removeFirst()
            }
            queue.append(key)
            return nil
        }

        mutating func take() -> String? {
            guard head < queue.count else { return nil }
            let key = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            dirty.remove(key)
            processing.insert(key)
            return key
        }
    }

    private let state = Mutex(State())
    let baseDelay: Duration
    let maxDelay: Duration

    init(baseDelay: Duration = .milliseconds(5), maxDelay: Duration = .seconds(300)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    func add(_ key: String) {
        let waiter = state.withLock { state -> Waiter? in
            guard !state.shuttingDown, !state.dirty.contains(key) else { return nil }
            state.dirty.insert(key)
            if state.processing.contains(key) { return nil }
            return state.dispatch(key)
        }
        waiter?.resume(returning: key)
    }

    func add<S: Sequence>(contentsOf keys: S) where S.Element == String {
        for key in keys { add(key) }
    }

    /// Adds the key after `delay` (a timer, not a sleep in the caller). At most one timer
    /// per key: a key already due sooner is left as it is, so a burst of calls (a status
    /// refresh per allocated node, say) costs one timer, not one task per call.
    func add(_ key: String, after delay: Duration) {
        guard delay > .zero else { return add(key) }
        let due = ContinuousClock.now.advanced(by: delay)
        let start = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            if let pending = state.timers[key], pending <= due { return false }
            state.timers[key] = due
            return true
        }
        guard start else { return }
        Task { [weak self] in
            try? await Task.sleep(until: due)
            self?.timerFired(key, due: due)
        }
    }

    private func timerFired(_ key: String, due: ContinuousClock.Instant) {
        // A timer replaced by an earlier one has nothing left to do.
        let current = state.withLock { state -> Bool in
            guard state.timers[key] == due else { return false }
            state.timers[key] = nil
            return true
        }
        if current { add(key) }
    }

    /// Keys waiting on a timer (tests, metrics).
    var delayedCount: Int { state.withLock { $0.timers.count } }

    /// Retries a failed key after its backoff (5 ms doubling, capped).
    func addRateLimited(_ key: String) {
        let attempts = state.withLock { state -> Int in
            state.failures[key, default: 0] += 1
            return state.failures[key]!
        }
        let factor = pow(2.0, Double(min(attempts - 1, 30)))
        add(key, after: min(baseDelay * factor, maxDelay))
    }

    func forget(_ key: String) {
        _ = state.withLock { $0.failures.removeValue(forKey: key) }
    }

    func retries(_ key: String) -> Int { state.withLock { $0.failures[key] ?? 0 } }

    /// The next key (waits); nil after shutdown.
    func get() async -> String? {
        await withCheckedContinuation { (continuation: Waiter) in
            let key = state.withLock { state -> String?? in
                if let key = state.take() { return .some(key) }
                if state.shuttingDown { return .some(nil) }
                state.waiters.append(continuation)
                return .none
            }
            if let key { continuation.resume(returning: key) }
        }
    }

    /// Marks the key processed; re-queues it if it was added meanwhile.
    func done(_ key: String) {
        let waiter = state.withLock { state -> Waiter? in
            state.processing.remove(key)
            guard state.dirty.contains(key) else { return nil }
            return state.dispatch(key)
        }
        waiter?.resume(returning: key)
    }

    var count: Int { state.withLock { $0.queue.count - $0.head } }

    func shutdown() {
        let pending = state.withLock { state -> [Waiter] in
            state.shuttingDown = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in pending { waiter.resume(returning: nil) }
    }
}
