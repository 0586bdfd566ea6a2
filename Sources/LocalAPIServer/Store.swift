import Foundation
import Synchronization

/// The in-memory object store: one global resourceVersion, a bounded event history, live watchers,
/// and the registry of served resources (built-ins plus those registered by CRDs).
///
/// Every operation runs under one lock (a `Mutex` around `StoreState`); watch sinks are called
/// under it too, so each watcher sees events in resourceVersion order.
final class Store: Sendable {
    private let state: Mutex<StoreState>

    init(historyLimit: Int, validationRules: Bool = true) {
        state = Mutex(StoreState(historyLimit: historyLimit, validationRules: validationRules))
    }

    static func key(_ ns: String, _ name: String) -> String { ns.isEmpty ? name : "\(ns)/\(name)" }

    struct ListResult { var items: [JSON]; var resourceVersion: UInt64; var continueToken: String?; var remaining: Int? }

    enum DeleteOutcome { case deleted(JSON), pending(JSON) }

    func resource(groupVersion: String, plural: String) -> ResourceInfo? {
        state.withLock { $0.resources[groupVersion]?[plural] }
    }

    /// All served group versions and their resources, sorted for stable discovery output.
    func allResources() -> [String: [ResourceInfo]] {
        state.withLock { $0.resources.mapValues { $0.values.sorted { $0.plural < $1.plural } } }
    }

    var resourceVersion: UInt64 { state.withLock { $0.currentRV } }

    func get(_ r: ResourceInfo, namespace: String, name: String) throws(StatusError) -> JSON {
        try state.withLock { (store: inout StoreState) throws(StatusError) -> JSON in try store.get(r, namespace: namespace, name: name) }
    }

    func list(_ r: ResourceInfo, namespace: String?, labels: LabelSelector, fields: FieldSelector, limit: Int?,
              continueToken: String?) throws(StatusError) -> ListResult {
        try state.withLock { (store: inout StoreState) throws(StatusError) -> ListResult in
            try store.list(r, namespace: namespace, labels: labels, fields: fields, limit: limit, continueToken: continueToken)
        }
    }

    func create(_ r: ResourceInfo, namespace: String, body: JSON, strict: Bool = false) throws(StatusError) -> JSON {
        try state.withLock { (store: inout StoreState) throws(StatusError) -> JSON in try store.create(r, namespace: namespace, body: body, strict: strict) }
    }

    /// Replaces an object (PUT), or its status with `subresource == "status"`.
    func update(_ r: ResourceInfo, namespace: String, name: String, body: JSON, subresource: String?,
                strict: Bool = false) throws(StatusError) -> JSON {
        try state.withLock { (store: inout StoreState) throws(StatusError) -> JSON in
            try store.update(r, namespace: namespace, name: name, body: body, subresource: subresource, strict: strict)
        }
    }

    /// Read-modify-write under the lock (patch): `transform` gets the current object (nil if absent).
    func modify(_ r: ResourceInfo, namespace: String, name: String, subresource: String?, createIfAbsent: Bool, strict: Bool = false,
                _ transform: (JSON?) throws(StatusError) -> JSON) throws(StatusError) -> (object: JSON, created: Bool) {
        try state.withLock { (store: inout StoreState) throws(StatusError) -> (object: JSON, created: Bool) in
            try store.modify(r, namespace: namespace, name: name, subresource: subresource, createIfAbsent: createIfAbsent, strict: strict, transform)
        }
    }

    func delete(_ r: ResourceInfo, namespace: String, name: String, preconditions: JSON?) throws(StatusError) -> DeleteOutcome {
        try state.withLock { (store: inout StoreState) throws(StatusError) -> DeleteOutcome in
            try store.delete(r, namespace: namespace, name: name, preconditions: preconditions)
        }
    }

    /// Registers a watcher. Sends the initial events (history after `resourceVersion`, or synthetic ADDED
    /// for the current state when none is given) before any live event. Returns nil after sending
    /// a 410 Expired ERROR when the version has left the history window.
    func watch(_ r: ResourceInfo, namespace: String?, labels: LabelSelector, fields: FieldSelector, resourceVersion: String?,
               sink: @escaping @Sendable (WatchOutput) -> Void) -> Int? {
        state.withLock { $0.watch(r, namespace: namespace, labels: labels, fields: fields, resourceVersion: resourceVersion, sink: sink) }
    }

    func bookmark(_ id: Int, _ r: ResourceInfo) { state.withLock { $0.bookmark(id, r) } }

    func stopWatch(_ id: Int) { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }

    /// Ends every open watch; with `expire`, each first receives a 410 Expired ERROR event.
    func closeAllWatches(expire: Bool) -> Int { state.withLock { $0.closeAllWatches(expire: expire) } }

    var openWatchCount: Int { state.withLock { $0.watchers.count } }

    /// RFC 3339 seconds, as Kubernetes writes timestamps. Formatting by hand: a DateFormatter per call costs more than a write.
    static func now() -> String {
        var t = time_t(Date().timeIntervalSince1970)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday))T\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))Z"
    }

    /// What generation tracks: everything but metadata and status.
    static func withoutMeta(_ o: JSON) -> JSON {
        var o = o
        o["metadata"] = nil
        o["status"] = nil
        return o
    }
}

/// The store's state and operations; only ever touched under `Store`'s mutex.
struct StoreState {
    typealias ListResult = Store.ListResult
    typealias DeleteOutcome = Store.DeleteOutcome

    fileprivate var currentRV: UInt64 = 1
    private var objects: [String: [String: JSON]] = [:]
    /// Each store's keys in order, dropped whenever a key is added or removed.
    private var sortedKeys: [String: [String]] = [:]
    private var history: [StoredEvent] = []
    private var historyStart = 0
    private let historyLimit: Int
    private var compactedRV: UInt64 = 0
    fileprivate var watchers: [Int: Watcher] = [:]
    private var nextWatcherID = 0
    fileprivate var resources: [String: [String: ResourceInfo]] = [:]  // groupVersion -> plural -> info
    private var crdResources: [String: [ResourceInfo]] = [:]  // CRD name -> its served versions

    /// The CRDs' CEL rules, or nil when the server does not evaluate them.
    private var validationRules: ValidationRules?

    init(historyLimit: Int, validationRules: Bool = true) {
        self.historyLimit = max(1, historyLimit)
        self.validationRules = validationRules ? ValidationRules() : nil
        for r in ResourceInfo.builtins { resources[r.groupVersion, default: [:]][r.plural] = r }
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            _ = try? create(resources["v1"]!["namespaces"]!, namespace: "", body: ["metadata": ["name": .string(ns)]])
        }
    }

    // MARK: reads

    mutating func get(_ r: ResourceInfo, namespace: String, name: String) throws(StatusError) -> JSON {
        guard let o = objects[r.storageKey]?[Store.key(namespace, name)] else { throw .notFound(r, name) }
        return render(o, r)
    }

    mutating func list(_ r: ResourceInfo, namespace: String?, labels: LabelSelector, fields: FieldSelector, limit: Int?,
              continueToken: String?) throws(StatusError) -> ListResult {
        var startAfter: String?
        var listRV = currentRV
        if let token = continueToken, !token.isEmpty {
            guard let data = Data(base64Encoded: token), let t = try? JSON.parse(Array(data)),
                  let k = t["start"]?.stringValue, let rv = t["rv"]?.intValue
            else { throw StatusError.badRequest("continue key is not valid: illegal base64 data") }
            if UInt64(rv) < compactedRV {
                throw StatusError(code: 410, reason: "Expired",
                               message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            }
            startAfter = k
            listRV = UInt64(rv)
        }
        let store = objects[r.storageKey] ?? [:]
        // Keys in order, sorted once per change of the key set (not per page).
        let keys: [String]
        if let cached = sortedKeys[r.storageKey] { keys = cached } else {
            keys = store.keys.sorted()
            sortedKeys[r.storageKey] = keys
        }
        var position = 0
        if let startAfter {
            var high = keys.count
            while position < high {
                let mid = (position + high) / 2
                if keys[mid] <= startAfter { position = mid + 1 } else { high = mid }
            }
        }
        var items: [JSON] = []
        var lastKey: String?
        var remaining = 0
        let filtered = namespace != nil || !labels.isEverything || !fields.isEverything
        for index in position..<keys.count {
            let k = keys[index]
            let o = store[k]!
            if let namespace, o["metadata"]?["namespace"]?.stringValue != namespace { continue }
            guard labels.matches(o), fields.matches(o) else { continue }
            if let limit, limit > 0, items.count >= limit {
                if filtered {
                    remaining += 1
                } else {
                    // Unfiltered: everything after the page remains; no need to walk it.
                    remaining = keys.count - index
                    break
                }
                continue
            }
            items.append(render(o, r))
            lastKey = k
        }
        var token: String?
        if remaining > 0, let lastKey {
            let t: JSON = ["start": .string(lastKey), "rv": .int(Int64(listRV))]
            token = Data(t.serialized().utf8).base64EncodedString()
        }
        return ListResult(items: items, resourceVersion: listRV, continueToken: token, remaining: remaining > 0 ? remaining : nil)
    }

    /// Sets apiVersion/kind to the version being served (custom resources use the None conversion strategy).
    private func render(_ o: JSON, _ r: ResourceInfo) -> JSON {
        if o["apiVersion"]?.stringValue == r.apiVersion, o["kind"]?.stringValue == r.kind { return o }
        var o = o
        o["apiVersion"] = .string(r.apiVersion)
        o["kind"] = .string(r.kind)
        return o
    }

    // MARK: writes

    private mutating func nextRV() -> UInt64 {
        currentRV += 1
        return currentRV
    }

    private mutating func record(_ type: String, _ r: ResourceInfo, _ namespace: String, _ object: JSON, rv: UInt64) {
        let e = StoredEvent(rv: rv, storageKey: r.storageKey, namespace: namespace, type: type, object: object)
        history.append(e)
        if history.count - historyStart > historyLimit {
            compactedRV = history[historyStart].rv
            historyStart += 1
            if historyStart > 4096 {
                history.removeFirst(historyStart)
                historyStart = 0
            }
        }
        for w in watchers.values where w.matches(e) {
            w.sink(.event(type: type, object: render(object, r)))
        }
    }

    private mutating func ensureNamespace(_ r: ResourceInfo, _ namespace: String) throws(StatusError) {
        guard r.namespaced else { return }
        guard objects["namespaces"]?[namespace] != nil else {
            throw StatusError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found",
                           details: ["name": .string(namespace), "kind": "namespaces"])
        }
    }

    mutating func create(_ r: ResourceInfo, namespace: String, body: JSON, strict: Bool = false) throws(StatusError) -> JSON {
        return try createLocked(r, namespace: namespace, body: body, strict: strict)
    }

    private mutating func createLocked(_ r: ResourceInfo, namespace: String, body: JSON, strict: Bool) throws(StatusError) -> JSON {
        guard case .object = body else { throw StatusError.badRequest("the body of the request must be a JSON object") }
        var o = body
        var name = o["metadata"]?["name"]?.stringValue ?? ""
        if name.isEmpty, let prefix = o["metadata"]?["generateName"]?.stringValue, !prefix.isEmpty {
            let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
            name = prefix + String((0..<5).map { _ in alphabet.randomElement()! })
        }
        if name.isEmpty {
            throw StatusError.invalid(kind: r.kind, group: r.group, name: "", causes: [
                .init(type: "FieldValueRequired", field: "metadata.name", message: "Required value: name or generateName is required"),
            ])
        }
        if r.namespaced {
            if let bodyNS = o["metadata"]?["namespace"]?.stringValue, !bodyNS.isEmpty, bodyNS != namespace {
                throw StatusError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            try ensureNamespace(r, namespace)
        }
        let key = Store.key(r.namespaced ? namespace : "", name)
        if objects[r.storageKey]?[key] != nil { throw .alreadyExists(r, name) }
        o["apiVersion"] = .string(r.apiVersion)
        o["kind"] = .string(r.kind)
        o[path: ["metadata", "name"]] = .string(name)
        if r.namespaced { o[path: ["metadata", "namespace"]] = .string(namespace) } else { o[path: ["metadata", "namespace"]] = nil }
        o[path: ["metadata", "uid"]] = .string(UUID().uuidString.lowercased())
        o[path: ["metadata", "creationTimestamp"]] = .string(Store.now())
        o[path: ["metadata", "generation"]] = 1
        o[path: ["metadata", "deletionTimestamp"]] = nil
        o[path: ["metadata", "deletionGracePeriodSeconds"]] = nil
        o[path: ["metadata", "managedFields"]] = nil
        if r.isCustom, r.hasStatus { o["status"] = nil }
        try admit(r, old: nil, new: &o, strict: strict)
        let rv = nextRV()
        o[path: ["metadata", "resourceVersion"]] = .string(String(rv))
        objects[r.storageKey, default: [:]][key] = o
        sortedKeys[r.storageKey] = nil
        record("ADDED", r, namespace, o, rv: rv)
        afterWrite(r, old: nil, new: o)
        return render(o, r)
    }

    /// Replaces an object (PUT), or its status with `subresource == "status"`.
    mutating func update(_ r: ResourceInfo, namespace: String, name: String, body: JSON, subresource: String?,
                strict: Bool = false) throws(StatusError) -> JSON {
        return try updateLocked(r, namespace: namespace, name: name, body: body, subresource: subresource, strict: strict)
    }

    /// Read-modify-write under the lock (patch): `transform` gets the current object (nil if absent).
    mutating func modify(_ r: ResourceInfo, namespace: String, name: String, subresource: String?, createIfAbsent: Bool, strict: Bool = false,
                _ transform: (JSON?) throws(StatusError) -> JSON) throws(StatusError) -> (object: JSON, created: Bool) {
        let key = Store.key(r.namespaced ? namespace : "", name)
        guard let old = objects[r.storageKey]?[key] else {
            guard createIfAbsent else { throw .notFound(r, name) }
            var body = try transform(nil)
            body[path: ["metadata", "name"]] = .string(name)
            return (try createLocked(r, namespace: namespace, body: body, strict: strict), true)
        }
        var new = try transform(render(old, r))
        if new["metadata"]?["resourceVersion"] == nil || new["metadata"]?["resourceVersion"] == .null {
            new[path: ["metadata", "resourceVersion"]] = old["metadata"]?["resourceVersion"]
        }
        return (try updateLocked(r, namespace: namespace, name: name, body: new, subresource: subresource, strict: strict), false)
    }

    private mutating func updateLocked(_ r: ResourceInfo, namespace: String, name: String, body: JSON, subresource: String?,
                              strict: Bool) throws(StatusError) -> JSON {
        guard case .object = body else { throw StatusError.badRequest("the body of the request must be a JSON object") }
        let key = Store.key(r.namespaced ? namespace : "", name)
        guard let old = objects[r.storageKey]?[key] else { throw .notFound(r, name) }
        if let bodyName = body["metadata"]?["name"]?.stringValue, bodyName != name {
            throw StatusError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let oldRV = old["metadata"]?["resourceVersion"]?.stringValue ?? ""
        let givenRV = body["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if givenRV.isEmpty {
            if r.isCustom {
                throw StatusError.invalid(kind: r.kind, group: r.group, name: name, causes: [
                    .init(type: "FieldValueInvalid", field: "metadata.resourceVersion",
                          message: "Invalid value: 0x0: must be specified for an update"),
                ])
            }
        } else if givenRV != oldRV {
            throw .conflict(r, name)
        }
        var new: JSON
        if subresource == "status" {
            new = old
            new["status"] = body["status"]
        } else {
            new = body
            if r.hasStatus { new["status"] = old["status"] }
            // Immutable or server-owned metadata.
            for f in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace"] {
                new[path: ["metadata", f]] = old["metadata"]?[f]
            }
            new[path: ["metadata", "managedFields"]] = nil
            new["apiVersion"] = .string(r.apiVersion)
            new["kind"] = .string(r.kind)
            if old["metadata"]?["deletionTimestamp"] != nil {
                let oldF = Set((old["metadata"]?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue))
                let newF = (new["metadata"]?["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
                if let added = newF.first(where: { !oldF.contains($0) }) {
                    throw StatusError.invalid(kind: r.kind, group: r.group, name: name, causes: [
                        .init(type: "FieldValueForbidden", field: "metadata.finalizers",
                              message: "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"\(added)\"}"),
                    ])
                }
            }
        }
        new[path: ["metadata", "resourceVersion"]] = .string(oldRV)
        try admit(r, old: old, new: &new, strict: strict)
        if Store.withoutMeta(new) != Store.withoutMeta(old) {
            let g = old["metadata"]?["generation"]?.intValue ?? 1
            new[path: ["metadata", "generation"]] = .int(g + 1)
        }
        if new == old { return render(old, r) }  // a no-op write does not bump resourceVersion
        let rv = nextRV()
        new[path: ["metadata", "resourceVersion"]] = .string(String(rv))
        let finalizers = new["metadata"]?["finalizers"]?.arrayValue ?? []
        if new["metadata"]?["deletionTimestamp"] != nil, finalizers.isEmpty {
            objects[r.storageKey]?[key] = nil
            sortedKeys[r.storageKey] = nil
            record("DELETED", r, namespace, new, rv: rv)
            afterDelete(r, new)
            return render(new, r)
        }
        objects[r.storageKey]?[key] = new
        record("MODIFIED", r, namespace, new, rv: rv)
        afterWrite(r, old: old, new: new)
        return render(new, r)
    }

    mutating func delete(_ r: ResourceInfo, namespace: String, name: String, preconditions: JSON?) throws(StatusError) -> DeleteOutcome {
        let key = Store.key(r.namespaced ? namespace : "", name)
        guard var o = objects[r.storageKey]?[key] else { throw .notFound(r, name) }
        if let wantRV = preconditions?["resourceVersion"]?.stringValue, let have = o["metadata"]?["resourceVersion"]?.stringValue, wantRV != have {
            throw .conflict(r, name, "the ResourceVersion in the precondition (\(wantRV)) does not match the ResourceVersion in record (\(have)). The object might have been modified")
        }
        if let wantUID = preconditions?["uid"]?.stringValue, let have = o["metadata"]?["uid"]?.stringValue, wantUID != have {
            throw .conflict(r, name, "the UID in the precondition (\(wantUID)) does not match the UID in record (\(have)). The object might have been modified")
        }
        let finalizers = o["metadata"]?["finalizers"]?.arrayValue ?? []
        if !finalizers.isEmpty {
            if o["metadata"]?["deletionTimestamp"] != nil { return .pending(render(o, r)) }
            o[path: ["metadata", "deletionTimestamp"]] = .string(Store.now())
            o[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
            let rv = nextRV()
            o[path: ["metadata", "resourceVersion"]] = .string(String(rv))
            objects[r.storageKey]?[key] = o
            record("MODIFIED", r, namespace, o, rv: rv)
            return .pending(render(o, r))
        }
        let rv = nextRV()
        o[path: ["metadata", "resourceVersion"]] = .string(String(rv))
        objects[r.storageKey]?[key] = nil
        sortedKeys[r.storageKey] = nil
        record("DELETED", r, namespace, o, rv: rv)
        afterDelete(r, o)
        return .deleted(render(o, r))
    }

    // MARK: watch

    /// Registers a watcher. Sends the initial events (history after `resourceVersion`, or synthetic ADDED
    /// for the current state when none is given) before any live event. Returns nil after sending
    /// a 410 Expired ERROR when the version has left the history window.
    mutating func watch(_ r: ResourceInfo, namespace: String?, labels: LabelSelector, fields: FieldSelector, resourceVersion: String?,
               sink: @escaping @Sendable (WatchOutput) -> Void) -> Int? {
        nextWatcherID += 1
        let w = Watcher(id: nextWatcherID, storageKey: r.storageKey, namespace: namespace, labelSelector: labels,
                        fieldSelector: fields, sink: sink)
        if let rvText = resourceVersion, !rvText.isEmpty, rvText != "0" {
            guard let from = UInt64(rvText) else {
                sink(.event(type: "ERROR", object: StatusError.badRequest("invalid resource version: \(rvText)").status))
                sink(.close)
                return nil
            }
            if from < compactedRV {
                sink(.event(type: "ERROR", object: StatusError.expired(from, compactedRV + 1).status))
                sink(.close)
                return nil
            }
            for e in history[historyStart...] where e.rv > from && w.matches(e) {
                sink(.event(type: e.type, object: render(e.object, r)))
            }
        } else {
            for (_, o) in (objects[r.storageKey] ?? [:]).sorted(by: { $0.key < $1.key }) {
                if let namespace, o["metadata"]?["namespace"]?.stringValue != namespace { continue }
                guard labels.matches(o), fields.matches(o) else { continue }
                sink(.event(type: "ADDED", object: render(o, r)))
            }
        }
        watchers[w.id] = w
        return w.id
    }

    mutating func bookmark(_ id: Int, _ r: ResourceInfo) {
        guard let w = watchers[id] else { return }
        w.sink(.event(type: "BOOKMARK", object: ["kind": .string(r.kind), "apiVersion": .string(r.apiVersion),
                                                  "metadata": ["resourceVersion": .string(String(currentRV))]]))
    }

    mutating func closeAllWatches(expire: Bool) -> Int {
        let all = watchers.values
        for w in all {
            if expire { w.sink(.event(type: "ERROR", object: StatusError.expired(currentRV, currentRV).status)) }
            w.sink(.close)
        }
        watchers.removeAll()
        if expire { compactedRV = currentRV }
        return all.count
    }

    // MARK: admission and side effects (called under the lock)

    private mutating func admit(_ r: ResourceInfo, old: JSON?, new: inout JSON, strict: Bool) throws(StatusError) {
        if r.group.isEmpty, r.plural == "nodes" { try NodeValidation.admit(old: old, new: &new) }
        if r.isCustom, let schema = r.schema {
            // The rules' compiled programs are cached in `validationRules`: evaluated on a copy
            // that goes back into the state however admission ends.
            var validation = validationRules
            defer { validationRules = validation }
            var rules: ((JSON) -> [StatusError.Cause])?
            if validation != nil, ValidationRules.hasRules(schema) {
                rules = { pruned in validation?.validate(schema: schema, object: pruned, old: old) ?? [] }
            }
            try SchemaValidation.admit(r, schema: schema, object: &new, strict: strict, rules: rules)
        }
        if r.plural == "customresourcedefinitions" {
            try CRDSupport.admit(old: old, new: &new)
            if let causes = validationRules?.compileErrors(crd: new), !causes.isEmpty {
                throw StatusError.invalid(kind: "CustomResourceDefinition", group: "apiextensions.k8s.io",
                                          name: new["metadata"]?["name"]?.stringValue ?? "", causes: causes)
            }
        }
    }

    private mutating func afterWrite(_ r: ResourceInfo, old: JSON?, new: JSON) {
        guard r.plural == "customresourcedefinitions" else { return }
        let name = new["metadata"]?["name"]?.stringValue ?? ""
        unregisterCRD(name, deleteObjects: false)
        let infos = CRDSupport.resources(of: new)
        for info in infos { resources[info.groupVersion, default: [:]][info.plural] = info }
        crdResources[name] = infos
        // Conditions: names accepted and established immediately (no conflicts checked beyond our registry).
        var updated = new
        let now = Store.now()
        let conds: JSON = [
            ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": .string(now)],
            ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": .string(now)],
        ]
        if updated["status"]?["conditions"]?.arrayValue?.count == 2 { return }
        updated["status"] = ["conditions": conds, "acceptedNames": new["spec"]?["names"] ?? [:], "storedVersions": .array(infos.map { .string($0.version) })]
        let rv = nextRV()
        updated[path: ["metadata", "resourceVersion"]] = .string(String(rv))
        objects[r.storageKey]?[name] = updated
        record("MODIFIED", r, "", updated, rv: rv)
    }

    private mutating func afterDelete(_ r: ResourceInfo, _ o: JSON) {
        if r.plural == "customresourcedefinitions" {
            unregisterCRD(o["metadata"]?["name"]?.stringValue ?? "", deleteObjects: true)
        }
        if r.group.isEmpty, r.plural == "namespaces", let ns = o["metadata"]?["name"]?.stringValue {
            // Simplification: a namespace's objects go with it at once (no Terminating phase).
            for gv in resources.values {
                for info in gv.values where info.namespaced {
                    for (k, obj) in objects[info.storageKey] ?? [:] where obj["metadata"]?["namespace"]?.stringValue == ns {
                        objects[info.storageKey]?[k] = nil
                        sortedKeys[info.storageKey] = nil
                        let rv = nextRV()
                        record("DELETED", info, ns, obj, rv: rv)
                    }
                }
            }
        }
    }

    private mutating func unregisterCRD(_ name: String, deleteObjects: Bool) {
        guard let infos = crdResources.removeValue(forKey: name) else { return }
        for info in infos {
            resources[info.groupVersion]?[info.plural] = nil
            if resources[info.groupVersion]?.isEmpty == true { resources[info.groupVersion] = nil }
        }
        if deleteObjects, let first = infos.first {
            for (_, obj) in objects[first.storageKey] ?? [:] {
                let rv = nextRV()
                record("DELETED", first, obj["metadata"]?["namespace"]?.stringValue ?? "", obj, rv: rv)
            }
            objects[first.storageKey] = nil
            sortedKeys[first.storageKey] = nil
        }
    }
}
