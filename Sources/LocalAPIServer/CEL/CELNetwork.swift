/// An IP address of the Kubernetes CEL IP library (`ip(...)`, `cidr(...).ip()`).
struct CELIPAddress: Sendable, Equatable, Hashable {
    /// 4 bytes for IPv4, 16 for IPv6.
    var bytes: [UInt8]

    var family: Int64 { bytes.count == 4 ? 4 : 6 }

    /// IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which the Kubernetes library refuses.
    var isIPv4Mapped: Bool {
        bytes.count == 16 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
    }

    /// Go's netip text form: dotted quad, or RFC 5952 (lower case, longest run of two or more zero groups as `::`).
    var text: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { return groups.map { String($0, radix: 16) }.joined(separator: ":") }
        let head = groups[..<bestStart].map { String($0, radix: 16) }.joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].map { String($0, radix: 16) }.joined(separator: ":")
        return head + "::" + tail
    }

    /// The address with every bit after the first `bits` cleared.
    func masked(_ bits: Int) -> CELIPAddress {
        var out = bytes
        for i in 0..<out.count {
            let keep = max(0, min(8, bits - 8 * i))
            out[i] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        return CELIPAddress(bytes: out)
    }
}

/// A CIDR of the Kubernetes CEL CIDR library (`cidr(...)`): the address as written (host bits kept) and its prefix length.
struct CELCIDR: Sendable, Equatable, Hashable {
    var address: CELIPAddress
    var prefixLength: Int

    var text: String { "\(address.text)/\(prefixLength)" }

    func contains(_ ip: CELIPAddress) -> Bool {
        ip.bytes.count == address.bytes.count && ip.masked(prefixLength) == address.masked(prefixLength)
    }

    func contains(_ other: CELCIDR) -> Bool { other.prefixLength >= prefixLength && contains(other.address) }
}

/// Parsing as the Kubernetes CEL IP and CIDR libraries do: Go's `netip.ParseAddr` / `netip.ParsePrefix`
/// (no leading zeros in IPv4 octets or in the prefix length, at most four hex digits per IPv6 group,
/// an embedded IPv4 address only in the last 32 bits), with zones and IPv4-mapped IPv6 refused.
enum CELNetwork {
    struct ParseError: Error, Sendable { var message: String }

    static func parseAddress(_ text: String) throws(ParseError) -> CELIPAddress {
        if text.contains("%") { throw ParseError(message: "IP address with zone value is not allowed: \(text)") }
        let bytes = Array(text.utf8)
        let address: CELIPAddress
        if bytes.contains(UInt8(ascii: ":")) {
            address = CELIPAddress(bytes: try parseIPv6(bytes, text))
        } else {
            address = CELIPAddress(bytes: try parseIPv4(bytes[...], text))
        }
        if address.isIPv4Mapped { throw ParseError(message: "IPv4-mapped IPv6 address \"\(text)\" is not allowed") }
        return address
    }

    static func parseCIDR(_ text: String) throws(ParseError) -> CELCIDR {
        guard let slash = text.lastIndex(of: "/") else {
            throw ParseError(message: "network address parse error during conversion from string: netip.ParsePrefix(\"\(text)\"): no '/'")
        }
        let addressText = String(text[..<slash])
        let bitsText = Array(text[text.index(after: slash)...].utf8)
        if addressText.contains("%") {
            throw ParseError(message: "network address parse error during conversion from string: netip.ParsePrefix(\"\(text)\"): IPv6 zones cannot be present in a prefix")
        }
        let address: CELIPAddress
        do {
            let raw = Array(addressText.utf8)
            address = CELIPAddress(bytes: raw.contains(UInt8(ascii: ":")) ? try parseIPv6(raw, addressText) : try parseIPv4(raw[...], addressText))
        } catch {
            throw ParseError(message: "network address parse error during conversion from string: netip.ParsePrefix(\"\(text)\"): \(error.message)")
        }
        guard !bitsText.isEmpty, bitsText.count <= 3, bitsText.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              bitsText.count == 1 || bitsText[0] != 0x30
        else {
            throw ParseError(message: "network address parse error during conversion from string: netip.ParsePrefix(\"\(text)\"): bad bits after slash")
        }
        let bits = bitsText.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard bits <= address.bytes.count * 8 else {
            throw ParseError(message: "network address parse error during conversion from string: netip.ParsePrefix(\"\(text)\"): prefix length out of range")
        }
        if address.isIPv4Mapped { throw ParseError(message: "IPv4-mapped IPv6 address \"\(text)\" is not allowed") }
        return CELCIDR(address: address, prefixLength: bits)
    }

    private static func parseIPv4(_ b: ArraySlice<UInt8>, _ text: String) throws(ParseError) -> [UInt8] {
        var out: [UInt8] = []
        var value = -1
        var digits = 0
        var leadingZero = false
        for c in b {
            if c >= 0x30 && c <= 0x39 {
                if digits == 1 && leadingZero { throw ParseError(message: "ParseAddr(\"\(text)\"): IPv4 field has octet with leading zero") }
                value = (value < 0 ? 0 : value) * 10 + Int(c - 0x30)
                if digits == 0 && c == 0x30 { leadingZero = true }
                digits += 1
                if value > 255 { throw ParseError(message: "ParseAddr(\"\(text)\"): IPv4 field has value >255") }
            } else if c == UInt8(ascii: ".") {
                guard value >= 0 else { throw ParseError(message: "ParseAddr(\"\(text)\"): IPv4 field must have at least one digit") }
                guard out.count < 3 else { throw ParseError(message: "ParseAddr(\"\(text)\"): IPv4 address too long") }
                out.append(UInt8(value))
                value = -1
                digits = 0
                leadingZero = false
            } else {
                throw ParseError(message: "ParseAddr(\"\(text)\"): unexpected character")
            }
        }
        guard value >= 0 else { throw ParseError(message: "ParseAddr(\"\(text)\"): IPv4 field must have at least one digit") }
        out.append(UInt8(value))
        guard out.count == 4 else { throw ParseError(message: "ParseAddr(\"\(text)\"): IPv4 address too short") }
        return out
    }

    private static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        case 0x41...0x46: return Int(c - 0x41 + 10)
        default: return nil
        }
    }

    private static func parseIPv6(_ b: [UInt8], _ text: String) throws(ParseError) -> [UInt8] {
        func fail(_ why: String) -> ParseError { ParseError(message: "ParseAddr(\"\(text)\"): \(why)") }
        let colon = UInt8(ascii: ":")
        var out = [UInt8](repeating: 0, count: 16)
        var filled = 0  // bytes written
        var gap = -1  // byte offset where "::" stands
        var i = 0
        if b.count >= 2, b[0] == colon, b[1] == colon {
            gap = 0
            i = 2
            if i == b.count { return out }
        }
        while filled < 16 {
            var value = 0
            var count = 0
            while i + count < b.count, let h = hexValue(b[i + count]) {
                if count == 4 { throw fail("each group must have 4 or less digits") }
                value = value << 4 | h
                count += 1
            }
            if count == 0 { throw fail("each colon-separated field must have at least one digit") }
            if i + count < b.count, b[i + count] == UInt8(ascii: ".") {
                // A dotted quad: only in the last 32 bits.
                if gap < 0 && filled != 12 { throw fail("embedded IPv4 address must replace the final 2 fields of the address") }
                if filled + 4 > 16 { throw fail("too many hex fields to fit an embedded IPv4 at the end of the address") }
                let v4 = try parseIPv4(b[i...], text)
                out.replaceSubrange(filled..<filled + 4, with: v4)
                filled += 4
                i = b.count
                break
            }
            out[filled] = UInt8(value >> 8)
            out[filled + 1] = UInt8(value & 0xFF)
            filled += 2
            i += count
            if i == b.count { break }
            guard b[i] == colon else { throw fail("unexpected character, want colon") }
            guard i + 1 < b.count else { throw fail("colon must be followed by more characters") }
            i += 1
            if b[i] == colon {
                if gap >= 0 { throw fail("multiple :: in address") }
                gap = filled
                i += 1
                if i == b.count { break }
            }
        }
        if i != b.count { throw fail("trailing garbage after address") }
        if filled < 16 {
            guard gap >= 0 else { throw fail("address string too short") }
            let shift = 16 - filled
            for j in stride(from: filled - 1, through: gap, by: -1) { out[j + shift] = out[j] }
            for j in gap..<gap + shift { out[j] = 0 }
        } else if gap >= 0 {
            throw fail("the :: must expand to at least one field of zeros")
        }
        return out
    }
}
