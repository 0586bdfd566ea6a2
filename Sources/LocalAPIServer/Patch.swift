/// The patch formats the API server accepts.
///
/// Strategic merge is a subset: lists of objects merge by the well-known keys of the built-in kinds we
/// serve (`conditions`/`addresses` by `type`, `containers`/`env`/`ports` by `name`, `ownerReferences` by
/// `uid`, `taints` by `key`), `finalizers` and `podCIDRs` merge as sets, `$patch: replace|delete` and
/// `$retainKeys` directives are honoured for maps only. Server-side apply has no managedFields tracking:
/// the applied configuration is merged (strategic for built-ins, JSON merge for custom resources) and an
/// absent object is created; conflicts between field managers are never reported.
enum Patch {
    static func mergePatch(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(let p) = patch else { return patch }
        var t = target.objectValue ?? [:]
        for (k, v) in p {
            if v == .null { t[k] = nil } else { t[k] = mergePatch(t[k] ?? .null, v) }
        }
        return .object(t)
    }

    static let mergeKeys: [String: String] = [
        "conditions": "type", "addresses": "type", "containers": "name", "initContainers": "name", "env": "name",
        "ports": "name", "ownerReferences": "uid", "taints": "key", "volumes": "name", "imagePullSecrets": "name",
    ]
    static let setLists: Set<String> = ["finalizers", "podCIDRs"]

    static func strategicMerge(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(var p) = patch else { return patch }
        if p["$patch"]?.stringValue == "replace" {
            p["$patch"] = nil
            return .object(p)
        }
        if p["$patch"]?.stringValue == "delete" { return .null }
        var t = target.objectValue ?? [:]
        p["$retainKeys"] = nil
        for (k, v) in p {
            if k.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(k.dropFirst("$deleteFromPrimitiveList/".count))
                let drop = v.arrayValue ?? []
                t[field] = .array((t[field]?.arrayValue ?? []).filter { !drop.contains($0) })
                continue
            }
            if k.hasPrefix("$setElementOrder/") { continue }
            if v == .null { t[k] = nil; continue }
            switch (t[k], v) {
            case (.object?, .object):
                let merged = strategicMerge(t[k]!, v)
                if merged == .null { t.removeValue(forKey: k) } else { t[k] = merged }
            case (.array(let old)?, .array(let new)):
                if setLists.contains(k) {
                    var out = old
                    for item in new where !out.contains(item) { out.append(item) }
                    t[k] = .array(out)
                } else if let key = mergeKeys[k] {
                    var out = old
                    for item in new {
                        guard let id = item[key] else { out.append(item); continue }
                        if let idx = out.firstIndex(where: { $0[key] == id }) {
                            if item["$patch"]?.stringValue == "delete" { out.remove(at: idx) } else { out[idx] = strategicMerge(out[idx], item) }
                        } else if item["$patch"]?.stringValue != "delete" {
                            out.append(item)
                        }
                    }
                    t[k] = .array(out)
                } else {
                    t[k] = v
                }
            default:
                t[k] = strip(v)
            }
        }
        return .object(t)
    }

    /// Removes `$patch` directives from a value being inserted whole.
    static func strip(_ v: JSON) -> JSON {
        switch v {
        case .object(var o):
            o["$patch"] = nil
            o["$retainKeys"] = nil
            return .object(o.mapValues(strip))
        case .array(let a): return .array(a.map(strip))
        default: return v
        }
    }

    // MARK: RFC 6902

    static func jsonPatch(_ doc: JSON, _ ops: JSON) throws(StatusError) -> JSON {
        guard let list = ops.arrayValue else { throw StatusError.badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch") }
        var doc = doc
        for op in list {
            guard let kind = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                throw StatusError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request")
            }
            let ptr = try pointer(path)
            switch kind {
            case "add": doc = try add(doc, ptr[...], try need(op["value"], "value"))
            case "remove": doc = try remove(doc, ptr[...])
            case "replace":
                _ = try get(doc, ptr[...])
                doc = try set(doc, ptr[...], try need(op["value"], "value"))
            case "move":
                let from = try pointer(try need(op["from"], "from").stringValue ?? "")
                let v = try get(doc, from[...])
                doc = try add(try remove(doc, from[...]), ptr[...], v)
            case "copy":
                let from = try pointer(try need(op["from"], "from").stringValue ?? "")
                doc = try add(doc, ptr[...], try get(doc, from[...]))
            case "test":
                let v = try get(doc, ptr[...])
                if v != (op["value"] ?? .null) {
                    throw StatusError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request",
                                   details: ["causes": [["message": .string("testing value \(path) failed: test failed")]]])
                }
            default:
                throw StatusError(code: 422, reason: "Invalid", message: "Unexpected kind: \(kind)")
            }
        }
        return doc
    }

    static func need(_ v: JSON?, _ what: String) throws(StatusError) -> JSON {
        guard let v else { throw StatusError(code: 422, reason: "Invalid", message: "missing \(what) in JSON patch operation") }
        return v
    }

    static func pointer(_ p: String) throws(StatusError) -> [String] {
        if p.isEmpty { return [] }
        guard p.hasPrefix("/") else { throw StatusError(code: 422, reason: "Invalid", message: "JSON pointer must start with '/': \(p)") }
        return p.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func missing(_ path: ArraySlice<String>) -> StatusError {
        StatusError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request",
                 details: ["causes": [["message": .string("doc is missing path: \"/\(path.joined(separator: "/"))\": missing value")]]])
    }

    static func get(_ doc: JSON, _ path: ArraySlice<String>) throws(StatusError) -> JSON {
        guard let k = path.first else { return doc }
        switch doc {
        case .object(let o):
            guard let c = o[k] else { throw missing(path) }
            return try get(c, path.dropFirst())
        case .array(let a):
            guard let i = Int(k), i >= 0, i < a.count else { throw missing(path) }
            return try get(a[i], path.dropFirst())
        default: throw missing(path)
        }
    }

    static func set(_ doc: JSON, _ path: ArraySlice<String>, _ value: JSON) throws(StatusError) -> JSON {
        guard let k = path.first else { return value }
        switch doc {
        case .object(var o):
            if path.count == 1 { o[k] = value; return .object(o) }
            guard let c = o[k] else { throw missing(path) }
            o[k] = try set(c, path.dropFirst(), value)
            return .object(o)
        case .array(var a):
            guard let i = Int(k), i >= 0, i < a.count else { throw missing(path) }
            a[i] = try set(a[i], path.dropFirst(), value)
            return .array(a)
        default: throw missing(path)
        }
    }

    static func add(_ doc: JSON, _ path: ArraySlice<String>, _ value: JSON) throws(StatusError) -> JSON {
        guard let k = path.first else { return value }
        if path.count == 1, case .array(var a) = doc {
            if k == "-" { a.append(value); return .array(a) }
            guard let i = Int(k), i >= 0, i <= a.count else { throw missing(path) }
            a.insert(value, at: i)
            return .array(a)
        }
        if path.count == 1, case .object(var o) = doc { o[k] = value; return .object(o) }
        switch doc {
        case .object(var o):
            guard let c = o[k] else { throw missing(path) }
            o[k] = try add(c, path.dropFirst(), value)
            return .object(o)
        case .array(var a):
            guard let i = Int(k), i >= 0, i < a.count else { throw missing(path) }
            a[i] = try add(a[i], path.dropFirst(), value)
            return .array(a)
        default: throw missing(path)
        }
    }

    static func remove(_ doc: JSON, _ path: ArraySlice<String>) throws(StatusError) -> JSON {
        guard let k = path.first else { return .null }
        switch doc {
        case .object(var o):
            guard let c = o[k] else { throw missing(path) }
            if path.count == 1 { o.removeValue(forKey: k) } else { o[k] = try remove(c, path.dropFirst()) }
            return .object(o)
        case .array(var a):
            guard let i = Int(k), i >= 0, i < a.count else { throw missing(path) }
            if path.count == 1 { a.remove(at: i) } else { a[i] = try remove(a[i], path.dropFirst()) }
            return .array(a)
        default: throw missing(path)
        }
    }
}
