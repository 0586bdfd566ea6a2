import Foundation
import LocalAPIServer
import Testing

@Suite struct LifecycleTests {
    @Test func generateNameAndNamespaceDeletionRemovesContents() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/api/v1/namespaces", ["metadata": ["name": "team"]])
            let gen = try s.request("POST", "/api/v1/namespaces/team/configmaps", ["metadata": ["generateName": "cfg-"]])
            #expect(gen.status == 201)
            let name = try #require(gen.json["metadata"]?["name"]?.stringValue)
            #expect(name.hasPrefix("cfg-") && name.count == 9)
            #expect(try s.request("DELETE", "/api/v1/namespaces/team").status == 200)
            #expect(try s.request("GET", "/api/v1/namespaces/team/configmaps/\(name)").status == 404)
            let noName = try s.request("POST", "/api/v1/nodes", ["metadata": [:]])
            #expect(noName.status == 422)
        }
    }

    @Test func disconnectedWatchIsUnregistered() async throws {
        try await withServer { s in
            do {
                let w = try WatchStream(port: s.port, path: "/api/v1/nodes?watch=1&resourceVersion=\(s.resourceVersion)")
                _ = try s.request("POST", "/api/v1/nodes", node("a"))
                #expect(try w.next()?["type"] == "ADDED")
                #expect(s.openWatchCount == 1)
            }  // the socket closes here
            // No event announces the server noticing the close; poll with a deadline.
            let deadline = Date().addingTimeInterval(5)
            while s.openWatchCount > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(s.openWatchCount == 0)
        }
    }

    @Test func deletePreconditionMismatchConflicts() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/api/v1/nodes", node("n1"))
            let r = try s.request("DELETE", "/api/v1/nodes/n1", ["kind": "DeleteOptions", "apiVersion": "v1", "preconditions": ["resourceVersion": "1"]])
            #expect(r.status == 409)
            #expect(r.json["message"]?.stringValue?.contains("the ResourceVersion in the precondition (1) does not match") == true)
            #expect(try s.request("DELETE", "/api/v1/nodes/n1").json["status"] == "Success")
        }
    }
}
