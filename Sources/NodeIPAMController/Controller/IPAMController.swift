import ClusterCIDRAPI
import Foundation
import KubeClient
import Logging
import MultiCIDR
import Synchronization

/// What the node informer keeps per node: a projection, never the whole object.
struct NodeView: Sendable, Equatable {
    var name: String
    var uid: String
    /// Interned: the strings are shared between nodes (~200 bytes per node instead of ~3 KB).
    var labels: LabelSet
    var podCIDRs: [String]
    var deleting: Bool

    init(_ node: Node) {
        self.init(NodeSummary(node))
    }

    init(_ node: NodeSummary) {
        name = node.name
        uid = node.uid
        labels = node.labels
        podCIDRs = node.podCIDRs
        deleting = node.deletionTimestamp != nil
    }

    /// Reads a NodeView straight from a Node's JSON, skipping its status.
    static let decoder = ProjectionDecoder.nodeSummary.map(NodeView.init)

    var attributes: NodeAttributes { NodeAttributes(name: name, labels: labels.dictionary) }
}

/// Everything the controller needs to be told once.
struct ControllerConfiguration: Sendable {
    var workers = 8
    /// `--cluster-cidr` and mask sizes: create `default-cluster-cidr` when absent.
    var clusterCIDRs: [String] = []
    var nodeMaskSizeIPv4 = 24
    var nodeMaskSizeIPv6 = 64
    /// `--service-cluster-ip-range`: never handed out.
    var serviceCIDRs: [String] = []
    /// `--exclude-cidrs`: never handed out either.
    var excludeCIDRs: [String] = []
    /// `--release-cooldown`: a released range stays out of allocation this long (zero: off).
    var releaseCooldown: Duration = .zero
    /// Timeout of one node write.
    var writeTimeout: Duration = .seconds(10)
    /// A pool's status is written this long after the change that calls for it...
    var statusDelay: Duration = .milliseconds(500)
    /// ...and at most once per this interval while changes keep coming (allocation storms
    /// coalesce into a few writes that leave the request budget to node writes).
    var statusInterval: Duration = .milliseconds(500)

    /// The status interval for a client limited to `qps` requests/s (0 = unlimited): at
    /// most one status write per pool for every 200 requests the limit allows.
    static func statusInterval(qps: Double, minimum: Duration = .milliseconds(500)) -> Duration {
        qps > 0 ? max(minimum, .milliseconds(Int64(200_000 / qps))) : minimum
    }
}

/// The controller: moves data between the API server and the allocation engine. Decisions
/// are made inside this actor; API writes happen at suspension points with the engine
/// already holding the reservation, so concurrent workers never hand out a range twice.
public actor IPAMController {
    let client: KubernetesClient
    let configuration: ControllerConfiguration
    let recorder: EventRecorder
    let metrics: any ControllerMetrics
    let logger: Logger
    nonisolated let nodeQueue = WorkQueue()
    /// Pools retry failed writes (finalizer, status) every 5 s at most: status converges within
    /// a bounded time after the API server recovers, however long it failed.
    nonisolated let poolQueue = WorkQueue(maxDelay: .seconds(5))
    nonisolated let nodeInformer: Informer<Node, NodeView>
    nonisolated let poolInformer: Informer<ClusterCIDR, ClusterCIDR>
    private nonisolated let readiness = ReadinessFlag()

    private var engine = AllocationEngine()
    /// Released ranges still cooling (`--release-cooldown`), by pool, as in each pool's status.
    private var cooldown = ReleaseCooldown()
    /// Nodes waiting for a pool (no match, or all full); woken when pools change or ranges free up.
    private var pending: Set<String> = []
    /// Last problem reported per node, so unchanged problems do not produce new log lines.
    private var reported: [String: String] = [:]
    /// Pool name → why its current spec is invalid, for as long as it is (what the pool_invalid
    /// metric shows); a Warning is written only when the message changes.
    private var invalidPools: [String: String] = [:] { didSet { publishInvalidPools() } }
    /// Pool name → the spec accepted for it, as written in its annotation: what its ranges
    /// and counts follow, whatever its spec says now.
    private var acceptedSpecs: [String: AcceptedClusterCIDRSpec] = [:]
    /// Pool name → the change of its spec last reported (a Warning once per change).
    private var specChanges: [String: ClusterCIDRSpecChange] = [:] { didSet { publishInvalidPools() } }
    /// Node name → what its podCIDRs overlap (other nodes, excluded ranges) when last adopted;
    /// a node leaves the table when it goes or when every node it overlapped has gone.
    private var overlaps: [String: Set<RangeHolder>] = [:] {
        didSet { if overlaps.count != oldValue.count || Set(overlaps.keys) != Set(oldValue.keys) { metrics.setOverlappingNodes(Set(overlaps.keys)) } }
    }
    /// Terminating pools whose wait for their nodes was announced by an Event.
    private var waitingPools: Set<String> = []
    /// When each pool's status was last written (for `statusInterval`).
    private var statusWritten: [String: ContinuousClock.Instant] = [:]
    /// The uid of the Node object each reservation was made for or adopted from: a node
    /// deleted and re-created under the same name is a new node, not the old one's heir.
    private var holderUIDs: [String: String] = [:]
    /// Pools found full in a family, so that the pool's own Warning is written once per
    /// exhaustion rather than once per waiting node and wake-up.
    private var exhaustedPools: Set<String> = []
    /// When each node without podCIDRs was first seen, the one record of it: the informer's
    /// callback notes a new node before it is queued (so the allocation latency metric counts
    /// queueing too), a sync notes any other; taken when its podCIDRs are written, dropped
    /// when it turns out to need no allocation or goes.
    private nonisolated let arrivals = ArrivalTimes()

    init(client: KubernetesClient, configuration: ControllerConfiguration, recorder: EventRecorder,
         metrics: any ControllerMetrics = NoMetrics(), logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.recorder = recorder
        self.metrics = metrics
        self.logger = logger
        let nodeQueue = self.nodeQueue
        let poolQueue = self.poolQueue
        let arrivals = self.arrivals
        metrics.observeQueues { [("nodes", nodeQueue.count), ("clustercidrs", poolQueue.count)] }
        nodeInformer = Informer<Node, NodeView>(client: client, resource: .nodes, projection: NodeView.decoder,
                                                onError: Self.reportWatchFailure(of: "nodes", server: client.configuration.server, logger)) { event in
            switch event {
            case .added(let node):
                if node.podCIDRs.isEmpty && !node.deleting { arrivals.record(node.name) }
                nodeQueue.add(node.name)
            case .deleted(let node), .resync(let node): nodeQueue.add(node.name)
            case .updated(let old, let new):
                // Label or podCIDR changes matter; status-only updates (heartbeats) do not.
                if old != new { nodeQueue.add(new.name) }
            }
        }
        poolInformer = Informer<ClusterCIDR, ClusterCIDR>(client: client, resource: .clusterCIDRs, transform: { $0 },
                                                          onError: Self.reportWatchFailure(of: ClusterCIDR.plural, server: client.configuration.server, logger)) { event in
            switch event {
            case .added(let pool), .deleted(let pool), .resync(let pool): poolQueue.add(pool.name)
            case .updated(let old, let new):
                if old.metadata.generation != new.metadata.generation || old.metadata.deletionTimestamp != new.metadata.deletionTimestamp
                    || old.metadata.finalizers != new.metadata.finalizers || old.metadata.uid != new.metadata.uid
                    || old.excludeCIDRsText != new.excludeCIDRsText {
                    poolQueue.add(new.name)
                }
            }
        }
    }

    /// Logs failed lists and watches: the first of a run of failures, then every tenth (the
    /// informer retries with backoff up to 30 s), so an unreachable or refusing API server is
    /// visible without flooding the log.
    private static func reportWatchFailure(of resource: String, server: String, _ logger: Logger) -> @Sendable (any Error, Int) -> Void {
        { error, failures in
            guard failures == 1 || failures % 10 == 0 else { return }
            var metadata: Logger.Metadata = ["server": "\(server)", "failures": "\(failures)", "error": "\(error)"]
            if let fix = FailureHint.fix(for: error, server: server, resource: resource) { metadata["fix"] = "\(fix)" }
            logger.error("cannot list or watch \(resource); retrying with backoff", metadata: metadata)
        }
    }

    /// True once caches are synced and existing ranges are recorded.
    nonisolated var isReady: Bool { readiness.value }

    /// Returns once the controller is ready.
    public nonisolated func waitUntilReady() async { await readiness.wait() }

    // MARK: - Running

    /// Runs until cancelled: informers, bootstrap, workers.
    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.nodeInformer.run() }
            group.addTask { await self.poolInformer.run() }
            // Stopped before the caches synced (say, the API server was never reachable):
            // nothing was allocated, nothing to clean up.
            guard await nodeInformer.waitForSync(), await poolInformer.waitForSync() else {
                group.cancelAll()
                return
            }
            try await bootstrap()
            for _ in 0..<max(1, configuration.workers) {
                group.addTask { await self.nodeWorker() }
            }
            group.addTask { await self.poolWorker() }
            readiness.set(true)
            logger.info("controller started", metadata: ["nodes": "\(nodeInformer.count)", "clusterCIDRs": "\(poolInformer.count)",
                                                         "workers": "\(configuration.workers)"])
            // Runs until cancelled; then the queues stop so the workers return.
            let (untilCancelled, keepOpen) = AsyncStream<Never>.makeStream()
            for await _ in untilCancelled {}
            keepOpen.finish()
            nodeQueue.shutdown()
            poolQueue.shutdown()
            group.cancelAll()
        }
    }

    private nonisolated func nodeWorker() async {
        while let key = await nodeQueue.get() {
            let retry = await syncNode(key)
            if retry { nodeQueue.addRateLimited(key) } else { nodeQueue.forget(key) }
            nodeQueue.done(key)
        }
    }

    private nonisolated func poolWorker() async {
        while let key = await poolQueue.get() {
            let retry = await syncPool(key)
            if retry { poolQueue.addRateLimited(key) } else { poolQueue.forget(key) }
            poolQueue.done(key)
        }
    }

    /// Before any allocation: create the default pool if asked, register every pool
    /// (terminating ones too), exclude Service ranges and record every existing podCIDR,
    /// so nothing already in use can be handed out.
    private func bootstrap() async throws {
        if !configuration.clusterCIDRs.isEmpty, poolInformer.get(ClusterCIDR.defaultPoolName) == nil {
            let object = try DefaultClusterCIDR.object(clusterCIDRs: configuration.clusterCIDRs,
                                                       nodeMaskSizeIPv4: configuration.nodeMaskSizeIPv4,
                                                       nodeMaskSizeIPv6: configuration.nodeMaskSizeIPv6)
            // Transient failures (timeouts, 5xx, 429) are retried with backoff; a refusal
            // (403 Forbidden, 422 Invalid) stops the controller with the server's reason.
            var backoff = Duration.milliseconds(200)
            while true {
                do {
                    _ = try await client.create(.clusterCIDRs, object)
                    logger.info("created ClusterCIDR \(ClusterCIDR.defaultPoolName) from --cluster-cidr")
                    break
                } catch let error as APIError where error.isAlreadyExists {
                    break // Created meanwhile by someone else: use it as it is.
                } catch let error as APIError where !error.isRetryable {
                    throw error
                } catch {
                    try Task.checkCancellation()
                    logger.warning("creating ClusterCIDR \(ClusterCIDR.defaultPoolName) failed; retrying", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                }
            }
        }
        for service in configuration.serviceCIDRs {
            engine.exclude(try IPPrefix(parsing: service), name: "service-cluster-ip-range")
        }
        for range in configuration.excludeCIDRs {
            engine.exclude(try IPPrefix(parsing: range), name: Self.excludeCIDRsName)
        }
        // Only a pool whose finalizer is on the server is registered now: a pool without it
        // (created while no replica led) could be deleted at once, under nodes given its
        // ranges. Those get the finalizer first, below, before any worker runs.
        var unprotected: [String] = []
        for pool in poolInformer.list() {
            guard pool.metadata.hasFinalizer(ClusterCIDR.finalizer) else {
                if pool.metadata.deletionTimestamp == nil { unprotected.append(pool.name) }
                continue
            }
            // The spec accepted when the finalizer was written (its annotation), not the spec as
            // it reads now: a change admission let through never re-counts or moves a node.
            let accepted = acceptedSpec(of: pool)
            guard let definition = try? pool.withSpec(accepted).poolDefinition() else { continue }
            engine.upsertPool(definition)
            if let excluded = try? pool.excludedRanges(within: definition) { engine.setExclusions(excluded, name: Self.exclusionName(of: pool.name)) }
            if pool.metadata.deletionTimestamp != nil { engine.setTerminating(pool.name) }
            if let accepted, ClusterCIDRSpecChange(accepted: accepted, current: pool.spec) != nil { engine.setSuspended(pool.name) }
            restoreCooling(pool)
        }
        var adopted = 0
        for node in nodeInformer.list() where !node.podCIDRs.isEmpty {
            engine.adopt(node: node.attributes, podCIDRs: node.podCIDRs)
            holderUIDs[node.name] = node.uid
            adopted += 1
        }
        logger.info("recorded existing podCIDRs", metadata: ["nodes": "\(adopted)"])
        for name in unprotected { _ = await syncPool(name) }
        nodeQueue.add(contentsOf: nodeInformer.list().map(\.name))
        poolQueue.add(contentsOf: poolInformer.list().map(\.name))
    }

    // MARK: - Nodes

    /// Returns true to retry with backoff.
    func syncNode(_ name: String) async -> Bool {
        guard let node = nodeInformer.get(name) else {
            releaseNode(name)
            return false
        }
        if let holder = holderUIDs[name], !node.uid.isEmpty, holder != node.uid {
            // Deleted and re-created under the same name (the queue merged the two events, or
            // a re-list saw only the new object): the old object's ranges go back to its pool.
            logger.info("node re-created under the same name; releasing the ranges of the deleted object",
                        metadata: ["node": "\(name)", "uid": "\(node.uid)", "previousUID": "\(holder)"])
            releaseNode(name)
        }
        // A node being deleted keeps its range until the object is gone: its pods may still
        // use it (the reference released it at once, and could hand it out again).
        if !node.podCIDRs.isEmpty {
            adopt(node)
            return false
        }
        if node.deleting { return false }
        arrivals.record(name)
        let outcome = engine.allocate(for: node.attributes)
        switch outcome {
        case .alreadyReserved(let reservation) where reservation.state == .pending && !allocates(reservation.pool):
            // Reserved earlier (its write failed or is unknown) from a pool that has since been
            // removed or is being deleted: never written as it is. The node decides.
            return await resolveFromServer(reservation, node, after: nil)
        case .allocated(let reservation, _), .alreadyReserved(let reservation):
            holderUIDs[name] = node.uid
            pending.remove(name)
            metrics.setPendingNodes(pending.count)
            if case .allocated(_, let trace) = outcome, let pool = reservation.pool {
                for range in reservation.ranges {
                    let cidr = poolCIDR(pool, range.family)
                    metrics.allocated(name: pool, cidr: cidr, count: 1)
                    metrics.allocationTries(name: pool, cidr: cidr, tries: Int(clamping: trace.skippedBlocks(range.family)))
                }
                schedulePoolStatus(pool)
                if !trace.passedOver.isEmpty {
                    await reportExhaustedPools(trace.passedOver)
                    let message = "Node \(name) is given \(reservation.podCIDRs.joined(separator: ", ")) from ClusterCIDR \(pool), a fallback: "
                        + "the ClusterCIDRs that suit it better are full (\(trace.passedOver.map(\.description).joined(separator: "; ")))"
                    logger.info("\(message)", metadata: ["node": "\(name)", "clusterCIDR": "\(pool)", "reason": "\(EventReason.fallbackClusterCIDR)"])
                    await recordEvent(node, .normal, EventReason.fallbackClusterCIDR, message)
                }
            }
            return await write(reservation, to: node)
        case .noMatchingPool, .onlyClosedPools, .exhausted:
            let isNew = !pending.contains(name)
            pending.insert(name)
            metrics.setPendingNodes(pending.count)
            if case .exhausted(_, let pools) = outcome { await reportExhaustedPools(pools) }
            await report(node, type: .warning, reason: EventReason.cidrNotAvailable,
                         message: "Node \(name) status is now: \(EventReason.cidrNotAvailable): \(outcome)", log: isNew)
            // No retry loop: the node is woken when a pool is added or changed, or a range frees up.
            return false
        }
    }

    /// A Warning on each pool found full, once per exhaustion (not per waiting node or wake-up).
    private func reportExhaustedPools(_ pools: [PoolExhaustion]) async {
        for exhaustion in pools where exhaustedPools.insert(exhaustion.pool).inserted {
            schedulePoolStatus(exhaustion.pool)
            await recordPoolEvent(exhaustion.pool, .warning, EventReason.cidrNotAvailable,
                                  "\(exhaustion.description): nodes it selects wait until a range is freed or another ClusterCIDR selects them")
        }
    }

    /// Whether a pending reservation of this pool may still be written.
    private func allocates(_ pool: String?) -> Bool {
        guard let pool else { return false }
        return engine.allocates(pool)
    }

    private func poolCIDR(_ pool: String, _ family: IPFamily) -> String {
        engine.pool(named: pool)?.family(family)?.prefix.description ?? ""
    }

    /// PATCHes podCIDRs (a JSON patch of spec.podCIDR and spec.podCIDRs, applied only to the
    /// node object the reservation was made for). On an ambiguous failure the node is re-read
    /// before anything is released.
    private func write(_ reservation: Reservation, to node: NodeView) async -> Bool {
        let patch = PodCIDRPatch(podCIDRs: reservation.podCIDRs, uid: node.uid).json
        do {
            // The answer is the whole node: read only its podCIDRs.
            let written = try await client.patch(.nodes, name: node.name, .json(patch), projection: .nodeSummaryWithoutLabels)
            return reconcileAfterWrite(node.name, written.value.podCIDRs, reservation)
        } catch let error where error.isFenced {
            // Not sent: this replica may have lost the Lease. The reservation stays held (an
            // earlier attempt may have landed); leading ends, or the next try writes it.
            return true
        } catch let error as APIError where error.isNotFound {
            // The node is gone: give the range back.
            releaseNode(node.name)
            return false
        } catch let error as APIError where !error.isRetryable && !error.isConflict && !error.isInvalid {
            // Definitely not applied (e.g. 403): release and retry later.
            var metadata: Logger.Metadata = ["node": "\(node.name)", "error": "\(error)"]
            if let fix = FailureHint.fix(for: error, server: client.configuration.server) { metadata["fix"] = "\(fix)" }
            logger.error("writing podCIDRs failed", metadata: metadata)
            releaseNode(node.name, wakePending: false)
            await report(node, type: .warning, reason: EventReason.cidrAssignmentFailed,
                         message: "Node \(node.name) status is now: \(EventReason.cidrAssignmentFailed): \(error)", log: false)
            return true
        } catch {
            // Shutting down: the reservation stays held until the process exits; the next
            // leader re-reads every node before it allocates.
            if Task.isCancelled { return false }
            // Timeout, dropped connection, 5xx, 409/422 (a failed uid test included): the
            // write may or may not have happened.
            return await resolveFromServer(reservation, node, after: error)
        }
    }

    /// Settles a reservation whose write failed ambiguously (`failure`) or must not be
    /// written any more, by reading the node: ranges it carries are the truth; a node without
    /// any, or a different object under the same name, lets the reservation go. While the
    /// answer is unknown the reservation stays held (never handed out) and the node is retried.
    private func resolveFromServer(_ reservation: Reservation, _ node: NodeView, after failure: (any Error)?) async -> Bool {
        do {
            let current: NodePodCIDRs = try await client.get(.nodes, name: node.name)
            if !node.uid.isEmpty, let uid = current.metadata?.uid, uid != node.uid {
                // The object was replaced: the write (tested against the old uid) cannot have
                // reached the new one. The old object's ranges go back.
                releaseNode(node.name, wakePending: false)
                return true
            }
            if current.podCIDRs.isEmpty {
                releaseNode(node.name, wakePending: false)
                if let failure {
                    await report(node, type: .warning, reason: EventReason.cidrAssignmentFailed,
                                 message: "Node \(node.name) status is now: \(EventReason.cidrAssignmentFailed): \(failure)", log: true)
                }
                return true
            }
            return reconcileAfterWrite(node.name, current.podCIDRs, reservation)
        } catch let readError as APIError where readError.isNotFound {
            releaseNode(node.name)
            return false
        } catch {
            if Task.isCancelled { return false }
            // Still unknown: keep the reservation (never hand it out) and try again.
            logger.warning("cannot tell whether podCIDRs were written; keeping the reservation", metadata: ["node": "\(node.name)", "error": "\(error)"])
            return true
        }
    }

    /// After a write (or a re-read): the node's actual podCIDRs win.
    private func reconcileAfterWrite(_ name: String, _ actual: [String], _ reservation: Reservation) -> Bool {
        if Set(actual) == Set(reservation.podCIDRs) {
            engine.confirm(node: name)
            if let started = arrivals.take(name) {
                let elapsed = started.duration(to: .now)
                metrics.observeAllocationLatency(seconds: elapsed.inSeconds)
            }
            reported[name] = nil
            logger.info("set podCIDRs", metadata: ["node": "\(name)", "podCIDRs": "\(actual.joined(separator: ","))", "clusterCIDR": "\(reservation.pool ?? "")"])
            return false
        }
        // Someone else set other podCIDRs: those are the truth; ours is released.
        let attributes = nodeInformer.get(name)?.attributes ?? NodeAttributes(name: name)
        engine.adopt(node: attributes, podCIDRs: actual)
        return false
    }

    private func adopt(_ node: NodeView) {
        let report = engine.adopt(node: node.attributes, podCIDRs: node.podCIDRs)
        holderUIDs[node.name] = node.uid
        if pending.remove(node.name) != nil { metrics.setPendingNodes(pending.count) }
        // Carrying podCIDRs, the node waits for nothing: it was first seen without them only
        // when this confirms our pending write.
        if let started = arrivals.take(node.name), case .confirmedPending = report.change {
            let elapsed = started.duration(to: .now)
            metrics.observeAllocationLatency(seconds: elapsed.inSeconds)
        }
        if case .replaced(let previous) = report.change, !previous.isEmpty { wakePendingNodes() }
        if let pool = report.reservation?.pool { schedulePoolStatus(pool) }
        var problems: [(String, String)] = []
        if !report.invalid.isEmpty {
            problems.append((EventReason.invalidPodCIDR, "Node \(node.name) has invalid podCIDRs: \(report.invalid.map(\.description).joined(separator: "; ")); they are left as they are"))
        }
        if !report.conflicts.isEmpty {
            problems.append((EventReason.duplicatePodCIDR, "Node \(node.name) podCIDRs overlap: \(report.conflicts.map(\.description).joined(separator: "; ")); fix the node (podCIDRs cannot be changed: delete and re-register it)"))
        }
        let overlapping = Set(report.conflicts.map(\.other))
        if overlaps[node.name] != (overlapping.isEmpty ? nil : overlapping) { overlaps[node.name] = overlapping.isEmpty ? nil : overlapping }
        if report.isUnassociated {
            problems.append((EventReason.podCIDROutsideClusterCIDRs, "Node \(node.name) podCIDRs \(node.podCIDRs.joined(separator: ", ")) fit no ClusterCIDR; they are kept and never handed to another node"))
        }
        let signature = problems.map(\.1).joined(separator: "|")
        if signature != reported[node.name] {
            reported[node.name] = signature.isEmpty ? nil : signature
            for (reason, message) in problems {
                logger.warning("\(message)", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
                Task { await self.recordEvent(node, .warning, reason, message) }
            }
        }
    }

    private func releaseNode(_ name: String, wakePending: Bool = true) {
        holderUIDs[name] = nil
        _ = arrivals.take(name)
        reported[name] = nil
        forgetOverlaps(of: name)
        if pending.remove(name) != nil { metrics.setPendingNodes(pending.count) }
        guard let released = engine.release(node: name) else { return }
        if released.state == .confirmed, let pool = released.pool { startCooling(pool, released.ranges) }
        logger.info("released podCIDRs", metadata: ["node": "\(name)", "podCIDRs": "\(released.podCIDRs.joined(separator: ","))",
                                                     "clusterCIDR": "\(released.pool ?? "")"])
        if let pool = released.pool {
            exhaustedPools.remove(pool)
            for range in released.ranges { metrics.released(name: pool, cidr: poolCIDR(pool, range.family), count: 1) }
            schedulePoolStatus(pool)
            // A terminating pool waits for its last node.
            if engine.isTerminating(pool) { poolQueue.add(pool) }
        }
        if wakePending { wakePendingNodes() }
    }

    private func wakePendingNodes() {
        nodeQueue.add(contentsOf: pending)
    }

    /// Logs and records a node's problem when it is new or changed; a node woken again
    /// with the same problem writes nothing (waking 50 pending nodes must not be 50 writes).
    private func report(_ node: NodeView, type: EventRecorder.EventType, reason: String, message: String, log: Bool) async {
        guard log || reported[node.name] != message else { return }
        reported[node.name] = message
        logger.warning("\(message)", metadata: ["node": "\(node.name)", "reason": "\(reason)"])
        await recordEvent(node, type, reason, message)
    }

    private func recordPoolEvent(_ pool: String, _ type: EventRecorder.EventType, _ reason: String, _ message: String) async {
        logger.log(level: type == .warning ? .warning : .info, "\(message)", metadata: ["clusterCIDR": "\(pool)", "reason": "\(reason)"])
        let subject = EventRecorder.Subject(apiVersion: ClusterCIDR.apiVersion, kind: ClusterCIDR.kind, name: pool,
                                            uid: poolInformer.get(pool)?.metadata.uid)
        if await recorder.record(subject, type: type, reason: reason, message: message) {
            metrics.eventRecorded(type: type.rawValue, reason: reason)
        }
    }

    private func recordEvent(_ node: NodeView, _ type: EventRecorder.EventType, _ reason: String, _ message: String) async {
        let subject = EventRecorder.Subject(apiVersion: "v1", kind: "Node", name: node.name, uid: node.uid)
        if await recorder.record(subject, type: type, reason: reason, message: message) {
            metrics.eventRecorded(type: type.rawValue, reason: reason)
        }
    }

    // MARK: - ClusterCIDRs

    /// Asks for a status write: soon after a quiet period, else once the interval since the
    /// last write has passed (the queue keeps one timer per pool however often this is called).
    private func schedulePoolStatus(_ pool: String) {
        var delay = configuration.statusDelay
        if let written = statusWritten[pool] {
            delay = max(delay, ContinuousClock.now.duration(to: written.advanced(by: configuration.statusInterval)))
        }
        poolQueue.add(pool, after: delay)
    }

    /// Returns true to retry with backoff.
    func syncPool(_ name: String) async -> Bool {
        guard let pool = poolInformer.get(name) else {
            // Gone (finalizer removed by us, or never had one): forget the pool. Its nodes keep
            // their ranges, held as unassociated.
            if engine.pool(named: name) != nil {
                forgetPool(name)
                logger.info("ClusterCIDR removed", metadata: ["clusterCIDR": "\(name)"])
            }
            invalidPools[name] = nil
            statusWritten[name] = nil
            return false
        }
        expireCooling(name)
        // The spec accepted for this object (what its nodes were counted under) when there is
        // one; else the spec as it reads now, accepted below together with the finalizer.
        let spec = acceptedSpec(of: pool) ?? pool.spec
        let definition: PoolDefinition
        let excluded: [IPPrefix]
        do throws(InvalidClusterCIDR) {
            definition = try pool.withSpec(spec).poolDefinition()
            // A bad annotation never blocks a deletion: a terminating pool allocates nothing anyway.
            excluded = pool.metadata.deletionTimestamp == nil ? try pool.excludedRanges(within: definition)
                : (try? pool.excludedRanges(within: definition)) ?? []
        } catch {
            return await markInvalid(pool, error)
        }
        guard let spec else { return false } // a pool without spec fails validation above
        invalidPools[name] = nil
        if engine.setExclusions(excluded, name: Self.exclusionName(of: name)) { wakePendingNodes() }
        let change = ClusterCIDRSpecChange(accepted: spec, current: pool.spec)
        if pool.metadata.deletionTimestamp != nil {
            return await syncTerminating(pool, definition, change)
        }
        // The finalizer and the accepted spec are written in one update (with the object's
        // resourceVersion: a spec changed meanwhile makes it fail, and the new spec is read).
        let accepted = pool.accepting(spec)
        if accepted.metadata != pool.metadata {
            do {
                _ = try await client.update(.clusterCIDRs, name: name, accepted)
            } catch let error as APIError where error.isConflict || error.isNotFound {
                return !error.isNotFound
            } catch {
                if Task.isCancelled { return false }
                if !error.isFenced { logger.error("adding the finalizer failed", metadata: ["clusterCIDR": "\(name)", "error": "\(error)"]) }
                return true
            }
        }
        acceptedSpecs[name] = AcceptedClusterCIDRSpec(uid: pool.metadata.uid ?? "", spec: spec)
        switch engine.upsertPool(definition) {
        case .added, .replaced:
            // Replaced only by a new object under the same name: the accepted definition of one
            // object never changes.
            exhaustedPools.remove(name)
            logger.info("ClusterCIDR registered", metadata: ["clusterCIDR": "\(name)", "ipv4": "\(spec.ipv4 ?? "")", "ipv6": "\(spec.ipv6 ?? "")"])
            // A new pool serves waiting nodes at once, and may take over unassociated ranges.
            wakePendingNodes()
            nodeQueue.add(contentsOf: engine.allReservations.filter { $0.pool == nil }.map(\.node))
        case .unchanged:
            break
        }
        await suspendIfChanged(pool, change)
        return await writeStatus(pool, terminating: false, change: change)
    }

    /// The spec accepted for this object: remembered by this process, else recorded in the
    /// annotation of an object that carries our finalizer, else (a pool protected by a version
    /// that wrote no annotation) its spec as it reads now. Nil for a pool not yet accepted.
    private func acceptedSpec(of pool: ClusterCIDR) -> ClusterCIDRSpec? {
        let uid = pool.metadata.uid ?? ""
        if let remembered = acceptedSpecs[pool.name], remembered.uid == uid { return remembered.spec }
        guard pool.metadata.hasFinalizer(ClusterCIDR.finalizer) else { return nil }
        return pool.acceptedSpec?.spec ?? pool.spec
    }

    /// A pool whose spec differs from the accepted one allocates no more (its nodes keep their
    /// ranges, counted under the accepted spec) and says so once per change; a spec restored
    /// to the accepted one allocates again.
    private func suspendIfChanged(_ pool: ClusterCIDR, _ change: ClusterCIDRSpecChange?) async {
        let name = pool.name
        let wasSuspended = !engine.allocates(name) && !engine.isTerminating(name)
        engine.setSuspended(name, change != nil)
        guard let change else {
            if specChanges.removeValue(forKey: name) != nil || wasSuspended {
                logger.info("ClusterCIDR spec is the accepted one again; allocating", metadata: ["clusterCIDR": "\(name)"])
                wakePendingNodes()
            }
            return
        }
        guard specChanges[name] != change else { return }
        specChanges[name] = change
        let message = "ClusterCIDR \(name): " + change.description(nodes: engine.associatedNodeCount(of: name))
        await recordPoolEvent(name, .warning, EventReason.clusterCIDRSpecChanged, message)
    }

    private func syncTerminating(_ pool: ClusterCIDR, _ definition: PoolDefinition, _ change: ClusterCIDRSpecChange?) async -> Bool {
        let name = pool.name
        guard pool.metadata.hasFinalizer(ClusterCIDR.finalizer) else {
            forgetPool(name)
            return false
        }
        if engine.pool(named: name) == nil { engine.upsertPool(definition) }
        engine.setTerminating(name)
        var holders = engine.associatedNodeCount(of: name)
        if holders == 0 {
            // About to let the pool go: decide on the server's state, not the cache. A fresh
            // list shows every range written so far (by this replica or an earlier leader);
            // ranges still in flight in this process are pending reservations, counted above.
            do {
                let (listed, _) = try await client.listAll(.nodes, projection: NodeView.decoder)
                for node in listed.lazy.map(\.value) where !node.podCIDRs.isEmpty {
                    let held = engine.reservation(for: node.name)
                    if held.map({ Set($0.podCIDRs) != Set(node.podCIDRs) }) ?? true || holderUIDs[node.name] != node.uid {
                        adopt(node) // the cache is behind; the node is delivered again later
                    }
                }
            } catch {
                if Task.isCancelled { return false }
                logger.warning("cannot list nodes before releasing the finalizer; retrying", metadata: ["clusterCIDR": "\(name)", "error": "\(error)"])
                return true
            }
            holders = engine.associatedNodeCount(of: name)
        }
        if holders > 0 {
            logger.info("ClusterCIDRSet \(name) marked as terminating, won't be deleted until all associated nodes are deleted",
                        metadata: ["nodes": "\(holders)"])
            if waitingPools.insert(name).inserted {
                let names = engine.associatedNodes(of: name)
                await recordPoolEvent(name, .normal, EventReason.clusterCIDRTerminating,
                                      "ClusterCIDR \(name) is being deleted and allocates no more; "
                                      + ClusterCIDRStatus.holdersPhrase(nodes: holders, holders: Array(names))
                                      + " still hold its ranges, and its finalizer stays until they are deleted")
            }
            // Re-queued when one of its nodes releases its range; no backoff loop.
            return await writeStatus(pool, terminating: true, change: change)
        }
        var updated = pool
        updated.metadata.finalizers = (pool.metadata.finalizers ?? []).filter { $0 != ClusterCIDR.finalizer }
        do {
            _ = try await client.update(.clusterCIDRs, name: name, updated)
        } catch let error as APIError where error.isNotFound {
        } catch {
            return true
        }
        forgetPool(name)
        logger.info("ClusterCIDR released its finalizer", metadata: ["clusterCIDR": "\(name)"])
        return false
    }

    /// Drops a pool from the engine. Its nodes keep their ranges (held, unassociated); those
    /// with a reservation not yet written are settled by their next sync, never written as is.
    private func forgetPool(_ name: String) {
        let nodes = engine.removePool(named: name)
        if engine.setExclusions([], name: Self.exclusionName(of: name)) { wakePendingNodes() }
        if cooldown.forget(pool: name, in: &engine) { wakePendingNodes() }
        metrics.removePool(name: name)
        exhaustedPools.remove(name)
        waitingPools.remove(name)
        specChanges[name] = nil
        acceptedSpecs[name] = nil
        nodeQueue.add(contentsOf: nodes)
    }

    /// A node gone: it overlaps nothing any more, and nothing overlaps it.
    private func forgetOverlaps(of name: String) {
        guard !overlaps.isEmpty else { return }
        var table = overlaps
        table[name] = nil
        for (node, holders) in table where holders.contains(.node(name)) {
            let rest = holders.subtracting([.node(name)])
            table[node] = rest.isEmpty ? nil : rest
        }
        if table != overlaps { overlaps = table }
    }

    private func publishInvalidPools() {
        var reasons: [String: String] = [:]
        for name in invalidPools.keys { reasons[name] = "InvalidSpec" }
        for name in specChanges.keys where reasons[name] == nil { reasons[name] = "SpecChanged" }
        metrics.setInvalidPools(reasons)
    }

    private func markInvalid(_ pool: ClusterCIDR, _ error: InvalidClusterCIDR) async -> Bool {
        let message = error.errors.map(\.description).joined(separator: "; ")
        let name = pool.name
        if engine.pool(named: name) != nil {
            // It was valid before (a CRD without our CEL rules let a change through): stop
            // allocating from it, keep its nodes' ranges held.
            forgetPool(name)
        }
        let firstTime = invalidPools[name] != message
        invalidPools[name] = message
        let status = ClusterCIDRStatus.compose(previous: pool.status, generation: pool.metadata.generation, families: [], nodes: 0,
                                               terminating: false, problem: .invalidSpec(message: message), now: KubeTime.seconds())
        if firstTime {
            logger.warning("invalid ClusterCIDR", metadata: ["clusterCIDR": "\(name)", "error": "\(message)"])
            let subject = EventRecorder.Subject(apiVersion: ClusterCIDR.apiVersion, kind: ClusterCIDR.kind, name: name, uid: pool.metadata.uid)
            if await recorder.record(subject, type: .warning, reason: EventReason.clusterCIDRInvalid, message: message) {
                metrics.eventRecorded(type: "Warning", reason: EventReason.clusterCIDRInvalid)
            }
        }
        if pool.status != status { _ = await putStatus(pool, status) }
        // Never retried on a timer: only a change to the object brings it back.
        return false
    }

    /// Writes the status `ClusterCIDRStatus.compose` makes of the engine's figures, when it
    /// differs from the one the object has.
    private func writeStatus(_ pool: ClusterCIDR, terminating: Bool, change: ClusterCIDRSpecChange?) async -> Bool {
        let stats = engine.statistics(of: pool.name)
        for family in stats {
            metrics.poolFamily(name: pool.name, statistics: family)
        }
        let nodes = engine.associatedNodeCount(of: pool.name)
        // Names only where the message shows them (walking every node costs).
        let holders = terminating && nodes > 0 ? Array(engine.associatedNodes(of: pool.name)) : []
        let status = ClusterCIDRStatus.compose(previous: pool.status, generation: pool.metadata.generation, families: stats, nodes: nodes,
                                               holders: holders, terminating: terminating, problem: change.map(ClusterCIDRProblem.specChanged),
                                               now: KubeTime.seconds(), cooling: coolingRanges(of: pool.name))
        if status == pool.status { return false }
        return await putStatus(pool, status)
    }

    /// Writes status through the status subresource as a merge patch: the controller owns
    /// status, so no resourceVersion precondition is needed, and a cached object that lags
    /// the server (a finalizer just written, a busy informer) never turns into 409 loops.
    private func putStatus(_ pool: ClusterCIDR, _ status: ClusterCIDRStatus) async -> Bool {
        do {
            let _: Discarded = try await client.patch(.clusterCIDRs, name: pool.name, .merge(try StatusPatch.json(status)), subresource: "status")
            statusWritten[pool.name] = .now
            return false
        } catch let error as APIError where error.isNotFound {
            return false
        } catch {
            if Task.isCancelled { return false }
            if !error.isFenced { logger.error("writing ClusterCIDR status failed", metadata: ["clusterCIDR": "\(pool.name)", "error": "\(error)"]) }
            return true
        }
    }

    // MARK: - Release cooldown

    /// Keeps a released range of `pool` out of allocation for `--release-cooldown`; the pool's
    /// next status write records it, so a restart or a new leader keeps honouring it.
    private func startCooling(_ pool: String, _ ranges: [IPPrefix]) {
        guard configuration.releaseCooldown > .zero, engine.pool(named: pool) != nil else { return }
        // Whole seconds (the status's time format), rounded up: never shorter than asked.
        let until = Int64((Date().timeIntervalSince1970 + configuration.releaseCooldown.inSeconds).rounded(.up))
        cooldown.start(ranges, pool: pool, until: until, in: &engine)
        poolQueue.add(pool, after: configuration.releaseCooldown)
    }

    /// At start-up: the ranges the pool's status says are still cooling.
    private func restoreCooling(_ pool: ClusterCIDR) {
        for entry in pool.status?.coolingRanges(at: Date()) ?? [] {
            cooldown.start([entry.range], pool: pool.name, until: Int64(entry.until.timeIntervalSince1970.rounded(.up)), in: &engine)
        }
    }

    /// Ends the cooldown of the pool's ranges whose time has come, and comes back for the next.
    private func expireCooling(_ pool: String) {
        let now = Date().timeIntervalSince1970
        let ended = cooldown.expire(pool: pool, now: Int64(now.rounded(.down)), in: &engine)
        if !ended.isEmpty {
            logger.info("released ranges cooled down", metadata: ["clusterCIDR": "\(pool)", "ranges": "\(ended.map(\.description).joined(separator: ","))"])
            wakePendingNodes()
        }
        if let next = cooldown.nextEnd(of: pool) {
            poolQueue.add(pool, after: .milliseconds(Int64(max(0, Double(next) - now) * 1000) + 1))
        }
    }

    /// The pool's cooling ranges as its status records them.
    private func coolingRanges(of pool: String) -> [ClusterCIDRCoolingRange] {
        cooldown.entries(of: pool).map {
            ClusterCIDRCoolingRange(cidr: $0.range.description, until: KubeTime.seconds(Date(timeIntervalSince1970: TimeInterval($0.until))))
        }
    }

    // MARK: - Introspection (tests, demo)

    public func reservation(for node: String) -> Reservation? { engine.reservation(for: node) }
    public func pendingNodes() -> Set<String> { pending }
    public func statistics(of pool: String) -> [PoolFamilyStatistics] { engine.statistics(of: pool) }
}

/// What the controller reads back from a node it wrote: its podCIDRs and nothing else
/// (decoding a whole Node per write was a sizeable part of the controller's CPU).
struct NodePodCIDRs: Decodable {
    struct Metadata: Decodable { var uid: String? }
    var metadata: Metadata?
    var spec: Node.Spec?

    var podCIDRs: [String] { spec?.effectivePodCIDRs ?? [] }
}

/// The JSON patch (RFC 6902) that sets podCIDR and podCIDRs and nothing else, on the node
/// object with this uid only: a `test` of metadata.uid makes the server refuse it when the
/// node was deleted and re-created under the same name. Repeating it (libcurl re-sends a
/// request whose reused connection died before any answer) is harmless: the same values
/// again, or 422 where the node already carries others.
/// The JSON patch that writes a node's podCIDRs: `test` of the uid (the node read is the node
/// written, not one deleted and re-created under its name), then `add` of both fields. Written
/// by hand: JSONEncoder cost ~5 % of the controller's CPU per allocated node.
struct PodCIDRPatch {
    let podCIDRs: [String]
    let uid: String

    var json: Data {
        var operations: [String] = []
        if !uid.isEmpty { operations.append(#"{"op":"test","path":"/metadata/uid","value":\#(JSONText.string(uid))}"#) }
        operations.append(#"{"op":"add","path":"/spec/podCIDR","value":\#(JSONText.string(podCIDRs.first ?? ""))}"#)
        operations.append(#"{"op":"add","path":"/spec/podCIDRs","value":\#(JSONText.array(podCIDRs))}"#)
        return Data(("[" + operations.joined(separator: ",") + "]").utf8)
    }
}

/// The merge patch of a ClusterCIDR's status: the whole status, with an absent family
/// written as null so that it is removed.
enum StatusPatch {
    static func json(_ status: ClusterCIDRStatus) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var object = try JSONSerialization.jsonObject(with: encoder.encode(status)) as? [String: Any] else { return Data("{}".utf8) }
        for family in ["ipv4", "ipv6"] where object[family] == nil { object[family] = NSNull() }
        // Merge patches keep what they do not mention: a cooldown that ended is removed explicitly.
        if object["coolingRanges"] == nil { object["coolingRanges"] = NSNull() }
        for family in ["ipv4", "ipv6"] {
            if var fields = object[family] as? [String: Any], fields["cooling"] == nil {
                fields["cooling"] = NSNull()
                object[family] = fields
            }
        }
        return try JSONSerialization.data(withJSONObject: ["status": object], options: [.sortedKeys])
    }
}

extension Error {
    /// Not sent because this replica's Lease may have expired: not a failure of the API
    /// server, and nothing to log as one (leading ends, or the next renewal reopens the fence).
    var isFenced: Bool { (self as? TransportError)?.kind == .fenced }
}

/// An answer whose body is not needed.
struct Discarded: Decodable {
    init(from decoder: any Decoder) throws {}
}

/// When each node without podCIDRs was first seen: written by the informer's callback and by
/// the actor, so it lives outside the actor.
final class ArrivalTimes: Sendable {
    private let times = Mutex<[String: ContinuousClock.Instant]>([:])

    func record(_ name: String) {
        let now = ContinuousClock.now
        times.withLock { if $0[name] == nil { $0[name] = now } }
    }

    func take(_ name: String) -> ContinuousClock.Instant? {
        times.withLock { $0.removeValue(forKey: name) }
    }
}

extension IPAMController {
    /// The engine's name for the ranges of `--exclude-cidrs`.
    static let excludeCIDRsName = "exclude-cidrs"

    /// The engine's name for the ranges a ClusterCIDR's exclusion annotation lists.
    static func exclusionName(of pool: String) -> String { "exclude-cidrs annotation of ClusterCIDR \(pool)" }
}
