import Foundation
@testable import NodeIPAMController
import Testing

/// Flags, IPAM_* variables, defaults, precedence and one-line errors.
@Suite struct SettingsTests {
    func settings(_ arguments: [String], _ environment: [String: String] = [:]) throws -> Settings {
        guard case .flags(let flags) = try ArgumentParsing.parse(arguments) else { throw ArgumentParsing.UsageError(message: "help") }
        return try Settings.resolve(flags: flags, environment: environment)
    }

    @Test func defaultsMatchTheReference() throws {
        let defaults = try settings([])
        #expect(defaults == Settings())
        #expect(defaults.webserverBindAddress == ":8081" && defaults.leaderElection && defaults.leaseName == "node-ipam-controller")
        #expect(defaults.leaseDuration == .seconds(15) && defaults.renewDeadline == .seconds(10) && defaults.retryPeriod == .seconds(2))
        #expect(defaults.qps == 20 && defaults.burst == 30)
    }

    @Test func flagBeatsEnvironmentBeatsDefault() throws {
        let environment = ["IPAM_KUBE_API_QPS": "50", "IPAM_WEBSERVER_BIND_ADDR": ":9000", "IPAM_ENABLE_LEADER_ELECTION": "false",
                           "IPAM_LEASE_DURATION": "1m", "IPAM_CLUSTER_CIDR": "10.0.0.0/8, fd00::/48", "IPAM_V": "4", "IPAM_LOG_FORMAT": "json"]
        let fromEnvironment = try settings([], environment)
        #expect(fromEnvironment.qps == 50 && fromEnvironment.webserverBindAddress == ":9000" && !fromEnvironment.leaderElection)
        #expect(fromEnvironment.leaseDuration == .seconds(60) && fromEnvironment.clusterCIDRs == ["10.0.0.0/8", "fd00::/48"])
        #expect(fromEnvironment.verbosity == 4 && fromEnvironment.logFormat == "json")
        let fromFlags = try settings(["--kube-api-qps=5", "--webserver-bind-address", "127.0.0.1:1", "--enable-leader-election", "-v", "2"], environment)
        #expect(fromFlags.qps == 5 && fromFlags.webserverBindAddress == "127.0.0.1:1" && fromFlags.leaderElection && fromFlags.verbosity == 2)
    }

    @Test func referenceSpellingsAreAccepted() throws {
        #expect(try !settings(["--enable-leader-election=false"]).leaderElection)
        #expect(try !settings(["--enable-leader-election", "false"]).leaderElection)
        #expect(try settings(["--enable-leader-election=true"]).leaderElection)
        #expect(try settings(["--health-probe-address=:7000"]).webserverBindAddress == ":7000")
        #expect(try settings(["--leader-elect-renew-deadline=500ms", "--leader-elect-retry-period=100ms"]).renewDeadline == .milliseconds(500))
        #expect(try settings(["--leader-elect-lease-duration=1m30s"]).leaseDuration == .seconds(90))
        #expect(try settings(["--v=3"]).verbosity == 3)
        #expect(try settings(["--service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/112"]).serviceClusterIPRanges.count == 2)
    }

    @Test(arguments: [
        (["--leader-elect-resource-lock=configmaps"], "only \"leases\" is supported"),
        (["--kube-api-qps=fast"], "--kube-api-qps=fast: expected a number"),
        (["--leader-elect-lease-duration=15"], "expected a duration"),
        (["--enable-leader-election=maybe"], "expected true or false"),
        (["--workers=0"], "--workers=0: expected an integer from 1"),
        (["--log-format=xml"], "expected text or json"),
        (["--leader-elect-renew-deadline=20s"], "must be shorter than --leader-elect-lease-duration"),
    ])
    func badValuesAreOneLineErrors(arguments: [String], expected: String) {
        do {
            _ = try settings(arguments)
            Issue.record("accepted \(arguments)")
        } catch let error as Settings.InvalidValue {
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("\n"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func environmentErrorsNameTheVariable() {
        #expect(throws: Settings.InvalidValue(message: "IPAM_KUBE_API_BURST=-1: expected an integer from 1 to 100000")) {
            _ = try settings([], ["IPAM_KUBE_API_BURST": "-1"])
        }
    }

    @Test func usageErrorsAndHelp() throws {
        #expect(throws: ArgumentParsing.UsageError(message: "unknown flag --bogus; see --help")) { _ = try ArgumentParsing.parse(["--bogus"]) }
        #expect(throws: ArgumentParsing.UsageError(message: "flag --kubeconfig needs a value")) { _ = try ArgumentParsing.parse(["--kubeconfig"]) }
        #expect(try ArgumentParsing.parse(["--help"]) == .help)
        for spec in Settings.flags {
            #expect(ArgumentParsing.helpText.contains(spec.environment), "help lacks \(spec.environment)")
        }
    }

    @Test func runExitsWithCode2OnBadFlags() async {
        #expect(await RunCommand.main(["--workers=none"], environment: [:]) == 2)
        #expect(await RunCommand.main(["--help"], environment: [:]) == 0)
    }

    @Test func apiRequestsFollowTheLeaseName() throws {
        let requests = APIRequestCatalog.requests(leaseName: "custom")
        #expect(requests.contains { $0.resource == "leases" && $0.resourceNames == ["custom"] && $0.verbs == ["get", "update"] })
        #expect(requests.contains { $0.resource == "nodes" && $0.verbs.contains("patch") && !$0.verbs.contains("update") })
        let decoded = try JSONDecoder().decode([APIRequest].self, from: Data(APIRequestCatalog.json(leaseName: "x").utf8))
        #expect(decoded == APIRequestCatalog.requests(leaseName: "x"))
    }
}
