import Foundation
import LocalAPIServer
import Testing

@Suite struct CRUDTests {
    @Test func createGetAndAlreadyExists() async throws {
        try await withServer { s in
            let created = try s.request("POST", "/api/v1/nodes", node("n1"))
            #expect(created.status == 201)
            #expect(created.json["metadata"]?["uid"]?.stringValue?.isEmpty == false)
            #expect(created.json["metadata"]?["creationTimestamp"]?.stringValue?.hasSuffix("Z") == true)
            #expect(created.json["metadata"]?["generation"] == 1)
            let got = try s.request("GET", "/api/v1/nodes/n1")
            #expect(got.status == 200)
            #expect(got.json["metadata"]?["resourceVersion"] == created.json["metadata"]?["resourceVersion"])
            let again = try s.request("POST", "/api/v1/nodes", node("n1"))
            #expect(again.status == 409)
            #expect(again.json["reason"] == "AlreadyExists")
            #expect(again.json["message"] == "nodes \"n1\" already exists")
            #expect(again.json["kind"] == "Status")
            let missing = try s.request("GET", "/api/v1/nodes/nope")
            #expect(missing.status == 404)
            #expect(missing.json["reason"] == "NotFound")
            #expect(missing.json["message"] == "nodes \"nope\" not found")
            let lease = try s.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/x")
            #expect(lease.json["message"] == "leases.coordination.k8s.io \"x\" not found")
            #expect(lease.json["details"]?["group"] == "coordination.k8s.io")
        }
    }

    @Test func updateWithStaleResourceVersionConflicts() async throws {
        try await withServer { s in
            let created = try s.request("POST", "/api/v1/namespaces/default/configmaps",
                                        ["metadata": ["name": "c"], "data": ["a": "1"]]).json
            var fresh = created
            fresh["data"] = ["a": "2"]
            let ok = try s.request("PUT", "/api/v1/namespaces/default/configmaps/c", fresh)
            #expect(ok.status == 200)
            #expect(ok.json["data"]?["a"] == "2")
            #expect(ok.json["metadata"]?["resourceVersion"] != created["metadata"]?["resourceVersion"])
            var stale = created
            stale["data"] = ["a": "3"]
            let conflict = try s.request("PUT", "/api/v1/namespaces/default/configmaps/c", stale)
            #expect(conflict.status == 409)
            #expect(conflict.json["reason"] == "Conflict")
            #expect(conflict.json["message"]?.stringValue?.hasPrefix("Operation cannot be fulfilled on configmaps \"c\"") == true)
            let missingNS = try s.request("POST", "/api/v1/namespaces/nope/configmaps", ["metadata": ["name": "c"]])
            #expect(missingNS.status == 404)
            #expect(missingNS.json["message"] == "namespaces \"nope\" not found")
        }
    }

    @Test func noOpUpdateKeepsResourceVersionAndGenerationTracksSpec() async throws {
        try await withServer { s in
            let created = try s.request("POST", "/api/v1/nodes", node("n1")).json
            let same = try s.request("PUT", "/api/v1/nodes/n1", created).json
            #expect(same["metadata"]?["resourceVersion"] == created["metadata"]?["resourceVersion"])
            var labelled = same
            labelled[path: ["metadata", "labels"]] = ["a": "b"]
            let afterLabel = try s.request("PUT", "/api/v1/nodes/n1", labelled).json
            #expect(afterLabel["metadata"]?["generation"] == 1)
            var specChange = afterLabel
            specChange[path: ["spec", "unschedulable"]] = true
            let afterSpec = try s.request("PUT", "/api/v1/nodes/n1", specChange).json
            #expect(afterSpec["metadata"]?["generation"] == 2)
        }
    }

    @Test func finalizersDelayDeletion() async throws {
        try await withServer { s in
            var cm: JSON = ["metadata": ["name": "f", "finalizers": ["example.com/hold"]]]
            _ = try s.request("POST", "/api/v1/namespaces/default/configmaps", cm)
            let del = try s.request("DELETE", "/api/v1/namespaces/default/configmaps/f")
            #expect(del.status == 200)
            #expect(del.json["metadata"]?["deletionTimestamp"] != nil)
            cm = try s.request("GET", "/api/v1/namespaces/default/configmaps/f").json
            #expect(cm["metadata"]?["deletionTimestamp"] != nil)
            let addMore = try s.request("PATCH", "/api/v1/namespaces/default/configmaps/f",
                                        ["metadata": ["finalizers": ["example.com/hold", "example.com/other"]]],
                                        contentType: "application/merge-patch+json")
            #expect(addMore.status == 422)
            let release = try s.request("PATCH", "/api/v1/namespaces/default/configmaps/f", ["metadata": ["finalizers": nil]],
                                        contentType: "application/merge-patch+json")
            #expect(release.status == 200)
            #expect(try s.request("GET", "/api/v1/namespaces/default/configmaps/f").status == 404)
        }
    }

    @Test func statusSubresourceSeparatesSpecAndStatus() async throws {
        try await withServer { s in
            var n = node("n1")
            n["status"] = ["capacity": ["cpu": "1"]]
            let created = try s.request("POST", "/api/v1/nodes", n).json
            var main = created
            main["status"] = ["capacity": ["cpu": "99"]]
            main[path: ["spec", "unschedulable"]] = true
            let afterMain = try s.request("PUT", "/api/v1/nodes/n1", main).json
            #expect(afterMain["status"]?["capacity"]?["cpu"] == "1")
            #expect(afterMain["spec"]?["unschedulable"] == true)
            var st = afterMain
            st["status"] = ["capacity": ["cpu": "2"]]
            st[path: ["spec", "unschedulable"]] = false
            let afterStatus = try s.request("PUT", "/api/v1/nodes/n1/status", st).json
            #expect(afterStatus["status"]?["capacity"]?["cpu"] == "2")
            #expect(afterStatus["spec"]?["unschedulable"] == true)
        }
    }

    @Test func labelAndFieldSelectorsAndPagination() async throws {
        try await withServer { s in
            for i in 0..<5 {
                _ = try s.request("POST", "/api/v1/nodes", node("n\(i)", labels: ["zone": i % 2 == 0 ? "a" : "b", "idx": "\(i)"]))
            }
            func names(_ r: HTTPResponse) -> [String] { (r.json["items"]?.arrayValue ?? []).compactMap { $0["metadata"]?["name"]?.stringValue } }
            #expect(names(try s.request("GET", "/api/v1/nodes?labelSelector=zone%3Da")) == ["n0", "n2", "n4"])
            #expect(names(try s.request("GET", "/api/v1/nodes?labelSelector=zone!%3Da")) == ["n1", "n3"])
            #expect(names(try s.request("GET", "/api/v1/nodes?labelSelector=idx+in+(1,3,4)")) == ["n1", "n3", "n4"])
            #expect(names(try s.request("GET", "/api/v1/nodes?labelSelector=idx+notin+(1,3,4),zone")) == ["n0", "n2"])
            #expect(names(try s.request("GET", "/api/v1/nodes?fieldSelector=metadata.name%3Dn3")) == ["n3"])
            let page1 = try s.request("GET", "/api/v1/nodes?limit=2")
            #expect(names(page1) == ["n0", "n1"])
            #expect(page1.json["metadata"]?["remainingItemCount"] == 3)
            let token = try #require(page1.json["metadata"]?["continue"]?.stringValue)
            let enc = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let page2 = try s.request("GET", "/api/v1/nodes?limit=2&continue=\(enc)")
            #expect(names(page2) == ["n2", "n3"])
            let token2 = try #require(page2.json["metadata"]?["continue"]?.stringValue)
            let page3 = try s.request("GET", "/api/v1/nodes?limit=2&continue=\(token2.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            #expect(names(page3) == ["n4"])
            #expect(page3.json["metadata"]?["continue"] == nil)
            let rv0 = try s.request("GET", "/api/v1/nodes?resourceVersion=0")
            #expect(names(rv0).count == 5)
        }
    }
}
