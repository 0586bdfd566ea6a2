import Foundation

/// Structural-schema validation for custom resources, as the real server does before storing:
/// types, `required`, `enum`, `minimum`/`maximum` (and exclusive forms), `minLength`/`maxLength`,
/// `minItems`/`maxItems`, `pattern`, `nullable`, `x-kubernetes-int-or-string`,
/// `x-kubernetes-preserve-unknown-fields`; unknown fields are pruned, or rejected with 400 under
/// `fieldValidation=Strict`.
///
/// Formats, `oneOf`/`anyOf`/`allOf`/`not` and list-type uniqueness are not checked. CEL rules
/// (`x-kubernetes-validations`) are evaluated by `rules` (see ``ValidationRules``) on the pruned object,
/// unless a schema error blocks them, as kube-apiserver does.
enum SchemaValidation {
    /// Schema errors after which kube-apiserver does not evaluate CEL rules.
    static let blockingCauses: Set<String> = [
        "FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany", "FieldValueTypeInvalid",
    ]

    static func admit(_ r: ResourceInfo, schema: JSON, object: inout JSON, strict: Bool,
                      rules: ((JSON) -> [StatusError.Cause])? = nil) throws(StatusError) {
        var causes: [StatusError.Cause] = []
        var unknown: [String] = []
        let props = schema["properties"]?.objectValue ?? [:]
        guard case .object(var root) = object else { return }
        for (k, v) in root where !["apiVersion", "kind", "metadata"].contains(k) {
            if let s = props[k] {
                root[k] = walk(v, s, path: k, causes: &causes, unknown: &unknown)
            } else if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true {
                unknown.append(k)
                root[k] = nil
            }
        }
        for req in (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue)
        where root[req] == nil && !["apiVersion", "kind", "metadata"].contains(req) {
            causes.append(.init(type: "FieldValueRequired", field: req, message: "Required value"))
        }
        let name = root["metadata"]?["name"]?.stringValue ?? ""
        if strict, !unknown.isEmpty {
            let list = unknown.sorted().map { "unknown field \"\($0)\"" }.joined(separator: ", ")
            throw StatusError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): strict decoding error: \(list)")
        }
        if let rules {
            if causes.contains(where: { blockingCauses.contains($0.type) }) {
                causes.append(.init(type: "FieldValueInvalid", field: "<nil>",
                                    message: "Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
            } else {
                causes += rules(.object(root))
            }
        }
        if !causes.isEmpty { throw StatusError.invalid(kind: r.kind, group: r.group, name: name, causes: causes) }
        object = .object(root)
    }

    static func quote(_ v: JSON) -> String {
        switch v {
        case .string(let s): return "\"\(s)\""
        default: return v.serialized()
        }
    }

    static func walk(_ value: JSON, _ s: JSON, path: String, causes: inout [StatusError.Cause], unknown: inout [String]) -> JSON {
        if value == .null {
            if s["nullable"]?.boolValue == true { return value }
            causes.append(.init(type: "FieldValueTypeInvalid", field: path,
                                message: "Invalid value: \"null\": \(path) in body must be of type \(s["type"]?.stringValue ?? "object"): \"null\""))
            return value
        }
        if s["x-kubernetes-int-or-string"]?.boolValue == true {
            switch value {
            case .int, .string: return value
            default:
                causes.append(.init(type: "FieldValueTypeInvalid", field: path,
                                    message: "Invalid value: \"\(value.typeName)\": \(path) in body must be of type integer-or-string: \"\(value.typeName)\""))
                return value
            }
        }
        if let type = s["type"]?.stringValue {
            let ok: Bool
            switch (type, value) {
            case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .int), ("number", .int),
                 ("number", .double): ok = true
            case ("integer", .double(let d)): ok = d == d.rounded()
            default: ok = false
            }
            if !ok {
                causes.append(.init(type: "FieldValueTypeInvalid", field: path,
                                    message: "Invalid value: \"\(value.typeName)\": \(path) in body must be of type \(type): \"\(value.typeName)\""))
                return value
            }
        }
        if let e = s["enum"]?.arrayValue, !e.contains(value) {
            causes.append(.init(type: "FieldValueNotSupported", field: path,
                                message: "Unsupported value: \(quote(value)): supported values: " + e.map(quote).joined(separator: ", ")))
        }
        switch value {
        case .int, .double:
            let d = value.doubleValue!
            if let m = s["minimum"]?.doubleValue {
                let exclusive = s["exclusiveMinimum"]?.boolValue == true
                if exclusive ? d <= m : d < m {
                    causes.append(.init(type: "FieldValueInvalid", field: path,
                                        message: "Invalid value: \(value.serialized()): \(path) in body should be greater than \(exclusive ? "" : "or equal to ")\(s["minimum"]!.serialized())"))
                }
            }
            if let m = s["maximum"]?.doubleValue {
                let exclusive = s["exclusiveMaximum"]?.boolValue == true
                if exclusive ? d >= m : d > m {
                    causes.append(.init(type: "FieldValueInvalid", field: path,
                                        message: "Invalid value: \(value.serialized()): \(path) in body should be less than \(exclusive ? "" : "or equal to ")\(s["maximum"]!.serialized())"))
                }
            }
            return value
        case .string(let str):
            if let m = s["minLength"]?.intValue, str.count < m {
                causes.append(.init(type: "FieldValueInvalid", field: path,
                                    message: "Invalid value: \"\(str)\": \(path) in body should be at least \(m) chars long"))
            }
            if let m = s["maxLength"]?.intValue, str.count > m {
                causes.append(.init(type: "FieldValueTooLong", field: path, message: "Too long: may not be more than \(m) bytes"))
            }
            if let p = s["pattern"]?.stringValue {
                if let re = try? NSRegularExpression(pattern: p),
                   re.firstMatch(in: str, range: NSRange(str.startIndex..., in: str)) == nil
                {
                    causes.append(.init(type: "FieldValueInvalid", field: path,
                                        message: "Invalid value: \"\(str)\": \(path) in body should match '\(p)'"))
                }
            }
            return value
        case .array(let items):
            if let m = s["minItems"]?.intValue, items.count < m {
                causes.append(.init(type: "FieldValueInvalid", field: path, message: "Invalid value: \(items.count): \(path) in body should have at least \(m) items"))
            }
            if let m = s["maxItems"]?.intValue, items.count > m {
                causes.append(.init(type: "FieldValueTooMany", field: path, message: "Too many: \(items.count): must have at most \(m) items"))
            }
            guard let itemSchema = s["items"] else { return value }
            return .array(items.enumerated().map { i, v in walk(v, itemSchema, path: "\(path)[\(i)]", causes: &causes, unknown: &unknown) })
        case .object(var o):
            let props = s["properties"]?.objectValue
            let additional = s["additionalProperties"]
            let preserve = s["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
            for (k, v) in o {
                if let ps = props?[k] {
                    o[k] = walk(v, ps, path: "\(path).\(k)", causes: &causes, unknown: &unknown)
                } else if let additional, case .object = additional {
                    o[k] = walk(v, additional, path: "\(path).\(k)", causes: &causes, unknown: &unknown)
                } else if additional?.boolValue == true || preserve || (props == nil && additional == nil && s["type"] == nil) {
                    continue
                } else {
                    unknown.append("\(path).\(k)")
                    o[k] = nil
                }
            }
            for req in (s["required"]?.arrayValue ?? []).compactMap(\.stringValue) where o[req] == nil {
                causes.append(.init(type: "FieldValueRequired", field: "\(path).\(req)", message: "Required value"))
            }
            return .object(o)
        default:
            return value
        }
    }
}
