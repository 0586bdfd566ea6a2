import MultiCIDR

/// The IPAM result of ADD (no `interfaces`, no `ips[].interface`: the main plugin adds them).
public enum CNIResult {
    public static func json(cniVersion: String, addresses: [PlannedAddress], routes: [JSONValue], dns: JSONObject) -> JSONValue {
        let ips: [JSONValue] = addresses.map { planned in
            var ip: JSONObject = [:]
            if CNIVersion.ipsCarryVersion(cniVersion) {
                ip["version"] = .string(planned.address.family == .ipv4 ? "4" : "6")
            }
            ip["address"] = .string("\(planned.address)/\(planned.range.subnet.length)")
            ip["gateway"] = .string(planned.range.gateway.description)
            return .object(ip)
        }
        return .object(["cniVersion": .string(cniVersion), "ips": .array(ips), "routes": .array(routes), "dns": .object(dns)])
    }

    /// VERSION's reply.
    public static func versionInfo(cniVersion: String) -> JSONValue {
        .object(["cniVersion": .string(cniVersion), "supportedVersions": .array(CNIVersion.supported.map { .string($0) })])
    }

    /// The `dns` object from a resolv.conf text (`resolvConf` key, as host-local reads it).
    public static func dns(resolvConf text: String) -> JSONObject {
        var nameservers: [JSONValue] = [], search: [JSONValue] = [], options: [JSONValue] = []
        var domain: String?
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.prefix { $0 != "#" && $0 != ";" }.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = fields.first else { continue }
            let values = fields.dropFirst().map { JSONValue.string($0) }
            switch keyword {
            case "nameserver": nameservers += values
            case "domain": domain = fields.dropFirst().first
            case "search": search = Array(values)
            case "options": options += values
            default: continue
            }
        }
        var dns: JSONObject = [:]
        if !nameservers.isEmpty { dns["nameservers"] = .array(nameservers) }
        if let domain { dns["domain"] = .string(domain) }
        if !search.isEmpty { dns["search"] = .array(search) }
        if !options.isEmpty { dns["options"] = .array(options) }
        return dns
    }
}

/// `CNI_ARGS`: `K=V;K=V` (Kubernetes sends `IgnoreUnknown=1;K8S_POD_NAMESPACE=…;…`).
public enum CNIArgs {
    public static func parse(_ text: String?) throws(CNIError) -> [String: String] {
        guard let text, !text.isEmpty else { return [:] }
        var result: [String: String] = [:]
        for pair in text.split(separator: ";") where !pair.isEmpty {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CNIError(.invalidEnvironment, "CNI_ARGS has \"\(pair)\", which is not KEY=VALUE",
                               details: "the runtime must pass CNI_ARGS as KEY=VALUE pairs separated by \";\"")
            }
            result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        if let ip = result["IP"], !ip.isEmpty {
            throw CNIError(.unsupportedField, "CNI_ARGS IP=\(ip): node-ipam does not hand out requested addresses",
                           details: "remove IP= from CNI_ARGS, or use host-local for static addresses")
        }
        return result
    }
}
