import CNIIPAM
import Foundation
import KubeClient
import Logging
import ServiceLifecycle
import ServiceSupport

/// `node-ipam-agent`: flags and environment, the agent, probes and metrics, SIGTERM.
public enum AgentCommand {
    public static let version = "0.1.0"

    public static let usage = """
        Usage: node-ipam-agent [flags]
        Runs on every node (DaemonSet): watches its own Node, waits for spec.podCIDRs, writes the
        CNI config and the node-ipam plugin's podCIDRs file. Sources, in order: --node-pod-cidrs,
        NODE_POD_CIDR, the Node's spec.podCIDRs, kubelet's config, k3s's node file.
          --node-name NAME            this node (default: $NODE_NAME)
          --kubeconfig PATH           default: in-cluster config, $KUBECONFIG, ~/.kube/config
          --no-api                    do not contact the API server (--node-pod-cidrs or NODE_POD_CIDR must be set)
          --node-pod-cidrs LIST       the node's podCIDRs, comma-separated (overrides every other source)
          --cni-conf-dir DIR          default /etc/cni/net.d
          --conflist-name NAME        default 10-node-ipam.conflist
          --conflist-template FILE    a conflist whose node-ipam ipam section gets the ranges (default: bridge + portmap)
          --network-name NAME         default pods
          --bridge NAME               default cni0
          --mtu N                     default 1500
          --data-dir DIR              the plugin's dataDir (default /var/lib/cni/networks/<network name>)
          --pod-cidrs-file PATH       default /var/lib/node-ipam/pod-cidrs
          --kubelet-config PATH       default /var/lib/kubelet/config.yaml
          --k3s-node-file PATH        default /var/lib/rancher/k3s/agent/etc/node-<node>.yaml
          --install-cni-bin           copy the node-ipam plugin into --cni-bin-dir at start
          --cni-bin-dir DIR           default /opt/cni/bin
          --cni-bin-source PATH       default: node-ipam next to this executable
          --health-bind-address ADDR  /healthz, /readyz, /metrics (default :9811; "0" disables)
          --log-format text|json      default text
          -v N                        verbosity (0 info, 1-3 debug)
          --version, --help
        """

    struct UsageError: Error { let message: String }

    struct Parsed {
        var configuration: AgentConfiguration
        var kubeconfig: String?
        var useAPI = true
        var healthBindAddress = ":9811"
        var logFormat = LogFormat.text
        var verbosity = 0
    }

    static func parse(_ arguments: [String], environment: [String: String], executablePath: String) throws(UsageError) -> Parsed? {
        var values: [String: String] = [:]
        var flags: Set<String> = []
        let valued: Set<String> = ["--node-name", "--kubeconfig", "--node-pod-cidrs", "--cni-conf-dir", "--conflist-name", "--conflist-template",
                                   "--network-name", "--bridge", "--mtu", "--data-dir", "--pod-cidrs-file", "--kubelet-config", "--k3s-node-file",
                                   "--cni-bin-dir", "--cni-bin-source", "--health-bind-address", "--log-format", "-v"]
        let switches: Set<String> = ["--install-cni-bin", "--no-api", "--help", "-h", "--version"]
        var index = 0
        while index < arguments.count {
            var argument = arguments[index]
            index += 1
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                let name = String(argument[..<equals])
                guard valued.contains(name) else { throw UsageError(message: "unknown flag \(name)") }
                values[name] = String(argument[argument.index(after: equals)...])
                continue
            }
            if argument == "--v" { argument = "-v" }
            if switches.contains(argument) { flags.insert(argument); continue }
            guard valued.contains(argument) else { throw UsageError(message: "unknown argument \(argument)") }
            guard index < arguments.count else { throw UsageError(message: "\(argument) needs a value") }
            values[argument] = arguments[index]
            index += 1
        }
        if flags.contains("--help") || flags.contains("-h") || flags.contains("--version") { return nil }
        let nodeName = values["--node-name"] ?? environment["NODE_NAME"] ?? ""
        guard !nodeName.isEmpty else {
            throw UsageError(message: "the node's name is not known: set NODE_NAME (downward API spec.nodeName) or pass --node-name")
        }
        var configuration = AgentConfiguration(nodeName: nodeName)
        configuration.environment = environment
        configuration.configuredPodCIDRs = values["--node-pod-cidrs"]
        if let value = values["--cni-conf-dir"] { configuration.cniConfDirectory = value }
        if let value = values["--conflist-name"] {
            guard value.hasSuffix(".conflist"), !value.contains("/") else { throw UsageError(message: "--conflist-name \(value): a file name ending in .conflist") }
            configuration.conflistName = value
        }
        if let path = values["--conflist-template"] {
            guard let text = AtomicFile.read(path) else { throw UsageError(message: "--conflist-template \(path) cannot be read") }
            configuration.files.template = text
        }
        if let value = values["--network-name"] { configuration.files.networkName = value }
        if let value = values["--bridge"] { configuration.files.bridge = value }
        if let value = values["--mtu"] {
            guard let mtu = Int(value), (68...65535).contains(mtu) else { throw UsageError(message: "--mtu \(value): a number from 68 to 65535") }
            configuration.files.mtu = mtu
        }
        configuration.files.dataDir = values["--data-dir"]
        if let value = values["--pod-cidrs-file"] { configuration.podCIDRsFile = value }
        if let value = values["--kubelet-config"] { configuration.kubeletConfigPath = value }
        configuration.k3sNodeFilePath = values["--k3s-node-file"]
        configuration.installPlugin = flags.contains("--install-cni-bin")
        if let value = values["--cni-bin-dir"] { configuration.cniBinDirectory = value }
        configuration.pluginSource = values["--cni-bin-source"]
            ?? URL(fileURLWithPath: executablePath).deletingLastPathComponent().appendingPathComponent("node-ipam").path
        var parsed = Parsed(configuration: configuration)
        parsed.kubeconfig = values["--kubeconfig"]
        parsed.useAPI = !flags.contains("--no-api")
        if !parsed.useAPI, (configuration.configuredPodCIDRs ?? "").isEmpty, (environment[NodePodCIDRs.environmentVariable] ?? "").isEmpty {
            throw UsageError(message: "--no-api needs --node-pod-cidrs or NODE_POD_CIDR")
        }
        if let value = values["--health-bind-address"] { parsed.healthBindAddress = value }
        if let value = values["--log-format"] {
            guard let format = LogFormat(rawValue: value) else { throw UsageError(message: "--log-format \(value): text or json") }
            parsed.logFormat = format
        }
        if let value = values["-v"] {
            guard let verbosity = Int(value) else { throw UsageError(message: "-v \(value): a number") }
            parsed.verbosity = verbosity
        }
        return parsed
    }

    /// Exit codes: 0 stopped by SIGTERM/SIGINT; 1 runtime failure; 2 bad flags.
    public static func main(_ arguments: [String], environment: [String: String], executablePath: String) async -> Int32 {
        if arguments.contains("--version") {
            Output.standardOutput("node-ipam-agent \(version)")
            return 0
        }
        if arguments.contains("--help") || arguments.contains("-h") {
            Output.standardOutput(usage)
            return 0
        }
        let parsed: Parsed
        do {
            guard let result = try parse(arguments, environment: environment, executablePath: executablePath) else { return 0 }
            parsed = result
        } catch {
            Output.standardError("node-ipam-agent: \(error.message)")
            return 2
        }
        bootstrapLogging(format: parsed.logFormat, verbosity: parsed.verbosity)
        let logger = Logger(label: "node-ipam-agent")
        do {
            return try await run(parsed, environment: environment, logger: logger)
        } catch {
            logger.error("\(error)")
            return 1
        }
    }

    static func run(_ parsed: Parsed, environment: [String: String], logger: Logger) async throws -> Int32 {
        var client: KubernetesClient?
        if parsed.useAPI {
            let configuration = try ClientConfiguration.resolve(kubeconfigPath: parsed.kubeconfig, environment: environment)
            logger.info("connecting", metadata: ["server": "\(configuration.server)", "source": "\(configuration.source)"])
            client = KubernetesClient(configuration: configuration, qps: 5, burst: 10, userAgent: "node-ipam-agent (\(parsed.configuration.nodeName))")
        }
        defer { client?.shutdown() }
        let registry = MetricsRegistry()
        let metrics = AgentMetrics(registry: registry)
        if let client {
            registry.addCollector {
                let requests = client.metrics.snapshot().requests
                var text = "# HELP node_ipam_agent_api_requests_total Requests to the API server by verb and status code (0 = no answer).\n"
                    + "# TYPE node_ipam_agent_api_requests_total counter\n"
                for key in requests.keys.sorted(by: { ($0.verb, $0.code) < ($1.verb, $1.code) }) {
                    text += "node_ipam_agent_api_requests_total\(MetricsRegistry.labels(["verb", "code"], [key.verb, String(key.code)])) \(requests[key]!)\n"
                }
                return text
            }
        }
        let agent = try NodeAgent(configuration: parsed.configuration, client: client, metrics: metrics, logger: logger)
        logger.info("starting node-ipam-agent \(version)", metadata: [
            "node": "\(parsed.configuration.nodeName)", "conflist": "\(parsed.configuration.conflistPath)",
            "podCIDRsFile": "\(parsed.configuration.podCIDRsFile)", "installCNIBin": "\(parsed.configuration.installPlugin)",
        ])
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: agent, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if parsed.healthBindAddress != "0" {
            let server = HealthServer(bindAddress: parsed.healthBindAddress, liveness: { HealthCheck(ok: true, detail: "ok") },
                                      readiness: { agent.readiness() }, metrics: { registry.render() })
            services.insert(.init(service: server), at: 0)
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return 0
    }
}
