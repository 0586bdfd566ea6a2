import ClusterCIDRAPI
import Foundation
import FuzzSupport
import KubeClient
import MultiCIDR

// The input is a ClusterCIDR as JSON (as the API server and the demo's manifests give it). It
// is validated, converted to the engine's pool and, when valid, given to an allocation engine
// that allocates for two nodes.
//
// Checks: no crash or hang; a body that does not decode gives a readable decoding error;
// every validation error names the object and the field and says what is wrong; conversion
// fails exactly when validation finds errors, and then with those errors (validation covers
// everything the engine refuses); an object is a valid update of itself; the pool has the
// prefixes and per-node sizes the spec asks for; allocated ranges are distinct, inside the
// pool and of the per-node size.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClusterCIDR(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let object: ClusterCIDR
    do {
        object = try JSONDecoder().decode(ClusterCIDR.self, from: FuzzInput(bytes, count).data)
    } catch {
        requireReadableDecodingError(error)
        return 0
    }
    let errors = object.validate()
    for error in errors {
        fuzzCheck(error.field.hasPrefix("spec"), "validation error outside spec: \(error)")
        requireReadable(error.description, context: "ClusterCIDR \"\(object.name)\": \(error.field): ")
    }
    fuzzCheck(ClusterCIDR.validateUpdate(old: object, new: object) == errors,
              "an unchanged object is not a valid update of itself: \(ClusterCIDR.validateUpdate(old: object, new: object))")

    let pool: PoolDefinition
    do {
        pool = try object.poolDefinition()
    } catch {
        fuzzCheck(!errors.isEmpty, "validation accepts what conversion refuses: \(error)")
        fuzzCheck(error.errors == errors, "conversion reports other errors than validation: \(error) vs \(errors)")
        requireReadable(error.description, context: "ClusterCIDR \"\(object.name)\": ")
        return 0
    }
    fuzzCheck(errors.isEmpty, "conversion accepts what validation refuses: \(errors)")
    guard let spec = object.spec else { fuzzFail("a valid ClusterCIDR without spec") }
    checkFamily(pool.ipv4, text: spec.ipv4, hostBits: spec.perNodeHostBits)
    checkFamily(pool.ipv6, text: spec.ipv6, hostBits: spec.effectivePerNodeHostBitsIPv6)
    checkAllocations(pool, labels: object.metadata.labels ?? [:])
    return 0
}

private func checkFamily(_ family: PoolFamily?, text: String?, hostBits: Int32) {
    guard let text, !text.isEmpty else {
        fuzzCheck(family == nil, "pool has a range its spec does not ask for: \(family.map { "\($0)" } ?? "")")
        return
    }
    guard let family else { fuzzFail("pool lacks the range \(text)") }
    fuzzCheck((try? IPPrefix(parsing: text)) == family.prefix, "pool range \(family.prefix) is not the spec's \(text)")
    fuzzCheck(family.nodeHostBits == Int(hostBits), "pool gives \(family.nodeHostBits) host bits per node, the spec \(hostBits)")
}

private func checkAllocations(_ pool: PoolDefinition, labels: [String: String]) {
    var engine = AllocationEngine()
    _ = engine.upsertPool(pool)
    var taken: [IPPrefix] = []
    for name in ["fuzz-node-a", "fuzz-node-b"] {
        let outcome = engine.allocate(for: NodeAttributes(name: name, labels: labels))
        guard case .allocated(let reservation, _) = outcome else {
            // Not selected, or a pool with a single range per node (full after the first).
            fuzzCheck(!outcome.description.isEmpty, "an allocation outcome without a description")
            continue
        }
        fuzzCheck(reservation.ranges.count == pool.families.count, "\(reservation) has not one range per family of \(pool.families)")
        for (range, family) in zip(reservation.ranges, pool.families) {
            fuzzCheck(family.prefix.contains(range), "\(range) lies outside the pool \(family.prefix)")
            fuzzCheck(range.length == family.nodePrefixLength, "\(range) is not a /\(family.nodePrefixLength)")
            fuzzCheck(!taken.contains { $0.overlaps(range) }, "\(range) was given twice")
            taken.append(range)
        }
    }
}
