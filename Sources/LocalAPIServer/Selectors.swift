/// A parsed `labelSelector` query (equality and set-based requirements).
public struct LabelSelector: Sendable {
    enum Op: Sendable { case eq, neq, `in`, notIn, exists, notExists }
    struct Requirement: Sendable { var key: String; var op: Op; var values: [String] }
    var requirements: [Requirement] = []

    public static let everything = LabelSelector()

    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    public init(parsing text: String) throws(StatusError) {
        var parts: [String] = []
        var cur = ""
        var depth = 0
        for ch in text {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if ch == ",", depth == 0 { parts.append(cur); cur = "" } else { cur.append(ch) }
        }
        parts.append(cur)
        for raw in parts {
            let p = raw.trimmingCharacters(in: .whitespaces)
            if p.isEmpty { continue }
            if let r = p.range(of: " notin ") ?? p.range(of: " in ") {
                let key = String(p[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                let op: Op = p[r].contains("notin") ? .notIn : .in
                var set = String(p[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                guard set.hasPrefix("("), set.hasSuffix(")") else {
                    throw StatusError.badRequest("unable to parse requirement: found '\(set)', expected: '('")
                }
                set = String(set.dropFirst().dropLast())
                let values = set.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                requirements.append(Requirement(key: key, op: op, values: values))
            } else if let r = p.range(of: "!=") {
                requirements.append(Requirement(key: String(p[..<r.lowerBound]).trimmingCharacters(in: .whitespaces), op: .neq,
                                                values: [String(p[r.upperBound...]).trimmingCharacters(in: .whitespaces)]))
            } else if let r = p.range(of: "==") ?? p.range(of: "=") {
                requirements.append(Requirement(key: String(p[..<r.lowerBound]).trimmingCharacters(in: .whitespaces), op: .eq,
                                                values: [String(p[r.upperBound...]).trimmingCharacters(in: .whitespaces)]))
            } else if p.hasPrefix("!") {
                requirements.append(Requirement(key: String(p.dropFirst()).trimmingCharacters(in: .whitespaces), op: .notExists, values: []))
            } else {
                guard !p.contains(" ") else { throw StatusError.badRequest("unable to parse requirement: \(p)") }
                requirements.append(Requirement(key: p, op: .exists, values: []))
            }
        }
    }

    init() {}

    /// True for an empty selector (it matches every object).
    public var isEverything: Bool { requirements.isEmpty }

    public func matches(_ object: JSON) -> Bool {
        if requirements.isEmpty { return true }
        let labels = object["metadata"]?["labels"]?.objectValue ?? [:]
        for r in requirements {
            let v = labels[r.key]?.stringValue
            switch r.op {
            case .eq: if v != r.values[0] { return false }
            case .neq: if v == r.values[0] { return false }
            case .in: guard let v, r.values.contains(v) else { return false }
            case .notIn: if let v, r.values.contains(v) { return false }
            case .exists: if v == nil { return false }
            case .notExists: if v != nil { return false }
            }
        }
        return true
    }
}

/// A parsed `fieldSelector` query: `path=value`, `path==value`, `path!=value`, comma-separated.
public struct FieldSelector: Sendable {
    struct Requirement: Sendable { var path: [String]; var value: String; var negate: Bool }
    var requirements: [Requirement] = []
    public static let everything = FieldSelector()
    init() {}

    /// Custom resources support only metadata.name and metadata.namespace, as on the real server.
    public init(parsing text: String, allowAnyField: Bool) throws(StatusError) {
        for raw in text.split(separator: ",") {
            let p = String(raw)
            var negate = false
            let key: String
            let value: String
            if let r = p.range(of: "!=") {
                negate = true
                key = String(p[..<r.lowerBound]); value = String(p[r.upperBound...])
            } else if let r = p.range(of: "==") ?? p.range(of: "=") {
                key = String(p[..<r.lowerBound]); value = String(p[r.upperBound...])
            } else {
                throw StatusError.badRequest("invalid selector: '\(text)'; can't understand '\(p)'")
            }
            if !allowAnyField, key != "metadata.name", key != "metadata.namespace" {
                throw StatusError.badRequest("field label not supported: \(key)")
            }
            requirements.append(Requirement(path: key.split(separator: ".").map(String.init), value: value, negate: negate))
        }
    }

    /// True for an empty selector (it matches every object).
    public var isEverything: Bool { requirements.isEmpty }

    public func matches(_ object: JSON) -> Bool {
        for r in requirements {
            let v: String
            switch object[path: r.path] {
            case .string(let s)?: v = s
            case .bool(let b)?: v = b ? "true" : "false"
            case .int(let i)?: v = String(i)
            default: v = ""
            }
            if (v == r.value) == r.negate { return false }
        }
        return true
    }
}
