import Foundation
import LocalAPIServer
import Testing

@Suite struct PatchTests {
    @Test func mergeJSONAndStrategicPatches() async throws {
        try await withServer { s in
            var n = node("n1", labels: ["a": "1", "b": "2"])
            n[path: ["metadata", "finalizers"]] = ["x/one"]
            _ = try s.request("POST", "/api/v1/nodes", n)
            let merged = try s.request("PATCH", "/api/v1/nodes/n1", ["metadata": ["labels": ["a": nil, "c": "3"]]],
                                       contentType: "application/merge-patch+json")
            #expect(merged.status == 200)
            #expect(merged.json["metadata"]?["labels"] == ["b": "2", "c": "3"])
            let ops: JSON = [["op": "add", "path": "/metadata/labels/d", "value": "4"], ["op": "remove", "path": "/metadata/labels/b"],
                             ["op": "test", "path": "/metadata/labels/c", "value": "3"]]
            let jp = try s.request("PATCH", "/api/v1/nodes/n1", ops, contentType: "application/json-patch+json")
            #expect(jp.status == 200)
            #expect(jp.json["metadata"]?["labels"] == ["c": "3", "d": "4"])
            let failedTest = try s.request("PATCH", "/api/v1/nodes/n1", [["op": "test", "path": "/metadata/labels/c", "value": "9"]],
                                           contentType: "application/json-patch+json")
            #expect(failedTest.status == 422)
            let smp = try s.request("PATCH", "/api/v1/nodes/n1", ["metadata": ["finalizers": ["x/two"]]],
                                    contentType: "application/strategic-merge-patch+json")
            #expect(smp.json["metadata"]?["finalizers"] == ["x/one", "x/two"])
            let conds = try s.request("PATCH", "/api/v1/nodes/n1/status",
                                      ["status": ["conditions": [["type": "Ready", "status": "True"], ["type": "DiskPressure", "status": "False"]]]],
                                      contentType: "application/strategic-merge-patch+json")
            #expect(conds.json["status"]?["conditions"]?.arrayValue?.count == 2)
            let oneCond = try s.request("PATCH", "/api/v1/nodes/n1/status", ["status": ["conditions": [["type": "Ready", "status": "False"]]]],
                                        contentType: "application/strategic-merge-patch+json")
            let ready = oneCond.json["status"]?["conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
            #expect(oneCond.json["status"]?["conditions"]?.arrayValue?.count == 2)
            #expect(ready?["status"] == "False")
            let stale = try s.request("PATCH", "/api/v1/nodes/n1", ["metadata": ["resourceVersion": "1", "labels": ["z": "z"]]],
                                      contentType: "application/merge-patch+json")
            #expect(stale.status == 409)
            let unsupported = try s.request("PATCH", "/api/v1/nodes/n1", [:], contentType: "text/plain")
            #expect(unsupported.status == 415)
        }
    }

    @Test func serverSideApplyCreatesThenMerges() async throws {
        try await withServer { s in
            let cm: JSON = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "applied"], "data": ["a": "1"]]
            let noManager = try s.request("PATCH", "/api/v1/namespaces/default/configmaps/applied", cm, contentType: "application/apply-patch+yaml")
            #expect(noManager.status == 422)
            let created = try s.request("PATCH", "/api/v1/namespaces/default/configmaps/applied?fieldManager=test", cm,
                                        contentType: "application/apply-patch+yaml")
            #expect(created.status == 201)
            var second = cm
            second["data"] = ["b": "2"]
            let updated = try s.request("PATCH", "/api/v1/namespaces/default/configmaps/applied?fieldManager=test", second,
                                        contentType: "application/apply-patch+yaml")
            #expect(updated.status == 200)
            #expect(updated.json["data"]?["b"] == "2")
        }
    }
}

@Suite struct NodePodCIDRValidationTests {
    @Test(arguments: [
        (["10.0.0.0/24", "10.1.0.0/24"], "may specify no more than one CIDR for each IP family"),
        (["10.0.0.0/24", "fd00::/64", "10.2.0.0/24"], "may specify no more than one CIDR for each IP family"),
        (["10.0.0.0/33"], "must be a valid CIDR value"),
        (["banana"], "must be a valid CIDR value"),
    ])
    func invalidPodCIDRsAreRejected(cidrs: [String], message: String) async throws {
        try await withServer { s in
            let r = try s.request("POST", "/api/v1/nodes", node("bad", podCIDRs: cidrs))
            #expect(r.status == 422)
            #expect(r.json["reason"] == "Invalid")
            #expect(r.json["message"]?.stringValue?.contains(message) == true)
            #expect(r.json["details"]?["kind"] == "Node")
        }
    }

    @Test func podCIDRsCanBeSetOnceThenNeverChanged() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/api/v1/nodes", node("n1"))
            let set = try s.request("PATCH", "/api/v1/nodes/n1", ["spec": ["podCIDRs": ["10.0.1.0/24", "fd00:1::/64"]]],
                                    contentType: "application/merge-patch+json")
            #expect(set.status == 200)
            #expect(set.json["spec"]?["podCIDR"] == "10.0.1.0/24")
            let change = try s.request("PATCH", "/api/v1/nodes/n1", ["spec": ["podCIDRs": ["10.0.2.0/24"], "podCIDR": "10.0.2.0/24"]],
                                       contentType: "application/merge-patch+json")
            #expect(change.status == 422)
            #expect(change.json["message"] == "Node \"n1\" is invalid: spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid")
            #expect(change.json["details"]?["causes"]?.arrayValue?.first?["reason"] == "FieldValueForbidden")
            let same = try s.request("PATCH", "/api/v1/nodes/n1", ["metadata": ["labels": ["k": "v"]]], contentType: "application/merge-patch+json")
            #expect(same.status == 200)
        }
    }
}
