import Foundation

/// An object as an informer keeps it: its identity and version, and the projection made of it.
public struct Projected<Value: Sendable>: Sendable {
    public var namespace: String?
    public var name: String
    public var resourceVersion: String
    public var value: Value

    public init(namespace: String?, name: String, resourceVersion: String, value: Value) {
        self.namespace = namespace
        self.name = name
        self.resourceVersion = resourceVersion
        self.value = value
    }
}

extension Projected: Equatable where Value: Equatable {}
extension Projected: Hashable where Value: Hashable {}

/// Turns one object of a watch line or LIST page into what the informer keeps, reading it once
/// where it lies in the response. `.codable` decodes the whole object with JSONDecoder (for
/// kinds with few objects); a scanning decoder such as `.nodeSummary` reads only its fields.
public struct ProjectionDecoder<Value: Sendable>: Sendable {
    let decode: @Sendable (inout JSONScanner) throws -> Projected<Value>

    init(_ decode: @escaping @Sendable (inout JSONScanner) throws -> Projected<Value>) {
        self.decode = decode
    }

    /// Decodes the object as `Object` with JSONDecoder, then keeps `transform` of it.
    public static func codable<Object: KubernetesObject>(_: Object.Type, transform: @escaping @Sendable (Object) -> Value) -> ProjectionDecoder {
        ProjectionDecoder { scanner in
            let object: Object = try scanner.decodeWithJSONDecoder()
            return Projected(namespace: object.metadata.namespace, name: object.metadata.name ?? "",
                             resourceVersion: object.metadata.resourceVersion ?? "", value: transform(object))
        }
    }

    /// The same reading, keeping `transform` of what it read.
    public func map<Other: Sendable>(_ transform: @escaping @Sendable (Value) -> Other) -> ProjectionDecoder<Other> {
        let decode = self.decode
        return ProjectionDecoder<Other> { scanner in
            let object = try decode(&scanner)
            return Projected(namespace: object.namespace, name: object.name, resourceVersion: object.resourceVersion, value: transform(object.value))
        }
    }

    /// Reads an object from its JSON text (a test and fuzzing entry point; the client reads
    /// objects in place inside watch lines and LIST pages).
    public func decode(_ json: Data) throws -> Projected<Value> {
        try json.withUnsafeBytes { bytes in
            var scanner = JSONScanner(bytes)
            scanner.skipByteOrderMark()
            let value = try decode(&scanner)
            try scanner.expectEnd()
            return value
        }
    }
}

extension JSONScanner {
    /// Decodes the next value with JSONDecoder (its bytes copied once into `Data`).
    mutating func decodeWithJSONDecoder<T: Decodable>(_: T.Type = T.self) throws -> T {
        let start = position
        let range = try skipValue()
        do {
            return try JSONDecoder().decode(T.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[range])))
        } catch {
            throw self.error("\(T.self): \(Self.describe(error))", at: start)
        }
    }

    /// JSONDecoder's errors in one line: what is wrong and at which field.
    static func describe(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " at " + keys.joined(separator: ".")
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context): return "field \(key.stringValue) missing\(path(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            return context.debugDescription + path(context)
        default: return "\(error)"
        }
    }
}
