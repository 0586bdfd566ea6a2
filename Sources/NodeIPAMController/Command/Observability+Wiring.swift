import Foundation
import KubeClient
import Logging
import Synchronization

/// Metrics, probes and logs of one controller process.
final class Observability: Sendable {
    let metrics: IPAMMetrics
    let server: HealthServer
    private let source = ReadinessSource()

    /// `clusterName` (`CLUSTER_NAME`): when set, every metric carries `cluster="<name>"`.
    init(client: KubernetesClient, bindAddress: String, clusterName: String? = nil, logger: Logger) {
        let metrics = IPAMMetrics(clusterName: clusterName)
        metrics.attachClientMetrics(client.metrics)
        self.metrics = metrics
        let source = self.source
        let liveness: @Sendable () -> HealthCheck = { HealthCheck(ok: true, detail: "ok") }
        metrics.observeProbes(readiness: { source.check() }, liveness: liveness)
        self.server = HealthServer(
            bindAddress: bindAddress,
            liveness: liveness,
            readiness: { source.check() },
            metrics: { metrics.render() })
    }

    /// What /readyz asks: "starting" until the controller sets it.
    var readiness: @Sendable () -> HealthCheck {
        get {
            let current: (@Sendable () -> HealthCheck)? = source.current.withLock { $0 }
            return current ?? { HealthCheck(ok: false, detail: "starting") }
        }
        set { source.current.withLock { $0 = newValue } }
    }

    static func bootstrap(format: String, verbosity: Int) {
        bootstrapLogging(format: LogFormat(rawValue: format) ?? .text, verbosity: verbosity)
    }
}

/// Lets the health server ask for readiness before the controller exists.
private final class ReadinessSource: Sendable {
    let current = Mutex<(@Sendable () -> HealthCheck)?>(nil)
    func check() -> HealthCheck {
        let check: (@Sendable () -> HealthCheck)? = current.withLock { $0 }
        return check?() ?? HealthCheck(ok: false, detail: "starting")
    }
}
