import Foundation

/// Splits a watch body into newline-delimited JSON events and reads each line once, in place:
/// the envelope's `type` and `object` are found in one pass and the object is handed to
/// `decodeObject` where it lies. Bytes are kept in one buffer; the search for the next newline
/// resumes where the last one stopped, so an object spread over many chunks costs linear time.
struct WatchLineDecoder<T: Sendable>: Sendable {
    private var buffer: [UInt8] = []
    /// The first byte of the line not yet complete.
    private var lineStart = 0
    /// Bytes before this offset hold no newline.
    private var searched = 0
    private let decodeObject: @Sendable (inout JSONScanner) throws -> T

    init(_ decodeObject: @escaping @Sendable (inout JSONScanner) throws -> T) {
        self.decodeObject = decodeObject
    }

    mutating func feed(_ chunk: Data, request: String) throws -> [WatchEvent<T>] {
        buffer.append(contentsOf: chunk)
        var events: [WatchEvent<T>] = []
        try buffer.withUnsafeBytes { bytes in
            while searched < bytes.count {
                guard let found = memchr(bytes.baseAddress! + searched, 0x0A, bytes.count - searched) else {
                    searched = bytes.count
                    break
                }
                let newline = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
                let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<newline])
                lineStart = newline + 1
                searched = lineStart
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
                events.append(try decode(line, request: request))
            }
        }
        // Keep only the unfinished line: one move per chunk, of at most one line.
        if lineStart > 0 {
            buffer.removeSubrange(0..<lineStart)
            searched -= lineStart
            lineStart = 0
        }
        return events
    }

    private func decode(_ line: UnsafeRawBufferPointer, request: String) throws -> WatchEvent<T> {
        var scanner = JSONScanner(line)
        scanner.skipByteOrderMark()
        do {
            return try decodeEnvelope(&scanner)
        } catch let failure as JSONScanError {
            throw DecodingFailure(request: request, message: "watch event: \(failure)")
        } catch let failure as UnknownEventType {
            throw DecodingFailure(request: request, message: "unknown watch event type \(failure.type)")
        }
    }

    private struct UnknownEventType: Error { let type: String }

    private enum Kind {
        case added, modified, deleted, bookmark, error
        init(_ type: String) throws {
            switch type {
            case "ADDED": self = .added
            case "MODIFIED": self = .modified
            case "DELETED": self = .deleted
            case "BOOKMARK": self = .bookmark
            case "ERROR": self = .error
            default: throw UnknownEventType(type: type)
            }
        }
        var carriesObject: Bool { self == .added || self == .modified || self == .deleted }
    }

    /// `{"type": …, "object": …}`: the API server writes `type` first, so the object is read as
    /// it is met; otherwise its bytes are read once the type is known. A repeated key keeps its
    /// first value, as with JSONDecoder.
    private func decodeEnvelope(_ scanner: inout JSONScanner) throws -> WatchEvent<T> {
        var type: String?
        var objectStart: Int?
        var object: T?
        let start = scanner.position
        try scanner.readObject { scanner, key in
            if key == "type", type == nil {
                type = try scanner.readString()
            } else if key == "object", objectStart == nil {
                objectStart = scanner.position
                if let type, try Kind(type).carriesObject {
                    object = try decodeObject(&scanner)
                } else {
                    try scanner.skipValue()
                }
            } else {
                try scanner.skipValue()
            }
        }
        try scanner.expectEnd()
        guard let type else { throw scanner.error("a watch event without its type", at: start) }
        let kind = try Kind(type)
        guard let objectStart else { throw scanner.error("a \(type) watch event without its object", at: start) }
        var objectScanner = JSONScanner(scanner.bytes, position: objectStart)
        func read() throws -> T {
            if let object { return object }
            do {
                return try decodeObject(&objectScanner)
            } catch let failure as JSONScanError {
                throw failure.inside("object")
            }
        }
        switch kind {
        case .added: return .added(try read())
        case .modified: return .modified(try read())
        case .deleted: return .deleted(try read())
        case .bookmark:
            return .bookmark(resourceVersion: try objectScanner.readBookmarkVersion())
        case .error:
            do {
                return .error(try objectScanner.decodeWithJSONDecoder(APIStatus.self))
            } catch let failure as JSONScanError {
                throw failure.inside("object")
            }
        }
    }
}

extension WatchLineDecoder where T: Decodable {
    /// Decodes each object whole with JSONDecoder.
    init() {
        self.init { scanner in try scanner.decodeWithJSONDecoder(T.self) }
    }
}

extension JSONScanner {
    /// A BOOKMARK's object: only `metadata.resourceVersion` counts ("" when absent).
    mutating func readBookmarkVersion() throws -> String {
        var version: String?
        var seenMetadata = false
        do {
            if try takeNull() { return "" }
            try readObject { scanner, key in
                if key == "metadata", !seenMetadata {
                    seenMetadata = true
                    if try !scanner.takeNull() {
                        var seen = false
                        try scanner.readObject { scanner, key in
                            if key == "resourceVersion", !seen {
                                seen = true
                                version = try scanner.readOptionalString()
                            } else {
                                try scanner.skipValue()
                            }
                        }
                    }
                } else {
                    try scanner.skipValue()
                }
            }
        } catch let failure as JSONScanError {
            throw failure.inside("object")
        }
        return version ?? ""
    }
}

/// What a LIST page says besides its items.
struct ListPageHead {
    var resourceVersion: String?
    var continueToken: String?

    /// Reads a page in one pass, appending each item's projection to `items`.
    static func read<Value>(_ body: Data, into items: inout [Projected<Value>], projection: ProjectionDecoder<Value>) throws -> ListPageHead {
        try body.withUnsafeBytes { bytes in
            var scanner = JSONScanner(bytes)
            scanner.skipByteOrderMark()
            var head = ListPageHead()
            var seen = FirstOccurrence()
            try scanner.readObject { scanner, key in
                if key == "items", seen.first(0) {
                    if try scanner.takeNull() { return }
                    try scanner.readArray { scanner, _ in items.append(try projection.decode(&scanner)) }
                } else if key == "metadata", seen.first(1) {
                    if try scanner.takeNull() { return }
                    var seenInMetadata = FirstOccurrence()
                    try scanner.readObject { scanner, key in
                        if key == "resourceVersion", seenInMetadata.first(0) { head.resourceVersion = try scanner.readOptionalString() }
                        else if key == "continue", seenInMetadata.first(1) { head.continueToken = try scanner.readOptionalString() }
                        else if key == "remainingItemCount", seenInMetadata.first(2) {
                            let range = try scanner.skipValue()
                            let text = String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[range]), as: UTF8.self)
                            if let capacity = ListCapacity.reserve(have: items.count, announced: Int(text)) { items.reserveCapacity(capacity) }
                        } else { try scanner.skipValue() }
                    }
                } else {
                    try scanner.skipValue()
                }
            }
            try scanner.expectEnd()
            return head
        }
    }
}
