import ClusterCIDRAPI
import Foundation
import Testing

/// One admission case of `Fixtures/admission-cases.json`, shared with the CEL check in
/// `hack/checks/test_crd_cel.py`: the same objects must be accepted or rejected by both.
struct AdmissionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let object: Data
    let old: Data?
    /// Substrings that must appear in the validator's errors (empty: valid).
    let expectedMessages: [String]
    /// Rejected by the OpenAPI schema itself (Swift may already fail to decode).
    let rejectedBySchema: Bool

    var testDescription: String { name }

    static func load() throws -> (valid: [AdmissionCase], invalid: [AdmissionCase], updates: [AdmissionCase]) {
        let url = try #require(Bundle.module.url(forResource: "admission-cases", withExtension: "json", subdirectory: "Fixtures"))
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        func cases(_ key: String, objectKey: String) throws -> [AdmissionCase] {
            let list = try #require(root[key] as? [[String: Any]])
            return try list.map { entry in
                AdmissionCase(
                    name: try #require(entry["name"] as? String),
                    object: try JSONSerialization.data(withJSONObject: try #require(entry[objectKey])),
                    old: try entry["old"].map { try JSONSerialization.data(withJSONObject: $0) },
                    expectedMessages: entry["swift"] as? [String] ?? [],
                    rejectedBySchema: entry["schema"] as? Bool ?? false)
            }
        }
        return (try cases("valid", objectKey: "object"), try cases("invalid", objectKey: "object"), try cases("updates", objectKey: "new"))
    }
}

func decodeClusterCIDR(_ data: Data) throws -> ClusterCIDR {
    try JSONDecoder().decode(ClusterCIDR.self, from: data)
}

/// The repository root, found from this file's path (examples/ and config/ live there).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
