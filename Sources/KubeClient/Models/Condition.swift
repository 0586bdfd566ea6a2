/// A status condition (`metav1.Condition`).
public struct Condition: Codable, Sendable, Hashable {
    /// CamelCase condition type, e.g. `Ready`.
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: String
    /// The `metadata.generation` the condition was computed from.
    public var observedGeneration: Int64?
    /// RFC 3339 time of the last change of `status`.
    public var lastTransitionTime: String
    /// CamelCase machine-readable reason.
    public var reason: String
    /// Human-readable explanation.
    public var message: String

    public static let statusTrue = "True"
    public static let statusFalse = "False"
    public static let statusUnknown = "Unknown"

    public init(type: String, status: String, observedGeneration: Int64? = nil, lastTransitionTime: String, reason: String, message: String = "") {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case type, status, observedGeneration, lastTransitionTime, reason, message
    }

    /// Tolerates conditions written by other tools that leave out the optional-looking fields.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        status = try container.decodeIfPresent(String.self, forKey: .status) ?? Condition.statusUnknown
        observedGeneration = try container.decodeIfPresent(Int64.self, forKey: .observedGeneration)
        lastTransitionTime = try container.decodeIfPresent(String.self, forKey: .lastTransitionTime) ?? ""
        reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
        message = try container.decodeIfPresent(String.self, forKey: .message) ?? ""
    }
}

extension Array where Element == Condition {
    /// Sets a condition by type. `lastTransitionTime` is kept when the status does not change,
    /// as Kubernetes' `meta.SetStatusCondition` does.
    public mutating func set(_ condition: Condition) {
        guard let index = firstIndex(where: { $0.type == condition.type }) else {
            append(condition)
            return
        }
        var updated = condition
        if self[index].status == condition.status, !self[index].lastTransitionTime.isEmpty {
            updated.lastTransitionTime = self[index].lastTransitionTime
        }
        self[index] = updated
    }

    /// The condition of the given type, if present.
    public func condition(ofType type: String) -> Condition? { first { $0.type == type } }
}
