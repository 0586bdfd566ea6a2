import Foundation
import Synchronization

/// A change seen by an informer. `old` is the cached projection before the change.
public enum InformerEvent<Projection: Sendable>: Sendable {
    case added(Projection)
    case updated(old: Projection, new: Projection)
    /// Deleted; also delivered for objects that vanished while the watch was disconnected
    /// (found missing at relist), with their last known state.
    case deleted(Projection)
    /// Periodic re-delivery of an unchanged object (only with a resync period).
    case resync(Projection)
}

/// Lists, then watches from the list's resourceVersion with bookmarks; relists on 410;
/// reconnects with jittered backoff on errors or closed streams. Keeps a cache of
/// projections (not whole objects) and calls a handler for every change.
public final class Informer<Object: KubernetesObject, Projection: Sendable>: Sendable {
    public struct Options: Sendable {
        public var namespace: String?
        public var labelSelector: String?
        public var fieldSelector: String?
        public var pageSize: Int = 500
        /// Re-deliver every cached object this often (nil = never).
        public var resyncPeriod: Duration?
        /// Watch requests are closed by the server after a random 5–10 minutes, like client-go.
        public var watchTimeoutSeconds: ClosedRange<Int> = 300...600
        public var initialBackoff: Duration = .milliseconds(200)
        public var maxBackoff: Duration = .seconds(30)

        public init(namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil, resyncPeriod: Duration? = nil) {
            self.namespace = namespace
            self.labelSelector = labelSelector
            self.fieldSelector = fieldSelector
            self.resyncPeriod = resyncPeriod
        }
    }

    private struct Entry: Sendable {
        var resourceVersion: String
        var projection: Projection
    }

    private struct State {
        var cache: [String: Entry] = [:]
        var synced = false
        var lastResourceVersion = ""
        var relists = 0
        var syncWaiters: [UUID: CheckedContinuation<Void, Never>] = [:]
        var consecutiveFailures = 0
    }

    public let resource: Resource
    private let client: KubernetesClient
    private let options: Options
    private let projection: ProjectionDecoder<Projection>
    private let handler: @Sendable (InformerEvent<Projection>) -> Void
    private let onError: (@Sendable (_ error: any Error, _ consecutiveFailures: Int) -> Void)?
    private let state = Mutex(State())

    /// `onError` hears every failed list or watch (with how many failed in a row) before the
    /// informer backs off and retries: the place to tell an operator the API server is
    /// unreachable or refuses us, which the informer itself only survives.
    public convenience init(client: KubernetesClient, resource: Resource, options: Options = Options(),
                            transform: @escaping @Sendable (Object) -> Projection,
                            onError: (@Sendable (_ error: any Error, _ consecutiveFailures: Int) -> Void)? = nil,
                            handler: @escaping @Sendable (InformerEvent<Projection>) -> Void) {
        self.init(client: client, resource: resource, options: options, projection: .codable(Object.self, transform: transform),
                  onError: onError, handler: handler)
    }

    /// An informer that reads each listed or watched object with `projection` where it lies in
    /// the response (e.g. `.nodeSummary`), never decoding whole objects.
    public init(client: KubernetesClient, resource: Resource, options: Options = Options(),
                projection: ProjectionDecoder<Projection>,
                onError: (@Sendable (_ error: any Error, _ consecutiveFailures: Int) -> Void)? = nil,
                handler: @escaping @Sendable (InformerEvent<Projection>) -> Void) {
        self.client = client
        self.resource = resource
        self.options = options
        self.projection = projection
        self.onError = onError
        self.handler = handler
    }

    /// True once the first list has been applied to the cache.
    public var hasSynced: Bool {
        state.withLock { $0.synced }
    }

    /// How many times the informer has listed (1 after start; more after 410 or errors).
    public var listCount: Int {
        state.withLock { $0.relists }
    }

    /// Waits until the first list has been applied, or the calling task is cancelled;
    /// returns whether the cache is synced.
    @discardableResult
    public func waitForSync() async -> Bool {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let synced = state.withLock { state -> Bool in
                    if state.synced || Task.isCancelled { return true }
                    state.syncWaiters[id] = continuation
                    return false
                }
                if synced { continuation.resume() }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Void, Never>? = state.withLock { $0.syncWaiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        return hasSynced
    }

    public func get(_ name: String, namespace: String? = nil) -> Projection? {
        let key = Self.key(namespace: namespace, name: name)
        return state.withLock { $0.cache[key]?.projection }
    }

    public func list() -> [Projection] {
        state.withLock { state in state.cache.keys.sorted().compactMap { state.cache[$0]?.projection } }
    }

    public var count: Int {
        state.withLock { $0.cache.count }
    }

    private static func key(namespace: String?, name: String) -> String {
        if let namespace, !namespace.isEmpty { return namespace + "/" + name }
        return name
    }

    private static func key(_ object: Projected<Projection>) -> String {
        key(namespace: object.namespace, name: object.name)
    }

    /// Runs until the calling task is cancelled.
    public func run() async {
        var backoff = options.initialBackoff
        let resyncTask = options.resyncPeriod.map { period in
            Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: period)
                    guard let self, !Task.isCancelled else { return }
                    for projection in self.list() { self.handler(.resync(projection)) }
                }
            }
        }
        defer { resyncTask?.cancel() }
        while !Task.isCancelled {
            do {
                try await listAndReplace()
                backoff = options.initialBackoff
                state.withLock { $0.consecutiveFailures = 0 }
                try await watchUntilGone()
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                let failures = state.withLock { state -> Int in
                    state.consecutiveFailures += 1
                    return state.consecutiveFailures
                }
                onError?(error, failures)
                let jitter = Double.random(in: 0.8...1.2)
                try? await Task.sleep(for: backoff * jitter)
                backoff = min(backoff * 2, options.maxBackoff)
            }
        }
    }

    private func listAndReplace() async throws {
        let listOptions = ListOptions(labelSelector: options.labelSelector, fieldSelector: options.fieldSelector)
        let (objects, resourceVersion) = try await client.listAll(
            resource, namespace: options.namespace, options: listOptions, pageSize: options.pageSize, projection: projection)
        let items = objects.map { (key: Self.key($0), entry: Entry(resourceVersion: $0.resourceVersion, projection: $0.value)) }
        let (events, waiters) = state.withLock { state -> ([InformerEvent<Projection>], [CheckedContinuation<Void, Never>]) in
            var events: [InformerEvent<Projection>] = []
            var fresh: [String: Entry] = [:]
            fresh.reserveCapacity(items.count)
            for (key, entry) in items {
                if let old = state.cache[key] {
                    if old.resourceVersion != entry.resourceVersion { events.append(.updated(old: old.projection, new: entry.projection)) }
                } else {
                    events.append(.added(entry.projection))
                }
                fresh[key] = entry
            }
            for (key, old) in state.cache where fresh[key] == nil { events.append(.deleted(old.projection)) }
            state.cache = fresh
            state.lastResourceVersion = resourceVersion
            state.relists += 1
            var waiters: [CheckedContinuation<Void, Never>] = []
            if !state.synced {
                state.synced = true
                waiters = Array(state.syncWaiters.values)
                state.syncWaiters = [:]
            }
            return (events, waiters)
        }
        for event in events { handler(event) }
        for waiter in waiters { waiter.resume() }
    }

    /// Watches, resuming from the last resourceVersion whenever the server ends the stream;
    /// returns (to relist) on 410 Gone; throws on other errors.
    private func watchUntilGone() async throws {
        while !Task.isCancelled {
            let from = state.withLock { $0.lastResourceVersion }
            let watchOptions = ListOptions(labelSelector: options.labelSelector, fieldSelector: options.fieldSelector,
                                           resourceVersion: from, timeoutSeconds: Int.random(in: options.watchTimeoutSeconds),
                                           allowWatchBookmarks: true)
            do {
                for try await event in client.watch(resource, namespace: options.namespace, options: watchOptions, projection: projection) {
                    switch event {
                    case .added(let object), .modified(let object):
                        apply(object, deleted: false)
                    case .deleted(let object):
                        apply(object, deleted: true)
                    case .bookmark(let resourceVersion):
                        if !resourceVersion.isEmpty { setResourceVersion(resourceVersion) }
                    case .error(let status):
                        let error = APIError(statusCode: status.code ?? 500, status: status, request: "WATCH \(resource)")
                        if error.isGone { return }
                        throw error
                    }
                }
            } catch let error as APIError where error.isGone {
                return
            }
        }
        throw CancellationError()
    }

    private func setResourceVersion(_ version: String) {
        state.withLock { $0.lastResourceVersion = version }
    }

    private func apply(_ object: Projected<Projection>, deleted: Bool) {
        let key = Self.key(object)
        let projection = object.value
        let version = object.resourceVersion
        let old = state.withLock { state -> Entry? in
            let old = state.cache[key]
            if deleted {
                state.cache[key] = nil
            } else {
                state.cache[key] = Entry(resourceVersion: version, projection: projection)
            }
            if !version.isEmpty { state.lastResourceVersion = version }
            return old
        }
        if deleted {
            handler(.deleted(old?.projection ?? projection))
        } else if let old {
            handler(.updated(old: old.projection, new: projection))
        } else {
            handler(.added(projection))
        }
    }
}
