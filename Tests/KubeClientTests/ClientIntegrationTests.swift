import Foundation
import Testing
@testable import KubeClient
import LocalAPIServer
import TestSupport

struct ConfigMap: KubernetesObject, Hashable {
    var apiVersion: String? = "v1"
    var kind: String? = "ConfigMap"
    var metadata: ObjectMeta
    var data: [String: String]?
}

/// The client against LocalAPIServer over plain HTTP: CRUD, conflicts, every patch type, paging.
@Suite struct ClientIntegrationTests {
    @Test func crudAndConflicts() async throws {
        try await withServer { _, client in
            let created = try await client.create(.configMaps, namespace: "default", ConfigMap(metadata: ObjectMeta(name: "a", namespace: "default"), data: ["k": "v"]))
            #expect(created.metadata.uid != nil && created.metadata.resourceVersion != nil)
            let duplicate = await #expect(throws: APIError.self) {
                _ = try await client.create(.configMaps, namespace: "default", ConfigMap(metadata: ObjectMeta(name: "a", namespace: "default")))
            }
            #expect(duplicate?.isAlreadyExists == true)

            var changed = created
            changed.data = ["k": "w"]
            let updated = try await client.update(.configMaps, namespace: "default", name: "a", changed)
            #expect(updated.data == ["k": "w"])
            // Writing again with the stale resourceVersion conflicts.
            let stale = await #expect(throws: APIError.self) { _ = try await client.update(.configMaps, namespace: "default", name: "a", changed) }
            #expect(stale?.isConflict == true && stale?.statusCode == 409)

            let fetched: ConfigMap = try await client.get(.configMaps, namespace: "default", name: "a")
            #expect(fetched == updated)
            let wrongUID = await #expect(throws: APIError.self) {
                try await client.delete(.configMaps, namespace: "default", name: "a", preconditions: DeletePreconditions(uid: "not-the-uid"))
            }
            #expect(wrongUID?.isConflict == true)
            try await client.delete(.configMaps, namespace: "default", name: "a", preconditions: DeletePreconditions(uid: created.metadata.uid))
            let gone = await #expect(throws: APIError.self) { let _: ConfigMap = try await client.get(.configMaps, namespace: "default", name: "a") }
            #expect(gone?.isNotFound == true)
        }
    }

    @Test func everyPatchType() async throws {
        try await withServer { _, client in
            _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "n1", labels: ["a": "1"])))
            var node: Node = try await client.patch(.nodes, name: "n1", .strategicMerge(Data(#"{"spec":{"podCIDR":"10.0.0.0/24","podCIDRs":["10.0.0.0/24"]}}"#.utf8)))
            #expect(node.podCIDRs == ["10.0.0.0/24"])
            node = try await client.patch(.nodes, name: "n1", .merge(Data(#"{"metadata":{"labels":{"b":"2"}}}"#.utf8)))
            #expect(node.metadata.labels == ["a": "1", "b": "2"])
            node = try await client.patch(.nodes, name: "n1", .json(Data(#"[{"op":"remove","path":"/metadata/labels/a"}]"#.utf8)))
            #expect(node.metadata.labels == ["b": "2"])
            node = try await client.patch(.nodes, name: "n1", .apply(Data(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"c":"3"}}}"#.utf8), force: true))
            #expect(node.metadata.labels?["c"] == "3")
            // podCIDRs are write-once: the server refuses a change with 422.
            let refused = await #expect(throws: APIError.self) {
                let _: Node = try await client.patch(.nodes, name: "n1", .strategicMerge(Data(#"{"spec":{"podCIDR":"10.9.0.0/24","podCIDRs":["10.9.0.0/24"]}}"#.utf8)))
            }
            #expect(refused?.isInvalid == true)
        }
    }

    @Test func pagingListsEverything() async throws {
        try await withServer { _, client in
            for i in 0..<7 { _ = try await client.create(.nodes, Node(metadata: ObjectMeta(name: "node-\(i)", labels: ["pool": i % 2 == 0 ? "even" : "odd"]))) }
            let page: ListPage<Node> = try await client.list(.nodes, options: ListOptions(limit: 3))
            #expect(page.items.count == 3 && page.metadata.continue?.isEmpty == false)
            let (all, version) = try await client.listAll(.nodes, pageSize: 2, as: Node.self)
            #expect(all.map { $0.metadata.name ?? "" }.sorted() == (0..<7).map { "node-\($0)" })
            #expect(!version.isEmpty)
            let (even, _) = try await client.listAll(.nodes, options: ListOptions(labelSelector: "pool=even"), pageSize: 2, as: Node.self)
            #expect(even.count == 4)
            #expect(client.metrics.snapshot().requests[ClientMetrics.Key(verb: "list", code: 200)] ?? 0 >= 7)
        }
    }

    @Test func cancellingTheTaskAbortsTheRequest() async throws {
        try await withServer { server, client in
            // The server would answer only after a minute.
            server.faults.add(FaultInjector.Rule(verb: "list", resource: "nodes", count: 1, action: .delay(milliseconds: 60_000)))
            let started = ContinuousClock.now
            let request = Task { let _: ListPage<Node> = try await client.list(.nodes) }
            request.cancel()
            let result = await request.result
            guard case .failure(let error) = result else { Issue.record("the request was not cancelled"); return }
            #expect((error as? TransportError)?.kind == .cancelled || error is CancellationError)
            // Well before the server's delay (libcurl notices at its next progress tick).
            #expect(started.duration(to: .now) < .seconds(30))
        }
    }

    @Test func transportErrorsAreValues() async throws {
        let client = KubernetesClient(configuration: ClientConfiguration(server: "http://127.0.0.1:1"), qps: 0)
        defer { client.shutdown() }
        let error = await #expect(throws: TransportError.self) { let _: Node = try await client.get(.nodes, name: "x") }
        #expect(error?.kind == .couldNotConnect)
    }
}

/// HTTPS with kind-shaped client certificates, bearer tokens, token files and exec plugins.
@Suite struct ClientAuthTests {
    @Test func kindClientCertificates() async throws {
        try await withServer(LocalAPIServer.Configuration(tls: true)) { server, client in
            let nodes: ListPage<Node> = try await client.list(.nodes)
            #expect(nodes.items.isEmpty)
            // Without the client certificate the server refuses.
            var anonymous = client.configuration
            anonymous.tls.clientCertificate = nil
            anonymous.tls.clientKey = nil
            let noCert = KubernetesClient(configuration: anonymous, qps: 0)
            defer { noCert.shutdown() }
            let refused = await #expect(throws: APIError.self) { let _: ListPage<Node> = try await noCert.list(.nodes) }
            #expect(refused?.isUnauthorized == true)
            // With another CA the server is not trusted.
            var wrongCA = client.configuration
            wrongCA.tls.certificateAuthority = Data(KubeConfigTests.caPEM.utf8)
            let untrusting = KubernetesClient(configuration: wrongCA, qps: 0)
            defer { untrusting.shutdown() }
            let tlsError = await #expect(throws: TransportError.self) { let _: ListPage<Node> = try await untrusting.list(.nodes) }
            #expect(tlsError?.kind == .tls)
            _ = server
        }
    }

    @Test func bearerTokenAndTokenFile() async throws {
        try await withServer(LocalAPIServer.Configuration(bearerTokens: ["secret-token"])) { server, client in
            let _: ListPage<Node> = try await client.list(.nodes)
            let tokenFile = try writeTemporary("secret-token\n", name: "token")
            let fromFile = KubernetesClient(configuration: ClientConfiguration(server: server.url, credentials: .tokenFile(tokenFile)), qps: 0)
            defer { fromFile.shutdown() }
            let _: ListPage<Node> = try await fromFile.list(.nodes)
            let wrong = KubernetesClient(configuration: ClientConfiguration(server: server.url, credentials: .bearerToken("nope")), qps: 0)
            defer { wrong.shutdown() }
            let refused = await #expect(throws: APIError.self) { let _: ListPage<Node> = try await wrong.list(.nodes) }
            #expect(refused?.statusCode == 401)
        }
    }

    @Test func tlsServerNameIsVerifiedInsteadOfTheHost() async throws {
        try await withServer(LocalAPIServer.Configuration(tls: true)) { _, client in
            // The server certificate names 127.0.0.1, ::1 and localhost.
            var named = client.configuration
            named.tls.serverName = "localhost"
            let ok = KubernetesClient(configuration: named, qps: 0)
            defer { ok.shutdown() }
            let _: ListPage<Node> = try await ok.list(.nodes)
            var wrong = client.configuration
            wrong.tls.serverName = "not-the-server.example"
            let refused = KubernetesClient(configuration: wrong, qps: 0)
            defer { refused.shutdown() }
            let error = await #expect(throws: TransportError.self) { let _: ListPage<Node> = try await refused.list(.nodes) }
            #expect(error?.kind == .tls)
        }
    }

    @Test func rotatedTokenFileIsReadAgainAfter401() async throws {
        try await withServer(LocalAPIServer.Configuration(bearerTokens: ["new-token"])) { server, _ in
            let tokenFile = try writeTemporary("old-token\n", name: "token")
            let client = KubernetesClient(configuration: ClientConfiguration(server: server.url, credentials: .tokenFile(tokenFile)), qps: 0)
            defer { client.shutdown() }
            let refused = await #expect(throws: APIError.self) { let _: ListPage<Node> = try await client.list(.nodes) }
            #expect(refused?.isUnauthorized == true)
            // The kubelet rotates the projected token; the client must pick it up.
            try "new-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let _: ListPage<Node> = try await client.list(.nodes)
        }
    }

    @Test func execPluginSuppliesTheToken() async throws {
        try await withServer(LocalAPIServer.Configuration(bearerTokens: ["from-plugin"])) { server, _ in
            let counter = try writeTemporary("", name: "calls")
            let script = try writeTemporary("""
            #!/bin/sh
            echo x >> \(counter)
            case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) echo "no exec info" >&2; exit 3;; esac
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin","expirationTimestamp":"2999-01-01T00:00:00Z"}}'
            """, name: "plugin.sh", executable: true)
            let kubeconfig = try writeTemporary("""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "\(server.url)"}}]
            users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: "\(script)", interactiveMode: Never}}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            current-context: x
            """, name: "kubeconfig")
            let client = KubernetesClient(configuration: try ClientConfiguration.resolve(kubeconfigPath: kubeconfig, environment: [:]), qps: 0)
            defer { client.shutdown() }
            let _: ListPage<Node> = try await client.list(.nodes)
            let _: ListPage<Node> = try await client.list(.nodes)
            // Cached until expirationTimestamp: the plugin ran once.
            #expect(try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count == 1)
        }
    }
}
