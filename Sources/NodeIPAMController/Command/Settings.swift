import ClusterCIDRAPI
import Foundation
import Logging
import MultiCIDR

/// A flag, its environment variable and its default: the single table that parsing, help
/// text, docs and the chart checks follow.
struct FlagSpec: Sendable {
    let flag: String
    let environment: String
    let defaultValue: String
    let help: String
}

/// The controller's settings after flags, `IPAM_*` variables and defaults were merged
/// (flag > environment > default) and validated.
public struct Settings: Sendable, Equatable {
    var apiServer: String?
    public var kubeconfig: String?
    public var webserverBindAddress = ":8081"
    var leaderElection = true
    var leaderElectID = ""
    public var leaderElectNamespace = ""
    var leaseDuration: Duration = .seconds(15)
    var renewDeadline: Duration = .seconds(10)
    var retryPeriod: Duration = .seconds(2)
    var resourceLock = "leases"
    var leaseName = "node-ipam-controller"
    public var qps: Double = 20
    var burst = 30
    var workers = 8
    var clusterCIDRs: [String] = []
    var nodeMaskSizeIPv4 = 24
    var nodeMaskSizeIPv6 = 64
    var serviceClusterIPRanges: [String] = []
    /// `--exclude-cidrs`: ranges no node ever gets (like the Service ranges).
    var excludeCIDRs: [String] = []
    /// `--release-cooldown`: how long a released range stays out of allocation (zero: not at all).
    var releaseCooldown: Duration = .zero
    var verbosity = 0
    var logFormat = "text"

    public init() {}

    static let flags: [FlagSpec] = [
        FlagSpec(flag: "apiserver", environment: "IPAM_API_SERVER_URL", defaultValue: "", help: "API server URL; overrides the kubeconfig's server."),
        FlagSpec(flag: "kubeconfig", environment: "IPAM_KUBECONFIG", defaultValue: "", help: "Path to a kubeconfig. Empty: KUBECONFIG, then in-cluster configuration."),
        FlagSpec(flag: "webserver-bind-address", environment: "IPAM_WEBSERVER_BIND_ADDR", defaultValue: ":8081", help: "Address of /healthz, /readyz and /metrics."),
        FlagSpec(flag: "health-probe-address", environment: "IPAM_HEALTH_PROBE_ADDR", defaultValue: "", help: "Deprecated: replaces --webserver-bind-address when set."),
        FlagSpec(flag: "enable-leader-election", environment: "IPAM_ENABLE_LEADER_ELECTION", defaultValue: "true", help: "Hold a Lease before writing (use --enable-leader-election=false to disable)."),
        FlagSpec(flag: "leader-elect-id", environment: "IPAM_LEADER_ELECT_ID", defaultValue: "", help: "Holder identity; default POD_NAME, else the host name."),
        FlagSpec(flag: "leader-elect-namespace", environment: "IPAM_LEADER_ELECT_NAMESPACE", defaultValue: "", help: "Namespace of the Lease; default POD_NAMESPACE."),
        FlagSpec(flag: "leader-elect-lease-duration", environment: "IPAM_LEASE_DURATION", defaultValue: "15s", help: "How long a Lease is valid after its last renewal."),
        FlagSpec(flag: "leader-elect-renew-deadline", environment: "IPAM_RENEW_DEADLINE", defaultValue: "10s", help: "A leader that cannot renew for this long stops leading."),
        FlagSpec(flag: "leader-elect-retry-period", environment: "IPAM_LEADER_ELECT_RETRY_PERIOD", defaultValue: "2s", help: "Time between attempts to acquire or renew the Lease."),
        FlagSpec(flag: "leader-elect-resource-lock", environment: "IPAM_RESOURCE_LOCK_NAME", defaultValue: "leases", help: "Lock type; only \"leases\" is supported."),
        FlagSpec(flag: "leader-elect-resource-name", environment: "IPAM_RESOURCE_NAME", defaultValue: "node-ipam-controller", help: "Name of the Lease."),
        FlagSpec(flag: "kube-api-qps", environment: "IPAM_KUBE_API_QPS", defaultValue: "20", help: "Requests per second to the API server (0 = unlimited)."),
        FlagSpec(flag: "kube-api-burst", environment: "IPAM_KUBE_API_BURST", defaultValue: "30", help: "Requests allowed in a burst above the QPS."),
        FlagSpec(flag: "workers", environment: "IPAM_WORKERS", defaultValue: "8", help: "Nodes synced in parallel (writes overlap; decisions stay serialised)."),
        FlagSpec(flag: "cluster-cidr", environment: "IPAM_CLUSTER_CIDR", defaultValue: "", help: "Comma-separated CIDRs (one per family): create ClusterCIDR default-cluster-cidr from them when absent."),
        FlagSpec(flag: "node-cidr-mask-size-ipv4", environment: "IPAM_NODE_CIDR_MASK_SIZE_IPV4", defaultValue: "24", help: "Prefix length of each node's IPv4 range in default-cluster-cidr."),
        FlagSpec(flag: "node-cidr-mask-size-ipv6", environment: "IPAM_NODE_CIDR_MASK_SIZE_IPV6", defaultValue: "64", help: "Prefix length of each node's IPv6 range in default-cluster-cidr."),
        FlagSpec(flag: "service-cluster-ip-range", environment: "IPAM_SERVICE_CLUSTER_IP_RANGE", defaultValue: "", help: "Comma-separated Service CIDRs, never handed to nodes."),
        FlagSpec(flag: "exclude-cidrs", environment: "IPAM_EXCLUDE_CIDRS", defaultValue: "", help: "Comma-separated CIDRs never handed to nodes (reserved for other uses); nodes already inside keep their ranges."),
        FlagSpec(flag: "release-cooldown", environment: "IPAM_RELEASE_COOLDOWN", defaultValue: "0s", help: "How long a released node range stays out of allocation (e.g. 10m; 0s: reused at once). Kept in the pool's status."),
        FlagSpec(flag: "v", environment: "IPAM_V", defaultValue: "0", help: "Log verbosity: 0 info, 1-3 debug, 4+ trace."),
        FlagSpec(flag: "log-format", environment: "IPAM_LOG_FORMAT", defaultValue: "text", help: "Log format: text or json."),
    ]

    /// A bad value: one line naming the flag (and variable) and what is accepted.
    struct InvalidValue: Error, CustomStringConvertible, Equatable {
        let message: String
        var description: String { message }
    }

    /// Merges explicit flag values (by flag name) with the environment and defaults.
    static func resolve(flags given: [String: String], environment: [String: String]) throws(InvalidValue) -> Settings {
        func value(_ flag: String) -> (String, String)? {
            guard let spec = flags.first(where: { $0.flag == flag }) else { return nil }
            if let explicit = given[flag] { return (explicit, "--\(flag)") }
            if let fromEnvironment = environment[spec.environment] { return (fromEnvironment, spec.environment) }
            return nil
        }
        var settings = Settings()
        if let (v, _) = value("apiserver"), !v.isEmpty { settings.apiServer = v }
        if let (v, _) = value("kubeconfig"), !v.isEmpty { settings.kubeconfig = v }
        if let (v, _) = value("webserver-bind-address") { settings.webserverBindAddress = v }
        if let (v, _) = value("health-probe-address"), !v.isEmpty { settings.webserverBindAddress = v }
        if let (v, source) = value("enable-leader-election") { settings.leaderElection = try bool(v, source) }
        if let (v, _) = value("leader-elect-id") { settings.leaderElectID = v }
        if let (v, _) = value("leader-elect-namespace") { settings.leaderElectNamespace = v }
        if let (v, source) = value("leader-elect-lease-duration") { settings.leaseDuration = try duration(v, source) }
        if let (v, source) = value("leader-elect-renew-deadline") { settings.renewDeadline = try duration(v, source) }
        if let (v, source) = value("leader-elect-retry-period") { settings.retryPeriod = try duration(v, source) }
        if let (v, source) = value("leader-elect-resource-lock") {
            guard v == "leases" else {
                throw InvalidValue(message: "\(source)=\(v): only \"leases\" is supported (endpoints and configmaps locks were removed from Kubernetes)")
            }
            settings.resourceLock = v
        }
        if let (v, source) = value("leader-elect-resource-name") {
            guard !v.isEmpty else { throw InvalidValue(message: "\(source) must not be empty") }
            settings.leaseName = v
        }
        if let (v, source) = value("kube-api-qps") {
            guard let qps = Double(v), qps >= 0, qps.isFinite else { throw InvalidValue(message: "\(source)=\(v): expected a number >= 0") }
            settings.qps = qps
        }
        if let (v, source) = value("kube-api-burst") { settings.burst = try integer(v, source, 1...100_000) }
        if let (v, source) = value("workers") { settings.workers = try integer(v, source, 1...1024) }
        if let (v, _) = value("cluster-cidr") { settings.clusterCIDRs = list(v) }
        if let (v, source) = value("node-cidr-mask-size-ipv4") { settings.nodeMaskSizeIPv4 = try integer(v, source, 1...32) }
        if let (v, source) = value("node-cidr-mask-size-ipv6") { settings.nodeMaskSizeIPv6 = try integer(v, source, 1...128) }
        if let (v, _) = value("service-cluster-ip-range") { settings.serviceClusterIPRanges = list(v) }
        if let (v, _) = value("exclude-cidrs") { settings.excludeCIDRs = list(v) }
        if let (v, source) = value("release-cooldown") { settings.releaseCooldown = try cooldown(v, source) }
        if let (v, source) = value("v") { settings.verbosity = try integer(v, source, 0...10) }
        if let (v, source) = value("log-format") {
            guard v == "text" || v == "json" else { throw InvalidValue(message: "\(source)=\(v): expected text or json") }
            settings.logFormat = v
        }
        try validateAddresses(settings, source: { flag in value(flag)?.1 ?? "--\(flag)" })
        guard settings.renewDeadline < settings.leaseDuration else {
            throw InvalidValue(message: "--leader-elect-renew-deadline (\(format(settings.renewDeadline))) must be shorter than --leader-elect-lease-duration (\(format(settings.leaseDuration)))")
        }
        guard settings.retryPeriod < settings.renewDeadline else {
            throw InvalidValue(message: "--leader-elect-retry-period (\(format(settings.retryPeriod))) must be shorter than --leader-elect-renew-deadline (\(format(settings.renewDeadline)))")
        }
        return settings
    }

    /// Every address-shaped value is checked before any network call: a typo is one line
    /// naming the flag, not a failure minutes later (or a pool created from a bad value).
    static func validateAddresses(_ settings: Settings, source: (String) -> String) throws(InvalidValue) {
        if let server = settings.apiServer, !server.isEmpty {
            guard let url = URL(string: server), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw InvalidValue(message: "\(source("apiserver"))=\(server): expected a URL such as https://127.0.0.1:6443")
            }
        }
        do {
            _ = try HealthServer.parse(settings.webserverBindAddress)
        } catch {
            throw InvalidValue(message: "\(source("webserver-bind-address"))=\(settings.webserverBindAddress): expected HOST:PORT or :PORT with a port from 0 to 65535")
        }
        for range in settings.serviceClusterIPRanges {
            do { _ = try IPPrefix(parsing: range) } catch {
                throw InvalidValue(message: "\(source("service-cluster-ip-range"))=\(range): \(error.description)")
            }
        }
        for range in settings.excludeCIDRs {
            do { _ = try IPPrefix(parsing: range) } catch {
                throw InvalidValue(message: "\(source("exclude-cidrs"))=\(range): \(error.description); list CIDRs such as 10.0.0.0/24,fd00::/64")
            }
        }
        if settings.serviceClusterIPRanges.count > 2 {
            throw InvalidValue(message: "\(source("service-cluster-ip-range")): at most one IPv4 and one IPv6 range, got \(settings.serviceClusterIPRanges.count)")
        }
        guard !settings.clusterCIDRs.isEmpty else { return }
        do {
            let pool = try DefaultClusterCIDR.object(clusterCIDRs: settings.clusterCIDRs, nodeMaskSizeIPv4: settings.nodeMaskSizeIPv4,
                                                     nodeMaskSizeIPv6: settings.nodeMaskSizeIPv6)
            _ = try pool.poolDefinition()
        } catch {
            let detail = error.errors.map { "\($0.field == "--cluster-cidr" ? "" : $0.field + ": ")\($0.message)" }.joined(separator: "; ")
            throw InvalidValue(message: "\(source("cluster-cidr"))=\(settings.clusterCIDRs.joined(separator: ",")) with node masks /\(settings.nodeMaskSizeIPv4) and /\(settings.nodeMaskSizeIPv6): \(detail)")
        }
    }

    /// Every setting as log metadata (nothing here is secret: credentials stay in the
    /// kubeconfig, which is named, not read out).
    var effectiveConfiguration: Logger.Metadata {
        [
            "kubeconfig": "\(kubeconfig ?? "(KUBECONFIG or in-cluster)")", "apiserver": "\(apiServer ?? "(from kubeconfig)")",
            "webserverBindAddress": "\(webserverBindAddress)", "leaderElection": "\(leaderElection)",
            "leaderElectID": "\(leaderElectID)", "leaderElectNamespace": "\(leaderElectNamespace)", "leaseName": "\(leaseName)",
            "leaseDuration": "\(Self.format(leaseDuration))", "renewDeadline": "\(Self.format(renewDeadline))",
            "retryPeriod": "\(Self.format(retryPeriod))", "qps": "\(qps)", "burst": "\(burst)", "workers": "\(workers)",
            "clusterCIDRs": "\(clusterCIDRs.joined(separator: ","))", "nodeMaskSizeIPv4": "\(nodeMaskSizeIPv4)",
            "nodeMaskSizeIPv6": "\(nodeMaskSizeIPv6)", "serviceClusterIPRanges": "\(serviceClusterIPRanges.joined(separator: ","))",
            "verbosity": "\(verbosity)", "logFormat": "\(logFormat)",
            "excludeCIDRs": "\(excludeCIDRs.joined(separator: ","))", "releaseCooldown": "\(Self.format(releaseCooldown))",
        ]
    }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func bool(_ text: String, _ source: String) throws(InvalidValue) -> Bool {
        switch text.lowercased() {
        case "true", "1", "t", "yes": return true
        case "false", "0", "f", "no": return false
        default: throw InvalidValue(message: "\(source)=\(text): expected true or false")
        }
    }

    static func integer(_ text: String, _ source: String, _ range: ClosedRange<Int>) throws(InvalidValue) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw InvalidValue(message: "\(source)=\(text): expected an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Go duration syntax: "15s", "1m30s", "500ms", "1.5h", "2us".
    static func duration(_ text: String, _ source: String) throws(InvalidValue) -> Duration {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text)
        var seconds = 0.0
        if rest.isEmpty { throw InvalidValue(message: "\(source)=\(text): expected a duration such as 15s or 1m30s") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            guard let amount = Double(number), let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else {
                throw InvalidValue(message: "\(source)=\(text): expected a duration such as 15s or 1m30s")
            }
            rest = rest.dropFirst(unit.0.count)
            seconds += amount * unit.1
        }
        guard seconds > 0 else { throw InvalidValue(message: "\(source)=\(text): must be longer than zero") }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// A duration that may be zero ("0", "0s", "0m": the cooldown is off).
    static func cooldown(_ text: String, _ source: String) throws(InvalidValue) -> Duration {
        if text.range(of: #"^0+(\.0*)?(ns|us|µs|ms|s|m|h)?$"#, options: .regularExpression) != nil { return .zero }
        return try duration(text, source)
    }

    static func format(_ duration: Duration) -> String {
        let ms = duration.inMilliseconds
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
