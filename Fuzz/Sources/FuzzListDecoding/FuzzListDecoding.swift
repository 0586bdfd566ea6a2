import ClusterCIDRAPI
import Foundation
import FuzzSupport
import KubeClient

// The input is the body of a LIST response, decoded as the informers' lists decode it
// (`KubernetesClient.list`: `JSONDecoder` into `ListPage<T>`), for Nodes and ClusterCIDRs; and
// the same body as the answer to a refused request (`APIError.from`).
//
// Checks: no crash or hang; a rejected body gives a readable decoding error; every decoded
// item reads back equal after encoding (the controller writes back objects it has read);
// an error answer always becomes an APIError whose message names the request and status.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzListDecoding(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let body = FuzzInput(bytes, count).data
    checkList(Node.self, body)
    checkList(ClusterCIDR.self, body)
    checkErrorAnswer(body, status: 400 + count % 200)
    return 0
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
