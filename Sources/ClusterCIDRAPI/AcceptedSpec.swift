import Foundation
import KubeClient

/// The spec the controller accepted for a ClusterCIDR, kept on the object itself in an
/// annotation written in the same update as the finalizer, so that a restarted controller
/// still knows it. A cluster whose CRD lacks our CEL rules can let the spec change; the
/// pool's ranges and counts keep following the accepted spec, never the changed one.
public struct AcceptedClusterCIDRSpec: Codable, Sendable, Hashable {
    /// The annotation that holds it (JSON: the object's uid and the spec).
    public static let annotation = "networking.x-k8s.io/accepted-spec"

    /// The object it was accepted for: a copy of the annotation on another object (a
    /// manifest saved with `kubectl get -o yaml` and applied again) is not an acceptance.
    public var uid: String
    public var spec: ClusterCIDRSpec

    public init(uid: String, spec: ClusterCIDRSpec) {
        self.uid = uid
        self.spec = spec
    }

    /// The annotation's value.
    public var annotationValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

extension ClusterCIDR {
    /// The spec accepted for this very object, read from its annotation; nil when the object
    /// carries none, one that does not decode, or one made for another object (another uid).
    public var acceptedSpec: AcceptedClusterCIDRSpec? {
        guard let text = metadata.annotations?[AcceptedClusterCIDRSpec.annotation],
              let accepted = try? JSONDecoder().decode(AcceptedClusterCIDRSpec.self, from: Data(text.utf8)),
              accepted.uid == (metadata.uid ?? "") else { return nil }
        return accepted
    }

    /// This object as accepted: with the finalizer and the annotation recording `spec`.
    public func accepting(_ spec: ClusterCIDRSpec) -> ClusterCIDR {
        var object = self
        if !metadata.hasFinalizer(ClusterCIDR.finalizer) {
            object.metadata.finalizers = (metadata.finalizers ?? []) + [ClusterCIDR.finalizer]
        }
        var annotations = metadata.annotations ?? [:]
        annotations[AcceptedClusterCIDRSpec.annotation] = AcceptedClusterCIDRSpec(uid: metadata.uid ?? "", spec: spec).annotationValue
        object.metadata.annotations = annotations
        return object
    }

    /// This object with `spec` in place of its own (to validate or convert the accepted spec).
    public func withSpec(_ spec: ClusterCIDRSpec?) -> ClusterCIDR {
        var object = self
        object.spec = spec
        return object
    }
}

/// How a ClusterCIDR's spec differs from the spec accepted for it.
public struct ClusterCIDRSpecChange: Sendable, Hashable {
    /// One changed field: its path and both values as they read in a manifest.
    public struct Field: Sendable, Hashable {
        public var path: String
        public var accepted: String
        public var current: String
    }

    public var fields: [Field]

    /// The differences, nil when the specs agree (an empty CIDR and a missing one agree).
    public init?(accepted: ClusterCIDRSpec, current: ClusterCIDRSpec?) {
        func text(_ value: String?) -> String { value.flatMap { $0.isEmpty ? nil : $0 } ?? "(unset)" }
        func json(_ selector: NodeSelector?) -> String {
            guard let selector else { return "(unset)" }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(selector)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        }
        var fields: [Field] = []
        func compare(_ path: String, _ old: String, _ new: String) {
            if old != new { fields.append(Field(path: path, accepted: old, current: new)) }
        }
        compare("spec.ipv4", text(accepted.ipv4), text(current?.ipv4))
        compare("spec.ipv6", text(accepted.ipv6), text(current?.ipv6))
        compare("spec.perNodeHostBits", String(accepted.perNodeHostBits), current.map { String($0.perNodeHostBits) } ?? "(unset)")
        compare("spec.perNodeHostBitsIPv6", accepted.perNodeHostBitsIPv6.map(String.init) ?? "(unset)",
                current?.perNodeHostBitsIPv6.map(String.init) ?? "(unset)")
        if accepted.nodeSelector != current?.nodeSelector {
            fields.append(Field(path: "spec.nodeSelector", accepted: json(accepted.nodeSelector), current: json(current?.nodeSelector)))
        }
        guard !fields.isEmpty else { return nil }
        self.fields = fields
    }

    /// The changed fields' paths, e.g. `spec.ipv4, spec.perNodeHostBits`.
    public var paths: String { fields.map(\.path).joined(separator: ", ") }

    /// What changed, what the controller does about it, and the fix.
    public func description(nodes: Int) -> String {
        let changes = fields.map { "\($0.path) \($0.accepted) → \($0.current)" }.joined(separator: "; ")
        let held = nodes == 1 ? "the 1 node that holds its ranges" : "the \(nodes) nodes that hold its ranges"
        return "The spec changed after the pool was accepted (\(changes)); specs are immutable, but this cluster's CRD did not enforce it. "
            + "The controller keeps the accepted spec for \(held) and allocates no more from this pool. "
            + "To use the new spec, create a ClusterCIDR under a new name with it and delete this one (its finalizer stays until its nodes are gone), "
            + "or restore the accepted spec."
    }
}
