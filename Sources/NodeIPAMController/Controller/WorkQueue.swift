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

    /// Adds the key after `delay` (a timer, not a sleep in the caller).
    func add(_ key: String, after delay: Duration) {
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            self?.add(key)
        }
    }

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
