import Foundation

/// A deduplicating work queue with client-go's guarantees: a key is never processed by two
/// workers at once; a key added while being processed is processed again afterwards;
/// failures are retried with per-key exponential backoff.
final class WorkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var queue: [String] = []
    private var head = 0
    private var dirty: Set<String> = []
    private var processing: Set<String> = []
    private var failures: [String: Int] = [:]
    /// When each delayed key is due (the earliest pending timer per key).
    private var timers: [String: ContinuousClock.Instant] = [:]
    private var waiters: [CheckedContinuation<String?, Never>] = []
    private var shuttingDown = false
    let baseDelay: Duration
    let maxDelay: Duration

    init(baseDelay: Duration = .milliseconds(5), maxDelay: Duration = .seconds(300)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    func add(_ key: String) {
        let waiter: CheckedContinuation<String?, Never>? = lock.withLock {
            guard !shuttingDown, !dirty.contains(key) else { return nil }
            dirty.insert(key)
            if processing.contains(key) { return nil }
            if !waiters.isEmpty {
                dirty.remove(key)
                processing.insert(key)
                return waiters.removeFirst()
            }
            queue.append(key)
            return nil
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
        let start: Bool = lock.withLock {
            guard !shuttingDown else { return false }
            if let pending = timers[key], pending <= due { return false }
            timers[key] = due
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
        let current: Bool = lock.withLock {
            guard timers[key] == due else { return false }
            timers[key] = nil
            return true
        }
        if current { add(key) }
    }

    /// Keys waiting on a timer (tests, metrics).
    var delayedCount: Int { lock.withLock { timers.count } }

    /// Retries a failed key after its backoff (5 ms doubling, capped).
    func addRateLimited(_ key: String) {
        let attempts: Int = lock.withLock {
            failures[key, default: 0] += 1
            return failures[key]!
        }
        let factor = pow(2.0, Double(min(attempts - 1, 30)))
        add(key, after: min(baseDelay * factor, maxDelay))
    }

    func forget(_ key: String) {
        _ = lock.withLock { failures.removeValue(forKey: key) }
    }

    func retries(_ key: String) -> Int { lock.withLock { failures[key] ?? 0 } }

    /// The next key (waits); nil after shutdown.
    func get() async -> String? {
        await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let key: String?? = lock.withLock {
                if head < queue.count {
                    let key = queue[head]
                    head += 1
                    if head > 1024 && head * 2 > queue.count {
                        queue.removeFirst(head)
                        head = 0
                    }
                    dirty.remove(key)
                    processing.insert(key)
                    return .some(key)
                }
                if shuttingDown { return .some(nil) }
                waiters.append(continuation)
                return .none
            }
            if let key { continuation.resume(returning: key) }
        }
    }

    /// Marks the key processed; re-queues it if it was added meanwhile.
    func done(_ key: String) {
        let waiter: (CheckedContinuation<String?, Never>, String)? = lock.withLock {
            processing.remove(key)
            guard dirty.contains(key) else { return nil }
            if !waiters.isEmpty {
                dirty.remove(key)
                processing.insert(key)
                return (waiters.removeFirst(), key)
            }
            queue.append(key)
            return nil
        }
        if let (continuation, key) = waiter { continuation.resume(returning: key) }
    }

    var count: Int { lock.withLock { queue.count - head } }

    func shutdown() {
        let pending: [CheckedContinuation<String?, Never>] = lock.withLock {
            shuttingDown = true
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in pending { waiter.resume(returning: nil) }
    }
}
