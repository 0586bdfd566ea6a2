import Foundation
import KubeClient
import Testing

/// Manifests: YAML files into JSON documents, and what a broken file is told.
@Suite struct ManifestsTests {
    @Test func documentsAreJSONObjectsWithQuotedScalarsKept() throws {
        let documents = try Manifests.documents("a: \"0755\"\nb: 0755\n---\n---\nc: [true, ~]\n", source: "m.yaml")
        #expect(documents.map { String(decoding: $0, as: UTF8.self) } == [#"{"a":"0755","b":755}"#, #"{"c":[true,null]}"#])
    }

    /// A document that is a scalar trapped in JSONSerialization (found by FuzzManifests).
    @Test(arguments: ["hello", "42\n", "a: 1\n---\n- x\n"])
    func aDocumentThatIsNotAnObjectIsRefused(yaml: String) {
        #expect(throws: Manifests.Error.self) { try Manifests.documents(yaml, source: "m.yaml") }
        do { _ = try Manifests.documents(yaml, source: "m.yaml") } catch {
            #expect("\(error)".hasPrefix("m.yaml: document "), "\(error)")
            #expect("\(error)".contains("is not a mapping"), "\(error)")
        }
    }
}
