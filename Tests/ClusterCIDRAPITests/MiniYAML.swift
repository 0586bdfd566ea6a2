import Foundation

/// Reads the block-style YAML subset our manifests use (mappings, sequences, plain and
/// quoted scalars, `[]`/`{}` and simple flow lists, comments, `---`) into JSON, so that
/// manifests decode with `JSONDecoder`. Test support only; the product uses a real YAML library.
enum MiniYAML {
    struct ParseError: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "YAML line \(line): \(reason)" }
    }

    private struct Line {
        var indent: Int
        var text: String
        let number: Int
    }

    /// Each document of a multi-document stream as JSON data.
    static func jsonDocuments(_ text: String) throws -> [Data] {
        var documents: [[Line]] = [[]]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = stripComment(String(raw))
            if line.trimmingCharacters(in: .whitespaces) == "---" {
                documents.append([])
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let indent = line.prefix { $0 == " " }.count
            documents[documents.count - 1].append(Line(indent: indent, text: trimmed, number: index + 1))
        }
        return try documents.filter { !$0.isEmpty }.map { lines in
            var lines = lines
            var position = 0
            let value = try parseBlock(&lines, &position, indent: lines[0].indent)
            return try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        }
    }

    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, character) in line.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" && (previous == " " || offset == 0) {
                return String(line.prefix(offset))
            }
            previous = character
        }
        return line
    }

    private static func isSequenceItem(_ text: String) -> Bool { text == "-" || text.hasPrefix("- ") }

    private static func parseBlock(_ lines: inout [Line], _ position: inout Int, indent: Int) throws -> Any {
        isSequenceItem(lines[position].text)
            ? try parseSequence(&lines, &position, indent: indent)
            : try parseMapping(&lines, &position, indent: indent)
    }

    private static func parseSequence(_ lines: inout [Line], _ position: inout Int, indent: Int) throws -> [Any] {
        var items: [Any] = []
        while position < lines.count, lines[position].indent == indent, isSequenceItem(lines[position].text) {
            let content = String(lines[position].text.dropFirst(1)).trimmingCharacters(in: .whitespaces)
            if content.isEmpty {
                position += 1
                guard position < lines.count, lines[position].indent > indent else { items.append(NSNull()); continue }
                items.append(try parseBlock(&lines, &position, indent: lines[position].indent))
            } else if splitKey(content) != nil || isSequenceItem(content) {
                // "- key: value" starts a mapping whose keys line up with "key".
                let offset = lines[position].text.count - content.count
                lines[position].indent = indent + offset
                lines[position].text = content
                items.append(try parseBlock(&lines, &position, indent: indent + offset))
            } else {
                items.append(try scalar(content, line: lines[position].number))
                position += 1
            }
        }
        return items
    }

    private static func parseMapping(_ lines: inout [Line], _ position: inout Int, indent: Int) throws -> [String: Any] {
        var mapping: [String: Any] = [:]
        while position < lines.count, lines[position].indent == indent, !isSequenceItem(lines[position].text) {
            let line = lines[position]
            guard let (key, rest) = splitKey(line.text) else {
                throw ParseError(line: line.number, reason: "expected \"key: value\", got \"\(line.text)\"")
            }
            position += 1
            if !rest.isEmpty {
                mapping[key] = try scalar(rest, line: line.number)
            } else if position < lines.count, lines[position].indent > indent {
                mapping[key] = try parseBlock(&lines, &position, indent: lines[position].indent)
            } else if position < lines.count, lines[position].indent == indent, isSequenceItem(lines[position].text) {
                mapping[key] = try parseSequence(&lines, &position, indent: indent)
            } else {
                mapping[key] = NSNull()
            }
        }
        if position < lines.count, lines[position].indent > indent {
            throw ParseError(line: lines[position].number, reason: "unexpected indentation")
        }
        return mapping
    }

    private static func splitKey(_ text: String) -> (String, String)? {
        if text.hasPrefix("\"") || text.hasPrefix("'") {
            let quote = text.first!
            guard let close = text.dropFirst().firstIndex(of: quote) else { return nil }
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            let key = String(text[text.index(after: text.startIndex)..<close])
            return (key, String(after.dropFirst()).trimmingCharacters(in: .whitespaces))
        }
        if text.hasSuffix(":") { return (String(text.dropLast()), "") }
        guard let range = text.range(of: ": ") else { return nil }
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]).trimmingCharacters(in: .whitespaces))
    }

    private static func scalar(_ text: String, line: Int) throws -> Any {
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else { throw ParseError(line: line, reason: "unterminated string") }
            return String(text.dropFirst().dropLast())
        }
        if text.hasPrefix("'") {
            guard text.count >= 2, text.hasSuffix("'") else { throw ParseError(line: line, reason: "unterminated string") }
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        if text == "{}" { return [String: Any]() }
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw ParseError(line: line, reason: "unterminated flow sequence") }
            let inner = text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            if inner.isEmpty { return [Any]() }
            return try inner.split(separator: ",").map { try scalar($0.trimmingCharacters(in: .whitespaces), line: line) }
        }
        switch text {
        case "true": return true
        case "false": return false
        case "null", "~": return NSNull()
        default: break
        }
        if let number = Int(text) { return number }
        return text
    }
}
