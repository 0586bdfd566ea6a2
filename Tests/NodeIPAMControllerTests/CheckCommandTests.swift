import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
@testable import NodeIPAMController
import Testing
import TestSupport

/// `node-ipam-controller check` against LocalAPIServer: each finding, with its exact output,
/// and the exit codes (0 clean, 1 problems, 2 could not check).
@Suite struct CheckCommandTests {
    func check(_ h: Harness, _ flags: String...) async -> CommandResult {
        await CheckCommand.execute(["--kubeconfig", h.kubeconfigPath] + flags, environment: [:])
    }

    func table(_ rows: [(String, String, String)], nodes: Int, pools: Int) -> String {
        ReportTable.render(header: ["KIND", "OBJECT", "MESSAGE"], rows: rows.map { [$0.0, $0.1, $0.2] })
            + "\n\n\(rows.count) problem\(rows.count == 1 ? "" : "s") found in \(nodes) node\(nodes == 1 ? "" : "s") and \(pools) ClusterCIDR\(pools == 1 ? "" : "s")."
    }

    @Test func clusterMigratedFromKubeControllerManagerReportsNothing() async throws {
        try await withHarness { h in
            // kube-controller-manager --cluster-cidr=10.244.0.0/16 --node-cidr-mask-size=24 gave these.
            for i in 0..<3 { try await h.createNode("n\(i)", podCIDRs: ["10.244.\(i).0/24"]) }
            try await h.createNode("waiting-for-the-switch")
            // Before the switch: the pool does not exist yet; --cluster-cidr says what it will be.
            let before = await check(h, "--cluster-cidr", "10.244.0.0/16", "--service-cluster-ip-range", "10.96.0.0/12")
            #expect(before.code == 1)
            #expect(before.output == table([("NoPodCIDRs", "Node/waiting-for-the-switch",
                                              "ClusterCIDR default-cluster-cidr has room (it would get 10.244.3.0/24): is the controller running and holding its Lease? (kubectl -n kube-system get lease node-ipam-controller)")],
                                            nodes: 4, pools: 1))
            try await h.client.delete(.nodes, name: "waiting-for-the-switch")
            let _: ClusterCIDR = try await h.client.create(.clusterCIDRs, DefaultClusterCIDR.object(clusterCIDRs: ["10.244.0.0/16"]))
            let after = await check(h, "--service-cluster-ip-range", "10.96.0.0/12")
            #expect(after == CommandResult(code: 0, output: "No problems found in 3 nodes and 1 ClusterCIDR."))
            let json = await check(h, "-o", "json")
            #expect(json.code == 0)
            #expect(json.output == "{\n  \"clusterCIDRs\" : 1,\n  \"nodes\" : 3,\n  \"problems\" : [\n\n  ]\n}")
        }
    }

    @Test func nodeRangesThatDoNotBelong() async throws {
        try await withHarness { h in
            try await h.createPool("v4", ipv4: "10.0.0.0/16", hostBits: 8)
            try await h.createPool("v6", ipv6: "fd00::/48", hostBits: 64)
            try await h.createNode("a", podCIDRs: ["10.0.1.0/24"])
            try await h.createNode("b", podCIDRs: ["10.0.1.0/24"])
            try await h.createNode("c", podCIDRs: ["192.168.0.0/24"])
            try await h.createNode("d", podCIDRs: ["10.0.2.0/25"])
            try await h.createNode("e", podCIDRs: ["10.0.3.0/24", "fd00::/64"])
            try await h.createNode("f", podCIDRs: ["10.96.0.0/24"])
            try await h.createNode("g", podCIDRs: ["10.0.5.0/24"])
            let result = await check(h, "--service-cluster-ip-range", "10.96.0.0/12", "--exclude-cidrs", "10.0.5.0/26")
            #expect(result.code == 1)
            #expect(result.output == table([
                ("PodCIDROverlap", "Node/b", "10.0.1.0/24 overlaps 10.0.1.0/24 of node a: drain, delete and re-register one of them"),
                ("OutsideClusterCIDRs", "Node/c", "192.168.0.0/24 lies in no ClusterCIDR: kept and never handed out; add a ClusterCIDR covering it if the node should count in a pool"),
                ("PodCIDRSizeMismatch", "Node/d", "10.0.2.0/25 lies in ClusterCIDR v4 (10.0.0.0/16), whose nodes get /24: kept, counted in no pool; re-register the node for a range of the pool's size"),
                ("PodCIDRsFromTwoClusterCIDRs", "Node/e", "10.0.3.0/24 fits ClusterCIDR v4, fd00::/64 fits ClusterCIDR v6: a node's ranges come from one pool; re-register the node"),
                ("ServiceRangeOverlap", "Node/f", "10.96.0.0/24 overlaps the Service range 10.96.0.0/12: drain, delete and re-register the node"),
                ("OutsideClusterCIDRs", "Node/f", "10.96.0.0/24 lies in no ClusterCIDR: kept and never handed out; add a ClusterCIDR covering it if the node should count in a pool"),
                ("ExcludedRangeOverlap", "Node/g", "10.0.5.0/24 overlaps 10.0.5.0/26, excluded by --exclude-cidrs: kept; re-register the node to move it out"),
            ], nodes: 7, pools: 2))
        }
    }

    @Test func rangesInsideAPoolsExclusionAnnotation() async throws {
        try await withHarness { h in
            var pool = ClusterCIDR(name: "p", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/16"))
            pool.metadata.annotations = [ClusterCIDR.excludeCIDRsAnnotation: "10.0.7.0/24"]
            let _: ClusterCIDR = try await h.client.create(.clusterCIDRs, pool)
            try await h.createNode("a", podCIDRs: ["10.0.7.0/24"])
            let result = await check(h)
            #expect(result.output == table([
                ("ExcludedRangeOverlap", "Node/a", "10.0.7.0/24 overlaps 10.0.7.0/24, excluded by exclude-cidrs annotation of ClusterCIDR p: kept; re-register the node to move it out"),
            ], nodes: 1, pools: 1))
        }
    }

    @Test func nodesWithoutPodCIDRsAndWhy() async throws {
        try await withHarness(validationRules: false) { h in
            // Two ranges, both taken: exhausted.
            try await h.createPool("small", ipv4: "10.1.0.0/27", hostBits: 4, selector: ["group": "small"])
            try await h.createNode("s1", labels: ["group": "small"], podCIDRs: ["10.1.0.0/28"])
            try await h.createNode("s2", labels: ["group": "small"], podCIDRs: ["10.1.0.16/28"])
            try await h.createNode("s3", labels: ["group": "small"])
            // Only an invalid pool selects it.
            try await h.createPool("broken", ipv4: "10.2.0.0/16", hostBits: 40, selector: ["group": "broken"])
            try await h.createNode("x", labels: ["group": "broken"])
            // No pool selects it.
            try await h.createNode("y", labels: ["group": "none"])
            // 15 of 16 ranges in use: nearly exhausted.
            try await h.createPool("busy", ipv4: "10.3.0.0/24", hostBits: 4, selector: ["group": "busy"])
            for i in 0..<15 { try await h.createNode("busy-\(i)", labels: ["group": "busy"], podCIDRs: ["10.3.0.\(i * 16)/28"]) }
            let result = await check(h)
            #expect(result.code == 1)
            #expect(result.output == table([
                ("InvalidClusterCIDR", "ClusterCIDR/broken", "ClusterCIDR \"broken\": spec.perNodeHostBits: 40 is larger than the 16 host bits of 10.2.0.0/16: must be less than or equal to 16 (it allocates nothing: delete it and create a corrected one)"),
                ("ClusterCIDRNearlyExhausted", "ClusterCIDR/busy", "IPv4 10.3.0.0/24: 15 of 16 node ranges in use, 1 free: add a ClusterCIDR before it runs out"),
                ("ClusterCIDRExhausted", "ClusterCIDR/small", "IPv4 10.1.0.0/27: all 2 node ranges in use: new nodes it selects wait; add a ClusterCIDR for them"),
                ("NoPodCIDRs", "Node/s3", "the ClusterCIDRs that select it are full: ClusterCIDR small has no free IPv4 range left in 10.1.0.0/27: add a ClusterCIDR or delete nodes"),
                ("NoPodCIDRs", "Node/x", "only invalid ClusterCIDRs select it (broken): fix them (delete and create corrected ones)"),
                ("NoPodCIDRs", "Node/y", "no ClusterCIDR selects it (labels: group=none): create one whose nodeSelector matches, or one without nodeSelector as a fallback"),
            ], nodes: 20, pools: 3))
        }
    }

    @Test func aNodeSelectedOnlyByAPoolBeingDeleted() async throws {
        try await withHarness { h in
            var pool = ClusterCIDR(name: "going", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.4.0.0/16"))
            pool.metadata.finalizers = [ClusterCIDR.finalizer]
            let _: ClusterCIDR = try await h.client.create(.clusterCIDRs, pool)
            try await h.createNode("holder", podCIDRs: ["10.4.0.0/24"])
            try await h.createNode("late")
            try await h.client.delete(.clusterCIDRs, name: "going") // kept by its finalizer, Terminating
            let result = await check(h)
            #expect(result.output == table([
                ("NoPodCIDRs", "Node/late", "the ClusterCIDRs that select it allocate no more: going (being deleted): create another ClusterCIDR for it"),
            ], nodes: 2, pools: 1))
        }
    }

    /// The API server refuses a podCIDR that is not a CIDR, so this one is checked on a snapshot.
    @Test func podCIDRsThatAreNotCIDRs() {
        var node = NodeView(Node(metadata: ObjectMeta(name: "x"), spec: Node.Spec(podCIDR: "10.0.0.0/24", podCIDRs: ["10.0.0.0/24", "banana"])))
        node.podCIDRs = ["10.0.0.0/24", "banana"]
        let findings = ClusterAudit.findings(ClusterSnapshot(pools: [], nodes: [node]))
        #expect(findings.first == Finding(kind: "InvalidPodCIDR", object: "Node/x", message: "podCIDR \"banana\": missing \"/<prefix length>\": left as is; re-register the node"))
    }

    @Test func couldNotCheckIsOneLineAndExitCode2() async throws {
        let missing = await CheckCommand.execute(["--kubeconfig", "/nonexistent/kubeconfig"], environment: [:])
        #expect(missing == CommandResult(code: 2, error: "node-ipam-controller check: --kubeconfig /nonexistent/kubeconfig: kubeconfig /nonexistent/kubeconfig does not exist"))
        let garbage = try writeTemporary("{ not: [ a kubeconfig", name: "kubeconfig")
        let bad = await CheckCommand.execute(["--kubeconfig", garbage], environment: [:])
        #expect(bad.code == 2 && bad.output.isEmpty && bad.error.hasPrefix("node-ipam-controller check: --kubeconfig \(garbage): ") && !bad.error.contains("\n"), "\(bad)")
        #expect(await CheckCommand.execute(["-o", "yaml"], environment: [:]) == CommandResult(code: 2, error: "node-ipam-controller check: -o yaml: expected table or json"))
        #expect(await CheckCommand.execute(["--bogus"], environment: [:]) == CommandResult(code: 2, error: "node-ipam-controller check: unknown flag --bogus; see --help"))
        #expect(await CheckCommand.execute(["--exclude-cidrs", "10.0.0.0/33"], environment: [:]).error.hasPrefix("node-ipam-controller check: --exclude-cidrs=10.0.0.0/33: "))
        #expect(await CheckCommand.execute(["--help"], environment: [:]).code == 0)
        // Without the CRD: the fix is named.
        let server = try await LocalAPIServer.start(LocalAPIServer.Configuration(tls: true))
        let path = try writeTemporary(server.kubeconfig(name: "no-crd"), name: "kubeconfig")
        let noCRD = await CheckCommand.execute(["--kubeconfig", path], environment: [:])
        try await server.stop()
        #expect(noCRD.code == 2)
        #expect(noCRD.error.hasSuffix("the ClusterCIDR CRD is not installed (kubectl apply -f config/crd/)"), "\(noCRD.error)")
    }
}
