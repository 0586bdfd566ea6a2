import Synchronization

/// Keeps a leader's writes inside the time its Lease is known to be valid.
///
/// The elector extends the fence to `start + renewDeadline` after each successful renewal,
/// where `start` is when that renewal's write was sent (before the server stored it). Other
/// candidates wait a whole `leaseDuration` from when they see the renewed record, so a write
/// that leaves this process before the fence closes reaches the server before anyone else
/// can lead, as long as it travels in less than `leaseDuration - renewDeadline`. The clock is
/// `ContinuousClock` (CLOCK_BOOTTIME on Linux), which keeps counting while the process is
/// stopped, so a paused leader finds its fence closed when it resumes.
public final class WriteFence: Sendable {
    private let validUntil = Mutex<ContinuousClock.Instant?>(nil)

    public init() {}

    /// Opens (or keeps open) the fence until `instant`; never moves it backwards.
    public func extend(to instant: ContinuousClock.Instant) {
        validUntil.withLock { current in
            if current.map({ instant > $0 }) ?? true { current = instant }
        }
    }

    /// Closes the fence: no write is sent until the next `extend`.
    public func close() {
        validUntil.withLock { $0 = nil }
    }

    /// Until when writes may leave; nil while closed.
    public var deadline: ContinuousClock.Instant? {
        validUntil.withLock { current in
            guard let until = current, ContinuousClock.now < until else { return nil }
            return until
        }
    }
}
