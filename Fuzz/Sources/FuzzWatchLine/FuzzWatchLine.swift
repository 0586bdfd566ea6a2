import ClusterCIDRAPI
import Foundation
import FuzzSupport
@testable import KubeClient

// The input is the body of a watch response (newline-delimited JSON events), decoded as the
// controller's two informers decode it: as Nodes and as ClusterCIDRs.
//
// And as the node informer reads it: each object projected in place (`.nodeSummary`), never
// decoded whole.
//
// Checks: no crash or hang; a rejected line gives a readable DecodingFailure that names the
// request; the events do not depend on how the body is cut into chunks (the whole body at
// once and cut into 2 to 8 chunks give the same events, or fail on the same line); an
// ERROR event becomes an APIError the informer can read (410 is "gone": relist); every line
// JSONDecoder reads as an ADDED/MODIFIED/DELETED Node gives the same summary when projected.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWatchLine(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let body = FuzzInput(bytes, count).data
    // 2 to 8 chunks whose size follows the input's length, so mutations move the cuts
    // everywhere (inside a UTF-8 sequence, between "\r" and "\n"). Few chunks: the decoder
    // scans its whole buffer for a newline on every chunk.
    let chunkSize = max(1, count / (2 + count % 7))
    checkWatch(Node.self, body, chunkSize: chunkSize, path: "/api/v1/nodes")
    checkWatch(ClusterCIDR.self, body, chunkSize: chunkSize, path: "/apis/networking.x-k8s.io/v1/clustercidrs")
    checkProjectedWatch(body, chunkSize: chunkSize)
    return 0
}

private typealias Summary = Projected<NodeSummary>

private func checkProjectedWatch(_ body: Data, chunkSize: Int) {
    let request = "WATCH /api/v1/nodes"
    func decoder() -> WatchLineDecoder<Summary> { WatchLineDecoder(ProjectionDecoder.nodeSummary.decode) }
    var whole = decoder()
    let wholeResult = Result { try whole.feed(body, request: request) }
    var chunked = decoder()
    var chunkedResult: Result<[WatchEvent<Summary>], any Error> = .success([])
    var offset = 0
    while offset < body.count, case .success(let sofar) = chunkedResult {
        let end = min(offset + chunkSize, body.count)
        chunkedResult = Result { sofar + (try chunked.feed(body.subdata(in: offset..<end), request: request)) }
        offset = end
    }
    switch (wholeResult, chunkedResult) {
    case (.success(let events), .success(let chunkedEvents)):
        fuzzCheck(events.count == chunkedEvents.count && zip(events, chunkedEvents).allSatisfy(same),
                  "projected: chunks of \(chunkSize) give other events than the whole body")
    case (.failure(let error), .failure(let chunkedError)):
        guard let failure = error as? DecodingFailure else { fuzzFail("projected: failed with \(type(of: error)), not a DecodingFailure: \(error)") }
        requireReadable(failure.description, context: "\(request): cannot decode the response: ")
        fuzzCheck("\(chunkedError)" == failure.description, "projected: in chunks the body fails differently: \(chunkedError) vs \(failure)")
    default:
        fuzzFail("projected: the whole body and chunks of \(chunkSize) disagree on success: \(wholeResult) vs \(chunkedResult)")
    }
    // Line by line against JSONDecoder's full decode of the Node.
    for line in body.split(separator: 0x0A, omittingEmptySubsequences: false) {
        guard let expected = try? JSONDecoder().decode(FullEvent.self, from: line), ["ADDED", "MODIFIED", "DELETED"].contains(expected.type) else { continue }
        var single = decoder()
        let events: [WatchEvent<Summary>]
        do {
            events = try single.feed(Data(line) + Data([0x0A]), request: request)
        } catch {
            fuzzFail("projected: JSONDecoder reads a \(expected.type) Node from this line, the projection fails: \(error)")
        }
        let want = NodeSummary(expected.object)
        switch events.first {
        case .added(let got) where expected.type == "ADDED", .modified(let got) where expected.type == "MODIFIED",
             .deleted(let got) where expected.type == "DELETED":
            fuzzCheck(events.count == 1 && got.value == want && got.name == want.name && got.resourceVersion == want.resourceVersion,
                      "projected: \(got) differs from JSONDecoder's \(want)")
        default:
            fuzzFail("projected: \(events.count) events of another kind than JSONDecoder's \(expected.type)")
        }
    }
}

/// The envelope as JSONDecoder reads it, independently of the scanner.
private struct FullEvent: Decodable {
    var type: String
    var object: Node
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
        // JSONDecoder names whichever bad entry of a dictionary it meets first, in an order that
        // differs between two decodes of the same text: its messages need only agree up to it.
        let chunkedText = chunkedError.map { "\($0)" } ?? "no error"
        let fromJSONDecoder = ": watch event: \(T.self): "
        fuzzCheck(chunkedText == failure.description
                  || chunkedText.contains(fromJSONDecoder) && failure.description.contains(fromJSONDecoder)
                  && chunkedText.prefix(upTo: chunkedText.range(of: fromJSONDecoder)!.lowerBound)
                  == failure.description.prefix(upTo: failure.description.range(of: fromJSONDecoder)!.lowerBound),
                  "\(T.self): in chunks of \(chunkSize) the body fails differently: \(chunkedText) vs \(failure)")
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
