import MultiCIDR

/// How to pick a free address (`ipam.allocation_strategy`).
public enum AllocationStrategy: String, Sendable, Hashable {
    /// After the last reserved address of the range set, wrapping (host-local's order).
    case sequential
    /// Uniformly among the free addresses.
    case random
}

/// Whether and how the config asks for the node's own podCIDRs (`ipam.nodePodCIDRs`).
public enum NodePodCIDRRequest: Sendable, Hashable {
    /// Not asked: only the configured ranges.
    case notRequested
    /// `true`: find them (NODE_POD_CIDR, the agent's file, kubelet's config, k3s's node file).
    case discover
    /// A list: these are the node's podCIDRs (the first source, "the config").
    case pinned([IPPrefix])
}

/// The `ipam` section: ranges, strategy, routes and where things are.
public struct IPAMConfig: Sendable {
    /// Range sets written in the config, in host-local's order: runtimeConfig.ipRanges,
    /// then the short form (`subnet` …), then `ranges`.
    public let rangeSets: [RangeSet]
    public let nodePodCIDRs: NodePodCIDRRequest
    /// Overrides the path of the file the node agent writes.
    public let nodePodCIDRsFile: String?
    public let strategy: AllocationStrategy
    /// `routes` entries, validated, passed to the result unchanged.
    public let routes: [JSONValue]
    public let resolvConf: String?
    public let logFile: String?

    public init(_ config: NetworkConfig) throws(CNIError) {
        let ipam = config.ipam
        var sets: [RangeSet] = []
        if let runtime = config.document["runtimeConfig"]?.objectValue, let value = runtime["ipRanges"] {
            sets += try IPAMConfig.rangeSets(value, key: "runtimeConfig.ipRanges")
        }
        if ipam["subnet"] != nil && ipam["subnet"] != .null {
            sets.append(RangeSet([try IPAMConfig.range(ipam, key: "ipam")]))
        } else {
            for key in ["rangeStart", "rangeEnd", "gateway"] where ipam[key] != nil && ipam[key] != .null {
                throw CNIError(.invalidNetworkConfig, "ipam.\(key) is set without ipam.subnet",
                               details: "add ipam.subnet, or move \(key) into an entry of ipam.ranges")
            }
        }
        if let value = ipam["ranges"], value != .null {
            sets += try IPAMConfig.rangeSets(value, key: "ipam.ranges")
        }
        rangeSets = sets

        switch ipam["nodePodCIDRs"] {
        case nil, .null?, .bool(false)?: nodePodCIDRs = .notRequested
        case .bool(true)?: nodePodCIDRs = .discover
        case .array(let items)?:
            var prefixes: [IPPrefix] = []
            for (index, item) in items.enumerated() {
                let key = "ipam.nodePodCIDRs[\(index)]"
                guard let text = item.stringValue else {
                    throw CNIError(.invalidNetworkConfig, "\(key) is \(item.typeName), expected a CIDR string", details: "write [\"10.244.1.0/24\", \"fd00:10:244:1::/64\"]")
                }
                prefixes.append(try ConfigReader.prefix(text, key: key))
            }
            nodePodCIDRs = .pinned(try NodePodCIDRs.validated(prefixes, source: "config ipam.nodePodCIDRs"))
        case let other?:
            throw CNIError(.invalidNetworkConfig, "ipam.nodePodCIDRs is \(other.typeName)",
                           details: "write true (use the node's podCIDRs) or a list of the node's CIDRs, one per family")
        }
        nodePodCIDRsFile = try ConfigReader.optionalString(ipam["nodePodCIDRsFile"], key: "ipam.nodePodCIDRsFile")

        let strategyText = try ConfigReader.optionalString(ipam["allocation_strategy"], key: "ipam.allocation_strategy") ?? "sequential"
        guard let strategy = AllocationStrategy(rawValue: strategyText) else {
            throw CNIError(.invalidNetworkConfig, "ipam.allocation_strategy \"\(strategyText)\" is unknown",
                           details: "write \"sequential\" (the default) or \"random\"")
        }
        self.strategy = strategy
        routes = try IPAMConfig.routes(ipam["routes"])
        resolvConf = try ConfigReader.optionalString(ipam["resolvConf"], key: "ipam.resolvConf")
        logFile = try ConfigReader.optionalString(ipam["logFile"], key: "ipam.logFile")

        if case .notRequested = nodePodCIDRs, rangeSets.isEmpty {
            throw CNIError(.invalidNetworkConfig, "the ipam config has no ranges",
                           details: "set ipam.subnet, ipam.ranges, or \"nodePodCIDRs\": true to use the node's podCIDRs")
        }
        try IPAMConfig.checkNoOverlap(rangeSets)
        try IPAMConfig.refuseRequestedAddresses(config)
    }

    /// The range sets to allocate from: the configured ones, then one per node podCIDR.
    public func resolvedRangeSets(nodePodCIDRs prefixes: [IPPrefix]) throws(CNIError) -> [RangeSet] {
        let all = rangeSets + prefixes.map { RangeSet([AddressRange(subnet: $0)]) }
        try IPAMConfig.checkNoOverlap(all)
        return all
    }

    static func rangeSets(_ value: JSONValue, key: String) throws(CNIError) -> [RangeSet] {
        guard let sets = value.arrayValue else {
            throw CNIError(.invalidNetworkConfig, "\(key) is \(value.typeName), expected a list of range sets",
                           details: "write [[{\"subnet\": \"10.244.1.0/24\"}], [{\"subnet\": \"fd00:10:244:1::/64\"}]]")
        }
        var result: [RangeSet] = []
        for (setIndex, set) in sets.enumerated() {
            let setKey = "\(key)[\(setIndex)]"
            guard let entries = set.arrayValue, !entries.isEmpty else {
                throw CNIError(.invalidNetworkConfig, "\(setKey) is not a non-empty list of ranges",
                               details: "each range set is a list such as [{\"subnet\": \"10.244.1.0/24\"}]")
            }
            var ranges: [AddressRange] = []
            for (index, entry) in entries.enumerated() {
                let entryKey = "\(setKey)[\(index)]"
                guard let object = entry.objectValue else {
                    throw CNIError(.invalidNetworkConfig, "\(entryKey) is \(entry.typeName), expected {\"subnet\": ...}", details: "")
                }
                let range = try IPAMConfig.range(object, key: entryKey)
                if let first = ranges.first, first.family != range.family {
                    throw CNIError(.invalidNetworkConfig, "\(setKey) mixes \(first.family) and \(range.family) ranges",
                                   details: "a range set gives one address per ADD: put each family in its own range set")
                }
                ranges.append(range)
            }
            result.append(RangeSet(ranges))
        }
        return result
    }

    static func range(_ object: JSONObject, key: String) throws(CNIError) -> AddressRange {
        guard let subnetText = try ConfigReader.optionalString(object["subnet"], key: key + ".subnet") else {
            throw CNIError(.invalidNetworkConfig, "\(key) has no subnet", details: "every range needs \"subnet\": \"<CIDR>\"")
        }
        let subnet = try ConfigReader.prefix(subnetText, key: key + ".subnet")
        let written = try ConfigReader.address(String(subnetText.prefix { $0 != "/" }), key: key + ".subnet")
        guard written == subnet.address else {
            throw CNIError(.invalidNetworkConfig, "\(key).subnet \"\(subnetText)\" has host bits set",
                           details: "did you mean \(subnet)?")
        }
        guard subnet.hostBits >= 2 else {
            throw CNIError(.invalidNetworkConfig, "\(key).subnet \(subnet) is too small",
                           details: "a subnet needs room for a network address, a gateway and a pod: use /30 (IPv4) or /126 (IPv6) or larger")
        }
        func address(_ field: String) throws(CNIError) -> IPAddress? {
            guard let text = try ConfigReader.optionalString(object[field], key: "\(key).\(field)") else { return nil }
            let address = try ConfigReader.address(text, key: "\(key).\(field)")
            guard address.family == subnet.family, address.value >= subnet.first, address.value <= subnet.last else {
                throw CNIError(.invalidNetworkConfig, "\(key).\(field) \(address) is outside subnet \(subnet)",
                               details: "choose an address inside \(subnet) or remove \(field)")
            }
            return address
        }
        let gateway = try address("gateway")
        let start = try address("rangeStart")
        let end = try address("rangeEnd")
        let range = AddressRange(subnet: subnet, start: start?.value, end: end?.value, gateway: gateway)
        guard range.start <= range.end else {
            throw CNIError(.invalidNetworkConfig, "\(key).rangeStart \(range.address(range.start)) is after rangeEnd \(range.address(range.end))",
                           details: "swap them, or remove one to use the subnet's default")
        }
        guard range.capacity > 0 else {
            throw CNIError(.invalidNetworkConfig, "\(key) \(range) has no address to hand out",
                           details: "the network address, the IPv4 broadcast address and the gateway are never handed out: widen rangeStart/rangeEnd")
        }
        return range
    }

    static func checkNoOverlap(_ sets: [RangeSet]) throws(CNIError) {
        let all = sets.enumerated().flatMap { index, set in set.ranges.map { (index, $0) } }
        for (i, (setA, a)) in all.enumerated() {
            for (setB, b) in all[(i + 1)...] where a.family == b.family && a.start <= b.end && b.start <= a.end {
                throw CNIError(.invalidNetworkConfig, "range \(a) of range set \(setA) overlaps range \(b) of range set \(setB)",
                               details: "an address can belong to one range only: remove or narrow one of them (the node's podCIDRs count as range sets too)")
            }
        }
    }

    static func routes(_ value: JSONValue?) throws(CNIError) -> [JSONValue] {
        guard let value, value != .null else { return [] }
        guard let items = value.arrayValue else {
            throw CNIError(.invalidNetworkConfig, "ipam.routes is \(value.typeName), expected a list", details: "write [{\"dst\": \"0.0.0.0/0\"}]")
        }
        for (index, item) in items.enumerated() {
            let key = "ipam.routes[\(index)]"
            guard let route = item.objectValue else {
                throw CNIError(.invalidNetworkConfig, "\(key) is \(item.typeName), expected {\"dst\": ...}", details: "")
            }
            guard let dst = try ConfigReader.optionalString(route["dst"], key: key + ".dst") else {
                throw CNIError(.invalidNetworkConfig, "\(key) has no dst", details: "every route needs \"dst\": \"<CIDR>\"")
            }
            _ = try ConfigReader.prefix(dst, key: key + ".dst")
            if let gw = try ConfigReader.optionalString(route["gw"], key: key + ".gw") {
                _ = try ConfigReader.address(gw, key: key + ".gw")
            }
        }
        return items
    }

    /// Specific addresses asked for (host-local's `ips` capability, `args.cni.ips`, `CNI_ARGS IP=`)
    /// are not supported: refuse rather than silently hand out another address.
    static func refuseRequestedAddresses(_ config: NetworkConfig) throws(CNIError) {
        let places: [(String, JSONValue?)] = [
            ("runtimeConfig.ips", config.document["runtimeConfig"]?.objectValue?["ips"]),
            ("args.cni.ips", config.document["args"]?.objectValue?["cni"]?.objectValue?["ips"]),
        ]
        for (key, value) in places {
            if let items = value?.arrayValue, !items.isEmpty {
                throw CNIError(.unsupportedField, "\(key) = \(value!.serialized): node-ipam does not hand out requested addresses",
                               details: "remove the \"ips\" capability/argument, or use host-local for static addresses")
            }
        }
    }
}
