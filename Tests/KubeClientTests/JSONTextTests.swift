import Foundation
import KubeClient
import Testing

// JSONText writes the few JSON texts the controller sends on every allocation by hand; what it
// writes must read back as the same strings through JSONSerialization.

@Test(arguments: [
    "", "10.0.0.0/24", "fd00::/64", "quote\" backslash\\ slash/", "line\nfeed\rtab\tback\u{08}form\u{0C}",
    "nul\u{00} unit\u{1F} del\u{7F}", "é ü 😀 \u{2028}", "d8f5c0a2-1b3c-4d5e-8f90-123456789abc",
])
func jsonStringsReadBackUnchanged(_ value: String) throws {
    let text = JSONText.string(value)
    let read = try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) as? [String]
    #expect(read == [value], "\(text)")
    #expect(!text.dropFirst().dropLast().unicodeScalars.contains { $0.value < 0x20 }, "control characters are escaped: \(text)")
}

@Test func jsonArraysOfStrings() throws {
    #expect(JSONText.array([]) == "[]")
    #expect(JSONText.array(["10.0.0.0/24", "fd00::/64"]) == #"["10.0.0.0/24","fd00::/64"]"#)
    let values = ["a\"b", "c\\d", "\u{01}"]
    #expect(try JSONSerialization.jsonObject(with: Data(JSONText.array(values).utf8)) as? [String] == values)
}
