import Foundation
import KubeClient
import Logging

/// Metrics, probes and logs of one controller process.
final class Observability: @unchecked Sendable {
    let metrics: IPAMMetrics
    let server: HealthServer
    private let lock = NSLock()
    private var readinessCheck: @Sendable () -> HealthCheck = { HealthCheck(ok: false, detail: "starting") }
    private let started = ContinuousClock.now

    /// `clusterName` (`CLUSTER_NAME`): when set, every metric carries `cluster="<name>"`.
    init(client: KubernetesClient, bindAddress: String, clusterName: String? = nil, logger: Logger) {
        let metrics = IPAMMetrics(clusterName: clusterName)
        metrics.attachClientMetrics(client.metrics)
        self.metrics = metrics
        let box = ReadinessBox()
        let liveness: @Sendable () -> HealthCheck = { HealthCheck(ok: true, detail: "ok") }
        metrics.observeProbes(readiness: { box.check() }, liveness: liveness)
        self.server = HealthServer(
            bindAddress: bindAddress,
            liveness: liveness,
            readiness: { box.check() },
            metrics: { metrics.render() })
        box.source = { [weak self] in self?.readiness() ?? HealthCheck(ok: false, detail: "stopping") }
    }

    var readiness: @Sendable () -> HealthCheck {
        get { lock.withLock { readinessCheck } }
        set { lock.withLock { readinessCheck = newValue } }
    }

    static func bootstrap(format: String, verbosity: Int) {
        bootstrapLogging(format: LogFormat(rawValue: format) ?? .text, verbosity: verbosity)
    }
}

/// Lets the health server ask for readiness before the controller exists.
private final class ReadinessBox: @unchecked Sendable {
    private let lock = NSLock()
    private var current: (@Sendable () -> HealthCheck)?
    var source: (@Sendable () -> HealthCheck)? {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
    func check() -> HealthCheck { source?() ?? HealthCheck(ok: false, detail: "starting") }
}
