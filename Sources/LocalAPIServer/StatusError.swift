/// A failed request, rendered as a `metav1.Status` body with kube-apiserver's reasons, codes and messages.
public struct StatusError: Error, Sendable {
    public var code: Int
    public var reason: String
    public var message: String
    public var details: JSON?

    public init(code: Int, reason: String, message: String, details: JSON? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// The Status object kube-apiserver would send.
    public var status: JSON {
        var s: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        if let details { s["details"] = details }
        return s
    }

    static func qualified(_ r: ResourceInfo) -> String { r.group.isEmpty ? r.plural : "\(r.plural).\(r.group)" }

    static func details(_ r: ResourceInfo, _ name: String) -> JSON {
        var d: JSON = ["name": .string(name), "kind": .string(r.plural)]
        if !r.group.isEmpty { d["group"] = .string(r.group) }
        return d
    }

    static func notFound(_ r: ResourceInfo, _ name: String) -> StatusError {
        StatusError(code: 404, reason: "NotFound", message: "\(qualified(r)) \"\(name)\" not found", details: details(r, name))
    }
    static func alreadyExists(_ r: ResourceInfo, _ name: String) -> StatusError {
        StatusError(code: 409, reason: "AlreadyExists", message: "\(qualified(r)) \"\(name)\" already exists", details: details(r, name))
    }
    static func conflict(_ r: ResourceInfo, _ name: String, _ why: String = "the object has been modified; please apply your changes to the latest version and try again") -> StatusError {
        StatusError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(qualified(r)) \"\(name)\": \(why)",
                 details: details(r, name))
    }
    static func badRequest(_ message: String) -> StatusError { StatusError(code: 400, reason: "BadRequest", message: message) }
    static func notFoundPath() -> StatusError { StatusError(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: [:]) }
    static func methodNotAllowed(_ verb: String, _ r: ResourceInfo?) -> StatusError {
        StatusError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource", details: [:])
    }
    static func unsupportedPatch() -> StatusError {
        StatusError(code: 415, reason: "UnsupportedMediaType",
                 message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    }
    static let unauthorized = StatusError(code: 401, reason: "Unauthorized", message: "Unauthorized")
    static func expired(_ requested: UInt64, _ oldest: UInt64) -> StatusError {
        StatusError(code: 410, reason: "Expired", message: "too old resource version: \(requested) (\(oldest))")
    }
    static func internalError(_ message: String) -> StatusError {
        StatusError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)", details: ["causes": [["message": .string(message)]]])
    }

    /// One field problem inside a 422 Invalid.
    public struct Cause: Sendable {
        public var type: String  // FieldValueInvalid, FieldValueForbidden, FieldValueRequired, ...
        public var field: String
        public var message: String  // the full text after the field, e.g. `Invalid value: "x": must be ...`
    }

    static func invalid(kind: String, group: String, name: String, causes: [Cause]) -> StatusError {
        let text = causes.map { "\($0.field): \($0.message)" }
        let joined = text.count == 1 ? text[0] : "[" + text.joined(separator: ", ") + "]"
        let qualifiedKind = group.isEmpty ? kind : "\(kind).\(group)"
        var d: JSON = [
            "name": .string(name), "kind": .string(kind),
            "causes": .array(causes.map { ["reason": .string($0.type), "message": .string($0.message), "field": .string($0.field)] }),
        ]
        if !group.isEmpty { d["group"] = .string(group) }
        return StatusError(code: 422, reason: "Invalid", message: "\(qualifiedKind) \"\(name)\" is invalid: \(joined)", details: d)
    }
}
