import Foundation
import LocalAPIServer
import Testing

@Suite struct WatchTests {
    @Test func watchFromResourceVersionStreamsLaterChangesInOrder() async throws {
        try await withServer { s in
            let first = try s.request("POST", "/api/v1/nodes", node("a")).json
            let rv = try #require(first["metadata"]?["resourceVersion"]?.stringValue)
            _ = try s.request("POST", "/api/v1/nodes", node("b"))
            let w = try WatchStream(port: s.port, path: "/api/v1/nodes?watch=true&resourceVersion=\(rv)")
            #expect(w.status == 200)
            let e1 = try #require(try w.next())
            #expect(e1["type"] == "ADDED")
            #expect(e1["object"]?["metadata"]?["name"] == "b")
            _ = try s.request("PATCH", "/api/v1/nodes/a", ["metadata": ["labels": ["x": "y"]]], contentType: "application/merge-patch+json")
            let e2 = try #require(try w.next())
            #expect(e2["type"] == "MODIFIED")
            #expect(e2["object"]?["metadata"]?["labels"]?["x"] == "y")
            _ = try s.request("DELETE", "/api/v1/nodes/b")
            let e3 = try #require(try w.next())
            #expect(e3["type"] == "DELETED")
            #expect(e3["object"]?["metadata"]?["name"] == "b")
        }
    }

    @Test func watchWithoutVersionStartsWithSyntheticAddsAndHonoursSelectors() async throws {
        try await withServer { s in
            _ = try s.request("POST", "/api/v1/nodes", node("a", labels: ["pool": "x"]))
            _ = try s.request("POST", "/api/v1/nodes", node("b", labels: ["pool": "y"]))
            let w = try WatchStream(port: s.port, path: "/api/v1/watch/nodes?labelSelector=pool%3Dy")
            let e = try #require(try w.next())
            #expect(e["type"] == "ADDED")
            #expect(e["object"]?["metadata"]?["name"] == "b")
            _ = try s.request("POST", "/api/v1/nodes", node("c", labels: ["pool": "x"]))
            _ = try s.request("POST", "/api/v1/nodes", node("d", labels: ["pool": "y"]))
            let next = try #require(try w.next())
            #expect(next["object"]?["metadata"]?["name"] == "d")
        }
    }

    @Test func expiredResourceVersionGets410InTheStream() async throws {
        try await withServer(.init(historyLimit: 3)) { s in
            let first = try s.request("POST", "/api/v1/nodes", node("n0")).json
            let rv = try #require(first["metadata"]?["resourceVersion"]?.stringValue)
            for i in 1...5 { _ = try s.request("POST", "/api/v1/nodes", node("n\(i)")) }
            let w = try WatchStream(port: s.port, path: "/api/v1/nodes?watch=1&resourceVersion=\(rv)")
            #expect(w.status == 200)
            let e = try #require(try w.next())
            #expect(e["type"] == "ERROR")
            #expect(e["object"]?["code"] == 410)
            #expect(e["object"]?["reason"] == "Expired")
            #expect(e["object"]?["message"]?.stringValue?.hasPrefix("too old resource version: \(rv)") == true)
            #expect(try w.next() == nil)
        }
    }

    @Test func bookmarksArriveWhenAllowed() async throws {
        try await withServer(.init(bookmarkIntervalMilliseconds: 50)) { s in
            _ = try s.request("POST", "/api/v1/nodes", node("a"))
            let rv = s.resourceVersion
            let w = try WatchStream(port: s.port, path: "/api/v1/nodes?watch=1&resourceVersion=\(rv)&allowWatchBookmarks=true")
            let e = try #require(try w.next())
            #expect(e["type"] == "BOOKMARK")
            #expect(e["object"]?["kind"] == "Node")
            #expect(e["object"]?["metadata"]?["resourceVersion"]?.stringValue == String(rv))
        }
    }

    @Test func timeoutSecondsEndsTheStream() async throws {
        try await withServer { s in
            let w = try WatchStream(port: s.port, path: "/api/v1/nodes?watch=1&resourceVersion=\(s.resourceVersion)&timeoutSeconds=1")
            #expect(try w.next() == nil)
        }
    }

    @Test func closingWatchesWithExpirySends410() async throws {
        try await withServer { s in
            let w = try WatchStream(port: s.port, path: "/api/v1/nodes?watch=1&resourceVersion=\(s.resourceVersion)")
            _ = try s.request("POST", "/api/v1/nodes", node("a"))
            #expect(try w.next()?["type"] == "ADDED")  // the watch is registered once it has delivered an event
            #expect(s.closeWatches(expire: true) == 1)
            let e = try #require(try w.next())
            #expect(e["object"]?["code"] == 410)
            #expect(try w.next() == nil)
        }
    }
}
