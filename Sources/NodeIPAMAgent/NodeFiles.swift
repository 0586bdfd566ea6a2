import CNIIPAM
import MultiCIDR

/// What the agent writes for the runtime and the plugin: the CNI network config (a conflist
/// whose `node-ipam` ipam section has one range set per podCIDR, in the Node's order) and
/// the node-local podCIDRs file the plugin falls back to. Pure: text in, text out.
public struct NodeFiles: Sendable {
    public struct Settings: Sendable {
        public var networkName = "pods"
        public var bridge = "cni0"
        public var mtu = 1500
        /// The plugin's `dataDir` (nil: its default `/var/lib/cni/networks/<network name>`).
        public var dataDir: String?
        /// A conflist to fill in instead of the built-in bridge config: every plugin whose
        /// `ipam.type` is `node-ipam` gets `ranges` (and default `routes` when it has none).
        public var template: String?

        public init() {}
    }

    public let settings: Settings

    public init(settings: Settings) throws(CNIError) {
        self.settings = settings
        if let template = settings.template { _ = try NodeFiles.parseTemplate(template) }
    }

    /// The conflist for `prefixes`, pretty-printed, ending with a newline.
    public func conflist(_ prefixes: [IPPrefix]) throws(CNIError) -> String {
        let ranges = JSONValue.array(prefixes.map { .array([.object(["subnet": .string($0.description)])]) })
        let routes = JSONValue.array(prefixes.map { .object(["dst": .string($0.family == .ipv4 ? "0.0.0.0/0" : "::/0")]) })
        var document: JSONObject
        if let template = settings.template {
            document = try NodeFiles.parseTemplate(template)
            guard case .array(var plugins)? = document["plugins"] else { return "" }
            for index in plugins.indices {
                guard var plugin = plugins[index].objectValue, var ipam = plugin["ipam"]?.objectValue,
                      ipam["type"]?.stringValue == "node-ipam" else { continue }
                // The ranges are explicit: discovering them again would overlap them.
                ipam["nodePodCIDRs"] = nil
                ipam["ranges"] = ranges
                if ipam["routes"] == nil { ipam["routes"] = routes }
                if let dataDir = settings.dataDir, ipam["dataDir"] == nil { ipam["dataDir"] = .string(dataDir) }
                plugin["ipam"] = .object(ipam)
                plugins[index] = .object(plugin)
            }
            document["plugins"] = .array(plugins)
        } else {
            var ipam: JSONObject = ["type": .string("node-ipam"), "ranges": ranges, "routes": routes]
            if let dataDir = settings.dataDir { ipam["dataDir"] = .string(dataDir) }
            let bridge: JSONObject = [
                "type": .string("bridge"), "bridge": .string(settings.bridge), "isGateway": .bool(true), "ipMasq": .bool(true),
                "mtu": .int(settings.mtu), "ipam": .object(ipam),
            ]
            let portmap: JSONObject = ["type": .string("portmap"), "capabilities": .object(["portMappings": .bool(true)])]
            document = ["cniVersion": .string("1.0.0"), "name": .string(settings.networkName), "plugins": .array([.object(bridge), .object(portmap)])]
        }
        return NodeFiles.pretty(.object(document)) + "\n"
    }

    /// The node-local file (`/var/lib/node-ipam/pod-cidrs`): a comment, then one CIDR per line.
    public static func podCIDRsFile(_ prefixes: [IPPrefix], nodeName: String, source: String) -> String {
        "# node-ipam-agent: podCIDRs of node \(nodeName) (from \(source)); read by the node-ipam CNI plugin\n"
            + prefixes.map { $0.description + "\n" }.joined()
    }

    /// The podCIDRs a previous run wrote (nil when the file is absent, empty or not ours).
    public static func writtenPodCIDRs(_ text: String?) -> [IPPrefix]? {
        guard let text else { return nil }
        let list = text.split(whereSeparator: \.isNewline).map { $0.prefix { $0 != "#" } }.joined(separator: ",")
        guard let prefixes = try? NodePodCIDRs.parseList(list, source: "written file"), !prefixes.isEmpty else { return nil }
        return prefixes
    }

    /// The plugin's store directory for this config (where pods' address files are).
    public func storeDirectory(conflist text: String) -> String {
        let document = (try? JSONValue.parse(text))?.objectValue
        let name = document?["name"]?.stringValue ?? settings.networkName
        for plugin in document?["plugins"]?.arrayValue ?? [] {
            if let ipam = plugin.objectValue?["ipam"]?.objectValue, ipam["type"]?.stringValue == "node-ipam",
               let dataDir = ipam["dataDir"]?.stringValue, !dataDir.isEmpty {
                return dataDir
            }
        }
        return NetworkConfig.defaultDataDir + "/" + name
    }

    static func parseTemplate(_ text: String) throws(CNIError) -> JSONObject {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch {
            throw CNIError(.invalidNetworkConfig, "--conflist-template: \(error)", details: "give a CNI conflist (JSON)")
        }
        guard let object = value.objectValue, let plugins = object["plugins"]?.arrayValue else {
            throw CNIError(.invalidNetworkConfig, "--conflist-template has no \"plugins\" list", details: "give a CNI conflist, not a single-plugin config")
        }
        guard object["name"]?.stringValue != nil, object["cniVersion"]?.stringValue != nil else {
            throw CNIError(.invalidNetworkConfig, "--conflist-template needs \"name\" and \"cniVersion\"", details: "write \"cniVersion\": \"1.0.0\"")
        }
        guard plugins.contains(where: { $0.objectValue?["ipam"]?.objectValue?["type"]?.stringValue == "node-ipam" }) else {
            throw CNIError(.invalidNetworkConfig, "--conflist-template has no plugin with \"ipam\": {\"type\": \"node-ipam\"}",
                           details: "the agent fills in that plugin's ranges")
        }
        return object
    }

    /// JSON with two-space indentation, keys in their order.
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy({ if case .object = $0 { return false }; if case .array = $0 { return false }; return true })
                || items.count == 1 && items.allSatisfy({ isSmall($0) }) {
                return value.serialized
            }
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let object):
            if object.members.isEmpty { return "{}" }
            if isSmall(value) { return value.serialized }
            return "{\n" + object.members.map { inner + JSONValue.string($0.key).serialized + ": " + pretty($0.value, indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return value.serialized
        }
    }

    private static func isSmall(_ value: JSONValue) -> Bool { value.serialized.count <= 40 }
}
