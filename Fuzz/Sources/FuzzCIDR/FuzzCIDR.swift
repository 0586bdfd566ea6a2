#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzSupport
import MultiCIDR

// The input is the text of an address or a CIDR (spec.ipv4, spec.ipv6, a node's podCIDRs).
//
// Checks: no crash or hang; a rejection is an AddressParseError that quotes the input and
// gives a reason; the address parser agrees with the C library's inet_pton (strict dotted
// decimal for IPv4, RFC 4291 text for IPv6) on what is an address and on its value; a parsed
// prefix has its host bits zero, and its text form reads back as the same prefix and is
// canonical (formatting it again gives the same text).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIDR(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = FuzzInput(bytes, count).text
    checkAddress(text)
    checkPrefix(text)
    return 0
}

private func checkAddress(_ text: String) {
    let reference = systemParse(text)
    do {
        let address = try IPAddress(parsing: text)
        guard let reference else { fuzzFail("\"\(text)\" parses as \(address), inet_pton refuses it") }
        fuzzCheck(reference == (address.family, address.value), "\"\(text)\" parses as \(address), inet_pton reads \(reference)")
        let again = try? IPAddress(parsing: address.description)
        fuzzCheck(again == address, "\(address) does not read back (\(again.map { "\($0)" } ?? "refused"))")
    } catch {
        // A zone ("%eth0") is the one form inet_pton may take and a CIDR may not.
        fuzzCheck(reference == nil || text.contains("%"), "\"\(text)\" is refused (\(error)), inet_pton reads \(reference.map { "\($0)" } ?? "")")
        checkRejection(error, text)
    }
}

private func checkPrefix(_ text: String) {
    do {
        let prefix = try IPPrefix(parsing: text)
        fuzzCheck(prefix.length >= 0 && prefix.length <= prefix.family.bitWidth, "\(prefix) has a length out of range")
        fuzzCheck(prefix.first & ((UInt128(1) << UInt128(prefix.hostBits)) &- 1) == 0 || prefix.hostBits == 128,
                  "\(prefix) keeps host bits")
        let written = prefix.description
        guard let again = try? IPPrefix(parsing: written) else { fuzzFail("\"\(text)\" gives \(written), which does not parse") }
        fuzzCheck(again == prefix, "\"\(text)\" gives \(written), which reads back as \(again)")
        fuzzCheck(again.description == written, "\(written) is not canonical: it formats as \(again)")
        fuzzCheck(prefix.contains(again) && prefix.overlaps(again), "\(prefix) does not contain itself")
    } catch {
        checkRejection(error, text)
    }
}

private func checkRejection(_ error: AddressParseError, _ text: String) {
    fuzzCheck(error.input == text, "the error quotes \"\(error.input)\", the input was \"\(text)\"")
    requireReadable(error.description, context: "invalid CIDR \"\(text)\": ")
}

/// The C library's reading of `text` as an address, nil when it refuses it.
private func systemParse(_ text: String) -> (IPFamily, UInt128)? {
    // The C string would end at a NUL: such text is no address.
    if text.utf8.contains(0) { return nil }
    var buffer = [UInt8](repeating: 0, count: 16)
    if text.contains(":") {
        guard inet_pton(AF_INET6, text, &buffer) == 1 else { return nil }
        return (.ipv6, buffer.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
    }
    guard inet_pton(AF_INET, text, &buffer) == 1 else { return nil }
    return (.ipv4, buffer.prefix(4).reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
}
