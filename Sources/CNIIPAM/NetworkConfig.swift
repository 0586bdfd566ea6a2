import MultiCIDR

/// The network configuration the runtime (or the main plugin) gives us on stdin.
/// Only what every command needs is read here; `IPAMConfig.parse` reads the ranges, so a
/// DEL or GC still works (and releases) when the ranges of the config have become invalid.
public struct NetworkConfig: Sendable {
    public static let defaultDataDir = "/var/lib/cni/networks"

    public let cniVersion: String
    public let name: String?
    public let ipam: JSONObject
    /// The whole document, for the parts only some commands read.
    public let document: JSONObject

    public init(parsing bytes: [UInt8]) throws(CNIError) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw CNIError(.decodingFailure, "cannot decode the network config on stdin: \(error)",
                           details: "the runtime must pass the network config as JSON on stdin")
        }
        guard let document = value.objectValue else {
            throw CNIError(.decodingFailure, "the network config on stdin is \(value.typeName), not a JSON object",
                           details: "the runtime must pass the network config as a JSON object on stdin")
        }
        self.document = document
        switch document["cniVersion"] {
        case nil, .null?: cniVersion = CNIVersion.implied
        case .string(let text)?: cniVersion = text
        case let other?:
            throw CNIError(.decodingFailure, "cniVersion is \(other.typeName), not a string", details: "write it as \"cniVersion\": \"1.0.0\"")
        }
        name = try ConfigReader.optionalString(document["name"], key: "name")
        guard let ipam = document["ipam"]?.objectValue else {
            throw CNIError(.invalidNetworkConfig, "the network config has no \"ipam\" object",
                           details: "node-ipam is an IPAM plugin: put {\"type\": \"node-ipam\", ...} under \"ipam\" of the main plugin")
        }
        self.ipam = ipam
    }

    /// The version to put in our error objects: the config's when we speak it, else the latest.
    public var replyVersion: String {
        CNIVersion.supported.contains(cniVersion) ? cniVersion : CNIVersion.latest
    }

    /// `ipam.dataDir` as written, if any.
    public func explicitDataDir() throws(CNIError) -> String? {
        guard let dir = try ConfigReader.optionalString(ipam["dataDir"], key: "ipam.dataDir") else { return nil }
        guard dir.hasPrefix("/") else {
            throw CNIError(.invalidNetworkConfig, "ipam.dataDir \"\(dir)\" is not an absolute path",
                           details: "write an absolute directory such as /var/lib/cni/networks/\(name ?? "<network name>")")
        }
        return dir
    }

    /// The network name as one safe path component (the default store directory uses it).
    public func validatedName() throws(CNIError) -> String {
        guard let name, !name.isEmpty else {
            throw CNIError(.invalidNetworkConfig, "the network config has no \"name\"",
                           details: "give the network a name (it names the store directory /var/lib/cni/networks/<name>) or set ipam.dataDir")
        }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            ("0"..."9").contains(scalar) || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || scalar == "_" || scalar == "." || scalar == "-"
        }
        guard allowed, name != ".", name != ".." else {
            throw CNIError(.invalidNetworkConfig, "network name \"\(name)\" is not a valid directory name",
                           details: "use letters, digits, \"_\", \".\" and \"-\" (as libcni requires)")
        }
        return name
    }

    /// Where the store lives when `ipam.dataDir` is absent: host-local's default, so an
    /// existing host-local store of the same network is used unchanged.
    public func defaultStoreDirectory() throws(CNIError) -> String {
        NetworkConfig.defaultDataDir + "/" + (try validatedName())
    }

    /// `cni.dev/valid-attachments` of a GC request.
    public func validAttachments() throws(CNIError) -> [Attachment] {
        guard let value = document["cni.dev/valid-attachments"] else {
            throw CNIError(.invalidNetworkConfig, "GC without \"cni.dev/valid-attachments\"",
                           details: "the runtime must list the attachments to keep; node-ipam refuses to release everything on a guess")
        }
        guard let items = value.arrayValue else {
            throw CNIError(.decodingFailure, "cni.dev/valid-attachments is \(value.typeName), not an array", details: "")
        }
        var result: [Attachment] = []
        for (index, item) in items.enumerated() {
            let key = "cni.dev/valid-attachments[\(index)]"
            guard let object = item.objectValue,
                  let id = try ConfigReader.optionalString(object["containerID"], key: key + ".containerID"),
                  let ifname = try ConfigReader.optionalString(object["ifname"], key: key + ".ifname") else {
                throw CNIError(.decodingFailure, "\(key) is not {\"containerID\": ..., \"ifname\": ...}", details: "")
            }
            result.append(Attachment(containerID: id, ifname: ifname))
        }
        return result
    }

    /// The IP addresses of `prevResult` (CHECK), without their prefix lengths.
    public func previousAddresses() throws(CNIError) -> [IPAddress]? {
        guard let value = document["prevResult"], value != .null else { return nil }
        guard let result = value.objectValue else {
            throw CNIError(.decodingFailure, "prevResult is \(value.typeName), not an object", details: "")
        }
        var addresses: [IPAddress] = []
        for (index, item) in (result["ips"]?.arrayValue ?? []).enumerated() {
            let key = "prevResult.ips[\(index)].address"
            guard let text = item.objectValue?["address"]?.stringValue, let slash = text.firstIndex(of: "/"),
                  let address = try? IPAddress(parsing: String(text[..<slash])) else {
                throw CNIError(.decodingFailure, "\(key) is not an address with a prefix length such as 10.244.1.5/24", details: "")
            }
            addresses.append(address)
        }
        return addresses
    }
}

/// A container interface the runtime still uses (GC keeps its addresses).
public struct Attachment: Sendable, Hashable {
    public let containerID: String
    public let ifname: String

    public init(containerID: String, ifname: String) {
        self.containerID = containerID
        self.ifname = ifname
    }
}

/// Typed reads of config values with messages that name the key.
enum ConfigReader {
    static func optionalString(_ value: JSONValue?, key: String) throws(CNIError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?:
            throw CNIError(.invalidNetworkConfig, "\(key) is \(other.typeName), expected a string", details: "write \(key) as a JSON string")
        }
    }

    static func prefix(_ text: String, key: String) throws(CNIError) -> IPPrefix {
        let prefix: IPPrefix
        do {
            prefix = try IPPrefix(parsing: text)
        } catch {
            throw CNIError(.invalidNetworkConfig, "\(key) \"\(text)\" is not a CIDR: \(error.reason)",
                           details: "write a network in CIDR form such as 10.244.1.0/24 or fd00:10:244:1::/64")
        }
        return prefix
    }

    static func address(_ text: String, key: String) throws(CNIError) -> IPAddress {
        do {
            return try IPAddress(parsing: text)
        } catch {
            throw CNIError(.invalidNetworkConfig, "\(key) \"\(text)\" is not an IP address: \(error.reason)",
                           details: "write a single address such as 10.244.1.1 or fd00:10:244:1::1")
        }
    }
}
