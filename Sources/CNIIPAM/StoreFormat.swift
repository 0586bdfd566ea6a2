import MultiCIDR

/// The store directory's layout, the same as host-local's so either plugin reads the other's:
/// one file per address named by its canonical text holding `<containerID>\r\n<ifname>`,
/// `last_reserved_ip.<range set index>` holding the last address handed out from that set,
/// and `lock`, the file every change holds `flock(LOCK_EX)` on.
public enum StoreFormat {
    public static let lockFileName = "lock"
    public static let cursorFilePrefix = "last_reserved_ip."
    /// Our files being written; under the lock any such file is left over from a killed call.
    public static let temporaryPrefix = ".node-ipam-tmp-"

    /// What a directory entry of the store is.
    public enum Entry: Sendable, Hashable {
        case address(IPAddress)
        case cursor(setIndex: Int)
        case lock
        case temporary
        case other
    }

    public static func classify(_ name: String) -> Entry {
        if name == lockFileName { return .lock }
        if name.hasPrefix(temporaryPrefix) { return .temporary }
        if name.hasPrefix(cursorFilePrefix) {
            if let index = Int(name.dropFirst(cursorFilePrefix.count)), index >= 0 { return .cursor(setIndex: index) }
            return .other
        }
        // Only the canonical text names an address: "010.0.0.1" or "FD00::1" are not ours.
        if let address = try? IPAddress(parsing: name), address.description == name { return .address(address) }
        return .other
    }

    public static func addressFileName(_ address: IPAddress) -> String { address.description }
    public static func cursorFileName(setIndex: Int) -> String { cursorFilePrefix + String(setIndex) }

    /// A cursor file's content: the address as text (host-local writes no newline; we accept one).
    public static func parseCursor(_ text: String, family: IPFamily? = nil) -> IPAddress? {
        guard let address = try? IPAddress(parsing: text.trimmed) else { return nil }
        return family == nil || address.family == family ? address : nil
    }
}

/// Kubernetes pod identity from `CNI_ARGS`, recorded with each allocation and logged.
public struct PodIdentity: Sendable, Hashable, CustomStringConvertible {
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var infraContainerID: String?

    public init(namespace: String? = nil, name: String? = nil, uid: String? = nil, infraContainerID: String? = nil) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.infraContainerID = infraContainerID
    }

    public init(cniArgs: [String: String]) {
        self.init(namespace: cniArgs["K8S_POD_NAMESPACE"], name: cniArgs["K8S_POD_NAME"],
                  uid: cniArgs["K8S_POD_UID"], infraContainerID: cniArgs["K8S_POD_INFRA_CONTAINER_ID"])
    }

    public var isEmpty: Bool { namespace == nil && name == nil && uid == nil }

    public var description: String {
        "\(namespace ?? "?")/\(name ?? "?")" + (uid.map { " uid=\($0)" } ?? "")
    }
}

/// Who holds an address: the content of its file.
public struct Owner: Sendable, Hashable {
    public let containerID: String
    /// Nil in host-local's legacy files that hold only the container id (they match any interface).
    public let ifname: String?
    public let pod: PodIdentity

    public init(containerID: String, ifname: String?, pod: PodIdentity = PodIdentity()) {
        self.containerID = containerID
        self.ifname = ifname
        self.pod = pod
    }

    public func matches(containerID id: String, ifname name: String) -> Bool {
        containerID == id && (ifname == nil || ifname == name)
    }

    /// `<containerID>\r\n<ifname>` exactly as host-local writes it, followed by the pod
    /// (`\r\npod=<namespace>/<name>\r\nuid=<uid>`) when the runtime told us.
    public var fileContent: String {
        var text = containerID + "\r\n" + (ifname ?? "")
        if pod.namespace != nil || pod.name != nil { text += "\r\npod=\(pod.namespace ?? "")/\(pod.name ?? "")" }
        if let uid = pod.uid { text += "\r\nuid=\(uid)" }
        return text
    }

    /// Reads an address file; nil when it holds no container id (an empty file left by a
    /// host-local that was killed while writing, say): such an address counts as taken.
    public init?(fileContent text: String) {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.trimmed }
        guard let id = lines.first, !id.isEmpty, Validation.isValidContainerID(id) else { return nil }
        containerID = id
        ifname = lines.count > 1 && !lines[1].isEmpty ? lines[1] : nil
        var pod = PodIdentity()
        for line in lines.dropFirst(2) {
            if line.hasPrefix("pod=") {
                let value = line.dropFirst(4)
                let slash = value.firstIndex(of: "/") ?? value.endIndex
                pod.namespace = String(value[..<slash])
                pod.name = slash < value.endIndex ? String(value[value.index(after: slash)...]) : nil
            } else if line.hasPrefix("uid=") {
                pod.uid = String(line.dropFirst(4))
            }
        }
        self.pod = pod
    }
}

/// What the store holds, read under the lock.
public struct StoreSnapshot: Sendable {
    /// Every address file; nil owner = unreadable content (still taken).
    public var allocations: [IPAddress: Owner?]
    public var cursors: [Int: IPAddress]

    public init(allocations: [IPAddress: Owner?] = [:], cursors: [Int: IPAddress] = [:]) {
        self.allocations = allocations
        self.cursors = cursors
    }

    /// The addresses `(containerID, ifname)` holds, ascending.
    public func addresses(of containerID: String, ifname: String) -> [IPAddress] {
        allocations.compactMap { address, owner in
            owner?.matches(containerID: containerID, ifname: ifname) == true ? address : nil
        }.sorted()
    }
}

/// Checks of the `CNI_*` environment values (libcni's rules).
public enum Validation {
    /// `[A-Za-z0-9][A-Za-z0-9_.-]*`
    public static func isValidContainerID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, isAlphanumeric(first) else { return false }
        return id.unicodeScalars.allSatisfy { isAlphanumeric($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }

    /// At most 15 bytes, not `.`/`..`, no `/`, `:` or whitespace.
    public static func isValidInterfaceName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 15, name != ".", name != ".." else { return false }
        return !name.unicodeScalars.contains { $0 == "/" || $0 == ":" || $0.properties.isWhitespace }
    }

    static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
