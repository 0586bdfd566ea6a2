/// One problem with a ClusterCIDR: the object, the field, what is wrong and how to fix it.
public struct ClusterCIDRValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Name of the ClusterCIDR (empty when it has none).
    public let name: String
    /// JSON path of the field, e.g. `spec.perNodeHostBits`.
    public let field: String
    /// What is wrong; contains the reference's message where it has one.
    public let message: String

    public init(name: String, field: String, message: String) {
        self.name = name
        self.field = field
        self.message = message
    }

    public var description: String { "ClusterCIDR \"\(name)\": \(field): \(message)" }
}

/// A ClusterCIDR that cannot be used, with every problem found.
public struct InvalidClusterCIDR: Error, Sendable, Hashable, CustomStringConvertible {
    public let errors: [ClusterCIDRValidationError]

    public init(_ errors: [ClusterCIDRValidationError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
}
