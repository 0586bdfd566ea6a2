import ClusterCIDRAPI
import Foundation
import FuzzSupport
@testable import KubeClient

// The input is the body of a watch response (newline-delimited JSON events), decoded as the
// controller's two informers decode it: as Nodes and as ClusterCIDRs.
//
// Checks: no crash or hang; a rejected line gives a readable DecodingFailure that names the
// request; the events do not depend on how the body is cut into chunks (the whole body at
// once and cut into 2 to 8 chunks give the same events, or fail on the same line); an
// ERROR event becomes an APIError the informer can read (410 is "gone": relist).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWatchLine(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let body = FuzzInput(bytes, count).data
    // 2 to 8 chunks whose size follows the input's length, so mutations move the cuts
    // everywhere (inside a UTF-8 sequence, between "\r" and "\n"). Few chunks: the decoder
    // scans its whole buffer for a newline on every chunk.
    let chunkSize = max(1, count / (2 + count % 7))
    checkWatch(Node.self, body, chunkSize: chunkSize, path: "/api/v1/nodes")
    checkWatch(ClusterCIDR.self, body, chunkSize: chunkSize, path: "/apis/networking.x-k8s.io/v1/clustercidrs")
    return 0
}

private func checkWatch<T: Decodable & Sendable & Hashable>(_: T.Type, _ body: Data, chunkSize: Int, path: String) {
    let request = "WATCH \(path)"
    var whole = WatchLineDecoder<T>()
    let wholeResult = Result { try whole.feed(body, request: request) }

    var chunked = WatchLineDecoder<T>()
    var chunkedEvents: [WatchEvent<T>] = []
    var chunkedError: (any Error)?
    var offset = 0
    while offset < body.count {
        let end = min(offset + chunkSize, body.count)
        do {
            chunkedEvents += try chunked.feed(body.subdata(in: offset..<end), request: request)
        } catch {
            chunkedError = error
            break
        }
        offset = end
    }

    switch wholeResult {
    case .success(let events):
        fuzzCheck(chunkedError == nil, "\(T.self): the whole body decodes, in chunks of \(chunkSize) it fails: \(chunkedError.map { "\($0)" } ?? "")")
        fuzzCheck(events.count == chunkedEvents.count && zip(events, chunkedEvents).allSatisfy(same),
                  "\(T.self): chunks of \(chunkSize) give other events than the whole body (\(events.count) vs \(chunkedEvents.count))")
        for event in events { checkEvent(event, request: request) }
    case .failure(let error):
        guard let failure = error as? DecodingFailure else {
            fuzzFail("\(T.self): a watch line failed with \(type(of: error)), not a DecodingFailure: \(error)")
        }
        requireReadable(failure.description, context: "\(request): cannot decode the response: ")
        fuzzCheck(chunkedError.map { "\($0)" } == failure.description,
                  "\(T.self): in chunks of \(chunkSize) the body fails differently: \(chunkedError.map { "\($0)" } ?? "no error") vs \(failure)")
    }
}

/// What the informer does with an event, and what must hold for it.
private func checkEvent<T>(_ event: WatchEvent<T>, request: String) {
    guard case .error(let status) = event else { return }
    // As Informer.watchUntilGone builds it.
    let error = APIError(statusCode: status.code ?? 500, status: status, request: request)
    requireReadable(error.description, context: "\(request): \(error.statusCode)", relaying: [status.reason, status.message])
    if status.code == 410 { fuzzCheck(error.isGone, "an ERROR event with code 410 is not seen as gone: \(status)") }
}

private func same<T: Hashable>(_ a: WatchEvent<T>, _ b: WatchEvent<T>) -> Bool {
    switch (a, b) {
    case (.added(let x), .added(let y)), (.modified(let x), .modified(let y)), (.deleted(let x), .deleted(let y)): return x == y
    case (.bookmark(let x), .bookmark(let y)): return x == y
    case (.error(let x), .error(let y)): return x == y
    default: return false
    }
}
