#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CNIIPAM
import MultiCIDR

/// What one CNI call prints on stdout and its exit status.
public struct PluginOutput: Sendable {
    public let stdout: String
    public let exitCode: Int32
    /// Log lines, when the call ran with `captureLog` (tests).
    public let log: [String]
}

/// The shell around the pure core: reads the CNI environment and the config, does the
/// store's I/O under its lock, and turns every outcome into the spec's JSON.
public enum Plugin {
    /// Seconds to wait for the store lock before answering code 11 (`NODE_IPAM_LOCK_TIMEOUT` overrides).
    public static let defaultLockTimeout: UInt32 = 30

    /// The executable's body: the process environment and stdin in, the result on stdout;
    /// returns the exit status.
    public static func runProcess() -> Int32 {
        let output = run(environment: POSIX.environment(), stdin: POSIX.readAll(0))
        if !output.stdout.isEmpty { POSIX.writeAll(1, Array(output.stdout.utf8)) }
        return output.exitCode
    }

    /// Runs one CNI call. Never traps on bad input: every failure becomes an error object.
    public static func run(environment: [String: String], stdin: [UInt8], captureLog: Bool = false) -> PluginOutput {
        var call = Call(environment: environment, captureLog: captureLog)
        let stdout: String
        let exitCode: Int32
        do {
            stdout = try call.run(stdin: stdin)
            exitCode = 0
        } catch {
            call.logger.log(.error, "\(call.commandName) failed: \(error.msg)" + (error.details.isEmpty ? "" : " (\(error.details))"))
            stdout = error.json(cniVersion: call.replyVersion).serialized + "\n"
            exitCode = 1
        }
        call.logger.close()
        return PluginOutput(stdout: stdout, exitCode: exitCode, log: call.logger.captured ?? [])
    }
}

/// The state of one call.
struct Call {
    let environment: [String: String]
    var logger: Logger
    var replyVersion = CNIVersion.latest
    var commandName = "CNI call"

    init(environment: [String: String], captureLog: Bool) {
        self.environment = environment
        logger = Logger(environment: environment, logFile: environment["NODE_IPAM_LOG_FILE"], capture: captureLog)
    }

    mutating func run(stdin: [UInt8]) throws(CNIError) -> String {
        guard let commandText = environment["CNI_COMMAND"], !commandText.isEmpty else {
            throw CNIError(.invalidEnvironment, "CNI_COMMAND is not set",
                           details: "node-ipam is a CNI plugin: the runtime (or the main plugin) runs it with CNI_COMMAND=ADD|DEL|CHECK|GC|STATUS|VERSION")
        }
        guard let command = CNICommand(rawValue: commandText) else {
            throw CNIError(.invalidEnvironment, "unknown CNI_COMMAND \"\(commandText)\"",
                           details: "use one of \(CNICommand.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        commandName = command.rawValue
        if command == .version {
            let asked = (try? JSONValue.parse(stdin))?.objectValue?["cniVersion"]?.stringValue
            let version = asked.flatMap { CNIVersion.supported.contains($0) ? $0 : nil } ?? CNIVersion.latest
            return CNIResult.versionInfo(cniVersion: version).serialized + "\n"
        }
        let config = try NetworkConfig(parsing: stdin)
        replyVersion = config.replyVersion
        try CNIVersion.validate(config.cniVersion, for: command)
        // ipam.logFile is read before the rest of the ipam section, so config errors reach the file too.
        if let logFile = config.ipam["logFile"]?.stringValue, environment["NODE_IPAM_LOG_FILE"] == nil {
            logger.close()
            logger = Logger(environment: environment, logFile: logFile, capture: logger.captured != nil)
        }
        switch command {
        case .add: return try add(config)
        case .del: try del(config); return ""
        case .check: try check(config); return ""
        case .gc: try gc(config); return ""
        case .status: try status(config); return ""
        case .version: return ""
        }
    }

    // MARK: - Commands

    mutating func add(_ config: NetworkConfig) throws(CNIError) -> String {
        let (containerID, ifname) = try containerAndInterface(needsNetns: true)
        let pod = try podIdentity()
        let ipam = try IPAMConfig(config)
        let rangeSets = try resolvedRangeSets(ipam)
        let dns = try dnsSettings(ipam)
        let store = DiskStore(directory: try DiskStore.directory(for: config))
        let lock = try store.lock(timeout: lockTimeout)
        defer { lock.release() }
        let snapshot = try store.snapshot(removeLeftovers: true)
        var generator = SystemRandomNumberGenerator()
        let plan = try Allocator.planAdd(rangeSets: rangeSets, strategy: ipam.strategy, snapshot: snapshot,
                                         containerID: containerID, ifname: ifname, using: &generator)
        let owner = Owner(containerID: containerID, ifname: ifname, pod: pod)
        var reserved: [IPAddress] = []
        for planned in plan.newAddresses {
            do {
                try store.reserve(planned.address, for: owner)
                reserved.append(planned.address)
            } catch {
                for address in reserved { try? store.release(address) }
                throw error
            }
        }
        for (setIndex, address) in plan.cursorUpdates.sorted(by: { $0.key < $1.key }) {
            // The reservations are made; a cursor that cannot be written only changes where the next search starts.
            do { try store.writeCursor(setIndex: setIndex, address) } catch { logger.log(.warning, error.msg) }
        }
        let text = plan.addresses.map { "\($0.address)/\($0.range.subnet.length)" }.joined(separator: ",")
        let reused = plan.addresses.contains { !$0.isNew } ? " (repeated ADD: kept " + plan.addresses.filter { !$0.isNew }.map(\.address.description).joined(separator: ",") + ")" : ""
        logger.info("ADD pod=\(pod) container=\(containerID) ifname=\(ifname) addresses=\(text)\(reused) store=\(store.directory)")
        return CNIResult.json(cniVersion: config.cniVersion, addresses: plan.addresses, routes: ipam.routes, dns: dns).serialized + "\n"
    }

    mutating func del(_ config: NetworkConfig) throws(CNIError) {
        let (containerID, ifname) = try containerAndInterface(needsNetns: false)
        // DEL is best effort: CNI_ARGS only names the pod in the log, so it cannot make DEL fail.
        let pod = PodIdentity(cniArgs: (try? CNIArgs.parse(environment["CNI_ARGS"])) ?? [:])
        let directory = try DiskStore.directory(for: config)
        guard POSIX.exists(directory) else {
            logger.info("DEL pod=\(pod) container=\(containerID) ifname=\(ifname) released=none (no store \(directory))")
            return
        }
        let store = DiskStore(directory: directory)
        let lock = try store.lock(timeout: lockTimeout)
        defer { lock.release() }
        let snapshot = try store.snapshot(removeLeftovers: true)
        let addresses = Allocator.releasable(snapshot: snapshot, containerID: containerID, ifname: ifname)
        for address in addresses { try store.release(address) }
        let released = addresses.isEmpty ? "none" : addresses.map(\.description).joined(separator: ",")
        logger.info("DEL pod=\(pod) container=\(containerID) ifname=\(ifname) released=\(released)")
    }

    mutating func check(_ config: NetworkConfig) throws(CNIError) {
        let (containerID, ifname) = try containerAndInterface(needsNetns: true)
        let ipam = try IPAMConfig(config)
        let rangeSets = try resolvedRangeSets(ipam)
        let store = DiskStore(directory: try DiskStore.directory(for: config))
        // Files appear and disappear atomically (link, rename, unlink): reading needs no lock.
        let snapshot = try store.snapshot(removeLeftovers: false)
        try Allocator.check(rangeSets: rangeSets, snapshot: snapshot, containerID: containerID, ifname: ifname,
                            previous: try config.previousAddresses(), storeDirectory: store.directory)
        logger.info("CHECK container=\(containerID) ifname=\(ifname) ok", level: 2)
    }

    /// Releases every address no valid attachment holds; goes on past errors and reports the first.
    mutating func gc(_ config: NetworkConfig) throws(CNIError) {
        let valid = try config.validAttachments()
        let directory = try DiskStore.directory(for: config)
        guard POSIX.exists(directory) else { return }
        let store = DiskStore(directory: directory)
        let lock = try store.lock(timeout: lockTimeout)
        defer { lock.release() }
        let snapshot = try store.snapshot(removeLeftovers: true)
        let garbage = Allocator.garbage(snapshot: snapshot, valid: valid)
        var firstError: CNIError?
        for address in garbage {
            do {
                try store.release(address)
                let owner = snapshot.allocations[address].flatMap { $0 }
                logger.info("GC released \(address) container=\(owner?.containerID ?? "?") ifname=\(owner?.ifname ?? "?") pod=\(owner?.pod ?? PodIdentity())")
            } catch {
                firstError = firstError ?? error
            }
        }
        logger.info("GC kept \(snapshot.allocations.count - garbage.count) addresses, released \(garbage.count)", level: 2)
        if let firstError { throw firstError }
    }

    mutating func status(_ config: NetworkConfig) throws(CNIError) {
        let rangeSets: [RangeSet]
        do {
            rangeSets = try resolvedRangeSets(try IPAMConfig(config))
        } catch {
            throw CNIError(.pluginNotAvailable, "cannot serve ADD: \(error.msg)", details: error.details)
        }
        let store = DiskStore(directory: try DiskStore.directory(for: config))
        let snapshot: StoreSnapshot
        do {
            snapshot = try store.snapshot(removeLeftovers: false)
        } catch {
            throw CNIError(.pluginNotAvailableLimitedConnectivity, "cannot read the store: \(error.msg)", details: error.details)
        }
        for (index, free) in Allocator.freeCounts(rangeSets: rangeSets, snapshot: snapshot).enumerated() where free == 0 {
            throw CNIError(.pluginNotAvailable, "range set \(index) (\(rangeSets[index])) has no free address",
                           details: "delete pods on this node, release leaked addresses with GC, or give the node a larger podCIDR")
        }
    }

    // MARK: - Inputs

    var lockTimeout: UInt32 {
        UInt32(environment["NODE_IPAM_LOCK_TIMEOUT"] ?? "").map { max(1, $0) } ?? Plugin.defaultLockTimeout
    }

    func containerAndInterface(needsNetns: Bool) throws(CNIError) -> (String, String) {
        var missing: [String] = []
        let containerID = environment["CNI_CONTAINERID"] ?? ""
        let ifname = environment["CNI_IFNAME"] ?? ""
        if containerID.isEmpty { missing.append("CNI_CONTAINERID") }
        if needsNetns && (environment["CNI_NETNS"] ?? "").isEmpty { missing.append("CNI_NETNS") }
        if ifname.isEmpty { missing.append("CNI_IFNAME") }
        guard missing.isEmpty else {
            throw CNIError(.invalidEnvironment, "\(commandName) needs \(missing.joined(separator: ", ")), which \(missing.count == 1 ? "is" : "are") not set",
                           details: "the runtime (or the main plugin) must set them; see the CNI specification's parameters")
        }
        guard Validation.isValidContainerID(containerID) else {
            throw CNIError(.invalidEnvironment, "CNI_CONTAINERID \"\(containerID)\" has invalid characters",
                           details: "a container id starts with a letter or digit and has only letters, digits, \"_\", \".\" and \"-\"")
        }
        guard Validation.isValidInterfaceName(ifname) else {
            throw CNIError(.invalidEnvironment, "CNI_IFNAME \"\(ifname)\" is not a valid interface name",
                           details: "use at most 15 characters without \"/\", \":\" or spaces")
        }
        return (containerID, ifname)
    }

    mutating func podIdentity() throws(CNIError) -> PodIdentity {
        let pod = PodIdentity(cniArgs: try CNIArgs.parse(environment["CNI_ARGS"]))
        if pod.isEmpty {
            logger.log(.warning, "CNI_ARGS has no K8S_POD_NAMESPACE/K8S_POD_NAME/K8S_POD_UID: the allocation is recorded without its pod")
        }
        return pod
    }

    mutating func resolvedRangeSets(_ ipam: IPAMConfig) throws(CNIError) -> [RangeSet] {
        let nodeName = environment["NODE_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? POSIX.hostName()
        let found = try NodePodCIDRs.discover(request: ipam.nodePodCIDRs, agentFilePath: ipam.nodePodCIDRsFile,
                                              environment: environment, nodeName: nodeName,
                                              readFile: { try? POSIX.readText($0) })
        guard let found else { return ipam.rangeSets }
        let verb = found.source.hasPrefix("config") || found.source.hasPrefix("environment") ? "Using Pod CIDR from" : "Found Pod CIDR in"
        logger.info("\(verb) \(found.source): \(found.prefixes.map(\.description).joined(separator: ","))", level: 2)
        return try ipam.resolvedRangeSets(nodePodCIDRs: found.prefixes)
    }

    func dnsSettings(_ ipam: IPAMConfig) throws(CNIError) -> JSONObject {
        guard let path = ipam.resolvConf, !path.isEmpty else { return [:] }
        let text: String?
        do { text = try POSIX.readText(path) } catch {
            throw CNIError(.ioFailure, "cannot read ipam.resolvConf: \(error)", details: "fix the path or remove resolvConf")
        }
        guard let text else {
            throw CNIError(.invalidNetworkConfig, "ipam.resolvConf \(path) does not exist", details: "fix the path or remove resolvConf")
        }
        return CNIResult.dns(resolvConf: text)
    }
}
