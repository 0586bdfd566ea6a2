import Foundation
import LocalAPIServer
import Testing

/// A CRD with CEL rules of each kind: on a field, on an object, a transition rule, a rule with a
/// reason and fieldPath, one at the root, and (optionally) one added later.
private func gadgetCRD(extraRule: JSON? = nil, sizeRule: String = "self >= 1") -> JSON {
    var sizeRules: [JSON] = [["rule": .string(sizeRule), "message": "size must be at least 1."]]
    if let extraRule { sizeRules.append(extraRule) }
    let schema: JSON = [
        "type": "object",
        "x-kubernetes-validations": [["rule": "has(self.spec)", "message": "spec is required."]],
        "properties": [
            "spec": [
                "type": "object",
                "x-kubernetes-validations": [
                    ["rule": "!has(self.min) || !has(self.max) || self.min <= self.max", "message": "min must not exceed max."],
                    ["rule": "!has(self.max) || self.max < 100", "reason": "FieldValueForbidden", "fieldPath": ".max",
                     "messageExpression": "'max ' + string(self.max) + ' is too large'"],
                ],
                "properties": [
                    "name": ["type": "string", "maxLength": 10,
                             "x-kubernetes-validations": [["rule": "oldSelf == self", "message": "name is immutable."]]],
                    "size": ["type": "integer", "x-kubernetes-validations": .array(sizeRules)],
                    "min": ["type": "integer"],
                    "max": ["type": "integer"],
                    "tags": ["type": "array", "items": ["type": "string", "x-kubernetes-validations": [["rule": "self.matches('^[a-z]+$')"]]]],
                ],
            ],
            "status": ["type": "object", "properties": ["ready": ["type": "boolean"]]],
        ],
    ]
    return [
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": ["name": "gadgets.example.com"],
        "spec": [
            "group": "example.com", "scope": "Cluster",
            "names": ["plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"],
            "versions": [["name": "v1", "served": true, "storage": true, "schema": ["openAPIV3Schema": schema],
                          "subresources": ["status": [:]]]],
        ],
    ]
}

private let crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
private let gadgets = "/apis/example.com/v1/gadgets"

private func gadget(_ name: String, _ spec: JSON?) -> JSON {
    var o: JSON = ["apiVersion": "example.com/v1", "kind": "Gadget", "metadata": ["name": .string(name)]]
    if let spec { o["spec"] = spec }
    return o
}

private func causes(_ r: HTTPResponse) -> [String] {
    (r.json["details"]?["causes"]?.arrayValue ?? []).map {
        "\($0["reason"]?.stringValue ?? "") \($0["field"]?.stringValue ?? ""): \($0["message"]?.stringValue ?? "")"
    }
}

@Suite struct ValidationRuleTests {
    @Test func createIsRefusedWithTheRuleMessageInKubeApiserversShape() async throws {
        try await withServer { s in
            #expect(try s.request("POST", crdPath, gadgetCRD()).status == 201)
            let r = try s.request("POST", gadgets, gadget("g1", ["name": "a", "size": 1, "min": 5, "max": 3]))
            #expect(r.status == 422)
            #expect(r.json["reason"] == "Invalid")
            #expect(r.json["code"] == 422)
            #expect(r.json["message"] == #"Gadget.example.com "g1" is invalid: spec: Invalid value: "object": min must not exceed max."#)
            #expect(r.json["details"]?["name"] == "g1" && r.json["details"]?["group"] == "example.com" && r.json["details"]?["kind"] == "Gadget")
            #expect(causes(r) == [#"FieldValueInvalid spec: Invalid value: "object": min must not exceed max."#])

            let several = try s.request("POST", gadgets, gadget("g2", ["name": "a", "size": 0, "max": 200, "tags": ["ok", "Bad"]]))
            #expect(several.status == 422)
            #expect(causes(several) == [
                "FieldValueForbidden spec.max: Forbidden: max 200 is too large",
                #"FieldValueInvalid spec.size: Invalid value: "integer": size must be at least 1."#,
                #"FieldValueInvalid spec.tags[1]: Invalid value: "string": failed rule: self.matches('^[a-z]+$')"#,
            ])
            #expect(several.json["message"]?.stringValue?.hasPrefix(#"Gadget.example.com "g2" is invalid: [spec.max: Forbidden: max 200 is too large, "#) == true)

            let root = try s.request("POST", gadgets, gadget("g3", nil))
            #expect(causes(root) == [#"FieldValueInvalid <nil>: Invalid value: "object": spec is required."#])
            #expect(try s.request("POST", gadgets, gadget("ok", ["name": "a", "size": 2, "min": 1, "max": 3, "tags": ["x"]])).status == 201)
        }
    }

    @Test func transitionRulesRunOnUpdateAndBothPatchKinds() async throws {
        try await withServer { s in
            _ = try s.request("POST", crdPath, gadgetCRD())
            let created = try s.request("POST", gadgets, gadget("g", ["name": "a", "size": 1]))
            #expect(created.status == 201)
            let immutable = #"FieldValueInvalid spec.name: Invalid value: "string": name is immutable."#
            var replaced = created.json
            replaced["spec"]?["name"] = "b"
            let put = try s.request("PUT", gadgets + "/g", replaced)
            #expect(put.status == 422)
            #expect(causes(put) == [immutable])
            let merge = try s.request("PATCH", gadgets + "/g", ["spec": ["name": "b"]], contentType: "application/merge-patch+json")
            #expect(merge.status == 422)
            #expect(merge.json["message"] == #"Gadget.example.com "g" is invalid: spec.name: Invalid value: "string": name is immutable."#)
            let json = try s.request("PATCH", gadgets + "/g", [["op": "replace", "path": "/spec/name", "value": "c"]],
                                     contentType: "application/json-patch+json")
            #expect(causes(json) == [immutable])
            // Adding a field that was absent is no transition (no old value), nor is a change elsewhere.
            let allowed = try s.request("PATCH", gadgets + "/g", ["spec": ["size": 5]], contentType: "application/merge-patch+json")
            #expect(allowed.status == 200)
            #expect(try s.request("GET", gadgets + "/g").json["spec"]?["name"] == "a")
        }
    }

    /// Schema errors of the kinds that block CEL (type, required, enum, too long, too many) stop rule evaluation.
    @Test func blockingSchemaErrorsSkipTheRules() async throws {
        try await withServer { s in
            _ = try s.request("POST", crdPath, gadgetCRD())
            let r = try s.request("POST", gadgets, gadget("g", ["name": "far-too-long-a-name", "size": 0]))
            #expect(r.status == 422)
            #expect(causes(r) == [
                "FieldValueTooLong spec.name: Too long: may not be more than 10 bytes",
                #"FieldValueInvalid <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#,
            ])
        }
    }

    /// An object stored before a stricter rule keeps taking writes that leave the failing value alone.
    @Test func unchangedValuesAreRatcheted() async throws {
        try await withServer { s in
            _ = try s.request("POST", crdPath, gadgetCRD())
            #expect(try s.request("POST", gadgets, gadget("g", ["name": "a", "size": 7])).status == 201)
            var crd = try s.request("GET", crdPath + "/gadgets.example.com").json
            crd["spec"] = gadgetCRD(sizeRule: "self >= 1 && self < 5")["spec"]
            #expect(try s.request("PUT", crdPath + "/gadgets.example.com", crd).status == 200)
            let status = try s.request("PATCH", gadgets + "/g/status", ["status": ["ready": true]], contentType: "application/merge-patch+json")
            #expect(status.status == 200, "\(status.text)")
            #expect(try s.request("PATCH", gadgets + "/g", ["spec": ["min": 1]], contentType: "application/merge-patch+json").status == 200)
            let changed = try s.request("PATCH", gadgets + "/g", ["spec": ["size": 8]], contentType: "application/merge-patch+json")
            #expect(changed.status == 422)
            #expect(causes(changed) == [#"FieldValueInvalid spec.size: Invalid value: "integer": size must be at least 1."#])
        }
    }

    @Test func ruleOutsideTheSubsetRefusesTheCRDNamingTheRule() async throws {
        try await withServer { s in
            let r = try s.request("POST", crdPath, gadgetCRD(extraRule: ["rule": "self.lowerAscii() == 'x'"]))
            #expect(r.status == 422)
            let cause = causes(r).first ?? ""
            #expect(cause.hasPrefix("FieldValueInvalid spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].x-kubernetes-validations[1].rule: "), "\(cause)")
            #expect(cause.contains(#"Invalid value: "self.lowerAscii() == 'x'": compilation failed: function 'lowerAscii' (as a method) is not in the CEL subset LocalAPIServer evaluates"#), "\(cause)")
            #expect(try s.request("GET", crdPath + "/gadgets.example.com").status == 404)
        }
    }

    @Test func rulesCanBeSwitchedOff() async throws {
        var config = LocalAPIServer.Configuration()
        config.validationRules = false
        try await withServer(config) { s throws in
            #expect(try s.request("POST", crdPath, gadgetCRD(extraRule: ["rule": "self.lowerAscii() == 'x'"])).status == 201)
            #expect(try s.request("POST", gadgets, gadget("g", ["name": "a", "size": 0, "min": 5, "max": 3])).status == 201)
            #expect(try s.request("PATCH", gadgets + "/g", ["spec": ["name": "b"]], contentType: "application/merge-patch+json").status == 200)
        }
    }
}
