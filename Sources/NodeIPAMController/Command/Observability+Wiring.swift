import Foundation
import KubeClient
import Logging

/// Metrics, probes and logs of one controller process.
final class Observability: @unchecked Sendable {
    let registry = MetricsRegistry()
    let metrics: IPAMMetrics
    let server: HealthServer
    private let lock = NSLock()
    private var readinessCheck: @Sendable () -> HealthCheck = { HealthCheck(ok: false, detail: "starting") }
    private let started = ContinuousClock.now

    init(client: KubernetesClient, bindAddress: String, logger: Logger) {
        let metrics = IPAMMetrics(registry: registry)
        metrics.attachClientMetrics(client.metrics)
        self.metrics = metrics
        let box = ReadinessBox()
        self.server = HealthServer(
            bindAddress: bindAddress,
            liveness: { HealthCheck(ok: true, detail: "ok") },
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
