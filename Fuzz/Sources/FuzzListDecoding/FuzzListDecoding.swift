import ClusterCIDRAPI
import Foundation
import FuzzSupport
@testable import KubeClient

// The input is the body of a LIST response, decoded as the informers' lists decode it
// (`KubernetesClient.list`: `JSONDecoder` into `ListPage<T>`), for Nodes and ClusterCIDRs; and
// the same body as the answer to a refused request (`APIError.from`).
//
// And as the node informer lists: each item projected in place (`ListPageHead.read` with
// `.nodeSummary`).
//
// Checks: no crash or hang; a rejected body gives a readable decoding error; every decoded
// item reads back equal after encoding (the controller writes back objects it has read);
// an error answer always becomes an APIError whose message names the request and status; a
// page JSONDecoder reads gives the same node summaries, continue token and resourceVersion
// when projected, and a page the projection refuses gives a readable JSONScanError.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzListDecoding(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let body = FuzzInput(bytes, count).data
    checkList(Node.self, body)
    checkList(ClusterCIDR.self, body)
    checkErrorAnswer(body, status: 400 + count % 200)
    checkProjectedList(body)
    return 0
}

private func checkProjectedList(_ body: Data) {
    var items: [Projected<NodeSummary>] = []
    let head: ListPageHead
    do {
        head = try ListPageHead.read(body, into: &items, projection: .nodeSummary)
    } catch let failure as JSONScanError {
        requireReadable(failure.description, context: "")
        if let page = try? JSONDecoder().decode(ListPage<Node>.self, from: body) {
            fuzzFail("JSONDecoder reads \(page.items.count) nodes from this page, the projection fails: \(failure)")
        }
        return
    } catch {
        fuzzFail("the projected list failed with \(type(of: error)), not a JSONScanError: \(error)")
    }
    guard let page = try? JSONDecoder().decode(ListPage<Node>.self, from: body) else { return }
    fuzzCheck(items.map(\.value) == page.items.map(NodeSummary.init), "projected items differ from JSONDecoder's")
    fuzzCheck(head.continueToken == page.metadata.continue && head.resourceVersion == page.metadata.resourceVersion,
              "projected page metadata differs from JSONDecoder's: \(head) vs \(page.metadata)")
}

private func checkList<T: Codable & Sendable & Equatable>(_: T.Type, _ body: Data) {
    let page: ListPage<T>
    do {
        page = try JSONDecoder().decode(ListPage<T>.self, from: body)
    } catch {
        requireReadableDecodingError(error)
        return
    }
    for item in page.items { requireRoundTrip(item) }
}

private func checkErrorAnswer(_ body: Data, status: Int) {
    let request = "GET /api/v1/nodes"
    let error = APIError.from(HTTPResponse(status: status, headers: [:], body: body), request: request)
    fuzzCheck(error.statusCode == status, "APIError.from changed the status \(status) to \(error.statusCode)")
    requireReadable(error.description, context: "\(request): \(status)", relaying: [error.status.reason, error.status.message])
}
