import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Routes a request to discovery, OpenAPI, or a resource verb, and renders the answer.
final class APIHandler: Sendable {
    let store: Store
    let faults: FaultInjector
    let config: LocalAPIServer.Configuration
    let tokens: Set<String>
    let authRequired: Bool
    let audit: AuditLog

    init(store: Store, faults: FaultInjector, config: LocalAPIServer.Configuration, tokens: Set<String>, authRequired: Bool,
         audit: AuditLog = AuditLog(enabled: false)) {
        self.audit = audit
        self.store = store
        self.faults = faults
        self.config = config
        self.tokens = tokens
        self.authRequired = authRequired
    }

    /// The parts of a resource URL.
    struct Target {
        var resource: ResourceInfo
        var namespace: String?
        var name: String?
        var subresource: String?
        var watchPath: Bool
    }

    func handle(_ req: Request) -> Reply {
        if authRequired, !authenticated(req) { return .error(.unauthorized) }
        let segs = req.path.split(separator: "/").map(String.init)
        do throws(StatusError) {
            if segs.first == "_local" { return try admin(req, segs) }
            if let reply = try discovery(req, segs) { return reply }
            guard let target = try route(segs) else { return .error(.notFoundPath()) }
            let verb = verbName(req, target)
            if let fault = faults.match(verb: verb, resource: target.resource.plural, name: target.name, namespace: target.namespace,
                                        userAgent: req.headers.first(name: "User-Agent") ?? "") {
                return try apply(fault, req, target, verb: verb)
            }
            return audited(try serve(req, target), req, target, verb: verb)
        } catch {
            return .error(error)
        }
    }

    func authenticated(_ req: Request) -> Bool {
        if req.clientCertificate { return true }
        if let h = req.headers.first(name: "Authorization"), h.hasPrefix("Bearer ") {
            return tokens.contains(String(h.dropFirst(7)))
        }
        return false
    }

    func verbName(_ req: Request, _ t: Target) -> String {
        switch req.method {
        case .GET:
            if t.watchPath || req.query["watch"] == "true" || req.query["watch"] == "1" { return "watch" }
            return t.name == nil ? "list" : "get"
        case .POST: return "create"
        case .PUT: return "update"
        case .PATCH: return "patch"
        case .DELETE: return t.name == nil ? "deletecollection" : "delete"
        default: return req.method.rawValue.lowercased()
        }
    }

    // MARK: routing

    func route(_ segs: [String]) throws(StatusError) -> Target? {
        var rest: ArraySlice<String>
        let gv: String
        if segs.first == "api", segs.count >= 3 {
            gv = segs[1]
            rest = segs[2...]
        } else if segs.first == "apis", segs.count >= 4 {
            gv = "\(segs[1])/\(segs[2])"
            rest = segs[3...]
        } else {
            return nil
        }
        var watchPath = false
        if rest.first == "watch" {
            watchPath = true
            rest = rest.dropFirst()
        }
        var namespace: String?
        if rest.first == "namespaces", rest.count >= 3, store.resource(groupVersion: gv, plural: rest[rest.startIndex + 2]) != nil {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let plural = rest.first, let r = store.resource(groupVersion: gv, plural: plural) else { return nil }
        rest = rest.dropFirst()
        let name = rest.first
        let sub = rest.dropFirst().first
        if rest.count > 2 { return nil }
        if let sub, sub != "status" || !r.hasStatus { _ = sub; return nil }
        if r.namespaced, namespace == nil, name != nil { return nil }
        if !r.namespaced, namespace != nil { return nil }
        return Target(resource: r, namespace: r.namespaced ? namespace : nil, name: name, subresource: sub, watchPath: watchPath)
    }

    // MARK: verbs

    func serve(_ req: Request, _ t: Target) throws(StatusError) -> Reply {
        let r = t.resource
        let ns = t.namespace ?? ""
        let strict = req.query["fieldValidation"] == "Strict"
        let dryRun = req.query["dryRun"] != nil
        switch req.method {
        case .GET:
            if t.watchPath || req.query["watch"] == "true" || req.query["watch"] == "1" { return try watch(req, t) }
            if let name = t.name {
                let o = try store.get(r, namespace: ns, name: name)
                if wantsTable(req) { return .json(200, Tables.table(for: r, objects: [o], resourceVersion: nil, includeHeaders: true, continueToken: nil)) }
                return .json(200, o)
            }
            let labels = try LabelSelector(parsing: req.query["labelSelector"] ?? "")
            let fields = try FieldSelector(parsing: req.query["fieldSelector"] ?? "", allowAnyField: !r.isCustom)
            let limit = req.query["limit"].flatMap { Int($0) }
            let res = try store.list(r, namespace: t.namespace, labels: labels, fields: fields, limit: limit, continueToken: req.query["continue"])
            if wantsTable(req) {
                return .json(200, Tables.table(for: r, objects: res.items, resourceVersion: res.resourceVersion, includeHeaders: true,
                                               continueToken: res.continueToken))
            }
            var meta: JSON = ["resourceVersion": .string(String(res.resourceVersion))]
            if let c = res.continueToken { meta["continue"] = .string(c) }
            if let rem = res.remaining { meta["remainingItemCount"] = .int(Int64(rem)) }
            return .json(200, ["kind": .string(r.listKind), "apiVersion": .string(r.apiVersion), "metadata": meta, "items": .array(res.items)])
        case .POST:
            guard t.name == nil else { return .error(.methodNotAllowed("create", r)) }
            let body = try parseBody(req)
            if dryRun { return .json(201, body) }
            return .json(201, try store.create(r, namespace: ns, body: body, strict: strict))
        case .PUT:
            guard let name = t.name else { return .error(.methodNotAllowed("update", r)) }
            let body = try parseBody(req)
            return .json(200, try store.update(r, namespace: ns, name: name, body: body, subresource: t.subresource, strict: strict))
        case .PATCH:
            guard let name = t.name else { return .error(.methodNotAllowed("patch", r)) }
            return try patch(req, t, name: name, strict: strict)
        case .DELETE:
            guard let name = t.name else { return try deleteCollection(req, t) }
            let body: JSON? = req.body.isEmpty ? nil : try parseBody(req)
            switch try store.delete(r, namespace: ns, name: name, preconditions: body?["preconditions"]) {
            case .pending(let o): return .json(200, o)
            case .deleted(let o):
                if r.isCustom { return .json(200, o) }
                var details: JSON = ["name": .string(name), "kind": .string(r.plural), "uid": o["metadata"]?["uid"] ?? ""]
                if !r.group.isEmpty { details["group"] = .string(r.group) }
                return .json(200, ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "details": details])
            }
        default:
            return .error(.methodNotAllowed(req.method.rawValue, r))
        }
    }

    func deleteCollection(_ req: Request, _ t: Target) throws(StatusError) -> Reply {
        let r = t.resource
        let labels = try LabelSelector(parsing: req.query["labelSelector"] ?? "")
        let fields = try FieldSelector(parsing: req.query["fieldSelector"] ?? "", allowAnyField: !r.isCustom)
        let res = try store.list(r, namespace: t.namespace, labels: labels, fields: fields, limit: nil, continueToken: nil)
        for o in res.items {
            _ = try? store.delete(r, namespace: o["metadata"]?["namespace"]?.stringValue ?? "", name: o["metadata"]?["name"]?.stringValue ?? "",
                                  preconditions: nil)
        }
        return .json(200, ["kind": .string(r.listKind), "apiVersion": .string(r.apiVersion), "metadata": [:], "items": .array(res.items)])
    }

    func parseBody(_ req: Request) throws(StatusError) -> JSON {
        do {
            return try JSON.parse(req.body)
        } catch {
            throw StatusError.badRequest("the body of the request could not be decoded as JSON: \(error)")
        }
    }

    func patch(_ req: Request, _ t: Target, name: String, strict: Bool) throws(StatusError) -> Reply {
        let r = t.resource
        let contentType = (req.headers.first(name: "Content-Type") ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces)
        } ?? ""
        let body = try parseBody(req)
        let ns = t.namespace ?? ""
        switch contentType {
        case "application/merge-patch+json":
            return .json(200, try store.modify(r, namespace: ns, name: name, subresource: t.subresource, createIfAbsent: false, strict: strict) {
                Patch.mergePatch($0!, body)
            }.object)
        case "application/json-patch+json":
            return .json(200, try store.modify(r, namespace: ns, name: name, subresource: t.subresource, createIfAbsent: false, strict: strict) { (o: JSON?) throws(StatusError) -> JSON in
                try Patch.jsonPatch(o!, body)
            }.object)
        case "application/strategic-merge-patch+json":
            if r.isCustom { throw StatusError.unsupportedPatch() }
            return .json(200, try store.modify(r, namespace: ns, name: name, subresource: t.subresource, createIfAbsent: false, strict: strict) {
                Patch.strategicMerge($0!, body)
            }.object)
        case "application/apply-patch+yaml", "application/apply-patch+json":
            guard let manager = req.query["fieldManager"], !manager.isEmpty else {
                throw StatusError.invalid(kind: "PatchOptions", group: "meta.k8s.io", name: "", causes: [
                    .init(type: "FieldValueRequired", field: "fieldManager", message: "Required value: is required for apply patch"),
                ])
            }
            let result = try store.modify(r, namespace: ns, name: name, subresource: t.subresource, createIfAbsent: true, strict: strict) { (o: JSON?) throws(StatusError) -> JSON in
                guard let o else { return body }
                var merged = r.isCustom ? Patch.mergePatch(o, body) : Patch.strategicMerge(o, body)
                merged[path: ["metadata", "resourceVersion"]] = body["metadata"]?["resourceVersion"] ?? o["metadata"]?["resourceVersion"]
                return merged
            }
            return .json(result.created ? 201 : 200, result.object)
        default:
            throw StatusError.unsupportedPatch()
        }
    }

    // MARK: watch

    func wantsTable(_ req: Request) -> Bool { (req.headers.first(name: "Accept") ?? "").contains("as=Table") }

    func watch(_ req: Request, _ t: Target, cut: (events: Int, expire: Bool)? = nil) throws(StatusError) -> Reply {
        let r = t.resource
        let labels = try LabelSelector(parsing: req.query["labelSelector"] ?? "")
        var fieldSelector = try FieldSelector(parsing: req.query["fieldSelector"] ?? "", allowAnyField: !r.isCustom)
        if let name = t.name { fieldSelector.requirements.append(.init(path: ["metadata", "name"], value: name, negate: false)) }
        let fields = fieldSelector
        let table = wantsTable(req)
        let bookmarks = req.query["allowWatchBookmarks"] == "true"
        let timeout = req.query["timeoutSeconds"].flatMap { Int64($0) }
        let rv = req.query["resourceVersion"]
        let store = self.store
        let interval = config.bookmarkIntervalMilliseconds
        return .stream(contentType: table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json") { writer in
            let first = FirstFlag()
            let budget = cut.map { WatchCut(events: $0.events, expire: $0.expire) }
            let id = store.watch(r, namespace: t.namespace, labels: labels, fields: fields, resourceVersion: rv) { out in
                switch out {
                case .close: writer.finish()
                case .event(let type, let object):
                    if let budget, !budget.allows(type) { return }
                    var obj = object
                    if table, type != "ERROR", type != "BOOKMARK" {
                        obj = Tables.table(for: r, objects: [object], resourceVersion: nil, includeHeaders: first.take(), continueToken: nil)
                    }
                    writer.send((["type": .string(type), "object": obj] as JSON).serialized() + "\n")
                    if let budget, budget.spent(type) {
                        // Fault injection: the stream ends here, after a 410 Expired when asked.
                        if budget.expire {
                            writer.send((["type": "ERROR", "object": StatusError.expired(0, 0).status] as JSON).serialized() + "\n")
                        }
                        writer.finish()
                    }
                }
            }
            if let budget, budget.events == 0 {
                if budget.expire { writer.send((["type": "ERROR", "object": StatusError.expired(0, 0).status] as JSON).serialized() + "\n") }
                writer.finish()
            }
            guard let id else { return }
            writer.onFinish { store.stopWatch(id) }
            if let timeout, timeout > 0 {
                let task = writer.eventLoop.scheduleTask(in: .seconds(timeout)) { writer.finish() }
                writer.onFinish { task.cancel() }
            }
            if bookmarks {
                let task = writer.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(interval), delay: .milliseconds(interval)) { _ in
                    store.bookmark(id, r)
                }
                writer.onFinish { task.cancel() }
            }
        }
    }

    // MARK: faults

    /// Runtime control for the tool: `POST /_local/faults`, `DELETE /_local/faults`, `POST /_local/watches/close[?expire=true]`.
    func admin(_ req: Request, _ segs: [String]) throws(StatusError) -> Reply {
        switch (req.method, segs.dropFirst().joined(separator: "/")) {
        case (.POST, "faults"):
            faults.add(try FaultInjector.Rule(json: try parseBody(req)))
            return .json(201, ["status": "Success"])
        case (.GET, "faults"):
            let counts = faults.firedCounts.mapValues { JSON.int(Int64($0)) }
            return .json(200, ["fired": .object(counts)])
        case (.DELETE, "faults"):
            faults.clear()
            return .json(200, ["status": "Success"])
        case (.POST, "watches/close"):
            let n = store.closeAllWatches(expire: req.query["expire"] == "true")
            return .json(200, ["closed": .int(Int64(n))])
        case (.GET, "audit"):
            let since = req.query["since"].flatMap { UInt64($0) } ?? 0
            return .json(200, ["items": .array(audit.entries(after: since).map(\.json))])
        default:
            return .error(.notFoundPath())
        }
    }

    func apply(_ fault: FaultInjector.Action, _ req: Request, _ t: Target, verb: String) throws(StatusError) -> Reply {
        switch fault {
        case .status(let code, let reason, let message):
            if code == 409, reason == "Conflict" { return .error(.conflict(t.resource, t.name ?? "")) }
            return .error(StatusError(code: code, reason: reason, message: message))
        case .drop: return .drop
        case .delay(let ms): return .delayed(milliseconds: ms, audited(try serve(req, t), req, t, verb: verb))
        case .applyThenDrop:
            _ = audited(try serve(req, t), req, t, verb: verb)
            return .drop
        case .throttle(let code, let seconds):
            let reason = FaultInjector.defaultReason(code)
            let error = StatusError(code: code, reason: reason, message: "the server has received too many requests and has asked us to try again later",
                                    details: ["retryAfterSeconds": .int(Int64(seconds))])
            return .withHeaders([("Retry-After", String(seconds))], .error(error))
        case .cutWatch(let events, let expire):
            guard verb == "watch" else { return try serve(req, t) }
            return try watch(req, t, cut: (events, expire))
        }
    }

    /// Records an applied write in the audit log (when the server keeps one).
    func audited(_ reply: Reply, _ req: Request, _ t: Target, verb: String) -> Reply {
        guard audit.enabled, ["create", "update", "patch", "delete"].contains(verb),
              case .full(let status, _, let body) = reply, (200..<300).contains(status) else { return reply }
        audit.record(verb: verb, resource: t.resource.plural, namespace: t.namespace, name: t.name, subresource: t.subresource,
                     userAgent: req.headers.first(name: "User-Agent") ?? "", response: body)
        return reply
    }
}

/// A watch cut short by fault injection: it carries `events` events (bookmarks not
/// counted), then ends.
final class WatchCut: Sendable {
    let events: Int
    let expire: Bool
    private let sent = Mutex(0)

    init(events: Int, expire: Bool) {
        self.events = events
        self.expire = expire
    }

    /// False once the budget is spent (events after the cut are not sent).
    func allows(_ type: String) -> Bool {
        let events = self.events
        return sent.withLock { $0 < events }
    }

    /// Counts a sent event; true when it was the last one.
    func spent(_ type: String) -> Bool {
        guard type != "BOOKMARK" else { return false }
        let events = self.events
        return sent.withLock { sent in
            sent += 1
            return sent == events
        }
    }
}

/// True exactly once: marks the first Table event of a watch (later ones omit column definitions).
final class FirstFlag: Sendable {
    private let used = Mutex(false)
    func take() -> Bool {
        used.withLock { used in
            defer { used = true }
            return !used
        }
    }
}
