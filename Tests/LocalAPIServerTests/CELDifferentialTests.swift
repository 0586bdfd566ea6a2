import Foundation
import KubeClient
@testable import LocalAPIServer
import Testing

/// The repository root (for hack/checks).
private let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Runs hack/checks/cel_differential.py: seeded cases with cel-python's verdicts (see its header).
/// `CEL_DIFFERENTIAL_SEED` and `CEL_DIFFERENTIAL_COUNT` choose other cases.
private func pythonCases() throws -> JSON {
    let environment = ProcessInfo.processInfo.environment
    let seed = environment["CEL_DIFFERENTIAL_SEED"] ?? "20261201"
    let count = environment["CEL_DIFFERENTIAL_COUNT"] ?? "250"
    let process = try ChildProcess("/usr/bin/env", ["python3", repositoryRoot + "/hack/checks/cel_differential.py", "--seed", seed, "--count", count],
                                   environment: environment, output: .capture, errors: .capture)
    let (data, errors) = process.readOutput()
    guard process.wait().succeeded else {
        throw TestError(description: "cel_differential.py failed (pip install -r hack/checks/requirements.txt?): "
                        + String(decoding: errors, as: UTF8.self))
    }
    return try JSON.parse(Array(data))
}

private func kind(_ result: ValidationRules.Outcome.Result) -> String {
    switch result {
    case .pass: return "pass"
    case .fail: return "fail"
    case .error: return "error"
    }
}

@Suite struct CELDifferentialTests {
    /// The same rules (the CRD's), objects and old/new pairs give the same outcome, rule by rule and
    /// place by place, in the Swift evaluator and in cel-python with k8s_cel.py's Kubernetes libraries.
    @Test func swiftEvaluatorAgreesWithCelPython() throws {
        let document = try pythonCases()
        let schema = try #require(document["schema"])
        let cases = try #require(document["cases"]?.arrayValue)
        let expressions = try #require(document["expressions"]?.arrayValue)
        #expect(cases.count >= 100)
        var rules = ValidationRules()
        var mismatches: [String] = []
        var seen: [String: Set<String>] = [:]
        for c in cases {
            let new = try #require(c["new"])
            let old = c["old"] == .null ? nil : c["old"]
            let expected = (c["outcomes"]?.arrayValue ?? []).map { o in
                (o.arrayValue ?? []).map { $0.stringValue ?? "" }.joined(separator: " | ")
            }.sorted()
            // Ratcheting is the server's layer over the evaluator; cel-python's checks have none.
            let outcomes = rules.evaluate(schema: schema, object: new, old: old, ratcheting: false)
            let actual = outcomes.map { [$0.schemaPath, $0.rule, $0.dataPath, kind($0.result)].joined(separator: " | ") }.sorted()
            for o in outcomes { seen["\(o.schemaPath) \(o.rule)", default: []].insert(kind(o.result)) }
            if actual != expected {
                let missing = Set(expected).subtracting(actual).sorted(), extra = Set(actual).subtracting(expected).sorted()
                mismatches.append("\(c["name"]?.stringValue ?? "?"): cel-python \(missing) swift \(extra)\n  new \(new.serialized())\n  old \(old?.serialized() ?? "-")")
            }
        }
        for e in expressions {
            let rule = e["rule"]?.stringValue ?? ""
            let value = ValidationRules.celValue(e["self"] ?? .null, nil)
            let program = try CELProgram(rule, variables: ["self"])
            let actual: String
            do {
                let result = try program.evaluate(["self": value])
                actual = result == .bool(true) ? "pass" : (result == .bool(false) ? "fail" : "error")
            } catch { actual = "error" }
            if actual != e["result"]?.stringValue {
                mismatches.append("\(rule) on \(e["self"]?.serialized() ?? ""): cel-python \(e["result"]?.stringValue ?? "") swift \(actual)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count + expressions.count) cases differ:\n\(mismatches.prefix(15).joined(separator: "\n"))")
        // The generator reaches every rule of the CRD with a pass and a failure.
        #expect(seen.count == 22)
        #expect(seen.values.allSatisfy { $0.isSuperset(of: ["pass", "fail"]) }, "\(seen.filter { !$0.value.isSuperset(of: ["pass", "fail"]) })")
    }
}
