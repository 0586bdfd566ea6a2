import Foundation
import LocalAPIServer
import Testing

@Suite struct AuthAndFaultTests {
    @Test func bearerTokenRequiredWhenConfigured() async throws {
        try await withServer(.init(bearerTokens: ["s3cret"])) { s in
            let anon = try s.request("GET", "/api/v1/nodes")
            #expect(anon.status == 401)
            #expect(anon.json["reason"] == "Unauthorized")
            #expect(try s.request("GET", "/api/v1/nodes", headers: ["Authorization": "Bearer wrong"]).status == 401)
            #expect(try s.request("GET", "/api/v1/nodes", headers: ["Authorization": "Bearer s3cret"]).status == 200)
            #expect(s.kubeconfig().contains("token: s3cret"))
        }
    }

    @Test func failNextMatchingRequests() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/api/v1/nodes", node("n1"))
            s.faults.add(.init(verb: "patch", resource: "nodes", name: "n1", count: 2, action: .status(code: 500, reason: "InternalError", message: "boom")))
            let patch: JSON = ["metadata": ["labels": ["a": "b"]]]
            #expect(try s.request("GET", "/api/v1/nodes/n1").status == 200)  // other verbs unaffected
            #expect(try s.request("PATCH", "/api/v1/nodes/n1", patch, contentType: "application/merge-patch+json").status == 500)
            #expect(try s.request("PATCH", "/api/v1/nodes/n1", patch, contentType: "application/merge-patch+json").status == 500)
            #expect(try s.request("GET", "/api/v1/nodes/n1").json["metadata"]?["labels"] == nil)
            #expect(try s.request("PATCH", "/api/v1/nodes/n1", patch, contentType: "application/merge-patch+json").status == 200)
        }
    }

    @Test func droppedConnectionAndAmbiguousWrite() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/api/v1/nodes", node("n1"))
            s.faults.add(.init(verb: "patch", resource: "nodes", action: .drop))
            s.faults.add(.init(verb: "patch", resource: "nodes", action: .applyThenDrop))
            let patch: JSON = ["metadata": ["labels": ["a": "b"]]]
            #expect(throws: TestError.self) { try s.request("PATCH", "/api/v1/nodes/n1", patch, contentType: "application/merge-patch+json") }
            #expect(try s.request("GET", "/api/v1/nodes/n1").json["metadata"]?["labels"] == nil)
            #expect(throws: TestError.self) { try s.request("PATCH", "/api/v1/nodes/n1", patch, contentType: "application/merge-patch+json") }
            #expect(try s.request("GET", "/api/v1/nodes/n1").json["metadata"]?["labels"]?["a"] == "b")
        }
    }

    @Test func leaseWriteConflictsAndRuntimeFaultEndpoint() async throws {
        try await withServer { s in
            let lease: JSON = ["metadata": ["name": "l"], "spec": ["holderIdentity": "a"]]
            let created = try s.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", lease).json
            s.faults.conflictLeaseWrites(count: 1)
            var upd = created
            upd[path: ["spec", "holderIdentity"]] = "b"
            let r = try s.request("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l", upd)
            #expect(r.status == 409)
            #expect(r.json["reason"] == "Conflict")
            #expect(try s.request("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l", upd).status == 200)
            let rule = try s.request("POST", "/_local/faults", ["verb": "get", "resource": "nodes", "code": 503])
            #expect(rule.status == 201)
            let failed = try s.request("GET", "/api/v1/nodes/x")
            #expect(failed.status == 503)
            #expect(failed.json["reason"] == "ServiceUnavailable")
        }
    }

    @Test func delayedResponseStillApplies() async throws {
        try await withServer { s in
            s.faults.add(.init(verb: "create", resource: "nodes", action: .delay(milliseconds: 200)))
            let start = Date()
            let r = try s.request("POST", "/api/v1/nodes", node("slow"))
            #expect(r.status == 201)
            #expect(Date().timeIntervalSince(start) >= 0.2)
        }
    }
}
