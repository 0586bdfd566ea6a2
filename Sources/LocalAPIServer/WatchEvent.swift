/// One change in the store, as kept in the bounded history and sent to watchers.
struct StoredEvent: Sendable {
    var rv: UInt64
    var storageKey: String
    var namespace: String
    var type: String  // ADDED, MODIFIED, DELETED
    var object: JSON
}

/// What a watcher asked for; the sink is called under the store lock, in resourceVersion order.
final class Watcher: Sendable {
    let id: Int
    let storageKey: String
    let namespace: String?
    let labelSelector: LabelSelector
    let fieldSelector: FieldSelector
    let sink: @Sendable (WatchOutput) -> Void
    init(id: Int, storageKey: String, namespace: String?, labelSelector: LabelSelector, fieldSelector: FieldSelector,
         sink: @escaping @Sendable (WatchOutput) -> Void) {
        self.id = id
        self.storageKey = storageKey
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.sink = sink
    }

    func matches(_ e: StoredEvent) -> Bool {
        e.storageKey == storageKey && (namespace == nil || namespace == e.namespace)
            && labelSelector.matches(e.object) && fieldSelector.matches(e.object)
    }
}

/// What flows to one watch stream.
enum WatchOutput: Sendable {
    case event(type: String, object: JSON)
    case close
}
