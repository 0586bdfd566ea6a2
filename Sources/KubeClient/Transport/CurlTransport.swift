import CCurl
import Foundation
import Synchronization

/// Transport settings that do not change per request.
public struct TransportConfiguration: Sendable {
    public var tls: TLSConfiguration
    /// `proxy-url` from the kubeconfig.
    public var proxyURL: String?
    public var connectTimeout: Duration
    /// Default limit for a whole request (not for watches).
    public var requestTimeout: Duration
    public var userAgent: String
    /// Threads that run ordinary requests, each reusing one connection-caching handle.
    public var concurrency: Int

    public init(tls: TLSConfiguration = TLSConfiguration(), proxyURL: String? = nil, connectTimeout: Duration = .seconds(10),
                requestTimeout: Duration = .seconds(60), userAgent: String = "node-ipam-controller", concurrency: Int = 4) {
        self.tls = tls
        self.proxyURL = proxyURL
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.userAgent = userAgent
        self.concurrency = max(1, concurrency)
    }
}

/// State of one transfer, shared between the thread running libcurl and Swift tasks.
/// Everything but `cancelled` is touched only by the thread running the transfer.
/// `@unchecked`: libcurl's C callbacks on that thread write it through an opaque pointer.
final class Transfer: @unchecked Sendable {
    var status = 0
    var headers: [String: String] = [:]
    var body = Data()
    var headDelivered = false
    let onPart: (@Sendable (HTTPStreamPart) -> Void)?
    let cancelled = Atomic<Bool>(false)

    init(onPart: (@Sendable (HTTPStreamPart) -> Void)? = nil) {
        self.onPart = onPart
    }

    /// One header line as libcurl delivers it (with its CRLF). Called for every line of
    /// every response, so it trims ASCII whitespace by hand instead of through Foundation.
    func headerLine(_ line: String) {
        let trimmed = Self.trimmed(line[...])
        if trimmed.hasPrefix("HTTP/") {
            // A new response head (after 100 Continue or a redirect): start over.
            let parts = trimmed.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = trimmed[..<colon].lowercased()
            headers[name] = String(Self.trimmed(trimmed[trimmed.index(after: colon)...]))
        }
    }

    private static func trimmed(_ text: Substring) -> Substring {
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return text[first...last]
    }

    func received(_ bytes: UnsafeRawBufferPointer) {
        guard let onPart else {
            body.append(contentsOf: bytes)
            return
        }
        if !headDelivered {
            headDelivered = true
            onPart(.head(status: status, headers: headers))
        }
        onPart(.body(Data(bytes)))
    }
}

private let headerCallback: ccurl_data_callback = { data, size, count, context in
    let length = size * count
    guard let data, let context else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    transfer.headerLine(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
    return length
}

private let writeCallback: ccurl_data_callback = { data, size, count, context in
    let length = size * count
    guard let data, let context else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    if transfer.cancelled.load(ordering: .relaxed) { return 0 }
    transfer.received(UnsafeRawBufferPointer(start: data, count: length))
    return length
}

private let progressCallback: ccurl_progress_callback = { context, _, _, _, _ in
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.cancelled.load(ordering: .relaxed) ? 1 : 0
}

private let curlGlobalInit: Void = {
    signal(SIGPIPE, SIG_IGN)
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}()

/// HTTP over libcurl. Blocking libcurl calls run on the transport's own threads, never on
/// Swift's cooperative pool: a fixed set of worker threads for ordinary requests (each
/// keeping its handle, so connections and TLS sessions are reused) and one thread per
/// streaming request (watches). Cancelling the calling task aborts the transfer.
public final class CurlTransport: Sendable {
    public let configuration: TransportConfiguration
    private let queue: JobQueue
    /// Threads still running (workers and streams), so that `shutdown` can wait for them:
    /// a process that exits while a thread is inside libcurl crashes in OpenSSL's freed state.
    private let threads = LiveThreads()

    public init(configuration: TransportConfiguration) {
        _ = curlGlobalInit
        self.configuration = configuration
        self.queue = JobQueue()
        for index in 0..<configuration.concurrency {
            let queue = self.queue
            let configuration = configuration
            let threads = self.threads
            threads.started(nil)
            let thread = Thread {
                let handle = curl_easy_init()
                defer {
                    curl_easy_cleanup(handle)
                    threads.ended(nil)
                }
                while let job = queue.next() {
                    let result = CurlTransport.perform(handle, job.request, job.transfer, configuration, streaming: false)
                    switch result {
                    case .success:
                        job.continuation.resume(returning: HTTPResponse(status: job.transfer.status, headers: job.transfer.headers, body: job.transfer.body))
                    case .failure(let error):
                        job.continuation.resume(throwing: error)
                    }
                }
            }
            thread.name = "curl-worker-\(index)"
            thread.start()
        }
    }

    deinit {
        queue.close()
    }

    /// Stops the worker threads once queued requests are done, aborts open streams, and waits
    /// (up to `timeout`) until every thread has left libcurl, so the process can exit safely.
    public func shutdown(timeout: Duration = .seconds(3)) {
        queue.close()
        threads.cancelStreams()
        threads.waitUntilNone(timeout: timeout)
    }

    /// Sends a request and collects the whole response.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let transfer = Transfer()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                if !queue.enqueue(Job(request: request, transfer: transfer, continuation: continuation)) {
                    continuation.resume(throwing: TransportError(kind: .cancelled, url: request.url, message: "the client was shut down", curlCode: nil))
                }
            }
        } onCancel: {
            transfer.cancelled.store(true, ordering: .relaxed)
        }
    }

    /// Starts a streaming request on its own thread. The stream yields the head, then body
    /// chunks as they arrive; it finishes when the server ends the response and throws on
    /// transport errors. Ending iteration (or cancelling the task) aborts the transfer.
    public func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let (stream, continuation) = AsyncThrowingStream<HTTPStreamPart, any Error>.makeStream()
        let transfer = Transfer(onPart: { continuation.yield($0) })
        continuation.onTermination = { _ in transfer.cancelled.store(true, ordering: .relaxed) }
        let configuration = self.configuration
        let threads = self.threads
        threads.started(transfer)
        let thread = Thread {
            let handle = curl_easy_init()
            defer {
                curl_easy_cleanup(handle)
                threads.ended(transfer)
            }
            let result = CurlTransport.perform(handle, request, transfer, configuration, streaming: true)
            switch result {
            case .success:
                if !transfer.headDelivered {
                    continuation.yield(.head(status: transfer.status, headers: transfer.headers))
                }
                continuation.finish()
            case .failure(let error):
                continuation.finish(throwing: error)
            }
        }
        thread.name = "curl-stream"
        thread.start()
        return stream
    }

    // MARK: - libcurl

    private static func milliseconds(_ duration: Duration) -> Int { Int(duration.inMilliseconds) }

    static func perform(_ handle: UnsafeMutableRawPointer?, _ request: HTTPRequest, _ transfer: Transfer,
                        _ configuration: TransportConfiguration, streaming: Bool) -> Result<Void, TransportError> {
        func failure(_ kind: TransportError.Kind, _ message: String, _ code: Int? = nil) -> Result<Void, TransportError> {
            .failure(TransportError(kind: kind, url: request.url, message: message, curlCode: code))
        }
        guard let handle else { return failure(.other, "libcurl could not create a handle") }
        if transfer.cancelled.load(ordering: .relaxed) { return failure(.cancelled, "request cancelled") }
        curl_easy_reset(handle)

        var url = request.url
        var connectTo: UnsafeMutablePointer<curl_slist>?
        if let serverName = configuration.tls.serverName, let rewritten = Self.rewrite(url: url, serverName: serverName) {
            // Verify (and send SNI for) tls-server-name while connecting to the real host.
            url = rewritten.url
            connectTo = curl_slist_append(nil, rewritten.connectTo)
        }
        defer { if let connectTo { curl_slist_free_all(connectTo) } }

        ccurl_setopt_string(handle, CURLOPT_URL, url)
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        ccurl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        // HTTP/2 over TLS when the server offers it in ALPN (kube-apiserver does), else HTTP/1.1.
        ccurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        ccurl_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent)
        if let connectTo { ccurl_setopt_slist(handle, CURLOPT_CONNECT_TO, connectTo) }
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        let timeout = request.timeout ?? (streaming ? .zero : configuration.requestTimeout)
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout))
        if let proxy = configuration.proxyURL { ccurl_setopt_string(handle, CURLOPT_PROXY, proxy) }

        let tls = configuration.tls
        if let ca = tls.certificateAuthority {
            ca.withUnsafeBytes { _ = ccurl_setopt_blob(handle, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
        }
        if let certificate = tls.clientCertificate {
            ccurl_setopt_string(handle, CURLOPT_SSLCERTTYPE, "PEM")
            certificate.withUnsafeBytes { _ = ccurl_setopt_blob(handle, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count) }
        }
        if let key = tls.clientKey {
            ccurl_setopt_string(handle, CURLOPT_SSLKEYTYPE, "PEM")
            key.withUnsafeBytes { _ = ccurl_setopt_blob(handle, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count) }
        }
        if tls.insecureSkipVerify {
            ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        }

        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headerList = curl_slist_append(headerList, "\(header.name): \(header.value)") }
        // No "Expect: 100-continue" round trip for request bodies.
        headerList = curl_slist_append(headerList, "Expect:")
        defer { curl_slist_free_all(headerList) }
        ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)

        switch request.method {
        case "GET": ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        case "HEAD": ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
        default: ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies, so the body need not outlive this call.
                _ = ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        }

        let context = Unmanaged.passUnretained(transfer).toOpaque()
        ccurl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback)
        ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
        ccurl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, writeCallback)
        ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        ccurl_setopt_progress_callback(handle, progressCallback)
        ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context)

        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }
        ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)

        // The last moment before the request can leave: a leader whose Lease may have
        // expired while this request waited (a queue, a pause of the process) never sends it.
        if let notAfter = request.notAfter, ContinuousClock.now >= notAfter {
            return failure(.fenced, "not sent: the write fence closed (this replica's Lease may have expired)")
        }
        let code = curl_easy_perform(handle)
        withExtendedLifetime(transfer) {}
        if code == CURLE_OK { return .success(()) }
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        if transfer.cancelled.load(ordering: .relaxed) {
            return failure(.cancelled, "request cancelled", Int(code.rawValue))
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return failure(.timedOut, "timed out: \(message)", Int(code.rawValue))
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return failure(.couldNotConnect, "cannot connect: \(message)", Int(code.rawValue))
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR:
            return failure(.tls, "TLS failed: \(message)", Int(code.rawValue))
        default:
            return failure(.other, message, Int(code.rawValue))
        }
    }

    /// Rewrites https://HOST:PORT/... to https://SERVERNAME:PORT/... plus a CONNECT_TO entry
    /// "SERVERNAME:PORT:HOST:PORT".
    static func rewrite(url: String, serverName: String) -> (url: String, connectTo: String)? {
        guard let components = URLComponents(string: url), let host = components.host else { return nil }
        let port = components.port ?? (components.scheme == "https" ? 443 : 80)
        var rewritten = components
        rewritten.host = serverName
        guard let newURL = rewritten.string else { return nil }
        let target = host.contains(":") ? "[\(host)]" : host
        return (newURL, "\(serverName):\(port):\(target):\(port)")
    }
}

/// The transport's running threads, and the transfers of its streams (to abort at shutdown).
/// `@unchecked`: guarded by an NSCondition (a thread waits on it with a timeout at shutdown),
/// which Synchronization's `Mutex` cannot do.
private final class LiveThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var count = 0
    private var streams: [ObjectIdentifier: Transfer] = [:]

    func started(_ stream: Transfer?) {
        condition.lock()
        count += 1
        if let stream { streams[ObjectIdentifier(stream)] = stream }
        condition.unlock()
    }

    func ended(_ stream: Transfer?) {
        condition.lock()
        count -= 1
        if let stream { streams[ObjectIdentifier(stream)] = nil }
        condition.broadcast()
        condition.unlock()
    }

    func cancelStreams() {
        condition.lock()
        let open = Array(streams.values)
        condition.unlock()
        for transfer in open { transfer.cancelled.store(true, ordering: .relaxed) }
    }

    func waitUntilNone(timeout: Duration) {
        let deadline = Date().addingTimeInterval(timeout.inSeconds)
        condition.lock()
        while count > 0 && condition.wait(until: deadline) {}
        condition.unlock()
    }
}

/// Work for the request threads.
private struct Job: Sendable {
    let request: HTTPRequest
    let transfer: Transfer
    let continuation: CheckedContinuation<HTTPResponse, any Error>
}

/// `@unchecked`: guarded by an NSCondition (the request threads block on it until a job
/// comes), which Synchronization's `Mutex` cannot do.
private final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var head = 0
    private var closed = false

    func enqueue(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Blocks until a job is available; nil once closed and drained.
    func next() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed { condition.wait() }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head > 64 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
