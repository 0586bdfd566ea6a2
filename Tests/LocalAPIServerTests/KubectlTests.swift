import Foundation
import KubeClient
import LocalAPIServer
import Testing

/// Runs the real kubectl against a server with its own kubeconfig and KUBECACHEDIR.
struct Kubectl {
    static let path = "/usr/bin/kubectl"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: path) }
    let dir: URL
    let kubeconfig: URL

    init(kubeconfig text: String) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubectl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("cache"), withIntermediateDirectories: true)
        kubeconfig = dir.appendingPathComponent("kubeconfig")
        try text.write(to: kubeconfig, atomically: true, encoding: .utf8)
    }

    func cleanup() { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func start(_ args: [String]) throws -> ChildProcess {
        var env = ProcessInfo.processInfo.environment
        env["KUBECACHEDIR"] = dir.appendingPathComponent("cache").path
        env["KUBECONFIG"] = kubeconfig.path
        return try ChildProcess(Kubectl.path, ["--kubeconfig", kubeconfig.path] + args, environment: env,
                                output: .capture, errors: .file(dir.appendingPathComponent("kubectl-errors.log").path))
    }

    /// Runs kubectl to completion; returns exit status and combined output.
    func run(_ args: String...) throws -> (Int32, String) {
        var env = ProcessInfo.processInfo.environment
        env["KUBECACHEDIR"] = dir.appendingPathComponent("cache").path
        env["KUBECONFIG"] = kubeconfig.path
        let child = try ChildProcess(Kubectl.path, ["--kubeconfig", kubeconfig.path] + args, environment: env,
                                     output: .capture, errors: .capture)
        let (output, errors) = child.readOutput()
        return (child.wait().status, String(decoding: output + errors, as: UTF8.self))
    }
}

/// Reads a running process's output until it contains `needle` (or the process ends).
func readUntil(_ child: ChildProcess, contains needle: String) -> String {
    var text = ""
    while !text.contains(needle), let chunk = child.readOutputChunk() {
        text += String(decoding: chunk, as: UTF8.self)
    }
    return text
}

let crdYAML = """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Cluster
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  size: {type: integer, minimum: 1}
    """

let nodeYAML = """
    apiVersion: v1
    kind: Node
    metadata: {name: n1, labels: {node-role.kubernetes.io/control-plane: ""}}
    status:
      conditions: [{type: Ready, status: "True"}]
      addresses: [{type: InternalIP, address: 10.0.0.5}]
      nodeInfo: {kubeletVersion: v1.32.2, osImage: Debian, kernelVersion: "6.1", containerRuntimeVersion: "containerd://1.7"}
    """

/// Runs `body` with a fresh server and a kubectl bound to its kind-shaped kubeconfig; skips (printing why) without kubectl.
func withKubectl(_ config: LocalAPIServer.Configuration = .init(), _ body: (LocalAPIServer, Kubectl) async throws -> Void) async throws {
    guard Kubectl.available else {
        print("skipping: kubectl not found at \(Kubectl.path)")
        return
    }
    try await withServer(config) { s in
        let k = try Kubectl(kubeconfig: s.kubeconfig(name: "kind"))
        defer { k.cleanup() }
        try await body(s, k)
    }
}

@Suite(.serialized) struct KubectlTests {
    @Test func crdCustomResourcesAndPrinterColumns() async throws {
        try await withKubectl { s, k in
            let crd = try k.file("crd.yaml", crdYAML)
            var r = try k.run("apply", "-f", crd)
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")
            #expect(r.0 == 0, "\(r.1)")
            #expect(r.1.contains("condition met"))
            let w = try k.file("w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n")
            r = try k.run("apply", "-f", w)
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("get", "wg")
            #expect(r.0 == 0, "\(r.1)")
            let lines = r.1.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(lines.first == ["NAME", "SIZE", "AGE"])
            #expect(lines.dropFirst().first?.prefix(2) == ["w1", "3"])
            let bad = try k.file("bad.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 0, nope: 1}\n")
            r = try k.run("create", "-f", bad)
            #expect(r.0 != 0)
            #expect(r.1.contains("unknown field \"spec.nope\""), "\(r.1)")
        }
    }

    @Test func nodesWideLabelPatchReplaceConflict() async throws {
        try await withKubectl { s, k in
            var r = try k.run("create", "-f", try k.file("node.yaml", nodeYAML))
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("get", "nodes", "-o", "wide")
            #expect(r.1.contains("INTERNAL-IP"), "\(r.1)")
            #expect(r.1.contains("CONTAINER-RUNTIME"))
            let row = r.1.split(separator: "\n").dropFirst().first?.split(separator: " ").map(String.init) ?? []
            #expect(row.first == "n1")
            #expect(row.contains("Ready") && row.contains("control-plane") && row.contains("10.0.0.5"), "\(row)")
            r = try k.run("label", "node", "n1", "zone=a")
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("patch", "node", "n1", "--type", "merge", "-p", #"{"metadata":{"labels":{"x":"y"}}}"#)
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("patch", "node", "n1", "--type", "json", "-p", #"[{"op":"add","path":"/metadata/labels/j","value":"k"}]"#)
            #expect(r.0 == 0, "\(r.1)")
            let labels = try s.request("GET", "/api/v1/nodes/n1").json["metadata"]?["labels"]
            #expect(labels?["zone"] == "a" && labels?["x"] == "y" && labels?["j"] == "k")
            let stale = try k.run("get", "node", "n1", "-o", "json")
            let stalePath = try k.file("stale.json", stale.1)
            _ = try k.run("label", "node", "n1", "more=1")
            r = try k.run("replace", "-f", stalePath)
            #expect(r.0 != 0)
            #expect(r.1.contains("Conflict"), "\(r.1)")
        }
    }

    @Test func deleteWaitsForFinalizerAndGetWatch() async throws {
        try await withKubectl { s, k in
            _ = try s.request("POST", "/api/v1/namespaces/default/configmaps", ["metadata": ["name": "held", "finalizers": ["example.com/hold"]]])
            let del = try k.start(["delete", "configmap", "held", "--timeout=30s"])
            // kubectl prints "deleted" once the server set deletionTimestamp, then waits for the object to go.
            let printed = readUntil(del, contains: "deleted")
            #expect(printed.contains("configmap \"held\" deleted"), "\(printed)")
            #expect(del.isRunning)
            _ = try s.request("PATCH", "/api/v1/namespaces/default/configmaps/held", ["metadata": ["finalizers": nil]],
                              contentType: "application/merge-patch+json")
            #expect(del.wait().succeeded)
            #expect(try s.request("GET", "/api/v1/namespaces/default/configmaps/held").status == 404)

            _ = try s.request("POST", "/api/v1/nodes", node("w1"))
            let watch = try k.start(["get", "nodes", "-w"])
            let header = readUntil(watch, contains: "w1")
            #expect(header.contains("NAME"), "\(header)")
            _ = try s.request("POST", "/api/v1/nodes", node("w2"))
            let more = readUntil(watch, contains: "w2")
            #expect(more.contains("w2"), "\(more)")
            watch.signal(SIGTERM)
            _ = watch.wait()
        }
    }

    /// Issue 10 item 5: the ClusterCIDR CRD's CEL rules hold against kubectl's create, replace, patch and apply.
    @Test func clusterCIDRValidationRulesRefuseWhatKubeApiserverRefuses() async throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        try await withKubectl { s, k in
            var r = try k.run("apply", "-f", root.appendingPathComponent("config/crd/networking.x-k8s.io_clustercidrs.yaml").path)
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("wait", "--for=condition=Established", "crd/clustercidrs.networking.x-k8s.io", "--timeout=20s")
            #expect(r.0 == 0, "\(r.1)")
            let pool = try k.file("pool.yaml", """
                apiVersion: networking.x-k8s.io/v1
                kind: ClusterCIDR
                metadata: {name: dual-ccc}
                spec:
                  perNodeHostBits: 8
                  ipv4: 10.2.0.0/16
                  ipv6: "fd00:2::/112"
                  nodeSelector:
                    nodeSelectorTerms:
                    - matchExpressions:
                      - {key: zone, operator: In, values: [a]}

                """)
            r = try k.run("apply", "-f", pool)
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("get", "cc", "-o", "name")
            #expect(r.1.contains("clustercidr.networking.x-k8s.io/dual-ccc"), "\(r.1)")

            // Immutable fields: patch (merge and JSON), replace and apply are all refused with the rule's message.
            r = try k.run("patch", "cc", "dual-ccc", "--type", "merge", "-p", #"{"spec":{"ipv4":"10.99.0.0/16"}}"#)
            #expect(r.0 != 0)
            #expect(r.1.contains(#"The ClusterCIDR "dual-ccc" is invalid: spec.ipv4: Invalid value: "string": IPv4 cannot be changed."#), "\(r.1)")
            r = try k.run("patch", "cc", "dual-ccc", "--type", "json", "-p", #"[{"op":"replace","path":"/spec/perNodeHostBits","value":6}]"#)
            #expect(r.0 != 0)
            #expect(r.1.contains(#"spec.perNodeHostBits: Invalid value: "integer": PerNodeHostBits cannot be changed."#), "\(r.1)")
            r = try k.run("patch", "cc", "dual-ccc", "--type", "merge", "-p", #"{"spec":{"nodeSelector":{"nodeSelectorTerms":[]}}}"#)
            #expect(r.0 != 0)
            #expect(r.1.contains(#"The ClusterCIDR "dual-ccc" is invalid: spec.nodeSelector: Invalid value: "object": NodeSelector cannot be changed."#), "\(r.1)")
            r = try k.run("patch", "cc", "dual-ccc", "--type", "json", "-p", #"[{"op":"remove","path":"/spec/ipv6"}]"#)
            #expect(r.0 != 0)
            #expect(r.1.contains(#"spec: Invalid value: "object": ipv4, ipv6 and nodeSelector cannot be added or removed."#), "\(r.1)")
            let current = try k.run("get", "cc", "dual-ccc", "-o", "json").1
            let edited = try k.file("edited.json", current.replacingOccurrences(of: "\"perNodeHostBits\": 8", with: "\"perNodeHostBits\": 9"))
            #expect(edited != current)
            r = try k.run("replace", "-f", edited)
            #expect(r.0 != 0)
            #expect(r.1.contains("PerNodeHostBits cannot be changed."), "\(r.1)")
            let applied = try k.file("applied.yaml", """
                apiVersion: networking.x-k8s.io/v1
                kind: ClusterCIDR
                metadata: {name: dual-ccc}
                spec: {perNodeHostBits: 8, ipv4: 10.3.0.0/16, ipv6: "fd00:3::/112"}

                """)
            r = try k.run("apply", "-f", applied)
            #expect(r.0 != 0)
            #expect(r.1.contains("IPv4 cannot be changed."), "\(r.1)")
            #expect(r.1.contains("IPv6 cannot be changed."), "\(r.1)")

            // Labels and status are not spec: allowed.
            r = try k.run("label", "cc", "dual-ccc", "team=net")
            #expect(r.0 == 0, "\(r.1)")
            r = try k.run("patch", "cc", "dual-ccc", "--subresource=status", "--type", "merge", "-p", #"{"status":{"usage":"0/256"}}"#)
            #expect(r.0 == 0, "\(r.1)")

            // Create: every failing rule is reported.
            let bad = try k.file("bad.yaml", """
                apiVersion: networking.x-k8s.io/v1
                kind: ClusterCIDR
                metadata: {name: bad}
                spec:
                  perNodeHostBits: 40
                  ipv4: 010.0.0.0/16
                  ipv6: "fd00::/120"
                  nodeSelector:
                    nodeSelectorTerms:
                    - matchExpressions:
                      - {key: zone, operator: Gt, values: ["a"]}

                """)
            r = try k.run("create", "-f", bad)
            #expect(r.0 != 0)
            for message in [
                #"spec.ipv4: Invalid value: "string": IPv4 must be a valid IPv4 CIDR."#,
                #"spec: Invalid value: "object": PerNodeHostBits (or PerNodeHostBitsIPv6 when set) must be less than or equal to 128 minus the IPv6 prefix length."#,
                #"spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0]: Invalid value: "object": values must be a single integer when operator is Gt or Lt."#,
            ] {
                #expect(r.1.contains(message), "\(message)\n\(r.1)")
            }
            #expect(try s.request("GET", "/apis/networking.x-k8s.io/v1/clustercidrs/bad").status == 404)
            r = try k.run("get", "cc", "dual-ccc", "-o", "jsonpath={.spec.ipv4} {.spec.perNodeHostBits}")
            #expect(r.1 == "10.2.0.0/16 8", "\(r.1)")
        }
    }

    @Test func httpsWithClientCertificateAndRefusalWithout() async throws {
        try await withKubectl(.init(tls: true)) { s, k in
            let config = s.kubeconfig(name: "kind")
            #expect(config.contains("certificate-authority-data:"))
            #expect(config.contains("client-certificate-data:"))
            #expect(config.contains("client-key-data:"))
            #expect(config.contains("current-context: kind-kind"))
            var r = try k.run("get", "namespaces")
            #expect(r.0 == 0, "\(r.1)")
            #expect(r.1.contains("kube-system"))
            // Same CA, no client certificate (and a token the server does not know): the server answers 401.
            let ca = Data(try #require(s.certificates).caPEM.utf8).base64EncodedString()
            let anonymous = """
                apiVersion: v1
                kind: Config
                clusters:
                - cluster: {certificate-authority-data: \(ca), server: "\(s.url)"}
                  name: c
                users:
                - name: u
                  user: {token: not-a-known-token}
                contexts:
                - context: {cluster: c, user: u}
                  name: x
                current-context: x
                """
            let k2 = try Kubectl(kubeconfig: anonymous + "\n")
            defer { k2.cleanup() }
            r = try k2.run("get", "namespaces")
            #expect(r.0 != 0)
            #expect(r.1.contains("the server has asked for the client to provide credentials"), "\(r.1)")  // kubectl's text for a 401
        }
    }
}
