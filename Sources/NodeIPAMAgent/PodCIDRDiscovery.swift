import CNIIPAM
import MultiCIDR

/// The node's podCIDRs as the agent found them, and the one log line that names the source.
public struct ResolvedPodCIDRs: Sendable, Hashable {
    public let prefixes: [IPPrefix]
    /// "config (--node-pod-cidrs)", "environment variable NODE_POD_CIDR", "node n1 spec.podCIDRs", a file path.
    public let source: String
    /// The seed's wording ("Using Pod CIDR from config", "Found Pod CIDR in PodCIDRs", …).
    public let logLine: String
    /// An override that disagrees with the Node (said as a WARNING).
    public let warnings: [String]
}

/// Where the agent looks, in order (CNI.md §6 A1): the agent's own config (`--node-pod-cidrs`,
/// the seed's `nodeLocal`), `NODE_POD_CIDR`, the Node's `spec.podCIDRs` (else `spec.podCIDR`),
/// kubelet's config file, k3s's node file. Never a hostname hash and never a default range:
/// either can hand another node's addresses to this node's pods.
public enum PodCIDRDiscovery {
    public struct Inputs: Sendable {
        public var configured: String?
        public var environment: [String: String]
        public var nodeName: String
        /// nil while the Node has not been seen (the first list has not answered).
        public var nodePodCIDRs: [String]?
        public var kubeletConfigPath: String
        public var k3sNodeFilePath: String

        public init(configured: String?, environment: [String: String], nodeName: String, nodePodCIDRs: [String]?,
                    kubeletConfigPath: String = NodePodCIDRs.kubeletConfig, k3sNodeFilePath: String? = nil) {
            self.configured = configured
            self.environment = environment
            self.nodeName = nodeName
            self.nodePodCIDRs = nodePodCIDRs
            self.kubeletConfigPath = kubeletConfigPath
            self.k3sNodeFilePath = k3sNodeFilePath ?? NodePodCIDRs.k3sNodeFile(nodeName: nodeName)
        }
    }

    /// Why nothing was found yet (the agent stays NotReady and says this on /readyz).
    public struct Waiting: Sendable, Hashable {
        public let reason: String
    }

    public enum Outcome: Sendable, Hashable {
        case found(ResolvedPodCIDRs)
        case waiting(Waiting)
    }

    public static func resolve(_ inputs: Inputs, readFile: (String) -> String?) throws(CNIError) -> Outcome {
        let node = inputs.nodePodCIDRs ?? []
        func disagreement(_ prefixes: [IPPrefix], _ source: String) -> [String] {
            guard !node.isEmpty, node != prefixes.map(\.description) else { return [] }
            return ["\(source) gives \(prefixes.map(\.description).joined(separator: ",")) but node \(inputs.nodeName) has spec.podCIDRs "
                + "\(node.joined(separator: ",")): using \(source); pods may get addresses the cluster routes to another node"]
        }
        if let configured = inputs.configured, !configured.trimmingSpaces.isEmpty {
            let source = "config (--node-pod-cidrs)"
            let prefixes = try NodePodCIDRs.parseList(configured, source: source)
            return .found(ResolvedPodCIDRs(prefixes: prefixes, source: source, logLine: "Using Pod CIDR from config: \(text(prefixes))",
                                           warnings: disagreement(prefixes, source)))
        }
        if let value = inputs.environment[NodePodCIDRs.environmentVariable], !value.trimmingSpaces.isEmpty {
            let source = "environment variable \(NodePodCIDRs.environmentVariable)"
            let prefixes = try NodePodCIDRs.parseList(value, source: source)
            return .found(ResolvedPodCIDRs(prefixes: prefixes, source: source,
                                           logLine: "Using Pod CIDR from environment variable \(NodePodCIDRs.environmentVariable): \(text(prefixes))",
                                           warnings: disagreement(prefixes, source)))
        }
        guard let seen = inputs.nodePodCIDRs else {
            return .waiting(Waiting(reason: "waiting for node \(inputs.nodeName) from the API server"))
        }
        if !seen.isEmpty {
            let source = "node \(inputs.nodeName) spec.podCIDRs"
            let prefixes = try NodePodCIDRs.parseList(seen.joined(separator: ","), source: source)
            return .found(ResolvedPodCIDRs(prefixes: prefixes, source: source,
                                           logLine: "Found Pod CIDR in PodCIDRs of node \(inputs.nodeName): \(text(prefixes))", warnings: []))
        }
        for (kind, path) in [("kubelet config", inputs.kubeletConfigPath), ("k3s node file", inputs.k3sNodeFilePath)] {
            guard let content = readFile(path), let values = NodePodCIDRs.yamlPodCIDRs(content) else { continue }
            let source = "\(kind) \(path)"
            let prefixes = try NodePodCIDRs.parseList(values.joined(separator: ","), source: source)
            return .found(ResolvedPodCIDRs(prefixes: prefixes, source: source, logLine: "Found Pod CIDR in \(source): \(text(prefixes))", warnings: []))
        }
        return .waiting(Waiting(reason: "node \(inputs.nodeName) has no podCIDRs: enable --allocate-node-cidrs or run node-ipam-controller "
            + "(a ClusterCIDR must select the node), or set \(NodePodCIDRs.environmentVariable); also tried "
            + "\(inputs.kubeletConfigPath) and \(inputs.k3sNodeFilePath)"))
    }

    static func text(_ prefixes: [IPPrefix]) -> String { prefixes.map(\.description).joined(separator: ",") }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" || first == "\n" || first == "\r" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\n" || last == "\r" { text = text.dropLast() }
        return String(text)
    }
}
