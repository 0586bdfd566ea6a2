import Foundation
import Synchronization

/// Lease-based leader election with client-go's semantics.
public struct LeaderElectionConfiguration: Sendable {
    public var namespace: String
    public var name: String
    public var identity: String
    /// How long a lease is valid after its last renewal, as judged by other candidates.
    public var leaseDuration: Duration
    /// A leader that has not renewed for this long stops leading (must be < leaseDuration).
    public var renewDeadline: Duration
    /// Time between attempts to acquire or renew.
    public var retryPeriod: Duration
    /// Give the lease up (holder cleared) when leading ends by cancellation.
    public var releaseOnCancel: Bool

    public init(namespace: String, name: String, identity: String, leaseDuration: Duration = .seconds(15),
                renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2), releaseOnCancel: Bool = true) {
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
        self.releaseOnCancel = releaseOnCancel
    }
}

/// Why leading ended.
public enum LeadershipEnd: Sendable, Hashable {
    /// The caller cancelled (shutdown); the lease was released if configured.
    case cancelled
    /// Renewals failed for longer than the renew deadline: another candidate may take over.
    case lostLease
    /// `lead` returned by itself (the work failed or finished); the lease was released if
    /// configured, so another candidate can take over at once.
    case leadEnded
}

/// Set once the `lead` closure has returned.
private final class LeadReturned: Sendable {
    private let returned = Mutex(false)
    func set() { returned.withLock { $0 = true } }
    var value: Bool { returned.withLock { $0 } }
}

/// Acquires a Lease and keeps renewing it; runs `lead` while holding it.
public final class LeaderElector: Sendable {
    public let configuration: LeaderElectionConfiguration
    private let client: KubernetesClient
    private let onNewLeader: @Sendable (String) -> Void
    private let onFailure: @Sendable (any Error, Int) -> Void
    private let observed = Mutex(ObservedState())
    /// Open while the Lease is known valid; the leader's write client checks it.
    public let fence: WriteFence

    private struct ObservedState {
        var record: Lease.Spec?
        var resourceVersion: String?
        /// Local clock time when the record last changed (client-go's observedTime).
        var observedAt: ContinuousClock.Instant?
        var leader: String?
        var isLeader = false
        var hasLed = false
        /// Attempts in a row that failed for another reason than a live holder.
        var failures = 0
    }

    /// `client` should be used for the Lease alone (kube-controller-manager gives leader
    /// election its own client): renewals must not queue behind the controller's writes.
    /// `onFailure` gets every failed attempt (an unreachable server, refused credentials,
    /// 5xx) with the number of failures in a row, so that the caller can say so at once.
    public init(client: KubernetesClient, configuration: LeaderElectionConfiguration, fence: WriteFence = WriteFence(),
                onFailure: @escaping @Sendable (any Error, Int) -> Void = { _, _ in },
                onNewLeader: @escaping @Sendable (String) -> Void = { _ in }) {
        self.fence = fence
        self.onFailure = onFailure
        self.client = client
        self.configuration = configuration
        self.onNewLeader = onNewLeader
    }

    /// True while this process holds the lease.
    public var isLeader: Bool { observed.withLock { observed in observed.isLeader } }

    /// True once this process has held the lease (so that a release can be reported truly).
    public var hasLed: Bool { observed.withLock { observed in observed.hasLed } }

    /// True for a healthy standby: another identity holds the lease and this process saw it
    /// renewed within the lease duration (so the API server answers and a leader is alive).
    public var followsActiveLeader: Bool {
        observed.withLock { observed in
            guard !observed.isLeader, let holder = observed.record?.holderIdentity, !holder.isEmpty, holder != configuration.identity,
                  let observedAt = observed.observedAt else { return false }
            return observedAt.duration(to: .now) < configuration.leaseDuration
        }
    }

    /// Blocks until the lease is acquired, runs `lead` (cancelled when the lease is lost),
    /// and returns why leading ended. Cancelling the calling task ends leading and releases
    /// the lease when `releaseOnCancel` is set.
    public func run(lead: @escaping @Sendable () async -> Void) async -> LeadershipEnd {
        // Acquire.
        var lastRenewal = ContinuousClock.now
        while !Task.isCancelled {
            if let sent = await tryAcquireOrRenew() {
                lastRenewal = sent
                break
            }
            try? await Task.sleep(for: configuration.retryPeriod * Double.random(in: 1.0...1.2))
        }
        if Task.isCancelled { return .cancelled }
        observed.withLock { observed in
            observed.isLeader = true
            observed.hasLed = true
        }
        fence.extend(to: lastRenewal + configuration.renewDeadline)
        let leadReturned = LeadReturned()
        let work = Task {
            await lead()
            leadReturned.set()
        }
        // Renew until cancelled or the renew deadline passes without a successful renewal.
        var end = LeadershipEnd.cancelled
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.retryPeriod)
            if Task.isCancelled { break }
            if leadReturned.value {
                end = .leadEnded
                break
            }
            if let sent = await tryAcquireOrRenew() {
                lastRenewal = sent
                fence.extend(to: sent + configuration.renewDeadline)
            } else if lastRenewal.duration(to: .now) >= configuration.renewDeadline {
                end = .lostLease
                break
            }
        }
        // Stop writing before anyone else can start: the fence closes now (it had closed by
        // itself already if the deadline passed), and the work ends before we return.
        fence.close()
        observed.withLock { observed in observed.isLeader = false }
        work.cancel()
        await work.value
        if end != .lostLease && configuration.releaseOnCancel {
            // A fresh task: the caller's cancellation must not cancel the release itself.
            await Task { await self.release() }.value
        }
        return end
    }

    private func now() -> String { KubeTime.micro(Date()) }

    /// One attempt. When this process holds the lease afterwards, returns when the write
    /// that took or renewed it was sent (the server stored it later than that); else nil.
    func tryAcquireOrRenew() async -> ContinuousClock.Instant? {
        let leaseSeconds = Int(configuration.leaseDuration.components.seconds)
        let current: Lease
        do {
            current = try await client.get(.leases, namespace: configuration.namespace, name: configuration.name, as: Lease.self)
        } catch let error as APIError where error.isNotFound {
            let lease = Lease(metadata: ObjectMeta(name: configuration.name, namespace: configuration.namespace),
                              spec: Lease.Spec(holderIdentity: configuration.identity, leaseDurationSeconds: leaseSeconds,
                                               acquireTime: now(), renewTime: now(), leaseTransitions: 0))
            let sent = ContinuousClock.now
            do {
                let created = try await client.create(.leases, namespace: configuration.namespace, lease)
                observe(created)
                return sent
            } catch {
                failed(error)
                return nil
            }
        } catch {
            failed(error)
            return nil
        }
        observe(current)
        let spec = current.spec ?? Lease.Spec()
        let holder = spec.holderIdentity ?? ""
        let (observedAt, isLeader) = observed.withLock { observed in (observed.observedAt, observed.isLeader) }
        let duration = spec.leaseDurationSeconds.map { Duration.seconds($0) } ?? configuration.leaseDuration
        if !holder.isEmpty && holder != configuration.identity, let observedAt, observedAt.duration(to: .now) < duration {
            return nil
        }
        var updated = current
        var newSpec = spec
        if !isLeader {
            // Taking the lease (from another holder, a released lease, or after a restart).
            newSpec.acquireTime = now()
            newSpec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1
        }
        newSpec.holderIdentity = configuration.identity
        newSpec.leaseDurationSeconds = leaseSeconds
        newSpec.renewTime = now()
        updated.spec = newSpec
        let sent = ContinuousClock.now
        do {
            let written = try await client.update(.leases, namespace: configuration.namespace, name: configuration.name, updated)
            observe(written)
            return sent
        } catch {
            failed(error)
            return nil
        }
    }

    /// A conflict is another candidate's write, not a failure; anything else is reported.
    private func failed(_ error: any Error) {
        if let api = error as? APIError, api.isConflict || api.isAlreadyExists { return }
        if Task.isCancelled { return }
        let count = observed.withLock { observed in
            observed.failures += 1
            return observed.failures
        }
        onFailure(error, count)
    }

    private func observe(_ lease: Lease) {
        let holder = lease.spec?.holderIdentity ?? ""
        let changed: Bool = observed.withLock { observed in
            observed.failures = 0
            let changed = observed.record != lease.spec
            if changed {
                observed.record = lease.spec
                observed.observedAt = .now
            }
            observed.resourceVersion = lease.metadata.resourceVersion
            let newLeader = !holder.isEmpty && holder != observed.leader
            if newLeader { observed.leader = holder }
            return newLeader
        }
        if changed { onNewLeader(holder) }
    }

    /// Clears the holder so a standby can take over at its next retry.
    private func release() async {
        guard var lease = try? await client.get(.leases, namespace: configuration.namespace, name: configuration.name, as: Lease.self),
              lease.spec?.holderIdentity == configuration.identity else { return }
        lease.spec?.holderIdentity = ""
        lease.spec?.leaseDurationSeconds = 1
        lease.spec?.renewTime = now()
        _ = try? await client.update(.leases, namespace: configuration.namespace, name: configuration.name, lease)
    }
}
