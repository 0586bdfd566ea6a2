import ClusterCIDRAPI
import Foundation
import FuzzSupport
import KubeClient

// The input is a YAML manifest file (like examples/ and config/crd/), read as the demo and the
// tests read ClusterCIDR manifests: `Manifests.documents`, then each document decoded as a
// ClusterCIDR and validated.
//
// Checks: no crash or hang; a rejected file gives an error that names the file and says what
// is wrong; every document is JSON that JSONSerialization reads back; a document that is not a
// ClusterCIDR fails with a readable decoding error; validation errors of one that is name
// the object and the field.

private let source = "manifests/fuzz.yaml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifests(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let documents: [Data]
    do {
        documents = try Manifests.documents(FuzzInput(bytes, count).text, source: source)
    } catch {
        fuzzCheck(error is Manifests.Error, "Manifests.documents threw \(type(of: error)), not Manifests.Error: \(error)")
        requireReadable("\(error)", context: "\(source): ")
        return 0
    }
    for document in documents {
        do {
            _ = try JSONSerialization.jsonObject(with: document, options: [.fragmentsAllowed])
        } catch {
            fuzzFail("a document is not JSON (\(error)): \(String(decoding: document, as: UTF8.self))")
        }
        let object: ClusterCIDR
        do {
            object = try JSONDecoder().decode(ClusterCIDR.self, from: document)
        } catch {
            requireReadableDecodingError(error)
            continue
        }
        for error in object.validate() {
            requireReadable(error.description, context: "ClusterCIDR \"\(object.name)\": \(error.field): ")
        }
    }
    return 0
}
