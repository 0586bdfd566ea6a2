import ClusterCIDRAPI
import Foundation
import KubeClient

/// Reads objects of one kind from manifest files for `plan`: YAML or JSON, several documents
/// per file, `List`s; a file or every *.yaml, *.yml and *.json file of a directory. Any
/// problem is one line naming the file, the document and the fix.
enum ManifestFiles {
    static func paths(_ path: String, flag: String) throws(CommandFailure) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandFailure("\(flag) \(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { [".yaml", ".yml", ".json"].contains(where: $0.hasSuffix) }.sorted()
        guard !names.isEmpty else { throw CommandFailure("\(flag) \(path): the directory has no .yaml, .yml or .json file") }
        return names.map { (path as NSString).appendingPathComponent($0) }
    }

    /// Every object of `kind` in the files (kind `List` or `<kind>List` items included).
    static func objects<T: Decodable>(_ path: String, flag: String, kind: String, as type: T.Type) throws(CommandFailure) -> [T] {
        var result: [T] = []
        for file in try paths(path, flag: flag) {
            let documents: [Data]
            do { documents = try Manifests.documents(file: file) } catch {
                throw CommandFailure("\(flag) \(file): \(error)")
            }
            for (index, document) in documents.enumerated() {
                let place = "\(flag) \(file), document \(index + 1)"
                guard let object = try? JSONSerialization.jsonObject(with: document) as? [String: Any] else {
                    throw CommandFailure("\(place): not a Kubernetes object")
                }
                let found = object["kind"] as? String ?? ""
                var items: [Any] = [object]
                if found == "List" || found == kind + "List" {
                    items = object["items"] as? [Any] ?? []
                } else if found != kind {
                    throw CommandFailure("\(place): kind \(found.isEmpty ? "(none)" : found), expected \(kind)\(kind == "Node" ? " (kubectl get nodes -o yaml writes them)" : "")")
                }
                for (itemIndex, item) in items.enumerated() {
                    let where_ = items.count > 1 || found != kind ? "\(place), item \(itemIndex + 1)" : place
                    if let entry = item as? [String: Any], let itemKind = entry["kind"] as? String, itemKind != kind {
                        throw CommandFailure("\(where_): kind \(itemKind), expected \(kind)")
                    }
                    let name = ((item as? [String: Any])?["metadata"] as? [String: Any])?["name"] as? String ?? ""
                    guard !name.isEmpty else { throw CommandFailure("\(where_): the \(kind) has no metadata.name") }
                    do {
                        let data = try JSONSerialization.data(withJSONObject: item)
                        result.append(try JSONDecoder().decode(T.self, from: data))
                    } catch let error as DecodingError {
                        throw CommandFailure("\(where_): \(kind) \(name): \(describe(error))")
                    } catch {
                        throw CommandFailure("\(where_): \(kind) \(name): \(error)")
                    }
                }
            }
        }
        return result
    }

    /// A decoding error as the field and what is wrong with it.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
