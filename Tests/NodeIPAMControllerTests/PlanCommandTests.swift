import ClusterCIDRAPI
import Foundation
import KubeClient
@testable import NodeIPAMController
import Testing
import TestSupport

/// `node-ipam-controller plan` against LocalAPIServer (and offline with --nodes): each
/// outcome, with its exact output, and the exit codes.
@Suite struct PlanCommandTests {
    func plan(_ h: Harness, _ manifest: String, _ flags: String...) async throws -> CommandResult {
        let path = try writeTemporary(manifest, name: "plan.yaml")
        return await PlanCommand.execute(["--kubeconfig", h.kubeconfigPath, "-f", path] + flags, environment: [:])
    }

    func table(_ rows: [(String, String, String)], summary: String) -> String {
        ReportTable.render(header: ["ACTION", "OBJECT", "DETAIL"], rows: rows.map { [$0.0, $0.1, $0.2] }) + "\n\n" + summary
    }

    static let zoneB = """
        apiVersion: networking.x-k8s.io/v1
        kind: ClusterCIDR
        metadata:
          name: zone-b
        spec:
          nodeSelector:
            nodeSelectorTerms:
              - matchExpressions:
                  - key: zone
                    operator: In
                    values: [b]
          perNodeHostBits: 8
          ipv4: 10.2.0.0/24
        """

    @Test func addingAPoolServesWaitingNodesAndShowsCapacity() async throws {
        try await withHarness { h in
            try await h.createPool("zone-a", ipv4: "10.1.0.0/16", hostBits: 8, selector: ["zone": "a"])
            try await h.createNode("a1", labels: ["zone": "a"], podCIDRs: ["10.1.0.0/24"])
            try await h.createNode("b1", labels: ["zone": "b"])
            try await h.createNode("b2", labels: ["zone": "b"])
            let manifest = Self.zoneB
            let result = try await plan(h, manifest)
            #expect(result.code == 0)
            #expect(result.output == table([
                ("Add", "ClusterCIDR/zone-b", "10.2.0.0/24 (/24 per node); selects zone In b"),
                ("Assign", "Node/b1", "10.2.0.0/24 from ClusterCIDR zone-b"),
                ("Wait", "Node/b2", "the ClusterCIDRs that select it are full: ClusterCIDR zone-b has no free IPv4 range left in 10.2.0.0/24: add a ClusterCIDR or delete nodes"),
                ("Capacity", "nodes with zone=b", "ClusterCIDR zone-b: 0 more"),
            ], summary: "Plan: 1 to add, 0 to change, 0 to delete; 1 waiting node would get ranges, 1 would wait."))
        }
    }

    @Test func problemsOfAChange() async throws {
        try await withHarness { h in
            try await h.createPool("zone-b", ipv4: "10.2.0.0/16", hostBits: 8, selector: ["zone": "b"])
            try await h.createPool("all", ipv4: "10.9.0.0/16", hostBits: 8)
            try await h.createPool("legacy", ipv4: "10.7.0.0/16", hostBits: 8, selector: ["tier": "legacy"])
            try await h.createNode("old", podCIDRs: ["10.9.0.0/24"])
            try await h.createNode("older", labels: ["tier": "legacy"], podCIDRs: ["10.7.0.0/24"])
            // A changed spec (refused by admission), an invalid new pool, one overlapping ranges
            // in use, and deleting a pool whose node no other pool covers.
            let manifests = Self.zoneB.replacingOccurrences(of: "10.2.0.0/24", with: "10.2.0.0/16").replacingOccurrences(of: "perNodeHostBits: 8", with: "perNodeHostBits: 6") + """

                ---
                apiVersion: networking.x-k8s.io/v1
                kind: ClusterCIDR
                metadata: {name: too-big}
                spec: {perNodeHostBits: 20, ipv4: 10.5.0.0/16}
                ---
                apiVersion: networking.x-k8s.io/v1
                kind: ClusterCIDR
                metadata: {name: overlapping}
                spec: {perNodeHostBits: 8, ipv4: 10.9.0.0/20, nodeSelector: {nodeSelectorTerms: [{matchExpressions: [{key: tier, operator: In, values: [gold]}]}]}}
                """
            let result = try await plan(h, manifests, "--delete", "legacy")
            #expect(result.code == 1)
            #expect(result.output == table([
                ("Refused", "ClusterCIDR/zone-b", "its spec cannot change (spec.perNodeHostBits differs): create the new spec under a new name, then delete this one"),
                ("Invalid", "ClusterCIDR/too-big", "ClusterCIDR \"too-big\": spec.perNodeHostBits: 20 is larger than the 16 host bits of 10.5.0.0/16: must be less than or equal to 16"),
                ("Add", "ClusterCIDR/overlapping", "10.9.0.0/20 (/24 per node); selects tier In gold"),
                ("Conflict", "ClusterCIDR/overlapping", "overlaps ranges in use: ranges of 1 node (old) of other pools or none: they are skipped, so it has fewer free ranges than its size says"),
                ("Delete", "ClusterCIDR/legacy", "stays Terminating (allocates no more) until the nodes holding its ranges are deleted: 1 node (older)"),
                ("Orphan", "Node/older", "10.7.0.0/24 would lie in no remaining ClusterCIDR: kept, never handed out, but counted in no pool; add a ClusterCIDR covering them first, or delete the node"),
                ("Capacity", "nodes with tier=gold", "ClusterCIDR overlapping: 15 more, then ClusterCIDR all: 255 more"),
                ("Capacity", "nodes with tier=legacy", "ClusterCIDR all: 255 more"),
            ], summary: "Plan: 1 to add, 0 to change, 1 to delete; 0 waiting nodes would get ranges, 0 would wait; 4 problems."))
        }
    }

    @Test func exclusionChangesAndUnchangedPools() async throws {
        try await withHarness { h in
            try await h.createPool("zone-b", ipv4: "10.2.0.0/24", hostBits: 8, selector: ["zone": "b"])
            let unchanged = try await plan(h, Self.zoneB)
            #expect(unchanged == CommandResult(code: 0, output: table([("Unchanged", "ClusterCIDR/zone-b", "same spec and exclusions")],
                                                                      summary: "Plan: 0 to add, 0 to change, 0 to delete; 0 waiting nodes would get ranges, 0 would wait.")))
            let annotated = Self.zoneB.replacingOccurrences(of: "  name: zone-b", with: "  name: zone-b\n  annotations:\n    networking.x-k8s.io/exclude-cidrs: 10.2.0.0/28")
            let changed = try await plan(h, annotated)
            #expect(changed.output == table([("Change", "ClusterCIDR/zone-b", "excluded ranges none -> 10.2.0.0/28")],
                                            summary: "Plan: 0 to add, 1 to change, 0 to delete; 0 waiting nodes would get ranges, 0 would wait."))
        }
    }

    @Test func offlineWithNodesFromAFile() async throws {
        let nodes = try writeTemporary("""
            apiVersion: v1
            kind: List
            items:
              - {apiVersion: v1, kind: Node, metadata: {name: b1, labels: {zone: b}}}
              - {apiVersion: v1, kind: Node, metadata: {name: b2, labels: {zone: b}}, spec: {podCIDRs: [10.2.0.0/24]}}
            """, name: "nodes.yaml")
        let manifest = try writeTemporary(Self.zoneB.replacingOccurrences(of: "10.2.0.0/24", with: "10.2.0.0/22"), name: "pool.yaml")
        // The kubeconfig is never read: there is no cluster.
        let result = await PlanCommand.execute(["-f", manifest, "--nodes", nodes, "--kubeconfig", "/nonexistent"], environment: [:])
        #expect(result == CommandResult(code: 0, output: table([
            ("Add", "ClusterCIDR/zone-b", "10.2.0.0/22 (/24 per node); selects zone In b"),
            ("Assign", "Node/b1", "10.2.1.0/24 from ClusterCIDR zone-b"),
            ("Capacity", "nodes with zone=b", "ClusterCIDR zone-b: 2 more"),
        ], summary: "Plan: 1 to add, 0 to change, 0 to delete; 1 waiting node would get ranges, 0 would wait.")))
    }

    @Test func badInputIsOneLineAndExitCode2() async throws {
        let noNodes = try writeTemporary("", name: "nodes.yaml")
        func run(_ arguments: [String]) async -> CommandResult { await PlanCommand.execute(arguments + ["--nodes", noNodes], environment: [:]) }
        #expect(await run([]) == CommandResult(code: 2, error: "node-ipam-controller plan: -f is required: a ClusterCIDR manifest or a directory of them"))
        #expect(await run(["-f", "/nonexistent.yaml"]) == CommandResult(code: 2, error: "node-ipam-controller plan: -f /nonexistent.yaml: no such file or directory"))
        let wrongKind = try writeTemporary("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", name: "cm.yaml")
        #expect(await run(["-f", wrongKind]) == CommandResult(code: 2, error: "node-ipam-controller plan: -f \(wrongKind), document 1: kind ConfigMap, expected ClusterCIDR"))
        let badField = try writeTemporary("apiVersion: networking.x-k8s.io/v1\nkind: ClusterCIDR\nmetadata: {name: x}\nspec: {perNodeHostBits: lots}\n", name: "bad.yaml")
        #expect(await run(["-f", badField]) == CommandResult(code: 2, error: "node-ipam-controller plan: -f \(badField), document 1: ClusterCIDR x: spec.perNodeHostBits: expected Int32"))
        let noName = try writeTemporary("apiVersion: networking.x-k8s.io/v1\nkind: ClusterCIDR\nspec: {perNodeHostBits: 8}\n", name: "noname.yaml")
        #expect(await run(["-f", noName]) == CommandResult(code: 2, error: "node-ipam-controller plan: -f \(noName), document 1: the ClusterCIDR has no metadata.name"))
        let scalar = try writeTemporary("just text\n", name: "scalar.yaml")
        let garbage = await run(["-f", scalar])
        #expect(garbage.code == 2 && garbage.error.hasPrefix("node-ipam-controller plan: -f \(scalar)") && !garbage.error.contains("\n"), "\(garbage)")
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("plan-empty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(await run(["-f", empty]) == CommandResult(code: 2, error: "node-ipam-controller plan: -f \(empty): the directory has no .yaml, .yml or .json file"))
        let pool = try writeTemporary(Self.zoneB, name: "pool.yaml")
        #expect(await run(["-f", pool, "--delete", "gone"]) == CommandResult(code: 2, error: "node-ipam-controller plan: --delete gone: there is no ClusterCIDR gone in the cluster"))
    }
}
