import MultiCIDR

/// Finds the node's podCIDRs, in order: the config, `NODE_POD_CIDR`, the file the node agent
/// writes, kubelet's config file (`podCIDR`), k3s's node file. Never a guess: when no source
/// has them, the error lists every place tried (a hostname hash could collide with another
/// node's range and send one pod's traffic to another node).
public enum NodePodCIDRs {
    /// Written by the node agent: one CIDR per line (or comma-separated), `#` comments.
    public static let agentFile = "/var/lib/node-ipam/pod-cidrs"
    public static let kubeletConfig = "/var/lib/kubelet/config.yaml"
    public static func k3sNodeFile(nodeName: String) -> String { "/var/lib/rancher/k3s/agent/etc/node-\(nodeName).yaml" }
    public static let environmentVariable = "NODE_POD_CIDR"

    /// Where the podCIDRs were found, for the log ("Using Pod CIDR from environment variable").
    public struct Found: Sendable, Hashable {
        public let prefixes: [IPPrefix]
        public let source: String
    }

    /// - Parameters:
    ///   - readFile: the file's text, or nil when it does not exist.
    ///   - nodeName: `NODE_NAME`, else the host name (only to name k3s's file).
    public static func discover(request: NodePodCIDRRequest, agentFilePath: String?, environment: [String: String],
                                nodeName: String?, readFile: (String) -> String?) throws(CNIError) -> Found? {
        switch request {
        case .notRequested: return nil
        case .pinned(let prefixes): return Found(prefixes: prefixes, source: "config ipam.nodePodCIDRs")
        case .discover: break
        }
        var tried: [String] = ["config ipam.nodePodCIDRs (not set)"]
        if let value = environment[environmentVariable], !value.trimmed.isEmpty {
            let source = "environment variable \(environmentVariable)"
            return Found(prefixes: try parseList(value, source: source), source: source)
        }
        tried.append("environment variable \(environmentVariable) (not set)")

        let agentPath = agentFilePath ?? agentFile
        if let text = readFile(agentPath) {
            let source = "node agent file \(agentPath)"
            let lines = text.split(whereSeparator: \.isNewline).map { $0.prefix { $0 != "#" } }
            let list = lines.joined(separator: ",")
            if !list.trimmed.isEmpty { return Found(prefixes: try parseList(list, source: source), source: source) }
            tried.append("\(source) (empty)")
        } else {
            tried.append("node agent file \(agentPath) (absent)")
        }

        for path in [kubeletConfig] + (nodeName.map { [k3sNodeFile(nodeName: $0)] } ?? []) {
            let kind = path == kubeletConfig ? "kubelet config" : "k3s node file"
            guard let text = readFile(path) else { tried.append("\(kind) \(path) (absent)"); continue }
            let source = "\(kind) \(path)"
            if let values = yamlPodCIDRs(text) {
                return Found(prefixes: try parseList(values.joined(separator: ","), source: source), source: source)
            }
            tried.append("\(source) (no podCIDR)")
        }
        if nodeName == nil { tried.append("k3s node file (no NODE_NAME or host name to name it)") }
        throw CNIError(.nodePodCIDRsNotFound, "the node's podCIDRs are not known; tried: \(tried.joined(separator: "; "))",
                       details: "enable --allocate-node-cidrs (or run node-ipam-controller) so the node agent writes \(agentPath), "
                           + "or set \(environmentVariable)=<IPv4 CIDR>,<IPv6 CIDR> for the runtime, or list them in ipam.nodePodCIDRs")
    }

    /// `"10.244.1.0/24, fd00:1::/64"` → prefixes, at most one per family, each usable.
    public static func parseList(_ text: String, source: String) throws(CNIError) -> [IPPrefix] {
        var prefixes: [IPPrefix] = []
        for part in text.split(separator: ",") {
            let item = part.trimmed
            guard !item.isEmpty else { continue }
            do {
                prefixes.append(try IPPrefix(parsing: item))
            } catch {
                throw CNIError(.nodePodCIDRsInvalid, "\(source): \"\(item)\" is not a CIDR (\(error.reason))",
                               details: "fix \(source): it must hold the node's podCIDRs such as 10.244.1.0/24,fd00:10:244:1::/64")
            }
        }
        return try validated(prefixes, source: source)
    }

    static func validated(_ prefixes: [IPPrefix], source: String) throws(CNIError) -> [IPPrefix] {
        let code: CNIError.Code = source.hasPrefix("config") ? .invalidNetworkConfig : .nodePodCIDRsInvalid
        guard !prefixes.isEmpty else {
            throw CNIError(code, "\(source) lists no CIDR", details: "give the node's podCIDRs, one per family")
        }
        for (index, prefix) in prefixes.enumerated() {
            if prefixes[..<index].contains(where: { $0.family == prefix.family }) {
                throw CNIError(code, "\(source) has two \(prefix.family) CIDRs",
                               details: "a node has at most one podCIDR per family (as spec.podCIDRs): keep one")
            }
            guard prefix.hostBits >= 2 else {
                throw CNIError(code, "\(source): \(prefix) is too small for pods", details: "use /30 (IPv4) or /126 (IPv6) or larger")
            }
        }
        return prefixes
    }

    /// The `podCIDR:` / `podCIDRs:` value of a flat YAML file (kubelet's KubeletConfiguration,
    /// k3s's node file), read line by line: the plugin carries no YAML library.
    /// Handles `podCIDR: x`, `podCIDR: "x,y"`, `podCIDRs: [x, y]` and a block list of `- x`.
    public static func yamlPodCIDRs(_ text: String) -> [String]? {
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        for (index, line) in lines.enumerated() {
            guard !line.hasPrefix(" "), !line.hasPrefix("\t") else { continue }
            let content = line.prefix { $0 != "#" }
            guard let colon = content.firstIndex(of: ":") else { continue }
            let key = content[..<colon].trimmed.unquoted
            guard key == "podCIDR" || key == "podCIDRs" else { continue }
            var value = content[content.index(after: colon)...].trimmed.unquoted
            if value.hasPrefix("[") && value.hasSuffix("]") {
                value = String(value.dropFirst().dropLast())
            }
            if !value.isEmpty {
                let items = value.split(separator: ",").map { $0.trimmed.unquoted }.filter { !$0.isEmpty }
                return items.isEmpty ? nil : items
            }
            var items: [String] = []
            for next in lines[(index + 1)...] {
                let item = next.prefix { $0 != "#" }.trimmed
                guard item.hasPrefix("-") else { if item.isEmpty { continue } else { break } }
                items.append(item.dropFirst().trimmed.unquoted)
            }
            return items.isEmpty ? nil : items
        }
        return nil
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line ends.
    var trimmed: String {
        let text = String(self)
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }

    var unquoted: String {
        let text = String(self)
        if text.count >= 2, let first = text.first, first == text.last, first == "\"" || first == "'" {
            return String(text.dropFirst().dropLast())
        }
        return text
    }
}
