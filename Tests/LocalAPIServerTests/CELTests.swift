import Foundation
@testable import LocalAPIServer
import Testing

private func eval(_ rule: String, self value: JSON = .null, oldSelf: JSON? = nil) throws -> CELValue {
    var activation: [String: CELValue] = ["self": ValidationRules.celValue(value, nil)]
    if let oldSelf { activation["oldSelf"] = ValidationRules.celValue(oldSelf, nil) }
    return try CELProgram(rule, variables: ["self", "oldSelf"]).evaluate(activation)
}

private func evalError(_ rule: String, self value: JSON = .null) -> String? {
    do {
        _ = try eval(rule, self: value)
        return nil
    } catch { return "\(error)" }
}

@Suite struct CELEvaluatorTests {
    @Test(arguments: [
        ("1 + 2 * 3 == 7", true), ("(1 + 2) * 3 == 9", true), ("7 / 2 == 3 && 7 % 2 == 1 && -7 / 2 == -3", true),
        ("'a' + 'b' == 'ab'", true), ("[1, 2] + [3] == [1, 2, 3]", true), ("1 == 1.0 && 1u == 1 && 2 > 1.5", true),
        ("'abc' < 'abd' && !(true < false)", true), ("true ? 1 == 1 : 1 / 0 == 0", true), ("false || 1 in [1, 2]", true),
        ("'k' in {'k': 1} && {'a': 1}.a == 1 && {'a': 1}['a'] == 1", true), ("size('héllo') == 5", true),
        ("r'\\d' == '\\\\d' && '\\x41\\u0042\\101' == 'ABA' && \"\"\"a\"b\"\"\" == 'a\"b'", true),
        ("[1, 2, 3].all(x, x > 0) && [1, 2].exists(x, x == 2) && [1, 2, 2].exists_one(x, x == 1)", true),
        ("[1, 2, 3].filter(x, x > 1) == [2, 3] && [1, 2].map(x, x * 10) == [10, 20]", true),
        ("'abc'.contains('b') && 'abc'.startsWith('ab') && 'abc'.endsWith('bc') && 'abc'.matches('^a.c$')", true),
        ("int('42') == 42 && string(7) == '7' && double(1) == 1.0 && uint(3) == 3u", true),
        ("-9223372036854775808 < 0 && 0x10 == 16", true),
    ])
    func expressions(_ rule: String, _ expected: Bool) throws {
        #expect(try eval(rule) == .bool(expected))
    }

    /// `&&` and `||` are commutative over errors, as in cel-go: the absorbing value wins on either side.
    @Test func logicalOperatorsAbsorbErrors() throws {
        let object: JSON = ["a": 1]
        #expect(try eval("self.missing == 1 || self.a == 1", self: object) == .bool(true))
        #expect(try eval("self.a == 1 || self.missing == 1", self: object) == .bool(true))
        #expect(try eval("self.missing == 1 && self.a == 2", self: object) == .bool(false))
        #expect(evalError("self.missing == 1 && self.a == 1", self: object) == "no such key: missing")
        #expect(evalError("self.missing == 1 || self.a == 2", self: object) == "no such key: missing")
        #expect(try eval("[0, 1].exists(x, 10 / x == 10)") == .bool(true))
        #expect(evalError("[0, 1].all(x, 10 / x == 10)") == "division by zero")
    }

    @Test func evaluationErrors() {
        #expect(evalError("9223372036854775807 + 1 == 0") == "integer overflow")
        #expect(evalError("[1][1] == 1") == "index out of bounds: 1")
        #expect(evalError("!1")?.hasPrefix("no such overload") == true)
        #expect(evalError("1 + 1.0 == 2.0")?.hasPrefix("no such overload") == true)
        #expect(evalError("cidr('10.0.0.0/33').prefixLength() == 33")?.contains("prefix length out of range") == true)
    }

    /// Outside the subset or malformed: refused at compile time with the reason.
    @Test(arguments: [
        ("self.lowerAscii() == 'a'", "function 'lowerAscii'"), ("quantity(self) == 1", "function 'quantity'"),
        ("self.x == other", "undeclared reference to 'other'"), ("b'abc' == self", "bytes literals"),
        ("Int64Value{value: 1}", "message construction"), ("has(self)", "has() macro"),
        ("self == ", "unexpected the end"), ("'\\q' == self", "invalid escape"), ("size(self, 1) == 1", "does not take 2"),
    ])
    func unsupportedRulesAreRefusedAtCompileTime(_ rule: String, _ reason: String) {
        do {
            _ = try CELProgram(rule, variables: ["self", "oldSelf"])
            Issue.record("compiled: \(rule)")
        } catch {
            #expect(error.message.contains(reason), "\(error)")
        }
    }

    /// A very long operator chain is refused at compile time rather than evaluated by deep recursion.
    @Test func longChainsAreRefused() throws {
        let chain = Array(repeating: "1", count: 1200).joined(separator: " + ") + " > 0"
        #expect(throws: CELCompileError.self) { try CELProgram(chain, variables: ["self"]) }
        let short = Array(repeating: "1", count: 500).joined(separator: " + ") + " == 500"
        #expect(try CELProgram(short, variables: ["self"]).evaluate([:]) == .bool(true))
    }

    /// Go's netip parsing (as the Kubernetes CIDR library uses it) and the library's refusals.
    @Test(arguments: [
        ("10.0.0.0/8", true), ("10.0.0.1/24", true), ("0.0.0.0/0", true), ("::/0", true), ("2001:db8::/32", true),
        ("2001:0db8::/32", true), ("1:2:3:4:5:6:7::/64", true), ("::1:2:3:4:5:6:7/64", true), ("1:2:3:4:5:6:1.2.3.4/128", true),
        ("::1.2.3.4/128", true), ("::ffff:10.0.0.0/104", false), ("::ffff:0a00:0/104", false), ("010.0.0.0/8", false),
        ("10.0.0.0/08", false), ("10.0.0.0/+8", false), ("10.0.0.0/33", false), ("::/129", false), ("fe80::1%eth0/64", false),
        ("10.0.0.0", false), ("1000.2.0.0/16", false), ("aaaaa:1:1::/112", false), ("fd00:2:/112", false), ("::1.2.3.04/128", false),
        ("1:2:3:4:5:6:7:8::/64", false), ("1::2:3:4:5:6:7:8/64", false), ("1.2.3.4::/64", false), ("2001::db8::1/64", false),
        ("1:2:3:4:5:6:7:1.2.3.4/128", false), ("", false), ("10.0.0.0/ 8", false),
    ])
    func cidrParsing(_ text: String, _ valid: Bool) throws {
        #expect(try eval("isCIDR(self)", self: .string(text)) == .bool(valid))
    }

    @Test func cidrLibrary() throws {
        #expect(try eval("string(cidr(self).masked()) == '10.0.0.0/24' && string(cidr(self).ip()) == '10.0.0.1'", self: "10.0.0.1/24") == .bool(true))
        #expect(try eval("string(cidr(self).masked())", self: "2001:DB8:0:0:1::5/64") == .string("2001:db8::/64"))
        #expect(try eval("string(cidr(self).ip())", self: "1:0:0:2:0:0:0:3/128") == .string("1:0:0:2::3"))
        #expect(try eval("cidr(self).ip().family() == 6 && cidr(self).prefixLength() == 48", self: "2001:db8::/48") == .bool(true))
        #expect(try eval("cidr(self).containsIP('10.1.2.3') && !cidr(self).containsCIDR('10.0.0.0/7')", self: "10.0.0.0/8") == .bool(true))
        #expect(try eval("isIP('1.2.3.4') && !isIP('01.2.3.4') && ip('::1').family() == 6") == .bool(true))
    }

    /// RE2's `$` matches only at the very end (ICU's would also match before a final newline).
    @Test func matchesUsesRE2Anchors() throws {
        #expect(try eval("self.matches('^[0-9]+$')", self: "12\n") == .bool(false))
        #expect(try eval("self.matches('[0-9]')", self: "a1b") == .bool(true))
        let backreference = evalError("self.matches('(a)\\\\1')", self: "aa")
        #expect(backreference?.contains("backreferences are not RE2 syntax") == true, "\(backreference ?? "matched")")
    }
}
