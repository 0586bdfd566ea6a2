import Foundation

/// A flag readable from any thread, and awaitable until it is set.
public final class ReadinessFlag: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var current = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    public var value: Bool { lock.withLock { current } }

    public func set(_ value: Bool) {
        let toResume: [CheckedContinuation<Void, Never>] = lock.withLock {
            current = value
            guard value else { return [] }
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in toResume { waiter.resume() }
    }

    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready: Bool = lock.withLock {
                if current { return true }
                waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
