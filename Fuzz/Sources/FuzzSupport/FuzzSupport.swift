import Foundation

/// The bytes libFuzzer hands to `LLVMFuzzerTestOneInput`.
public struct FuzzInput: Sendable {
    public let data: Data

    public init(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
        data = Data(bytes: bytes, count: count)
    }

    /// The input as text the way Foundation reads a file or a JSON string: invalid UTF-8
    /// becomes U+FFFD, so every input is also a test of the text-level parsers.
    public var text: String { String(decoding: data, as: UTF8.self) }
}

/// Stops the run when `condition` is false. The message goes to stderr and the trap makes
/// libFuzzer report the input as a crash and save it (`crash-<sha1>`).
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("fuzz check failed: \(message())", file: file, line: line) }
}

/// Stops the run: an outcome that must never happen.
public func fuzzFail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz check failed: \(message)", file: file, line: line)
}

/// Phrases that say an error happened and nothing else: Foundation's text for an error that
/// is not an NSError (Linux and Darwin spellings) and Swift's placeholders.
let uninformative = [
    "the operation could not be completed",
    "the operation couldn’t be completed",
    "the operation couldn't be completed",
    "(null)",
]

/// Stops the run unless `description` is an error message a person can act on: it starts
/// with `context` (what was being read: the request, the file, the object), and what follows
/// is a non-empty explanation with words in it, not a generic "could not be completed".
public func requireReadable(_ description: String, context: String, file: StaticString = #fileID, line: UInt = #line) {
    let trimmed = description.trimmingCharacters(in: .whitespacesAndNewlines)
    fuzzCheck(!trimmed.isEmpty, "an error with an empty description (expected one starting \"\(context)\")", file: file, line: line)
    fuzzCheck(description.hasPrefix(context), "error does not say what was being read; expected prefix \"\(context)\": \(description)",
              file: file, line: line)
    let detail = description.dropFirst(context.count)
    fuzzCheck(hasWord(detail), "error says where but not what is wrong: \(description)", file: file, line: line)
    let lowered = description.lowercased()
    for phrase in uninformative {
        fuzzCheck(!lowered.contains(phrase), "error gives a generic message (\"\(phrase)\"): \(description)", file: file, line: line)
    }
}

/// `requireReadable` for a message that relays what a server said (a Status reason and
/// message): when the server said something, the description must carry it word for word
/// (terse or not, it is the server's); when it said nothing, the description must still
/// explain what went wrong.
public func requireReadable(_ description: String, context: String, relaying said: [String?],
                            file: StaticString = #fileID, line: UInt = #line) {
    let texts = said.compactMap { $0 }.filter { !$0.allSatisfy(\.isWhitespace) }
    guard !texts.isEmpty else { return requireReadable(description, context: context, file: file, line: line) }
    fuzzCheck(description.hasPrefix(context), "error does not say what was being read; expected prefix \"\(context)\": \(description)",
              file: file, line: line)
    let bytes = Array(description.utf8)
    for text in texts {
        fuzzCheck(bytes.firstRange(of: Array(text.utf8)) != nil, "error drops what the server said (\(text)): \(description)",
                  file: file, line: line)
    }
}

/// True when `text` holds a run of three or more ASCII letters: a word, not just
/// punctuation, numbers or a replacement character.
func hasWord(_ text: Substring) -> Bool {
    var run = 0
    for byte in text.utf8 {
        let isLetter = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        run = isLetter ? run + 1 : 0
        if run >= 3 { return true }
    }
    return false
}

/// Checks the message that a failed `JSONDecoder` decode leaves (the client puts
/// `"\(error)"` into its `DecodingFailure`): readable, and for a `DecodingError` with the
/// decoder's own explanation in it.
public func requireReadableDecodingError(_ error: any Error, file: StaticString = #fileID, line: UInt = #line) {
    let description = "\(error)"
    requireReadable(description, context: "", file: file, line: line)
    guard let decodingError = error as? DecodingError else {
        fuzzFail("JSONDecoder threw \(type(of: error)), not a DecodingError: \(description)", file: file, line: line)
    }
    let context: DecodingError.Context
    switch decodingError {
    case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): context = c
    @unknown default: return
    }
    fuzzCheck(hasWord(Substring(context.debugDescription)), "DecodingError without an explanation: \(description)", file: file, line: line)
}

/// Encodes `value` and decodes it again: the models must read back what they write (the
/// controller writes objects it has read: status updates, patches).
public func requireRoundTrip<T: Codable & Equatable>(_ value: T, file: StaticString = #fileID, line: UInt = #line) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let encoded: Data
    do { encoded = try encoder.encode(value) } catch { fuzzFail("cannot encode a decoded \(T.self): \(error)", file: file, line: line) }
    let decoded: T
    do { decoded = try JSONDecoder().decode(T.self, from: encoded) } catch {
        fuzzFail("cannot decode what \(T.self) encoded (\(String(decoding: encoded, as: UTF8.self))): \(error)", file: file, line: line)
    }
    fuzzCheck(decoded == value, "\(T.self) reads back differently: \(value) -> \(String(decoding: encoded, as: UTF8.self)) -> \(decoded)",
              file: file, line: line)
}
