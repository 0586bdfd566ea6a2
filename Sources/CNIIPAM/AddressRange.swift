import MultiCIDR

/// One `{subnet, rangeStart, rangeEnd, gateway}` entry of a range set, validated and with
/// host-local's defaults filled in (gateway network+1, start network+1, end the last host).
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    public let subnet: IPPrefix
    /// First and last candidate (inclusive), as integers of the subnet's family.
    public let start: UInt128
    public let end: UInt128
    public let gateway: IPAddress

    public var family: IPFamily { subnet.family }

    public init(subnet: IPPrefix, start: UInt128? = nil, end: UInt128? = nil, gateway: IPAddress? = nil) {
        self.subnet = subnet
        self.start = start ?? subnet.first + 1
        self.end = end ?? (subnet.family == .ipv4 ? subnet.last - 1 : subnet.last)
        self.gateway = gateway ?? IPAddress(family: subnet.family, value: subnet.first + 1)
    }

    /// True when `value` is in [start, end].
    public func contains(_ value: UInt128) -> Bool { value >= start && value <= end }

    /// True when the address may be handed out: inside [start, end] and not the network address,
    /// the IPv4 broadcast address or the gateway, whatever rangeStart/rangeEnd say.
    public func isAssignable(_ value: UInt128) -> Bool {
        contains(value) && !isNeverAssigned(value)
    }

    func isNeverAssigned(_ value: UInt128) -> Bool {
        value == subnet.first || value == gateway.value || (family == .ipv4 && value == subnet.last)
    }

    /// The addresses inside [start, end] that are never handed out, ascending and distinct.
    var neverAssigned: [UInt128] {
        var values = [subnet.first, gateway.value]
        if family == .ipv4 { values.append(subnet.last) }
        return Array(Set(values.filter { contains($0) })).sorted()
    }

    /// Number of addresses in [start, end] (saturating at UInt128.max).
    var size: UInt128 {
        let (span, _) = end.subtractingReportingOverflow(start)
        return span == .max ? .max : span + 1
    }

    /// Number of addresses that may be handed out, ignoring the store.
    public var capacity: UInt128 { size - UInt128(neverAssigned.count) }

    public func address(_ value: UInt128) -> IPAddress { IPAddress(family: family, value: value) }

    public var description: String {
        "\(subnet) (\(address(start))-\(address(end)), gateway \(gateway))"
    }
}

/// A list of ranges of one family; each ADD takes one address from each range set.
public struct RangeSet: Sendable, Hashable, CustomStringConvertible {
    public let ranges: [AddressRange]

    public init(_ ranges: [AddressRange]) {
        precondition(!ranges.isEmpty, "a range set has at least one range")
        self.ranges = ranges
    }

    public var family: IPFamily { ranges[0].family }

    /// The range that may hand out `address`, if any.
    public func range(assigning address: IPAddress) -> AddressRange? {
        guard address.family == family else { return nil }
        return ranges.first { $0.contains(address.value) }
    }

    public func contains(_ address: IPAddress) -> Bool { range(assigning: address) != nil }

    public var capacity: UInt128 {
        ranges.reduce(UInt128(0)) { total, range in
            let (sum, overflow) = total.addingReportingOverflow(range.capacity)
            return overflow ? .max : sum
        }
    }

    public var description: String { ranges.map(\.subnet.description).joined(separator: ",") }
}
