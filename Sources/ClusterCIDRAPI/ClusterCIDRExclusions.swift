import Foundation
import KubeClient
import MultiCIDR

extension ClusterCIDR {
    /// Ranges of this pool that no node ever gets (reserved for other uses): an annotation, so
    /// the object stays a manifest the reference accepts; comma-separated CIDRs, each inside
    /// one of the pool's ranges. Unlike the spec it may change.
    public static let excludeCIDRsAnnotation = "networking.x-k8s.io/exclude-cidrs"

    /// The annotation's text, nil when absent.
    public var excludeCIDRsText: String? { metadata.annotations?[Self.excludeCIDRsAnnotation] }

    /// The ranges the annotation keeps out of `pool` (this object's definition), or every
    /// error: an entry that is not a CIDR, or one outside the pool's ranges.
    public func excludedRanges(within pool: PoolDefinition) throws(InvalidClusterCIDR) -> [IPPrefix] {
        guard let text = excludeCIDRsText else { return [] }
        let field = "metadata.annotations[\(Self.excludeCIDRsAnnotation)]"
        var ranges: [IPPrefix] = []
        var errors: [ClusterCIDRValidationError] = []
        let ours = pool.families.map(\.prefix.description).joined(separator: ", ")
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            do {
                let range = try IPPrefix(parsing: entry)
                guard let family = pool.family(range.family), family.prefix.contains(range) else {
                    errors.append(ClusterCIDRValidationError(
                        name: name, field: field,
                        message: "\(entry) is outside the pool's ranges (\(ours)): list only ranges inside them, comma-separated"))
                    continue
                }
                if !ranges.contains(range) { ranges.append(range) }
            } catch {
                errors.append(ClusterCIDRValidationError(
                    name: name, field: field, message: "\"\(entry)\" is not a CIDR (\(error.reason)): list CIDRs such as 10.0.0.0/28, comma-separated"))
            }
        }
        guard errors.isEmpty else { throw InvalidClusterCIDR(errors) }
        return ranges.sorted()
    }
}
