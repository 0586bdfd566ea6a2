/// The CNI specification versions the plugin speaks, and which commands each allows.
public enum CNIVersion {
    /// Every version a runtime or main plugin may hand us; results echo the one asked for.
    public static let supported = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    public static let latest = "1.1.0"
    /// What libcni assumes when a config has no `cniVersion`.
    public static let implied = "0.1.0"

    /// `"1.0.0"` → `[1, 0, 0]`; nil when not three dot-separated numbers.
    public static func components(_ version: String) -> [Int]? {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let numbers = parts.compactMap { Int($0) }
        return numbers.count == 3 ? numbers : nil
    }

    /// True when `version` is at least `minimum` (both well-formed).
    public static func isAtLeast(_ version: String, _ minimum: String) -> Bool {
        guard let lhs = components(version), let rhs = components(minimum) else { return false }
        return !lhs.lexicographicallyPrecedes(rhs)
    }

    /// Results of 0.3.x and 0.4.0 carry `"version": "4"|"6"` on each IP.
    public static func ipsCarryVersion(_ version: String) -> Bool { !isAtLeast(version, "1.0.0") }

    /// The lowest version that has `command` (CHECK came in 0.4.0, GC and STATUS in 1.1.0).
    public static func minimum(for command: CNICommand) -> String {
        switch command {
        case .add, .del, .version: "0.3.0"
        case .check: "0.4.0"
        case .gc, .status: "1.1.0"
        }
    }

    /// Refuses versions we do not speak and commands the config's version does not have (code 1).
    public static func validate(_ version: String, for command: CNICommand) throws(CNIError) {
        guard supported.contains(version) else {
            throw CNIError(.incompatibleVersion, "incompatible CNI version \"\(version)\"",
                           details: "node-ipam supports cniVersion \(supported.joined(separator: ", ")); set one of them in the network config")
        }
        let minimum = minimum(for: command)
        guard isAtLeast(version, minimum) else {
            throw CNIError(.incompatibleVersion, "config version \(version) does not allow \(command.rawValue)",
                           details: "\(command.rawValue) needs cniVersion \(minimum) or later in the network config")
        }
    }
}

/// The value of `CNI_COMMAND`.
public enum CNICommand: String, Sendable, CaseIterable {
    case add = "ADD", del = "DEL", check = "CHECK", version = "VERSION", gc = "GC", status = "STATUS"
}
