import Foundation
import LocalAPIServer
import Testing

@Suite struct DiscoveryTests {
    @Test func versionAndLegacyDiscovery() async throws {
        try await withServer { s in
            let v = try s.request("GET", "/version").json
            #expect(v["gitVersion"]?.stringValue?.hasPrefix("v1.32.") == true)
            #expect(try s.request("GET", "/api").json["versions"] == ["v1"])
            let core = try s.request("GET", "/api/v1").json
            let names = (core["resources"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(names.contains("nodes") && names.contains("nodes/status") && names.contains("configmaps"))
            let group = try s.request("GET", "/apis/coordination.k8s.io").json
            #expect(group["preferredVersion"]?["groupVersion"] == "coordination.k8s.io/v1")
            #expect(try s.request("GET", "/apis/nope.example.com").status == 404)
        }
    }

    @Test func aggregatedDiscoveryWhenAsked() async throws {
        try await withServer { s in
            let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
            let r = try s.request("GET", "/apis", headers: ["Accept": accept])
            #expect(r.headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            let items = r.json["items"]?.arrayValue ?? []
            let leases = items.first { $0["metadata"]?["name"] == "coordination.k8s.io" }
            #expect(leases?["versions"]?.arrayValue?.first?["resources"]?.arrayValue?.first?["resource"] == "leases")
            let core = try s.request("GET", "/api", headers: ["Accept": accept]).json
            let nodes = core["items"]?.arrayValue?.first?["versions"]?.arrayValue?.first?["resources"]?.arrayValue?.first { $0["resource"] == "nodes" }
            #expect(nodes?["scope"] == "Cluster")
            #expect(nodes?["subresources"]?.arrayValue?.first?["subresource"] == "status")
        }
    }

    @Test func openAPIv3DeclaresFieldValidationOnPatch() async throws {
        try await withServer { s in
            let root = try s.request("GET", "/openapi/v3").json
            let url = try #require(root["paths"]?["api/v1"]?["serverRelativeURL"]?.stringValue)
            let doc = try s.request("GET", url).json
            let patch = doc["paths"]?["/api/v1/nodes/{name}"]?["patch"]
            #expect(patch?["x-kubernetes-group-version-kind"]?["kind"] == "Node")
            #expect((patch?["parameters"]?.arrayValue ?? []).contains { $0["name"] == "fieldValidation" })
            #expect(try s.request("GET", "/openapi/v2").status == 404)
        }
    }

    @Test func nodeTablesAndTableWatchEvents() async throws {
        try await withServer { s in
            var n = node("n1", labels: ["node-role.kubernetes.io/worker": ""])
            n["status"] = ["conditions": [["type": "Ready", "status": "True"]], "addresses": [["type": "InternalIP", "address": "10.1.2.3"]],
                           "nodeInfo": ["kubeletVersion": "v1.32.2"]]
            _ = try s.request("POST", "/api/v1/nodes", n)
            let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
            let t = try s.request("GET", "/api/v1/nodes", headers: ["Accept": accept]).json
            #expect(t["kind"] == "Table")
            let cols = t["columnDefinitions"]?.arrayValue ?? []
            #expect(cols.compactMap { $0["name"]?.stringValue } == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                                                                  "OS-Image", "Kernel-Version", "Container-Runtime"])
            #expect(cols.filter { $0["priority"] == 1 }.count == 5)
            let cells = t["rows"]?.arrayValue?.first?["cells"]?.arrayValue ?? []
            #expect(Array(cells.prefix(3)) == ["n1", "Ready", "worker"])
            #expect(cells[5] == "10.1.2.3")
            let w = try WatchStream(port: s.port, path: "/api/v1/nodes?watch=true", headers: ["Accept": accept])
            let first = try #require(try w.next())
            #expect(first["object"]?["kind"] == "Table")
            #expect(first["object"]?["columnDefinitions"]?.arrayValue?.isEmpty == false)
            _ = try s.request("POST", "/api/v1/nodes", node("n2"))
            let second = try #require(try w.next())
            #expect(second["object"]?["rows"]?.arrayValue?.first?["cells"]?.arrayValue?.first == "n2")
            #expect(second["object"]?["columnDefinitions"]?.arrayValue?.isEmpty == true)
        }
    }
}
