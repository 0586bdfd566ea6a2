import Foundation
import Synchronization

/// A token bucket shared by all requests of a client: `qps` tokens per second, at most
/// `burst` saved up. Callers that find no token wait their turn in arrival order.
public final class TokenBucket: Sendable {
    public let qps: Double
    public let burst: Int
    private let state: Mutex<(tokens: Double, last: ContinuousClock.Instant)>

    /// `qps <= 0` disables limiting.
    public init(qps: Double, burst: Int) {
        self.qps = qps
        self.burst = max(1, burst)
        self.state = Mutex((tokens: Double(max(1, burst)), last: .now))
    }

    /// Takes a token and returns how long the caller must wait before using it.
    public func reserve(now: ContinuousClock.Instant = .now) -> Duration {
        guard qps > 0 else { return .zero }
        let (qps, burst) = (self.qps, Double(self.burst))
        return state.withLock { state in
            let elapsed = state.last.duration(to: now)
            if elapsed > .zero {
                state.tokens = min(burst, state.tokens + elapsed.inSeconds * qps)
                state.last = now
            }
            state.tokens -= 1
            if state.tokens >= 0 { return .zero }
            return .nanoseconds(Int64((-state.tokens / qps) * 1e9))
        }
    }

    /// Waits for a token (cancellable).
    public func acquire() async throws {
        let wait = reserve()
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
