import ClusterCIDRAPI
import Foundation
import KubeClient
import Logging
@testable import NodeIPAMController
import ServiceSupport
import Testing
import TestSupport

/// `--exclude-cidrs`, the ClusterCIDR exclusion annotation and `--release-cooldown`, against
/// LocalAPIServer.
@Suite struct ExclusionAndCooldownTests {
    @Test func excludedRangesAreNeverHandedOut() async throws {
        try await withHarness { h in
            var pool = ClusterCIDR(name: "p", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/22"))
            pool.metadata.annotations = [ClusterCIDR.excludeCIDRsAnnotation: "10.0.2.0/24"]
            let _: ClusterCIDR = try await h.client.create(.clusterCIDRs, pool)
            _ = await h.startController(ControllerConfiguration(excludeCIDRs: ["10.0.0.0/24"], statusDelay: .milliseconds(20)))
            try await h.createNode("n0")
            try await h.createNode("n1")
            try await h.createNode("n2")
            #expect(try await h.podCIDRs(of: "n0") == ["10.0.1.0/24"])
            #expect(try await h.podCIDRs(of: "n1") == ["10.0.3.0/24"])
            try await h.waitForEvent(reason: EventReason.cidrNotAvailable, about: "n2")
            #expect(try await h.waitForNode("n2").podCIDRs.isEmpty)
            // Dropping the annotation frees its range at once: the waiting node gets it.
            var current = try await h.pool("p")
            current.metadata.annotations?[ClusterCIDR.excludeCIDRsAnnotation] = nil
            let _: ClusterCIDR = try await h.client.update(.clusterCIDRs, name: "p", current)
            #expect(try await h.podCIDRs(of: "n2") == ["10.0.2.0/24"])
        }
    }

    @Test func anInvalidExclusionAnnotationMakesThePoolInvalid() async throws {
        try await withHarness { h in
            var pool = ClusterCIDR(name: "p", spec: ClusterCIDRSpec(perNodeHostBits: 8, ipv4: "10.0.0.0/16"))
            pool.metadata.annotations = [ClusterCIDR.excludeCIDRsAnnotation: "10.9.0.0/24, banana"]
            let _: ClusterCIDR = try await h.client.create(.clusterCIDRs, pool)
            _ = await h.startController()
            let message = "ClusterCIDR \"p\": metadata.annotations[networking.x-k8s.io/exclude-cidrs]: 10.9.0.0/24 is outside the pool's ranges (10.0.0.0/16): "
                + "list only ranges inside them, comma-separated; ClusterCIDR \"p\": metadata.annotations[networking.x-k8s.io/exclude-cidrs]: "
                + "\"banana\" is not a CIDR (missing \"/<prefix length>\"): list CIDRs such as 10.0.0.0/28, comma-separated"
            let event = try await h.waitForEvent(reason: EventReason.clusterCIDRInvalid, about: "p")
            #expect(event.type == "Warning")
            #expect(event.message == message)
            try await h.waitForPool("p") { $0?.status?.condition(.invalid)?.status == "True" }
            let status = try await h.pool("p").status
            #expect(status?.state == "Invalid")
            #expect(status?.message == message)
            // Corrected: the pool allocates, without the excluded range.
            var current = try await h.pool("p")
            current.metadata.annotations?[ClusterCIDR.excludeCIDRsAnnotation] = "10.0.0.0/24"
            let _: ClusterCIDR = try await h.client.update(.clusterCIDRs, name: "p", current)
            try await h.createNode("n0")
            #expect(try await h.podCIDRs(of: "n0") == ["10.0.1.0/24"])
        }
    }

    @Test func aBadAnnotationNeverBlocksADeletion() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/16", hostBits: 8)
            _ = await h.startController()
            try await h.createNode("n0")
            _ = try await h.podCIDRs(of: "n0")
            try await h.client.delete(.clusterCIDRs, name: "p")
            try await h.waitForPool("p") { $0?.status?.state == "Terminating" }
            var current = try await h.pool("p")
            current.metadata.annotations?[ClusterCIDR.excludeCIDRsAnnotation] = "not a range"
            let _: ClusterCIDR = try await h.client.update(.clusterCIDRs, name: "p", current)
            try await h.client.delete(.nodes, name: "n0")
            try await h.waitForPool("p") { $0 == nil }
        }
    }

    @Test func aReleasedRangeCoolsDownBeforeReuse() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/27", hostBits: 4)
            // Long enough that the new node arrives while the range still cools, however slow the
            // machine (with 3 s, CI's cooldown ended before n3 was seen and no event was written).
            _ = await h.startController(ControllerConfiguration(releaseCooldown: .seconds(15), statusDelay: .milliseconds(20)))
            try await h.createNode("n1")
            try await h.createNode("n2")
            let released = try await h.podCIDRs(of: "n1")
            _ = try await h.podCIDRs(of: "n2")
            try await h.client.delete(.nodes, name: "n1")
            try await h.waitForPool("p") { $0?.status?.ipv4?.cooling == 1 }
            let status = try await h.pool("p").status
            #expect(status?.coolingRanges?.map(\.cidr) == released)
            #expect(status?.ipv4?.free == "0")
            // Full while the range cools: the new node waits, then gets it.
            try await h.createNode("n3")
            try await h.waitForEvent(reason: EventReason.cidrNotAvailable, about: "n3")
            #expect(try await h.podCIDRs(of: "n3") == released)
            try await h.waitForPool("p") { $0?.status?.coolingRanges == nil && $0?.status?.ipv4?.cooling == nil }
        }
    }
}

extension ProcessTests {
    /// The cooldown is kept in the pool's status: a controller started again (a restart or a new
    /// leader) keeps the range out of allocation until its time.
    @Test func releaseCooldownSurvivesARestart() async throws {
        try await withHarness { h in
            try await h.createPool("p", ipv4: "10.0.0.0/27", hostBits: 4)
            var firstOptions = settings(h, identity: "first")
            firstOptions.releaseCooldown = .seconds(3600)
            let options = firstOptions
            let errors = Collector<String>()
            let started = Collector<String>()
            let stopFirst = ShutdownTrigger()
            let first = Task { try await RunCommand.run(options, environment: [:], logger: errorLogger(errors, "first"), shutdown: stopFirst) { controller, _ in
                Task { await controller.waitUntilReady(); started.push("first") }
            } }
            #expect(try await started.next { _ in true } == "first")
            try await h.createNode("n1")
            try await h.createNode("n2")
            let released = try await h.podCIDRs(of: "n1")
            _ = try await h.podCIDRs(of: "n2")
            try await h.client.delete(.nodes, name: "n1")
            try await h.waitForPool("p") { $0?.status?.coolingRanges?.map(\.cidr) == released }
            await stopFirst.shutdown()
            #expect(try await first.value == 0, "errors: \(errors.all)")

            var secondOptions = options
            secondOptions.leaderElectID = "second"
            let restarted = secondOptions
            let stopSecond = ShutdownTrigger()
            let second = Task { try await RunCommand.run(restarted, environment: [:], logger: errorLogger(errors, "second"), shutdown: stopSecond) { controller, _ in
                Task { await controller.waitUntilReady(); started.push("second") }
            } }
            #expect(try await started.next { _ in true } == "second")
            try await h.createNode("n3")
            let event = try await h.waitForEvent(reason: EventReason.cidrNotAvailable, about: "n3")
            #expect(event.message?.contains("ClusterCIDR p has no free IPv4 range left in 10.0.0.0/27") == true, "\(event.message ?? "")")
            #expect(try await h.waitForNode("n3").podCIDRs.isEmpty)
            let status = try await h.pool("p").status
            #expect(status?.coolingRanges?.map(\.cidr) == released)
            #expect(status?.ipv4?.cooling == 1)
            await stopSecond.shutdown()
            #expect(try await second.value == 0, "errors: \(errors.all)")
        }
    }
}

@Suite struct ExclusionAndCooldownSettingsTests {
    func resolve(_ flags: [String: String], _ environment: [String: String] = [:]) throws -> Settings {
        try Settings.resolve(flags: flags, environment: environment)
    }

    @Test func flagsAndVariables() throws {
        #expect(try resolve([:]).releaseCooldown == .zero)
        #expect(try resolve([:]).excludeCIDRs == [])
        #expect(try resolve(["release-cooldown": "0"]).releaseCooldown == .zero)
        #expect(try resolve(["release-cooldown": "0s"]).releaseCooldown == .zero)
        #expect(try resolve(["release-cooldown": "10m"]).releaseCooldown == .seconds(600))
        #expect(try resolve([:], ["IPAM_RELEASE_COOLDOWN": "90s"]).releaseCooldown == .seconds(90))
        #expect(try resolve([:], ["IPAM_EXCLUDE_CIDRS": "10.0.0.0/24, fd00::/64"]).excludeCIDRs == ["10.0.0.0/24", "fd00::/64"])
        #expect(throws: Settings.InvalidValue(message: "--release-cooldown=soon: expected a duration such as 15s or 1m30s")) {
            _ = try resolve(["release-cooldown": "soon"])
        }
        #expect(throws: Settings.InvalidValue.self) { _ = try resolve([:], ["IPAM_EXCLUDE_CIDRS": "10.0.0.0/24,nope"]) }
        do {
            _ = try resolve(["exclude-cidrs": "10.0.0.0/33"])
            Issue.record("accepted a bad CIDR")
        } catch {
            #expect((error as? Settings.InvalidValue)?.message.hasPrefix("--exclude-cidrs=10.0.0.0/33: ") == true)
        }
    }
}
