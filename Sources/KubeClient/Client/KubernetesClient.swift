import Foundation
import Synchronization

/// Options of LIST and WATCH requests.
public struct ListOptions: Sendable, Hashable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?
    public var continueToken: String?
    public var resourceVersion: String?
    public var resourceVersionMatch: String?
    public var timeoutSeconds: Int?
    public var allowWatchBookmarks: Bool

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil,
                resourceVersion: String? = nil, resourceVersionMatch: String? = nil, timeoutSeconds: Int? = nil, allowWatchBookmarks: Bool = false) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
        self.resourceVersionMatch = resourceVersionMatch
        self.timeoutSeconds = timeoutSeconds
        self.allowWatchBookmarks = allowWatchBookmarks
    }

    var queryItems: [(String, String)] {
        var items: [(String, String)] = []
        if let labelSelector { items.append(("labelSelector", labelSelector)) }
        if let fieldSelector { items.append(("fieldSelector", fieldSelector)) }
        if let limit { items.append(("limit", String(limit))) }
        if let continueToken { items.append(("continue", continueToken)) }
        if let resourceVersion { items.append(("resourceVersion", resourceVersion)) }
        if let resourceVersionMatch { items.append(("resourceVersionMatch", resourceVersionMatch)) }
        if let timeoutSeconds { items.append(("timeoutSeconds", String(timeoutSeconds))) }
        if allowWatchBookmarks { items.append(("allowWatchBookmarks", "true")) }
        return items
    }
}

/// One page of a LIST.
public struct ListPage<Item: Decodable & Sendable>: Decodable, Sendable {
    public struct Metadata: Decodable, Sendable {
        public var resourceVersion: String?
        public var `continue`: String?
        public var remainingItemCount: Int?
    }

    public var items: [Item]
    public var metadata: Metadata

    enum CodingKeys: String, CodingKey { case items, metadata }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
        metadata = try container.decodeIfPresent(Metadata.self, forKey: .metadata) ?? Metadata()
    }
}

/// A patch body and its type.
public enum Patch: Sendable {
    /// `application/merge-patch+json` (RFC 7386).
    case merge(Data)
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    case strategicMerge(Data)
    /// `application/json-patch+json` (RFC 6902).
    case json(Data)
    /// Server-side apply (`application/apply-patch+yaml`; JSON is valid YAML).
    case apply(Data, force: Bool)

    var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .strategicMerge: return "application/strategic-merge-patch+json"
        case .json: return "application/json-patch+json"
        case .apply: return "application/apply-patch+yaml"
        }
    }

    var body: Data {
        switch self {
        case .merge(let data), .strategicMerge(let data), .json(let data), .apply(let data, _): return data
        }
    }
}

/// Preconditions of a DELETE.
public struct DeletePreconditions: Sendable, Hashable, Encodable {
    public var uid: String?
    public var resourceVersion: String?
    public init(uid: String? = nil, resourceVersion: String? = nil) {
        self.uid = uid
        self.resourceVersion = resourceVersion
    }
}

/// A watch event.
public enum WatchEvent<Object: Sendable>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// Carries only a resourceVersion (in the object's metadata) to resume from.
    case bookmark(resourceVersion: String)
    /// An error inside the stream, e.g. 410 Expired: the caller must relist.
    case error(APIStatus)
}

/// A Kubernetes API client on libcurl: typed REST verbs, watches, a shared token bucket,
/// credentials from kubeconfig/in-cluster/exec, and request metrics.
public final class KubernetesClient: Sendable {
    public let configuration: ClientConfiguration
    public let metrics = ClientMetrics()
    public let rateLimiter: TokenBucket
    public let fieldManager: String
    /// When set, every request but GET is sent only while the fence is open (a leader's writes).
    public let writeFence: WriteFence?
    private let credentials: CredentialProvider
    private let transports: TransportCache

    public init(configuration: ClientConfiguration, qps: Double = 20, burst: Int = 30, userAgent: String = "node-ipam-controller",
                fieldManager: String = "node-ipam-controller", concurrency: Int = 4, requestTimeout: Duration = .seconds(30),
                writeFence: WriteFence? = nil) {
        self.configuration = configuration
        self.writeFence = writeFence
        self.rateLimiter = TokenBucket(qps: qps, burst: burst)
        self.fieldManager = fieldManager
        self.credentials = CredentialProvider(credentials: configuration.credentials, source: configuration.source)
        self.transports = TransportCache(base: TransportConfiguration(
            tls: configuration.tls, proxyURL: configuration.proxyURL, requestTimeout: requestTimeout,
            userAgent: userAgent, concurrency: concurrency))
    }

    /// Stops the transport threads.
    public func shutdown() { transports.shutdown() }

    // MARK: - Raw requests

    private func url(_ path: String, _ query: [(String, String)]) -> String {
        var components = URLComponents()
        components.percentEncodedPath = path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        // "+" is legal in a query but servers read it as a space; encode it.
        let suffix = (components.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "+", with: "%2B") }) ?? ""
        return configuration.server + path + suffix
    }

    private func prepare(_ method: String, _ path: String, query: [(String, String)], body: Data?, contentType: String?,
                         accept: String, timeout: Duration?) async throws -> (HTTPRequest, CurlTransport) {
        var notAfter: ContinuousClock.Instant?
        if let writeFence, method != "GET" {
            guard let deadline = writeFence.deadline else {
                throw TransportError(kind: .fenced, url: url(path, query), message: "not sent: this replica does not hold a valid Lease", curlCode: nil)
            }
            notAfter = deadline
        }
        let material = try await credentials.material()
        var headers: [(name: String, value: String)] = [("Accept", accept)]
        if let contentType { headers.append(("Content-Type", contentType)) }
        if let authorization = material.authorization { headers.append(("Authorization", authorization)) }
        let transport = transports.transport(clientCertificate: material.clientCertificate, clientKey: material.clientKey)
        return (HTTPRequest(method: method, url: url(path, query), headers: headers, body: body, timeout: timeout, notAfter: notAfter), transport)
    }

    /// Sends a request (rate-limited, authenticated) and returns the raw response for any
    /// status; throws only on transport failures.
    public func send(_ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                     contentType: String? = nil, accept: String = "application/json", verb: String? = nil) async throws -> HTTPResponse {
        try await rateLimiter.acquire()
        let started = ContinuousClock.now
        let metricVerb = verb ?? method.lowercased()
        var attempt = 0
        while true {
            attempt += 1
            let (request, transport) = try await prepare(method, path, query: query, body: body, contentType: contentType, accept: accept, timeout: nil)
            do {
                let response = try await transport.send(request)
                if response.status == 401 && attempt == 1 {
                    // Rotated token or expired exec credential: fetch anew once.
                    await credentials.invalidate()
                    continue
                }
                record(metricVerb, response.status, since: started)
                return response
            } catch {
                record(metricVerb, 0, since: started)
                throw error
            }
        }
    }

    private func record(_ verb: String, _ code: Int, since started: ContinuousClock.Instant) {
        let elapsed = started.duration(to: .now)
        metrics.record(verb: verb, code: code, seconds: elapsed.inSeconds)
    }

    /// Sends and decodes a 2xx answer as `T`, or throws `APIError`.
    public func request<T: Decodable>(_ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                                      contentType: String? = nil, verb: String? = nil, as type: T.Type) async throws -> T {
        try await request(method, path, query: query, body: body, contentType: contentType, verb: verb) { body in
            try JSONDecoder().decode(T.self, from: body)
        }
    }

    /// Sends and reads a 2xx answer with `decode`, or throws `APIError`.
    private func request<T>(_ method: String, _ path: String, query: [(String, String)], body: Data?, contentType: String?,
                            verb: String?, decode: (Data) throws -> T) async throws -> T {
        let response = try await send(method, path, query: query, body: body, contentType: contentType, verb: verb)
        let description = "\(method) \(path)"
        guard (200..<300).contains(response.status) else { throw APIError.from(response, request: description) }
        do {
            return try decode(response.body)
        } catch {
            throw DecodingFailure(request: description, message: "\(error)")
        }
    }

    // MARK: - Typed verbs

    public func get<T: Decodable>(_ resource: Resource, namespace: String? = nil, name: String, as type: T.Type = T.self) async throws -> T {
        try await request("GET", resource.path(namespace: namespace, name: name), verb: "get", as: T.self)
    }

    public func list<T: Decodable & Sendable>(_ resource: Resource, namespace: String? = nil, options: ListOptions = ListOptions(),
                                              as type: T.Type = T.self) async throws -> ListPage<T> {
        try await request("GET", resource.path(namespace: namespace), query: options.queryItems, verb: "list", as: ListPage<T>.self)
    }

    /// Lists every page (`limit` per request), returning all items and the resourceVersion
    /// of the list (the last page's) to start a watch from.
    public func listAll<T: Decodable & Sendable>(_ resource: Resource, namespace: String? = nil, options: ListOptions = ListOptions(),
                                                 pageSize: Int = 500, as type: T.Type = T.self) async throws -> (items: [T], resourceVersion: String) {
        try await listAll(resource, namespace: namespace, options: options, pageSize: pageSize, as: type) { $0 }
    }

    /// Lists every page, keeping only `transform` of each item: a page's full objects are
    /// dropped before the next page is fetched (an informer of 50,000 nodes never holds
    /// them all at once).
    public func listAll<T: Decodable & Sendable, U>(_ resource: Resource, namespace: String? = nil, options: ListOptions = ListOptions(),
                                                    pageSize: Int = 500, as type: T.Type = T.self,
                                                    transform: (T) -> U) async throws -> (items: [U], resourceVersion: String) {
        var items: [U] = []
        var options = options
        options.limit = pageSize
        while true {
            let page: ListPage<T> = try await list(resource, namespace: namespace, options: options)
            if items.isEmpty, let capacity = ListCapacity.reserve(have: page.items.count, announced: page.metadata.remainingItemCount) {
                items.reserveCapacity(capacity)
            }
            items += page.items.map(transform)
            guard let token = page.metadata.continue, !token.isEmpty else {
                return (items, page.metadata.resourceVersion ?? "")
            }
            options.continueToken = token
            options.resourceVersion = nil
        }
    }

    /// Lists every page, reading each item with `projection` where it lies in the page: no
    /// item is decoded whole, and a page's text is dropped before the next is fetched.
    public func listAll<Value: Sendable>(_ resource: Resource, namespace: String? = nil, options: ListOptions = ListOptions(),
                                         pageSize: Int = 500, projection: ProjectionDecoder<Value>) async throws -> (items: [Projected<Value>], resourceVersion: String) {
        var items: [Projected<Value>] = []
        var options = options
        options.limit = pageSize
        let path = resource.path(namespace: namespace)
        while true {
            let response = try await send("GET", path, query: options.queryItems, verb: "list")
            let description = "GET \(path)"
            guard (200..<300).contains(response.status) else { throw APIError.from(response, request: description) }
            let page: ListPageHead
            do {
                page = try ListPageHead.read(response.body, into: &items, projection: projection)
            } catch let failure as JSONScanError {
                throw DecodingFailure(request: description, message: "LIST page: \(failure)")
            }
            guard let token = page.continueToken, !token.isEmpty else {
                return (items, page.resourceVersion ?? "")
            }
            options.continueToken = token
            options.resourceVersion = nil
        }
    }

    private func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    public func create<T: Codable>(_ resource: Resource, namespace: String? = nil, _ object: T) async throws -> T {
        try await request("POST", resource.path(namespace: namespace), query: [("fieldManager", fieldManager)],
                          body: try encode(object), contentType: "application/json", verb: "create", as: T.self)
    }

    /// PUT: fails with a conflict (`isConflict`) when the object's resourceVersion is stale.
    public func update<T: Codable>(_ resource: Resource, namespace: String? = nil, name: String, _ object: T) async throws -> T {
        try await request("PUT", resource.path(namespace: namespace, name: name), query: [("fieldManager", fieldManager)],
                          body: try encode(object), contentType: "application/json", verb: "update", as: T.self)
    }

    public func updateStatus<T: Codable>(_ resource: Resource, namespace: String? = nil, name: String, _ object: T) async throws -> T {
        try await request("PUT", resource.path(namespace: namespace, name: name, subresource: "status"), query: [("fieldManager", fieldManager)],
                          body: try encode(object), contentType: "application/json", verb: "update", as: T.self)
    }

    public func patch<T: Decodable>(_ resource: Resource, namespace: String? = nil, name: String, _ patch: Patch,
                                    subresource: String? = nil, as type: T.Type = T.self) async throws -> T {
        try await request("PATCH", resource.path(namespace: namespace, name: name, subresource: subresource), query: patchQuery(patch),
                          body: patch.body, contentType: patch.contentType, verb: "patch", as: T.self)
    }

    /// PATCH, reading only `projection` of the object the server answers with (a Node's
    /// summary instead of its 10-30 KB of status).
    public func patch<Value: Sendable>(_ resource: Resource, namespace: String? = nil, name: String, _ patch: Patch,
                                       subresource: String? = nil, projection: ProjectionDecoder<Value>) async throws -> Projected<Value> {
        try await request("PATCH", resource.path(namespace: namespace, name: name, subresource: subresource), query: patchQuery(patch),
                          body: patch.body, contentType: patch.contentType, verb: "patch") { try projection.decode($0) }
    }

    private func patchQuery(_ patch: Patch) -> [(String, String)] {
        var query = [("fieldManager", fieldManager)]
        if case .apply(_, let force) = patch, force { query.append(("force", "true")) }
        return query
    }

    public func delete(_ resource: Resource, namespace: String? = nil, name: String, preconditions: DeletePreconditions? = nil) async throws {
        struct DeleteOptions: Encodable {
            let apiVersion = "v1"
            let kind = "DeleteOptions"
            let preconditions: DeletePreconditions?
        }
        let body = try encode(DeleteOptions(preconditions: preconditions))
        let response = try await send("DELETE", resource.path(namespace: namespace, name: name), body: body, contentType: "application/json", verb: "delete")
        guard (200..<300).contains(response.status) else {
            throw APIError.from(response, request: "DELETE \(resource.path(namespace: namespace, name: name))")
        }
    }

    /// Opens a watch. The stream ends when the server closes it (the caller resumes from the
    /// last resourceVersion seen) and throws `APIError` when the server refuses it.
    public func watch<T: Decodable & Sendable>(_ resource: Resource, namespace: String? = nil, options: ListOptions,
                                               as type: T.Type = T.self) -> AsyncThrowingStream<WatchEvent<T>, any Error> {
        watch(resource, namespace: namespace, options: options, decoder: WatchLineDecoder<T>())
    }

    /// Opens a watch whose objects are read by `projection` where they lie in each line.
    public func watch<Value: Sendable>(_ resource: Resource, namespace: String? = nil, options: ListOptions,
                                       projection: ProjectionDecoder<Value>) -> AsyncThrowingStream<WatchEvent<Projected<Value>>, any Error> {
        watch(resource, namespace: namespace, options: options, decoder: WatchLineDecoder(projection.decode))
    }

    private func watch<T: Sendable>(_ resource: Resource, namespace: String?, options: ListOptions,
                                    decoder: WatchLineDecoder<T>) -> AsyncThrowingStream<WatchEvent<T>, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent<T>, any Error>.makeStream()
        let task = Task {
            do {
                try await rateLimiter.acquire()
                var query = options.queryItems
                query.append(("watch", "true"))
                let path = resource.path(namespace: namespace)
                let (request, transport) = try await prepare("GET", path, query: query, body: nil, contentType: nil,
                                                             accept: "application/json", timeout: .zero)
                let started = ContinuousClock.now
                var decoder = decoder
                var errorStatus: Int?
                var errorBody = Data()
                for try await part in transport.stream(request) {
                    switch part {
                    case .head(let status, _):
                        record("watch", status, since: started)
                        // A refused watch: collect the Status body that follows.
                        if !(200..<300).contains(status) { errorStatus = status }
                    case .body(let chunk):
                        if errorStatus != nil {
                            errorBody.append(chunk)
                            continue
                        }
                        for event in try decoder.feed(chunk, request: "WATCH \(path)") { continuation.yield(event) }
                    }
                }
                if let status = errorStatus {
                    throw APIError.from(HTTPResponse(status: status, headers: [:], body: errorBody), request: "WATCH \(path)")
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// One transport per client identity (exec plugins may hand out client certificates).
final class TransportCache: Sendable {
    private let base: TransportConfiguration
    private let transports = Mutex<[Data: CurlTransport]>([:])

    init(base: TransportConfiguration) {
        self.base = base
    }

    func transport(clientCertificate: Data?, clientKey: Data?) -> CurlTransport {
        let key = (clientCertificate ?? Data()) + (clientKey ?? Data())
        var configuration = base
        if let clientCertificate, let clientKey {
            configuration.tls.clientCertificate = clientCertificate
            configuration.tls.clientKey = clientKey
        }
        return transports.withLock { transports in
            if let existing = transports[key] { return existing }
            let transport = CurlTransport(configuration: configuration)
            transports[key] = transport
            return transport
        }
    }

    func shutdown() {
        // Shut down outside the lock: each waits (up to 3 s) for its threads to leave libcurl.
        let all = transports.withLock { Array($0.values) }
        for transport in all { transport.shutdown() }
    }
}

/// How much room a LIST's `remainingItemCount` buys: what is announced, within reason. The count
/// is only a hint, and a server's odd value (Int.max, negative) must neither overflow nor reserve
/// gigabytes.
enum ListCapacity {
    static let maximumHint = 100_000

    /// The capacity to reserve for `have` items plus `announced` more, nil when nothing is announced.
    static func reserve(have: Int, announced: Int?) -> Int? {
        guard let announced, announced > 0 else { return nil }
        return have + min(announced, maximumHint)
    }
}
