import ClusterCIDRAPI
import Foundation
import KubeClient
import LocalAPIServer
import MultiCIDR
@testable import NodeIPAMController
import Testing
import TestSupport

/// What a pool tells its users: its accepted spec kept across changes admission let through,
/// its status as `kubectl get cc` shows it, and the Events about it and its nodes.
@Suite struct PoolStatusTests {
    @Test func aSpecChangeAdmissionLetThroughMovesNoNodeAndStopsAllocating() async throws {
        try await withHarness(validationRules: false) { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            _ = await h.startController()
            try await h.createNode("n0")
            try await h.createNode("n1")
            let before = ["n0": try await h.podCIDRs(of: "n0"), "n1": try await h.podCIDRs(of: "n1")]
            try await h.waitForPool("p") { $0?.acceptedSpec != nil && $0?.status?.nodes == 2 }
            #expect(try await h.pool("p").acceptedSpec?.spec.ipv4 == "10.0.0.0/16")

            // What a CRD without our CEL rules lets through.
            let _: ClusterCIDR = try await h.client.patch(.clusterCIDRs, name: "p", .merge(Data(#"{"spec":{"ipv4":"10.1.0.0/16","perNodeHostBits":6}}"#.utf8)))
            try await h.waitForPool("p") { $0?.status?.condition(.invalid)?.reason == "SpecChanged" }
            let pool = try await h.pool("p")
            #expect(pool.status?.state == "Invalid" && pool.status?.condition(.ready)?.status == "False")
            // Counted as accepted: same range, same nodes.
            #expect(pool.status?.ipv4?.cidr == "10.0.0.0/16" && pool.status?.ipv4?.allocated == 2 && pool.status?.nodes == 2)
            let warning = try await h.waitForEvent(reason: EventReason.clusterCIDRSpecChanged, about: "p")
            #expect(warning.type == "Warning" && warning.involvedObject.kind == ClusterCIDR.kind)
            let message = warning.message ?? ""
            #expect(message.contains("spec.ipv4 10.0.0.0/16 → 10.1.0.0/16") && message.contains("spec.perNodeHostBits 8 → 6"), "\(message)")
            #expect(message.contains("create a ClusterCIDR under a new name"), "\(message)")

            // It allocates no more, and the waiting node is told why.
            try await h.createNode("n2")
            let waiting = try await h.waitForEvent(reason: EventReason.cidrNotAvailable, about: "n2")
            #expect(waiting.message?.contains("allocate no more (p:") == true, "\(waiting.message ?? "")")
            #expect(try await h.client.get(.nodes, name: "n2", as: Node.self).podCIDRs.isEmpty)

            // A new process reads the accepted spec from the object: nothing is re-counted or moved.
            await h.stopControllers()
            let restarted = await h.startController()
            #expect(await restarted.reservation(for: "n0")?.pool == "p")
            #expect(await restarted.statistics(of: "p").map(\.prefix.description) == ["10.0.0.0/16"])
            #expect(await restarted.statistics(of: "p").first?.allocated == 2)
            for (name, cidrs) in before { #expect(try await h.client.get(.nodes, name: name, as: Node.self).podCIDRs == cidrs) }
            #expect(await restarted.reservation(for: "n2") == nil)
            #expect(try await h.pool("p").status?.condition(.invalid)?.reason == "SpecChanged")
        }
    }

    @Test func aPoolProtectedByAnEarlierVersionGetsItsSpecRecordedAsAccepted() async throws {
        try await withHarness { h in
            var pool = ClusterCIDR(name: "old", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/16"))
            pool.metadata.finalizers = [ClusterCIDR.finalizer]
            let created: ClusterCIDR = try await h.client.create(.clusterCIDRs, pool)
            #expect(created.acceptedSpec == nil)
            _ = await h.startController()
            try await h.waitForPool("old") { $0?.acceptedSpec?.spec.ipv4 == "10.0.0.0/16" && $0?.status?.state == "Ready" }
            #expect(try await h.pool("old").metadata.finalizers == [ClusterCIDR.finalizer])
        }
    }

    @Test func kubectlGetShowsStateAndBothFamiliesAndWideShowsWhoHoldsATerminatingPool() async throws {
        try await withHarness(validationRules: false) { h in
            guard try h.kubectl("version", "--client") != nil else {
                print("skipping: kubectl not found")
                return
            }
            try await h.createPool("dual", ipv4: "10.0.0.0/16", ipv6: "fd00::/112", hostBits: 8, selector: ["role": "dual"])
            try await h.createPool("small", ipv4: "10.1.0.0/26", hostBits: 4, selector: ["role": "small"])
            try await h.createPool("bad", ipv4: "10.2.0.0/16", hostBits: 40)
            try await h.createPool("going", ipv4: "10.3.0.0/16", hostBits: 8, selector: ["role": "going"])
            _ = await h.startController()
            for i in 0..<2 { try await h.createNode("d\(i)", labels: ["role": "dual"]) }
            for i in 0..<4 { try await h.createNode("s\(i)", labels: ["role": "small"]) }
            for i in 0..<7 { try await h.createNode("g\(i)", labels: ["role": "going"]) }
            try await h.waitForPool("going") { $0?.status?.nodes == 7 }
            try await h.client.delete(.clusterCIDRs, name: "going")
            try await h.waitForPool("dual") { $0?.status?.nodes == 2 }
            try await h.waitForPool("small") { $0?.status?.state == "Exhausted" }
            try await h.waitForPool("bad") { $0?.status?.state == "Invalid" }
            try await h.waitForPool("going") { $0?.status?.state == "Terminating" && $0?.status?.nodes == 7 }

            let plain = try #require(try h.kubectl("get", "cc"))
            #expect(plain.status == 0, "\(plain.output)")
            let table = PrintedTable(plain.output)
            #expect(table.headers == ["NAME", "STATE", "PERNODEHOSTBITS", "IPV4", "IPV6", "IPV4 USED", "IPV6 USED", "AGE"], "\(plain.output)")
            #expect(table.row("dual")?["STATE"] == "Ready" && table.row("dual")?["IPV4 USED"] == "2/256" && table.row("dual")?["IPV6 USED"] == "2/256", "\(plain.output)")
            #expect(table.row("small")?["STATE"] == "Exhausted" && table.row("small")?["IPV4 USED"] == "4/4" && table.row("small")?["IPV6 USED"] == "", "\(plain.output)")
            #expect(table.row("bad")?["STATE"] == "Invalid", "\(plain.output)")
            #expect(table.row("going")?["STATE"] == "Terminating" && table.row("going")?["IPV4 USED"] == "7/256", "\(plain.output)")

            let wide = try #require(try h.kubectl("get", "cc", "-o", "wide"))
            #expect(wide.status == 0, "\(wide.output)")
            let wideTable = PrintedTable(wide.output)
            #expect(Array(wideTable.headers.suffix(6)) == ["NODES", "IPV4 FREE", "IPV6 FREE", "IPV4 COOLING", "IPV6 COOLING", "MESSAGE"], "\(wide.output)")
            #expect(wideTable.row("dual")?["NODES"] == "2" && wideTable.row("dual")?["IPV6 FREE"] == "254", "\(wide.output)")
            #expect(wideTable.row("small")?["IPV4 FREE"] == "0", "\(wide.output)")
            #expect(wideTable.row("going")?["MESSAGE"]?.hasPrefix("Being deleted: 7 nodes (g0, g1, g2, g3, g4 and 2 more) still hold ranges") == true, "\(wide.output)")
            #expect(wideTable.row("bad")?["MESSAGE"]?.contains("perNodeHostBits") == true, "\(wide.output)")
        }
    }

    @Test func aPoolHeldByItsFinalizerSaysWhichNodesItWaitsFor() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            _ = await h.startController()
            try await h.createNode("n0")
            try await h.createNode("n1")
            _ = try await h.podCIDRs(of: "n0")
            _ = try await h.podCIDRs(of: "n1")
            try await h.client.delete(.clusterCIDRs, name: "p")
            let event = try await h.waitForEvent(reason: EventReason.clusterCIDRTerminating, about: "p")
            #expect(event.type == "Normal" && event.involvedObject.kind == ClusterCIDR.kind)
            #expect(event.message?.contains("2 nodes (n0, n1) still hold its ranges") == true, "\(event.message ?? "")")
            try await h.waitForPool("p") { $0?.status?.message?.contains("2 nodes (n0, n1)") == true }
            try await h.client.delete(.nodes, name: "n0")
            try await h.waitForPool("p") { $0?.status?.message?.contains("1 node (n1)") == true }
            try await h.client.delete(.nodes, name: "n1")
            try await h.waitForPool("p") { $0 == nil }
            // Said once, not once per released node.
            #expect(try await h.events(reason: EventReason.clusterCIDRTerminating).count == 1)
        }
    }

    @Test func aNodeServedByAFallbackPoolBecauseItsPoolIsFullIsTold() async throws {
        try await withHarness { h in
            try await h.createPool("special", ipv4: "10.0.0.0/26", hostBits: 4, selector: ["role": "special"])
            try await h.createPool("fallback", ipv4: "10.9.0.0/16", hostBits: 8)
            _ = await h.startController()
            for i in 0..<4 {
                try await h.createNode("s\(i)", labels: ["role": "special"])
                #expect(try await h.podCIDRs(of: "s\(i)") == ["10.0.0.\(i * 16)/28"])
            }
            let fallbackEvents = try await h.events(reason: EventReason.fallbackClusterCIDR)
            #expect(fallbackEvents.isEmpty)
            try await h.createNode("s4", labels: ["role": "special"])
            #expect(try await h.podCIDRs(of: "s4") == ["10.9.0.0/24"])
            let event = try await h.waitForEvent(reason: EventReason.fallbackClusterCIDR, about: "s4")
            #expect(event.involvedObject.kind == "Node")
            #expect(event.message?.contains("from ClusterCIDR fallback") == true && event.message?.contains("ClusterCIDR special has no free IPv4 range left in 10.0.0.0/26") == true,
                    "\(event.message ?? "")")
            // The full pool says so on itself too.
            let onPool = try await h.waitForEvent(reason: EventReason.cidrNotAvailable, about: "special")
            #expect(onPool.type == "Warning" && onPool.involvedObject.kind == ClusterCIDR.kind)
        }
    }
}

/// A table as kubectl prints it: cells are read at the offsets of the header's titles
/// (titles may contain a space, as "IPV4 USED").
struct PrintedTable {
    var headers: [String] = []
    var rows: [[String: String]] = []

    init(_ text: String) {
        let lines = text.split(separator: "\n").map(String.init)
        guard let header = lines.first else { return }
        // A title starts after two spaces (or at the start); it may hold single spaces.
        var starts: [Int] = []
        let characters = Array(header)
        for index in characters.indices where characters[index] != " " {
            if index == 0 || (index >= 2 && characters[index - 1] == " " && characters[index - 2] == " ") { starts.append(index) }
        }
        func cells(_ line: String) -> [String] {
            let characters = Array(line)
            return starts.indices.map { column in
                let start = min(starts[column], characters.count)
                let end = column + 1 < starts.count ? min(starts[column + 1], characters.count) : characters.count
                return String(characters[start..<end]).trimmingCharacters(in: .whitespaces)
            }
        }
        headers = cells(header)
        rows = lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(headers, cells($0))) }
    }

    func row(_ name: String) -> [String: String]? { rows.first { $0["NAME"] == name } }
}
