import Synchronization

/// A flag readable from any thread, and awaitable until it is set.
public final class ReadinessFlag: Sendable {
    private struct State {
        var current = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var value: Bool { state.withLock { $0.current } }

    public func set(_ value: Bool) {
        let toResume = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.current = value
            guard value else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in toResume { waiter.resume() }
    }

    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.current { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
