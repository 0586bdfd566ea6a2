import Testing
@testable import CNIIPAM

@Suite struct JSONTests {
    @Test func parsesAndPrintsDocumentsUnchanged() throws {
        let text = #"{"a":[1,-2.5e3,true,false,null],"b":{"c":"x\"y\\z\n\u0001"},"d":[]}"#
        let value = try JSONValue.parse(text)
        #expect(value.serialized == text)
        #expect(value.objectValue?["b"]?.objectValue?["c"]?.stringValue == "x\"y\\z\n\u{01}")
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue.parse(#" "\u00e9\ud83d\ude00\/\t" "#)
        #expect(value.stringValue == "é😀/\t")
    }

    @Test func laterDuplicateKeyWins() throws {
        #expect(try JSONValue.parse(#"{"k":1,"k":2}"#).objectValue?["k"] == .number("2"))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"abc", "tru", "{} x", "\"\u{01}\"", "[\"\\x\"]", "-"])
    func rejectsMalformedDocuments(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xff, 0x22]) }
    }

    @Test func objectKeepsInsertionOrderAndReplacesInPlace() {
        var object: JSONObject = ["z": .int(1), "a": .int(2)]
        object["z"] = .int(3)
        object["m"] = .null
        #expect(JSONValue.object(object).serialized == #"{"z":3,"a":2,"m":null}"#)
        object["a"] = nil
        #expect(JSONValue.object(object).serialized == #"{"z":3,"m":null}"#)
    }
}
