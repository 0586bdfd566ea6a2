import Foundation
import Yams

/// Reads Kubernetes YAML manifests (several documents per file) into JSON, keeping quoted
/// scalars as strings (untyped YAML loading would turn `"true"` or `0755` into other types).
/// The one reader of manifests: the demo, the tests and anything that applies files use it.
public enum Manifests {
    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// Every non-empty document of the YAML text, as JSON data.
    public static func documents(_ yaml: String, source: String) throws -> [Data] {
        var result: [Data] = []
        do {
            for (index, node) in try Yams.compose_all(yaml: yaml).enumerated() {
                let value = try json(node)
                guard !(value is NSNull) else { continue }
                // JSONSerialization traps on a top-level scalar; a manifest document is one object.
                guard value is [String: Any] else {
                    throw Error(description: "\(source): document \(index + 1) is not a mapping: each document of a manifest is one Kubernetes object")
                }
                result.append(try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]))
            }
        } catch let error as Error {
            throw error
        } catch {
            throw Error(description: "\(source): not valid YAML: \(error)")
        }
        return result
    }

    public static func documents(file path: String) throws -> [Data] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Error(description: "\(path) cannot be read")
        }
        return try documents(text, source: path)
    }

    private static func json(_ node: Yams.Node) throws -> Any {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return scalar.string }
            let text = scalar.string
            switch text {
            case "", "~", "null", "Null", "NULL": return NSNull()
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
            if let integer = Int(text) { return integer }
            if text.contains("."), let number = Double(text), !text.hasPrefix(".") { return number }
            return text
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else { throw Error(description: "mapping keys must be strings") }
                object[keyScalar.string] = try json(value)
            }
            return object
        case .sequence(let sequence):
            return try sequence.map { try json($0) }
        case .alias:
            throw Error(description: "YAML aliases are not supported in manifests")
        }
    }
}
