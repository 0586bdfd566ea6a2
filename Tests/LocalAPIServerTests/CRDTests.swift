import Foundation
import LocalAPIServer
import Testing

/// A CRD like ours: cluster-scoped, status subresource, printer columns, a structural schema.
func widgetCRD(scope: String = "Cluster") -> JSON {
    let schema: JSON = [
        "type": "object",
        "properties": [
            "spec": [
                "type": "object", "required": ["size"],
                "properties": [
                    "size": ["type": "integer", "minimum": 1, "maximum": 10],
                    "mode": ["type": "string", "enum": ["fast", "slow"]],
                    "cidr": ["type": "string", "pattern": "^[0-9./]+$"],
                    "labels": ["type": "object", "additionalProperties": ["type": "string"]],
                ],
            ],
            "status": ["type": "object", "properties": ["ready": ["type": "boolean"]]],
        ],
    ]
    return [
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": ["name": "widgets.example.com"],
        "spec": [
            "group": "example.com", "scope": .string(scope),
            "names": ["plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wg"]],
            "versions": [[
                "name": "v1", "served": true, "storage": true, "schema": ["openAPIV3Schema": schema],
                "subresources": ["status": [:]],
                "additionalPrinterColumns": [
                    ["name": "Size", "type": "integer", "jsonPath": ".spec.size"],
                    ["name": "Mode", "type": "string", "jsonPath": ".spec.mode", "priority": 1],
                    ["name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"],
                ],
            ]],
        ],
    ]
}

@Suite struct CRDTests {
    @Test func createdCRDIsEstablishedAndServed() async throws {
        try await withServer { s in
            #expect(try s.request("GET", "/apis/example.com/v1/widgets").status == 404)
            let created = try s.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widgetCRD())
            #expect(created.status == 201)
            let crd = try s.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").json
            let conds = crd["status"]?["conditions"]?.arrayValue ?? []
            #expect(conds.contains { $0["type"] == "Established" && $0["status"] == "True" })
            #expect(conds.contains { $0["type"] == "NamesAccepted" && $0["status"] == "True" })
            let groups = try s.request("GET", "/apis").json["groups"]?.arrayValue ?? []
            #expect(groups.contains { $0["name"] == "example.com" })
            let resources = try s.request("GET", "/apis/example.com/v1").json["resources"]?.arrayValue ?? []
            #expect(resources.contains { $0["name"] == "widgets" && $0["namespaced"] == false })
            #expect(resources.contains { $0["name"] == "widgets/status" })
            let w = try s.request("POST", "/apis/example.com/v1/widgets", ["apiVersion": "example.com/v1", "kind": "Widget",
                                                                         "metadata": ["name": "w1"], "spec": ["size": 3]])
            #expect(w.status == 201)
            #expect(try s.request("GET", "/apis/example.com/v1/widgets/w1").json["spec"]?["size"] == 3)
            let doc = try s.request("GET", "/openapi/v3/apis/example.com/v1").json
            let params = doc["paths"]?["/apis/example.com/v1/widgets/{name}"]?["patch"]?["parameters"]?.arrayValue ?? []
            #expect(params.contains { $0["name"] == "fieldValidation" && $0["in"] == "query" })
            let smp = try s.request("PATCH", "/apis/example.com/v1/widgets/w1", ["spec": ["size": 4]],
                                    contentType: "application/strategic-merge-patch+json")
            #expect(smp.status == 415)
            #expect(smp.json["reason"] == "UnsupportedMediaType")
            _ = try s.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
            #expect(try s.request("GET", "/apis/example.com/v1/widgets").status == 404)
        }
    }

    @Test func schemaValidationPruningAndStrict() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widgetCRD(scope: "Namespaced"))
            let path = "/apis/example.com/v1/namespaces/default/widgets"
            func widget(_ name: String, _ spec: JSON) -> JSON {
                ["apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": .string(name)], "spec": spec]
            }
            let bad = try s.request("POST", path, widget("bad", ["size": 11, "mode": "medium", "cidr": "x"]))
            #expect(bad.status == 422)
            let msg = bad.json["message"]?.stringValue ?? ""
            #expect(msg.contains("spec.size in body should be less than or equal to 10"))
            #expect(msg.contains("spec.mode: Unsupported value: \"medium\": supported values: \"fast\", \"slow\""))
            #expect(msg.contains("spec.cidr in body should match"))
            let wrongType = try s.request("POST", path, widget("t", ["size": "three"]))
            #expect(wrongType.status == 422)
            #expect(wrongType.json["message"]?.stringValue?.contains("spec.size in body must be of type integer") == true)
            let missing = try s.request("POST", path, widget("m", ["mode": "fast"]))
            #expect(missing.json["message"]?.stringValue?.contains("spec.size: Required value") == true)
            let pruned = try s.request("POST", path, widget("p", ["size": 2, "extra": "gone", "labels": ["a": "b"]]))
            #expect(pruned.status == 201)
            #expect(pruned.json["spec"]?["extra"] == nil)
            #expect(pruned.json["spec"]?["labels"]?["a"] == "b")
            let strict = try s.request("POST", path + "?fieldValidation=Strict", widget("s", ["size": 2, "extra": "x"]))
            #expect(strict.status == 400)
            #expect(strict.json["message"]?.stringValue?.contains("unknown field \"spec.extra\"") == true)
            let noRV = try s.request("PUT", path + "/p", widget("p", ["size": 3]))
            #expect(noRV.status == 422)
            let table = try s.request("GET", path, headers: ["Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"]).json
            let cols = (table["columnDefinitions"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(cols == ["Name", "Size", "Mode", "Age"])
            #expect(table["rows"]?.arrayValue?.first?["cells"]?.arrayValue?[1] == 2)
        }
    }

    @Test func statusSubresourceOnCustomResources() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widgetCRD())
            let w = try s.request("POST", "/apis/example.com/v1/widgets", ["apiVersion": "example.com/v1", "kind": "Widget",
                                                                         "metadata": ["name": "w"], "spec": ["size": 1], "status": ["ready": true]]).json
            #expect(w["status"] == nil)
            let st = try s.request("PATCH", "/apis/example.com/v1/widgets/w/status", ["status": ["ready": true], "spec": ["size": 5]],
                                   contentType: "application/merge-patch+json").json
            #expect(st["status"]?["ready"] == true)
            #expect(st["spec"]?["size"] == 1)
            #expect(st["metadata"]?["generation"] == 1)
            let spec = try s.request("PATCH", "/apis/example.com/v1/widgets/w", ["spec": ["size": 6]], contentType: "application/merge-patch+json").json
            #expect(spec["metadata"]?["generation"] == 2)
        }
    }
}
