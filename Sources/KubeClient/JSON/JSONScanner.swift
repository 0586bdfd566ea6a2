import Foundation

/// What is wrong with a JSON text, where, and inside which field (`items[3].metadata.labels`).
public struct JSONScanError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset from the start of the text (a watch line, a LIST page).
    public var offset: Int
    public var message: String
    /// The fields and indices leading to the error, outermost first.
    public var path: [String] = []

    public var description: String {
        let field = path.isEmpty ? "" : " in " + path.reduce("") { $0.isEmpty || $1.hasPrefix("[") ? $0 + $1 : $0 + "." + $1 }
        return "\(message)\(field) at byte \(offset)"
    }

    /// The same error as seen from one level up (`key` is a field name or `[index]`).
    func inside(_ key: String) -> JSONScanError {
        var error = self
        error.path.insert(key, at: 0)
        return error
    }
}

/// A forward-only reader of one JSON text in memory: it hands out the fields a caller asks for
/// and skips the rest, validating the syntax of what it skips without building any value. A
/// Node of 15 KB yields a handful of strings; its conditions, images and status are only
/// stepped over. Works on borrowed bytes: the caller keeps the buffer alive while it reads.
struct JSONScanner {
    /// Deeper nesting is refused (as JSONDecoder refuses beyond 512): a malicious text of
    /// nested brackets must give an error, not a deep stack.
    static let maxDepth = 1000

    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    // MARK: - Errors

    func error(_ message: String, at offset: Int? = nil) -> JSONScanError {
        JSONScanError(offset: offset ?? position, message: message)
    }

    private func describeNext() -> String {
        guard position < bytes.count else { return "the end of the text" }
        let byte = bytes[position]
        switch byte {
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "a number"
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        default: return "byte 0x\(String(byte, radix: 16))"
        }
    }

    private func expected(_ what: String) -> JSONScanError {
        error("expected \(what), found \(describeNext())")
    }

    // MARK: - Structure

    /// Steps over a UTF-8 byte order mark at the start of a text (JSONDecoder accepts one).
    mutating func skipByteOrderMark() {
        if position == 0, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// The next byte after whitespace, without consuming it (nil at the end).
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// Only whitespace may follow the value just read.
    mutating func expectEnd() throws {
        skipWhitespace()
        if position < bytes.count { throw expected("the end of the text after the value") }
    }

    /// True (and consumed) when the next value is `null`.
    mutating func takeNull() throws -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// Calls `field` for each member of an object; `field` must consume the member's value
    /// (read it or `skipValue()`). The key is passed as raw bytes when it has no escapes.
    mutating func readObject(_ field: (inout JSONScanner, JSONKey) throws -> Void) throws {
        guard try opens(UInt8(ascii: "{"), "an object", closing: UInt8(ascii: "}")) else { return }
        repeat {
            guard peek() == UInt8(ascii: "\"") else { throw expected("a field name in quotes") }
            let key = try readKey()
            guard peek() == UInt8(ascii: ":") else { throw expected("':' after a field name") }
            position += 1
            do {
                try field(&self, key)
            } catch let failure as JSONScanError {
                throw failure.inside(key.text)
            }
        } while try !closes(UInt8(ascii: "}"), after: "a field")
    }

    /// Calls `element` for each element of an array (with its index); `element` must consume it.
    mutating func readArray(_ element: (inout JSONScanner, Int) throws -> Void) throws {
        guard try opens(UInt8(ascii: "["), "an array", closing: UInt8(ascii: "]")) else { return }
        var index = 0
        repeat {
            do {
                try element(&self, index)
            } catch let failure as JSONScanError {
                throw failure.inside("[\(index)]")
            }
            index += 1
        } while try !closes(UInt8(ascii: "]"), after: "an array element")
    }

    /// Consumes the opening bracket; false when the container is empty (and consumed whole).
    private mutating func opens(_ opening: UInt8, _ what: String, closing: UInt8) throws -> Bool {
        guard peek() == opening else { throw expected(what) }
        position += 1
        guard peek() == closing else { return true }
        position += 1
        return false
    }

    /// After a member or element: consumes the comma or the closing bracket; true when the
    /// container ends. A comma before the bracket is tolerated, as JSONDecoder tolerates it.
    private mutating func closes(_ closing: UInt8, after what: String) throws -> Bool {
        switch peek() {
        case UInt8(ascii: ","):
            position += 1
            guard peek() == closing else { return false }
            position += 1
            return true
        case closing:
            position += 1
            return true
        default:
            throw expected("',' or '\(Character(Unicode.Scalar(closing)))' after \(what)")
        }
    }

    /// Steps over one value of any kind, checking its syntax; returns the bytes it spans.
    @discardableResult
    mutating func skipValue() throws -> Range<Int> {
        skipWhitespace()
        let start = position
        // Open containers, innermost last: true for an object. Allocated only for containers.
        var open: [Bool] = []
        while true {
            // One value (or the end of a container) per turn.
            guard let byte = peek() else { throw expected("a value") }
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard open.count < Self.maxDepth else { throw error("objects and arrays nested deeper than \(Self.maxDepth)") }
                let isObject = byte == UInt8(ascii: "{")
                if try opens(byte, isObject ? "an object" : "an array", closing: isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    open.append(isObject)
                    if isObject { try skipKey() }
                    continue
                }
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): skipNumberCharacters()
            default: throw expected("a value")
            }
            // A value ended: close what ends here, then go on to the next element or member.
            while let inObject = open.last {
                if try closes(inObject ? UInt8(ascii: "}") : UInt8(ascii: "]"), after: inObject ? "a field" : "an array element") {
                    open.removeLast()
                } else {
                    if inObject { try skipKey() }
                    break
                }
            }
            if open.isEmpty { return start..<position }
        }
    }

    private mutating func skipKey() throws {
        guard peek() == UInt8(ascii: "\"") else { throw expected("a field name in quotes") }
        try skipString()
        guard peek() == UInt8(ascii: ":") else { throw expected("':' after a field name") }
        position += 1
    }

    private mutating func literal(_ word: StaticString) throws {
        let start = position
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw error("expected \(word), found a truncated value", at: start) }
        for offset in 0..<count where bytes[position + offset] != word.utf8Start[offset] {
            throw error("expected \(word), found a misspelt value", at: start)
        }
        position += count
    }

    /// A skipped number is only checked as JSONDecoder checks numbers it does not decode: a run
    /// of digits, signs, points and exponents. Refusing `01` here would refuse objects that
    /// the client used to read.
    private mutating func skipNumberCharacters() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
                position += 1
            default: return
            }
        }
    }

    // MARK: - Strings

    /// Steps over a string to its closing quote. Its escapes, control characters and UTF-8 are
    /// checked only in strings that are read (JSONDecoder, too, checks only what it decodes).
    private mutating func skipString() throws {
        let start = position
        guard let base = bytes.baseAddress else { throw error("a string without its closing quote", at: start) }
        var from = position + 1
        // memchr finds the next quote (SIMD in glibc); it ends the string unless an odd run of
        // backslashes escapes it. Strings are most of a Node's bytes (images, messages).
        while from < bytes.count, let hit = memchr(base + from, Int32(UInt8(ascii: "\"")), bytes.count - from) {
            let quote = base.distance(to: UnsafeRawPointer(hit))
            var backslashes = 0
            while quote - backslashes - 1 > start, bytes[quote - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
            if backslashes % 2 == 0 {
                position = quote + 1
                return
            }
            from = quote + 1
        }
        position = bytes.count
        throw error("a string without its closing quote", at: start)
    }

    /// Reads the escape at `position` (which holds the backslash); returns the scalar.
    private mutating func escape(startingAt start: Int) throws -> Unicode.Scalar {
        position += 1
        guard position < bytes.count else { throw error("a string without its closing quote", at: start) }
        let kind = bytes[position]
        position += 1
        switch kind {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let escapeStart = position - 2
            let unit = try hex4()
            if (0xD800..<0xDC00).contains(unit) {
                guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                    throw error("a \\u escape of a high surrogate without the low surrogate after it", at: escapeStart)
                }
                position += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else {
                    throw error("a \\u escape of a high surrogate followed by \\u\(String(low, radix: 16)), not a low surrogate", at: escapeStart)
                }
                return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(unit) else {
                throw error("a \\u escape of a lone low surrogate", at: escapeStart)
            }
            return scalar
        default:
            throw error("an unknown escape in a string", at: position - 2)
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("a \\u escape with fewer than 4 hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("a \\u escape with a character that is not a hex digit")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// Reads a string value; unescaped strings are made straight from the bytes.
    mutating func readString() throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw expected("a string") }
        let start = position
        let contentStart = position + 1
        var end = contentStart
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                position = end + 1
                return try makeString(contentStart..<end, stringStart: start)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 {
                position = end
                throw error("a control character (0x\(String(byte, radix: 16))) inside a string; it must be escaped")
            }
            end += 1
        }
        guard end < bytes.count else { throw error("a string without its closing quote", at: start) }
        // Escapes: decode scalar by scalar from here.
        var text = try makeString(contentStart..<end, stringStart: start)
        position = end
        var runStart = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                text += try makeString(runStart..<position, stringStart: start)
                position += 1
                return text
            } else if byte == UInt8(ascii: "\\") {
                text += try makeString(runStart..<position, stringStart: start)
                text.unicodeScalars.append(try escape(startingAt: start))
                runStart = position
            } else if byte < 0x20 {
                throw error("a control character (0x\(String(byte, radix: 16))) inside a string; it must be escaped")
            } else {
                position += 1
            }
        }
        throw error("a string without its closing quote", at: start)
    }

    private func makeString(_ range: Range<Int>, stringStart: Int) throws -> String {
        if range.isEmpty { return "" }
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw error("a string that is not valid UTF-8", at: stringStart)
        }
        return text
    }

    /// A string or null (nil).
    mutating func readOptionalString() throws -> String? {
        try takeNull() ? nil : readString()
    }

    /// A field name.
    private mutating func readKey() throws -> JSONKey {
        let start = position + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            position = end + 1
            return JSONKey(raw: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
        return JSONKey(decoded: try readString())
    }
}

/// A field name as it appears in the text: raw bytes (no escapes, the usual case) or decoded.
struct JSONKey {
    private let raw: UnsafeRawBufferPointer?
    private let decoded: String?

    init(raw: UnsafeRawBufferPointer) {
        self.raw = raw
        self.decoded = nil
    }

    init(decoded: String) {
        self.raw = nil
        self.decoded = decoded
    }

    /// Compares with a name written in ASCII, without building a String.
    static func == (key: JSONKey, name: StaticString) -> Bool {
        if let raw = key.raw {
            let count = name.utf8CodeUnitCount
            guard raw.count == count else { return false }
            return count == 0 || memcmp(raw.baseAddress!, name.utf8Start, count) == 0
        }
        return key.decoded == name.description
    }

    /// The name as text (for error messages).
    var text: String {
        if let decoded { return decoded }
        return String(decoding: raw!, as: UTF8.self)
    }
}
