/// A CIDR prefix: a network address (host bits zero) and a prefix length.
public struct IPPrefix: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The first address of the prefix (host bits are always zero).
    public let address: IPAddress
    /// Number of leading network bits, 0...32 for IPv4, 0...128 for IPv6.
    public let length: Int

    public var family: IPFamily { address.family }

    /// Creates a prefix, masking host bits of `address` (as the reference does for pools).
    public init(address: IPAddress, length: Int) {
        precondition(length >= 0 && length <= address.family.bitWidth, "prefix length out of range")
        self.length = length
        self.address = IPAddress(family: address.family, value: address.value & IPPrefix.networkMask(family: address.family, length: length))
    }

    /// Parses `a.b.c.d/n` or `x::y/n` strictly (see `IPAddress(parsing:)`); prefix lengths
    /// outside the family's range are rejected. Host bits are accepted and masked, like
    /// Go's `netip.ParsePrefix(...).Masked()` that the reference applies.
    public init(parsing text: String) throws(AddressParseError) {
        guard let slash = text.firstIndex(of: "/") else {
            throw AddressParseError(input: text, reason: "missing \"/<prefix length>\"")
        }
        let addressText = String(text[..<slash])
        let lengthText = text[text.index(after: slash)...]
        let address: IPAddress
        do {
            address = try IPAddress(parsing: addressText)
        } catch {
            throw AddressParseError(input: text, reason: error.reason)
        }
        guard !lengthText.isEmpty, lengthText.count <= 3, lengthText.allSatisfy({ $0.isASCII && $0.isNumber }),
              !(lengthText.count > 1 && lengthText.first == "0"), let length = Int(lengthText) else {
            throw AddressParseError(input: text, reason: "prefix length \"\(lengthText)\" is not a decimal number")
        }
        guard length <= address.family.bitWidth else {
            throw AddressParseError(input: text, reason: "prefix length \(length) is larger than \(address.family.bitWidth) for \(address.family)")
        }
        self.init(address: address, length: length)
    }

    /// Number of host bits (address width minus prefix length).
    public var hostBits: Int { family.bitWidth - length }

    /// First address as an integer.
    public var first: UInt128 { address.value }

    /// Last address as an integer.
    public var last: UInt128 { address.value | IPPrefix.hostMask(hostBits: hostBits) }

    /// True when `other` lies entirely inside this prefix.
    public func contains(_ other: IPPrefix) -> Bool {
        other.family == family && other.length >= length && (other.address.value & IPPrefix.networkMask(family: family, length: length)) == address.value
    }

    /// True when the two prefixes share at least one address.
    public func overlaps(_ other: IPPrefix) -> Bool {
        contains(other) || other.contains(self)
    }

    public var description: String { "\(address)/\(length)" }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.family, lhs.address.value, lhs.length) < (rhs.family, rhs.address.value, rhs.length)
    }

    static func hostMask(hostBits: Int) -> UInt128 {
        hostBits >= 128 ? UInt128.max : (UInt128(1) << UInt128(hostBits)) &- 1
    }

    static func networkMask(family: IPFamily, length: Int) -> UInt128 {
        let width = family.bitWidth
        let all: UInt128 = width == 128 ? .max : (UInt128(1) << UInt128(width)) &- 1
        return all & ~hostMask(hostBits: width - length)
    }
}

