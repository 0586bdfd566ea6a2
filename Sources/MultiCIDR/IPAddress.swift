/// An IP address family.
public enum IPFamily: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
    case ipv4 = 4
    case ipv6 = 6

    /// Number of bits in an address of this family.
    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }

    public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }

    public static func < (lhs: IPFamily, rhs: IPFamily) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Why a string is not an address or prefix. Messages name the input and say what is wrong.
public struct AddressParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public let input: String
    public let reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "invalid CIDR \"\(input)\": \(reason)" }
}

/// An IPv4 or IPv6 address held in the low bits of a 128-bit integer.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let family: IPFamily
    /// The address as an unsigned integer; IPv4 uses the low 32 bits.
    public let value: UInt128

    public init(family: IPFamily, value: UInt128) {
        precondition(family == .ipv6 || value <= UInt128(UInt32.max), "IPv4 value out of range")
        self.family = family
        self.value = value
    }

    /// Parses an address strictly: dotted decimal without leading zeros for IPv4; RFC 4291
    /// text forms for IPv6 (with an optional embedded dotted quad); no zones.
    public init(parsing text: String) throws(AddressParseError) {
        if text.contains(":") {
            self.init(family: .ipv6, value: try AddressText.parseIPv6(text, original: text))
        } else {
            self.init(family: .ipv4, value: UInt128(try AddressText.parseIPv4(Substring(text), original: text)))
        }
    }

    /// True for `::ffff:a.b.c.d`, an IPv4 address written in IPv6 form.
    public var isIPv4Mapped: Bool {
        family == .ipv6 && (value >> 32) == 0xffff
    }

    public var description: String {
        family == .ipv4 ? AddressText.formatIPv4(UInt32(truncatingIfNeeded: value)) : AddressText.formatIPv6(value)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.family, lhs.value) < (rhs.family, rhs.value)
    }
}

enum AddressText {
    static func parseIPv4(_ text: Substring, original: String) throws(AddressParseError) -> UInt32 {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            throw AddressParseError(input: original, reason: "an IPv4 address has four dot-separated octets")
        }
        var result: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw AddressParseError(input: original, reason: "octet \"\(part)\" is not a decimal number 0-255")
            }
            if part.count > 1 && part.first == "0" {
                throw AddressParseError(input: original, reason: "octet \"\(part)\" has a leading zero (ambiguous: octal or decimal)")
            }
            guard let octet = UInt32(part), octet <= 255 else {
                throw AddressParseError(input: original, reason: "octet \"\(part)\" is larger than 255")
            }
            result = result << 8 | octet
        }
        return result
    }

    static func parseIPv6(_ text: String, original: String) throws(AddressParseError) -> UInt128 {
        if text.contains("%") {
            throw AddressParseError(input: original, reason: "IPv6 zones (\"%...\") are not allowed in a CIDR")
        }
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard halves.count <= 2 else {
            throw AddressParseError(input: original, reason: "\"::\" may appear only once")
        }
        func parseGroups(_ part: String, allowIPv4Tail: Bool) throws(AddressParseError) -> [UInt16] {
            if part.isEmpty { return [] }
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (index, field) in fields.enumerated() {
                if field.contains(".") {
                    guard allowIPv4Tail, index == fields.count - 1 else {
                        throw AddressParseError(input: original, reason: "an embedded IPv4 address must come last")
                    }
                    let v4 = try parseIPv4(field, original: original)
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                    continue
                }
                guard !field.isEmpty else {
                    throw AddressParseError(input: original, reason: "empty group")
                }
                guard field.count <= 4, let group = UInt16(field, radix: 16), field.allSatisfy(\.isHexDigit) else {
                    throw AddressParseError(input: original, reason: "group \"\(field)\" is not 1-4 hexadecimal digits")
                }
                out.append(group)
            }
            return out
        }
        if halves.count == 2 {
            sawDoubleColon = true
            groups = try parseGroups(halves[0], allowIPv4Tail: false)
            tail = try parseGroups(halves[1], allowIPv4Tail: true)
        } else {
            groups = try parseGroups(halves[0], allowIPv4Tail: true)
        }
        let total = groups.count + tail.count
        if sawDoubleColon {
            guard total <= 7 else {
                throw AddressParseError(input: original, reason: "too many groups for an IPv6 address")
            }
            groups += Array(repeating: 0, count: 8 - total) + tail
        } else if total != 8 {
            throw AddressParseError(input: original, reason: "an IPv6 address has eight groups (or uses \"::\")")
        }
        var value: UInt128 = 0
        for group in groups { value = value << 16 | UInt128(group) }
        return value
    }

    static func formatIPv4(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    /// RFC 5952: lower-case hex, no leading zeros, the longest run (first on ties) of two or
    /// more zero groups shortened to "::". IPv4-mapped addresses keep their dotted tail.
    static func formatIPv6(_ value: UInt128) -> String {
        if value >> 32 == 0xffff {
            return "::ffff:" + formatIPv4(UInt32(truncatingIfNeeded: value))
        }
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: value >> UInt128(112 - 16 * $0)) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                let length = index - runStart
                if length > bestLength && length >= 2 { bestStart = runStart; bestLength = length }
                runStart = -1
            }
        }
        func hex(_ slice: ArraySlice<UInt16>) -> String {
            slice.map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(groups[...]) }
        return hex(groups[..<bestStart]) + "::" + hex(groups[(bestStart + bestLength)...])
    }
}
