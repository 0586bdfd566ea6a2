import Foundation

/// The functions of LocalAPIServer's CEL subset: standard ones and the Kubernetes IP/CIDR libraries.
enum CELFunctions {
    static func call(_ name: String, _ args: [CELValue], member: Bool) throws(CELEvalError) -> CELValue {
        switch args.count {
        case 1: return try unary(name, args[0], member: member)
        case 2: return try binary(name, args[0], args[1])
        default: throw CELEvalError.noOverload(name, args)
        }
    }

    private static func unary(_ name: String, _ a: CELValue, member: Bool) throws(CELEvalError) -> CELValue {
        switch (name, a) {
        case ("size", .string(let s)): return .int(Int64(s.unicodeScalars.count))
        case ("size", .list(let l)): return .int(Int64(l.count))
        case ("size", .map(let m)): return .int(Int64(m.count))
        case ("int", _): return try toInt(a)
        case ("uint", _): return try toUInt(a)
        case ("double", _): return try toDouble(a)
        case ("string", _): return try toString(a)
        // Kubernetes IP library.
        case ("isIP", .string(let s)): return .bool((try? CELNetwork.parseAddress(s)) != nil)
        case ("ip", .string(let s)) where !member:
            do { return .ip(try CELNetwork.parseAddress(s)) } catch { throw CELEvalError(message: error.message) }
        case ("family", .ip(let ip)): return .int(ip.family)
        // Kubernetes CIDR library.
        case ("isCIDR", .string(let s)): return .bool((try? CELNetwork.parseCIDR(s)) != nil)
        case ("cidr", .string(let s)) where !member:
            do { return .cidr(try CELNetwork.parseCIDR(s)) } catch { throw CELEvalError(message: error.message) }
        case ("ip", .cidr(let c)) where member: return .ip(c.address)
        case ("prefixLength", .cidr(let c)): return .int(Int64(c.prefixLength))
        case ("masked", .cidr(let c)):
            return .cidr(CELCIDR(address: c.address.masked(c.prefixLength), prefixLength: c.prefixLength))
        default:
            throw CELEvalError.noOverload(name, [a])
        }
    }

    private static func binary(_ name: String, _ a: CELValue, _ b: CELValue) throws(CELEvalError) -> CELValue {
        switch (name, a, b) {
        case ("matches", .string(let s), .string(let pattern)): return .bool(try matches(s, pattern))
        case ("contains", .string(let s), .string(let t)): return .bool(t.isEmpty || s.contains(t))
        case ("startsWith", .string(let s), .string(let t)): return .bool(s.unicodeScalars.starts(with: t.unicodeScalars))
        case ("endsWith", .string(let s), .string(let t)):
            return .bool(s.unicodeScalars.reversed().starts(with: t.unicodeScalars.reversed()))
        case ("containsIP", .cidr(let c), .ip(let ip)): return .bool(c.contains(ip))
        case ("containsIP", .cidr(let c), .string(let s)):
            do { return .bool(c.contains(try CELNetwork.parseAddress(s))) } catch { throw CELEvalError(message: error.message) }
        case ("containsCIDR", .cidr(let c), .cidr(let other)): return .bool(c.contains(other))
        case ("containsCIDR", .cidr(let c), .string(let s)):
            do { return .bool(c.contains(try CELNetwork.parseCIDR(s))) } catch { throw CELEvalError(message: error.message) }
        default:
            throw CELEvalError.noOverload(name, [a, b])
        }
    }

    /// RE2 semantics on ICU: an unanchored search; `$` (without the m flag) matches only at the very end,
    /// as in RE2 (ICU's `$` also matches before a final newline). Constructs RE2 lacks are refused.
    static func matches(_ text: String, _ pattern: String) throws(CELEvalError) -> Bool {
        let translated = try icuPattern(pattern)
        let regex: NSRegularExpression
        do { regex = try NSRegularExpression(pattern: translated) } catch {
            throw CELEvalError(message: "invalid regular expression '\(pattern)'")
        }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    static func icuPattern(_ pattern: String) throws(CELEvalError) -> String {
        for construct in ["(?=", "(?!", "(?<=", "(?<!", "(?>", "*+", "++", "?+"] where pattern.contains(construct) {
            throw CELEvalError(message: "invalid regular expression '\(pattern)': '\(construct)' is not RE2 syntax")
        }
        var out = ""
        var inClass = false
        var escaped = false
        var multiline = false
        for c in pattern {
            if escaped {
                if !inClass, let d = c.wholeNumberValue, d > 0, c.isASCII {
                    throw CELEvalError(message: "invalid regular expression '\(pattern)': backreferences are not RE2 syntax")
                }
                out.append(c)
                escaped = false
                continue
            }
            switch c {
            case "\\": escaped = true; out.append(c)
            case "[" where !inClass: inClass = true; out.append(c)
            case "]" where inClass: inClass = false; out.append(c)
            case "$" where !inClass && !multiline: out += "\\z"
            default: out.append(c)
            }
            if out.hasSuffix("(?m") || out.hasSuffix("(?sm") || out.hasSuffix("(?im") { multiline = true }
        }
        return out
    }

    private static func toInt(_ v: CELValue) throws(CELEvalError) -> CELValue {
        switch v {
        case .int: return v
        case .uint(let u):
            guard u <= UInt64(Int64.max) else { throw CELEvalError(message: "integer overflow") }
            return .int(Int64(u))
        case .double(let d):
            guard d.isFinite, d > -9_223_372_036_854_775_809.0, d < 9_223_372_036_854_775_808.0 else {
                throw CELEvalError(message: "integer overflow")
            }
            return .int(Int64(d.rounded(.towardZero)))
        case .string(let s):
            guard let i = Int64(s) else { throw CELEvalError(message: "cannot convert '\(s)' to int") }
            return .int(i)
        default: throw CELEvalError.noOverload("int", [v])
        }
    }

    private static func toUInt(_ v: CELValue) throws(CELEvalError) -> CELValue {
        switch v {
        case .uint: return v
        case .int(let i):
            guard i >= 0 else { throw CELEvalError(message: "unsigned integer overflow") }
            return .uint(UInt64(i))
        case .double(let d):
            guard d.isFinite, d > -1, d < 18_446_744_073_709_551_616.0 else { throw CELEvalError(message: "unsigned integer overflow") }
            return .uint(UInt64(d.rounded(.towardZero)))
        case .string(let s):
            guard let u = UInt64(s) else { throw CELEvalError(message: "cannot convert '\(s)' to uint") }
            return .uint(u)
        default: throw CELEvalError.noOverload("uint", [v])
        }
    }

    private static func toDouble(_ v: CELValue) throws(CELEvalError) -> CELValue {
        switch v {
        case .double: return v
        case .int(let i): return .double(Double(i))
        case .uint(let u): return .double(Double(u))
        case .string(let s):
            guard let d = Double(s) else { throw CELEvalError(message: "cannot convert '\(s)' to double") }
            return .double(d)
        default: throw CELEvalError.noOverload("double", [v])
        }
    }

    private static func toString(_ v: CELValue) throws(CELEvalError) -> CELValue {
        switch v {
        case .string: return v
        case .int(let i): return .string(String(i))
        case .uint(let u): return .string(String(u))
        case .double(let d): return .string(String(d))
        case .bool(let b): return .string(b ? "true" : "false")
        case .ip(let ip): return .string(ip.text)
        case .cidr(let c): return .string(c.text)
        default: throw CELEvalError.noOverload("string", [v])
        }
    }
}
