import ClusterCIDRAPI
import Foundation
import KubeClient
import MultiCIDR

/// Could not check (or plan): one line naming the object or flag and the fix; exit code 2.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a read-only command printed and its exit code (tests read it without a process).
struct CommandResult: Sendable, Equatable {
    var code: Int32
    var output = ""
    var error = ""

    /// Prints it and returns the exit code.
    func emit() -> Int32 {
        if !output.isEmpty { Output.standardOutput(output) }
        if !error.isEmpty { printError(error) }
        return code
    }
}

/// What `check` and `plan` share: the flags that describe the cluster as the controller sees
/// it, reading it with get/list only, and the exit codes (0 clean, 1 problems, 2 could not).
enum ReadOnlyCommand {
    /// The controller's flags that matter to a read-only command (same names, variables, defaults).
    static let clusterFlags: [FlagSpec] = Settings.flags.filter {
        ["apiserver", "kubeconfig", "kube-api-qps", "kube-api-burst", "cluster-cidr", "node-cidr-mask-size-ipv4",
         "node-cidr-mask-size-ipv6", "service-cluster-ip-range", "exclude-cidrs"].contains($0.flag)
    }
    static let outputFlags = [
        FlagSpec(flag: "o", environment: "", defaultValue: "table", help: "Output: table or json."),
        FlagSpec(flag: "output", environment: "", defaultValue: "table", help: "Same as -o."),
    ]

    enum Parsed {
        case help(String)
        case run(flags: [String: String], settings: Settings, json: Bool)
    }

    /// Flags (by name) and settings, the help text, or a usage line (exit 2).
    static func parse(_ arguments: [String], extra: [FlagSpec], environment: [String: String], usage: String)
        throws(CommandFailure) -> Parsed {
        let known = clusterFlags + outputFlags + extra
        let flags: [String: String]
        do {
            switch try ArgumentParsing.parse(arguments, known: known) {
            case .help, .version:
                var text = usage + "\n\nFlags (flag > environment variable > default; the controller's own):\n"
                for spec in extra + outputFlags + clusterFlags {
                    text += "  \(spec.flag.count == 1 ? "-" : "--")\(spec.flag)\n      \(spec.help)"
                    text += spec.environment.isEmpty ? "\n" : "\n      env \(spec.environment)\(spec.defaultValue.isEmpty ? "" : ", default \(spec.defaultValue)")\n"
                }
                return .help(text)
            case .flags(let given):
                flags = given
            }
        } catch {
            throw CommandFailure(error.message)
        }
        // Only the cluster flags go to the controller's settings; the rest are ours.
        let settings: Settings
        do {
            settings = try Settings.resolve(flags: flags.filter { key, _ in clusterFlags.contains { $0.flag == key } }, environment: environment)
        } catch {
            throw CommandFailure(error.message)
        }
        let output = flags["output"] ?? flags["o"] ?? "table"
        guard output == "table" || output == "json" else {
            throw CommandFailure("-o \(output): expected table or json")
        }
        return .run(flags: flags, settings: settings, json: output == "json")
    }

    /// The ranges the controller's flags exclude (already validated by Settings).
    static func snapshot(pools: [ClusterCIDR], nodes: [NodeView], settings: Settings) -> ClusterSnapshot {
        var pools = pools
        // Before the switch the default pool may not exist yet: --cluster-cidr says what it will be.
        if !settings.clusterCIDRs.isEmpty, !pools.contains(where: { $0.name == ClusterCIDR.defaultPoolName }),
           let pool = try? DefaultClusterCIDR.object(clusterCIDRs: settings.clusterCIDRs, nodeMaskSizeIPv4: settings.nodeMaskSizeIPv4,
                                                     nodeMaskSizeIPv6: settings.nodeMaskSizeIPv6) {
            pools.append(pool)
        }
        return ClusterSnapshot(pools: pools, nodes: nodes,
                               serviceCIDRs: settings.serviceClusterIPRanges.compactMap { try? IPPrefix(parsing: $0) },
                               excludeCIDRs: settings.excludeCIDRs.compactMap { try? IPPrefix(parsing: $0) })
    }

    /// Lists ClusterCIDRs and nodes (get/list only).
    static func readCluster(_ settings: Settings, environment: [String: String], nodes readNodes: Bool = true)
        async throws(CommandFailure) -> (pools: [ClusterCIDR], nodes: [NodeView]) {
        let configuration: ClientConfiguration
        do {
            configuration = try ClientConfiguration.resolve(kubeconfigPath: settings.kubeconfig, apiServer: settings.apiServer, environment: environment)
        } catch {
            throw CommandFailure("\(settings.kubeconfig.map { "--kubeconfig \($0)" } ?? "kubeconfig"): \(error)")
        }
        let client = KubernetesClient(configuration: configuration, qps: settings.qps, burst: settings.burst,
                                      userAgent: "node-ipam-controller (read-only)", requestTimeout: .seconds(20))
        defer { client.shutdown() }
        func failure(_ resource: String, _ error: any Error) -> CommandFailure {
            if let api = error as? APIError, api.isNotFound, resource == ClusterCIDR.plural {
                return CommandFailure("cannot list \(resource) at \(configuration.server): the ClusterCIDR CRD is not installed (kubectl apply -f config/crd/)")
            }
            let fix = FailureHint.fix(for: error, server: configuration.server, resource: resource).map { "; \($0)" } ?? ""
            return CommandFailure("cannot list \(resource) at \(configuration.server): \(error)\(fix)")
        }
        let pools: [ClusterCIDR]
        do { pools = try await client.listAll(.clusterCIDRs, as: ClusterCIDR.self).items } catch { throw failure(ClusterCIDR.plural, error) }
        guard readNodes else { return (pools, []) }
        do {
            let nodes = try await client.listAll(.nodes, as: Node.self, transform: NodeView.init).items
            return (pools, nodes)
        } catch {
            throw failure("nodes", error)
        }
    }
}

extension ReadOnlyCommand.Parsed {
    var helpText: String? {
        if case .help(let text) = self { return text }
        return nil
    }
}

/// `node-ipam-controller check`: every problem in the cluster's pod ranges. Read-only.
enum CheckCommand {
    static let usage = """
        node-ipam-controller check [--kubeconfig FILE] [-o table|json] [--service-cluster-ip-range CIDRS] [--exclude-cidrs CIDRS] [--cluster-cidr CIDRS]
          Lists every problem in the cluster's pod ranges (read-only: get and list of nodes and clustercidrs).
          Exit code 0: none; 1: problems found; 2: could not check.
        """

    struct Report: Codable, Sendable {
        var nodes: Int
        var clusterCIDRs: Int
        var problems: [Finding]
    }

    static func main(_ arguments: [String], environment: [String: String]) async -> Int32 {
        await execute(arguments, environment: environment).emit()
    }

    static func execute(_ arguments: [String], environment: [String: String]) async -> CommandResult {
        do throws(CommandFailure) {
            let parsed = try ReadOnlyCommand.parse(arguments, extra: [], environment: environment, usage: usage)
            guard case .run(_, let settings, let json) = parsed else { return CommandResult(code: 0, output: parsed.helpText ?? usage) }
            let (pools, nodes) = try await ReadOnlyCommand.readCluster(settings, environment: environment)
            let snapshot = ReadOnlyCommand.snapshot(pools: pools, nodes: nodes, settings: settings)
            let report = Report(nodes: nodes.count, clusterCIDRs: snapshot.pools.count, problems: ClusterAudit.findings(snapshot))
            return CommandResult(code: report.problems.isEmpty ? 0 : 1, output: json ? ReportTable.json(report) : render(report))
        } catch {
            return CommandResult(code: 2, error: "node-ipam-controller check: \(error.description)")
        }
    }

    /// The human form: a table of problems and a summary line.
    static func render(_ report: Report) -> String {
        let scope = "\(report.nodes) node\(report.nodes == 1 ? "" : "s") and \(report.clusterCIDRs) ClusterCIDR\(report.clusterCIDRs == 1 ? "" : "s")"
        guard !report.problems.isEmpty else { return "No problems found in \(scope)." }
        let table = ReportTable.render(header: ["KIND", "OBJECT", "MESSAGE"], rows: report.problems.map { [$0.kind, $0.object, $0.message] })
        let count = report.problems.count
        return table + "\n\n\(count) problem\(count == 1 ? "" : "s") found in \(scope)."
    }
}
