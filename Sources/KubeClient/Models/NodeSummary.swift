/// What IPAM reads of a Node: its identity, labels, pod CIDRs and whether it is being deleted.
/// Read straight from the JSON text (`ProjectionDecoder.nodeSummary`) without decoding the
/// status, images and conditions that make up most of a real Node's 10–30 KB.
public struct NodeSummary: Sendable, Hashable {
    public var name: String
    public var namespace: String?
    public var uid: String
    public var resourceVersion: String
    /// Interned (`LabelSet`): read straight into the process-wide table, no dictionary built.
    public var labels: LabelSet
    /// `spec.podCIDRs`, else `spec.podCIDR`, else empty (as `Node.podCIDRs`).
    public var podCIDRs: [String]
    public var deletionTimestamp: String?

    public init(name: String, namespace: String? = nil, uid: String = "", resourceVersion: String = "", labels: [String: String] = [:],
                podCIDRs: [String] = [], deletionTimestamp: String? = nil) {
        self.init(name: name, namespace: namespace, uid: uid, resourceVersion: resourceVersion, labels: LabelSet(labels),
                  podCIDRs: podCIDRs, deletionTimestamp: deletionTimestamp)
    }

    public init(name: String, namespace: String?, uid: String, resourceVersion: String, labels: LabelSet,
                podCIDRs: [String], deletionTimestamp: String?) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.labels = labels
        self.podCIDRs = podCIDRs
        self.deletionTimestamp = deletionTimestamp
    }

    /// The summary of a decoded Node (what `.nodeSummary` must agree with).
    public init(_ node: Node) {
        self.init(name: node.metadata.name ?? "", namespace: node.metadata.namespace, uid: node.metadata.uid ?? "",
                  resourceVersion: node.metadata.resourceVersion ?? "", labels: node.metadata.labels ?? [:],
                  podCIDRs: node.podCIDRs, deletionTimestamp: node.metadata.deletionTimestamp)
    }
}

extension ProjectionDecoder where Value == NodeSummary {
    /// Reads a Node's summary in one pass over its text. Fields it reads must have the types
    /// `Node` gives them (else a `JSONScanError` names the field); every other field is only
    /// checked for JSON syntax.
    public static var nodeSummary: ProjectionDecoder<NodeSummary> { summary(labels: true) }

    /// The summary without labels (they are only stepped over, and `labels` is empty): for
    /// answers read for their podCIDRs, such as the one to the controller's own PATCH, which
    /// need not intern a node's labels once more.
    public static var nodeSummaryWithoutLabels: ProjectionDecoder<NodeSummary> { summary(labels: false) }

    private static func summary(labels: Bool) -> ProjectionDecoder<NodeSummary> {
        ProjectionDecoder { scanner in
            let summary = try NodeSummary(scanning: &scanner, labels: labels)
            return Projected(namespace: summary.namespace, name: summary.name, resourceVersion: summary.resourceVersion, value: summary)
        }
    }
}

extension NodeSummary {
    init(scanning scanner: inout JSONScanner, labels readLabels: Bool = true) throws {
        let start = scanner.position
        var metadata: Metadata?
        var spec = Spec()
        var seen = FirstOccurrence()
        try scanner.readObject { scanner, key in
            if key == "metadata", seen.first(0) {
                metadata = try scanner.takeNull() ? nil : Metadata(scanning: &scanner, labels: readLabels)
            } else if key == "spec", seen.first(1) {
                spec = try scanner.takeNull() ? Spec() : Spec(scanning: &scanner)
            } else {
                try scanner.skipValue()
            }
        }
        guard let metadata else { throw scanner.error("a Node without metadata", at: start) }
        let podCIDRs: [String]
        if let list = spec.podCIDRs, !list.isEmpty {
            podCIDRs = list
        } else if let single = spec.podCIDR, !single.isEmpty {
            podCIDRs = [single]
        } else {
            podCIDRs = []
        }
        self.init(name: metadata.name ?? "", namespace: metadata.namespace, uid: metadata.uid ?? "",
                  resourceVersion: metadata.resourceVersion ?? "", labels: metadata.labels ?? .empty,
                  podCIDRs: podCIDRs, deletionTimestamp: metadata.deletionTimestamp)
    }

    private struct Metadata {
        var name, namespace, uid, resourceVersion, deletionTimestamp: String?
        var labels: LabelSet?

        init(scanning scanner: inout JSONScanner, labels readLabels: Bool) throws {
            var seen = FirstOccurrence()
            try scanner.readObject { scanner, key in
                if key == "name", seen.first(0) { name = try scanner.readOptionalString() }
                else if key == "namespace", seen.first(1) { namespace = try scanner.readOptionalString() }
                else if key == "uid", seen.first(2) { uid = try scanner.readOptionalString() }
                else if key == "resourceVersion", seen.first(3) { resourceVersion = try scanner.readOptionalString() }
                else if key == "deletionTimestamp", seen.first(4) { deletionTimestamp = try scanner.readOptionalString() }
                else if readLabels, key == "labels", seen.first(5) { labels = try scanner.readOptionalLabelSet() }
                else { try scanner.skipValue() }
            }
        }
    }

    private struct Spec {
        var podCIDR: String?
        var podCIDRs: [String]?

        init() {}

        init(scanning scanner: inout JSONScanner) throws {
            var seen = FirstOccurrence()
            try scanner.readObject { scanner, key in
                if key == "podCIDR", seen.first(0) { podCIDR = try scanner.readOptionalString() }
                else if key == "podCIDRs", seen.first(1) { podCIDRs = try scanner.readOptionalStringArray() }
                else { try scanner.skipValue() }
            }
        }
    }
}

/// Which fields of an object have been met. A repeated field keeps its first value and the
/// later ones are only stepped over, as JSONDecoder does.
struct FirstOccurrence {
    private var bits: UInt64 = 0

    /// True the first time `field` (0–63) is met.
    mutating func first(_ field: Int) -> Bool {
        let bit: UInt64 = 1 << field
        defer { bits |= bit }
        return bits & bit == 0
    }
}

extension JSONScanner {
    /// An object of strings, or null (nil), interned as a `LabelSet` without building a
    /// dictionary. A repeated key keeps its first value (as with JSONDecoder; the repeats are
    /// not even type-checked).
    mutating func readOptionalLabelSet() throws -> LabelSet? {
        if try takeNull() { return nil }
        var pairs: [(key: String, value: String)] = []
        // Repeats are looked for in the pairs while they are few (a node's 10–30 labels), in a
        // set beyond that, so that an object of many labels costs no quadratic time.
        var keys: Set<String>?
        try readObject { scanner, key in
            let name = key.text
            if keys == nil, pairs.count >= 32 { keys = Set(pairs.map(\.key)) }
            let repeated = keys.map { $0.contains(name) } ?? pairs.contains { $0.key == name }
            if repeated {
                try scanner.skipValue()
            } else {
                pairs.append((name, try scanner.readString()))
                keys?.insert(name)
            }
        }
        return LabelSet(pairs: pairs)
    }

    /// An array of strings, or null (nil).
    mutating func readOptionalStringArray() throws -> [String]? {
        if try takeNull() { return nil }
        var list: [String] = []
        try readArray { scanner, _ in
            list.append(try scanner.readString())
        }
        return list
    }
}
