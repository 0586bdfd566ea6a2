import ClusterCIDRAPI
import Foundation
import KubeClient
import Logging
import ServiceLifecycle
import Synchronization

/// `node-ipam-controller [run]`: flags and environment, client, leader election, controller,
/// probes and metrics, graceful shutdown on SIGTERM/SIGINT.
public enum RunCommand {
    /// Exit codes: 0 stopped by a signal; 1 runtime failure (bad kubeconfig, lost lease);
    /// 2 bad flags or values.
    static func main(_ arguments: [String], environment: [String: String]) async -> Int32 {
        let settings: Settings
        do {
            switch try ArgumentParsing.parse(arguments) {
            case .help:
                Output.standardOutput(ArgumentParsing.helpText)
                return 0
            case .version:
                Output.standardOutput(BuildInfo.summary)
                return 0
            case .flags(let flags):
                settings = try Settings.resolve(flags: flags, environment: environment)
            }
        } catch let error as ArgumentParsing.UsageError {
            printError("node-ipam-controller: \(error.message)")
            return 2
        } catch let error as Settings.InvalidValue {
            printError("node-ipam-controller: \(error.message)")
            return 2
        } catch {
            printError("node-ipam-controller: \(error)")
            return 2
        }
        Observability.bootstrap(format: settings.logFormat, verbosity: settings.verbosity)
        let logger = Logger(label: "node-ipam-controller")
        do {
            return try await run(settings, environment: environment, logger: logger)
        } catch {
            logger.error("\(error)")
            return 1
        }
    }

    static func identity(_ settings: Settings, _ environment: [String: String]) -> String {
        var identity = settings.leaderElectID
        if identity.isEmpty { identity = environment["POD_NAME"] ?? "" }
        if identity.isEmpty { identity = ProcessInfo.processInfo.hostName }
        identity = identity.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        return identity.isEmpty ? "node-ipam-controller-\(getpid())" : identity
    }

    /// `onStart` sees the controller (the demo and tests use it); `shutdown` lets them stop
    /// the process the way SIGTERM does.
    public static func run(_ settings: Settings, environment: [String: String], logger: Logger,
                    shutdown: ShutdownTrigger? = nil, onStart: (@Sendable (IPAMController, HealthServer) -> Void)? = nil) async throws -> Int32 {
        let configuration = try ClientConfiguration.resolve(kubeconfigPath: settings.kubeconfig, apiServer: settings.apiServer, environment: environment)
        logger.info("starting \(BuildInfo.summary)", metadata: settings.effectiveConfiguration)
        logger.info("connecting", metadata: ["server": "\(configuration.server)", "source": "\(configuration.source)"])
        let identity = Self.identity(settings, environment)
        // With leader election every write of the controller passes the Lease's fence: a
        // replica that may have lost the Lease (paused, starved, partitioned) sends nothing.
        let fence = settings.leaderElection ? WriteFence() : nil
        // The user agent names the replica, so the API server's audit log (and our soak's
        // checker) can tell which replica wrote what.
        let userAgent = "node-ipam-controller (\(identity))"
        let client = KubernetesClient(configuration: configuration, qps: settings.qps, burst: settings.burst, userAgent: userAgent,
                                      writeFence: fence)
        defer { client.shutdown() }
        let observability = Observability(client: client, bindAddress: settings.webserverBindAddress, clusterName: environment["CLUSTER_NAME"], logger: logger)
        let recorder = EventRecorder(client: client, component: "multiCIDRRangeAllocator", host: identity)
        let controller = IPAMController(
            client: client,
            configuration: ControllerConfiguration(
                workers: settings.workers, clusterCIDRs: settings.clusterCIDRs, nodeMaskSizeIPv4: settings.nodeMaskSizeIPv4,
                nodeMaskSizeIPv6: settings.nodeMaskSizeIPv6, serviceCIDRs: settings.serviceClusterIPRanges,
                excludeCIDRs: settings.excludeCIDRs, releaseCooldown: settings.releaseCooldown,
                statusInterval: ControllerConfiguration.statusInterval(qps: settings.qps)),
            recorder: recorder, metrics: observability.metrics, logger: logger)
        var election: LeaderElection?
        if settings.leaderElection, let fence {
            var namespace = settings.leaderElectNamespace
            if namespace.isEmpty { namespace = environment["POD_NAMESPACE"] ?? "" }
            if namespace.isEmpty {
                namespace = configuration.namespace
                logger.info("no --leader-elect-namespace or POD_NAMESPACE; using the kubeconfig's namespace for the Lease", metadata: ["namespace": "\(namespace)"])
            }
            let leaseConfiguration = LeaderElectionConfiguration(namespace: namespace, name: settings.leaseName, identity: identity,
                                                                 leaseDuration: settings.leaseDuration, renewDeadline: settings.renewDeadline,
                                                                 retryPeriod: settings.retryPeriod, releaseOnCancel: true)
            // The Lease gets a client of its own (its own connection, thread and rate limit),
            // as kube-controller-manager does: renewals never wait behind node, status or
            // Event writes, however slow the API server is.
            let attemptTimeout = max(Duration.seconds(1), settings.renewDeadline / 2)
            let leaseClient = KubernetesClient(configuration: configuration, qps: 0, burst: 1, userAgent: userAgent + " leader-election",
                                               concurrency: 1, requestTimeout: attemptTimeout)
            election = LeaderElection(configuration: leaseConfiguration, client: leaseClient, fence: fence, server: configuration.server)
            logger.info("Leader election is enabled.", metadata: ["id": "\(identity)", "namespace": "\(namespace)", "lease": "\(settings.leaseName)"])
        } else {
            logger.info("Leader election is disabled.")
        }
        onStart?(controller, observability.server)
        let service = ControllerService(client: client, controller: controller, election: election, observability: observability, logger: logger)
        observability.readiness = { service.readiness() }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: observability.server),
                .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        await shutdown?.attach(group)
        defer { election?.client.shutdown() }
        try await group.run()
        return service.exitCode
    }
}

/// What leader election needs: the Lease's settings, its own client, and the fence that
/// the controller's write client checks.
struct LeaderElection: Sendable {
    var configuration: LeaderElectionConfiguration
    var client: KubernetesClient
    var fence: WriteFence
    /// For messages.
    var server: String
}

/// Runs the controller, behind leader election when configured, until graceful shutdown.
final class ControllerService: Service, Sendable {
    let client: KubernetesClient
    let controller: IPAMController
    let election: LeaderElection?
    let observability: Observability
    let logger: Logger
    private let code = Mutex<Int32>(0)
    private let elector = Mutex<LeaderElector?>(nil)

    init(client: KubernetesClient, controller: IPAMController, election: LeaderElection?, observability: Observability, logger: Logger) {
        self.client = client
        self.controller = controller
        self.election = election
        self.observability = observability
        self.logger = logger
    }

    var exitCode: Int32 { code.withLock { $0 } }

    /// Ready when caches are synced (leader) or when standing by as a healthy candidate.
    func readiness() -> HealthCheck {
        if controller.isReady { return HealthCheck(ok: true, detail: "caches synced") }
        if let elector = elector.withLock({ $0 }), !elector.isLeader {
            if elector.followsActiveLeader { return HealthCheck(ok: true, detail: "standby: another replica leads") }
            return HealthCheck(ok: false, detail: "no Lease seen renewed yet (API server unreachable, or no leader)")
        }
        return HealthCheck(ok: false, detail: "caches not synced yet")
    }

    func run() async throws {
        guard let election else {
            observability.metrics.setLeader(true)
            try await cancelWhenGracefulShutdown { try await self.controller.run() }
            return
        }
        let logger = self.logger
        let identity = election.configuration.identity
        let server = election.server
        let lease = "\(election.configuration.namespace)/\(election.configuration.name)"
        // Said at once (the first failure), then every tenth in a row: an unreachable server
        // or refused credentials must not be a silent wait.
        let onFailure: @Sendable (any Error, Int) -> Void = { error, failures in
            guard failures == 1 || failures % 10 == 0 else { return }
            var metadata: Logger.Metadata = ["lease": "\(lease)", "server": "\(server)", "failures": "\(failures)", "error": "\(error)"]
            if let fix = FailureHint.fix(for: error, server: server) { metadata["fix"] = "\(fix)" }
            logger.error("cannot take or renew the Lease; retrying", metadata: metadata)
        }
        let elector = LeaderElector(client: election.client, configuration: election.configuration, fence: election.fence,
                                    onFailure: onFailure) { leader in
            if leader == identity { logger.info("I am the new leader: \(leader)") } else { logger.info("New leader elected: \(leader)") }
        }
        self.elector.withLock { $0 = elector }
        let metrics = observability.metrics
        let controller = self.controller
        let end = await cancelWhenGracefulShutdown {
            await elector.run {
                metrics.setLeader(true)
                logger.info("Started leading as \(identity)")
                do { try await controller.run() } catch { logger.error("controller stopped: \(error)") }
                metrics.setLeader(false)
            }
        }
        switch end {
        case .lostLease:
            logger.error("lost the Lease: stopped writing; exiting so a fresh process can compete again")
            code.withLock { $0 = 1 }
        case .leadEnded:
            // The controller failed while leading (logged above): hand the Lease over rather
            // than hold it doing nothing.
            logger.error("the controller stopped while leading; Lease released; exiting so another replica can take over")
            code.withLock { $0 = 1 }
        case .cancelled where elector.hasLed:
            logger.info("stopped; Lease released")
        case .cancelled:
            logger.info("stopped before this replica held the Lease")
        }
    }
}

/// Triggers the same graceful shutdown as SIGTERM, from code (demo, tests).
public actor ShutdownTrigger {
    private var group: ServiceGroup?
    private var requested = false

    public init() {}

    func attach(_ group: ServiceGroup) async {
        self.group = group
        if requested { await group.triggerGracefulShutdown() }
    }

    public func shutdown() async {
        requested = true
        await group?.triggerGracefulShutdown()
    }
}
