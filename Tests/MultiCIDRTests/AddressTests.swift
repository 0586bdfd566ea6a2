import Testing
@testable import MultiCIDR

@Suite struct AddressParsingTests {
    @Test(arguments: [
        ("10.0.0.0", "10.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::", "::"), ("::1", "::1"),
        ("1::", "1::"), ("2001:db8::0:1:0:0:0", "2001:db8:0:0:1::"),
        ("2001:DB8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
    ])
    func canonicalText(input: String, expected: String) throws {
        #expect(try IPAddress(parsing: input).description == expected)
    }

    @Test(arguments: ["010.0.0.0", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-1", "", "fe80::1%eth0",
                      "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":1", "g::", "1.2.3.4::",
                      " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4"])
    func rejectsMalformedAddresses(input: String) {
        #expect(throws: AddressParseError.self) { try IPAddress(parsing: input) }
    }

    @Test func prefixesMaskHostBits() throws {
        #expect(try IPPrefix(parsing: "127.123.234.0/8").description == "127.0.0.0/8")
        #expect(try IPPrefix(parsing: "2001:0db8:85a3::8a2e:0370:7334/50").description == "2001:db8:85a3::/50")
        #expect(try IPPrefix(parsing: "0.0.0.0/0").last == UInt128(UInt32.max))
        #expect(try IPPrefix(parsing: "::/0").last == UInt128.max)
    }

    @Test(arguments: ["10.0.0.0/33", "::/129", "10.0.0.0", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1",
                      "256.256.256.256/33", "aaaaa:1:1::/112", "1000.2.0.0/16", "fe80::%1/64", "test", "10.0.0.0/1 "])
    func rejectsMalformedPrefixes(input: String) {
        #expect(throws: AddressParseError.self) { try IPPrefix(parsing: input) }
    }
}
