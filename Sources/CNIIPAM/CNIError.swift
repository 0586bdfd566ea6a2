/// An error the plugin reports to the runtime: printed on stdout as the CNI error object
/// (`cniVersion`, `code`, `msg`, `details`) with a non-zero exit status.
/// `msg` names the cause; `details` says how to fix it.
public struct CNIError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: Code
    public let msg: String
    public let details: String

    public init(_ code: Code, _ msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public var description: String { details.isEmpty ? "\(msg) (code \(code.rawValue))" : "\(msg): \(details) (code \(code.rawValue))" }

    /// The error object of the CNI specification ("Error" section).
    public func json(cniVersion: String) -> JSONValue {
        var object: JSONObject = ["cniVersion": .string(cniVersion), "code": .int(code.rawValue), "msg": .string(msg)]
        if !details.isEmpty { object["details"] = .string(details) }
        return .object(object)
    }

    /// Error codes: 1–51 are the CNI specification's well-known codes; 100 and up are ours
    /// (documented in docs/node-ipam.md).
    public enum Code: Int, Sendable, Hashable, CaseIterable {
        case incompatibleVersion = 1
        case unsupportedField = 2
        case unknownContainer = 3
        case invalidEnvironment = 4
        case ioFailure = 5
        case decodingFailure = 6
        case invalidNetworkConfig = 7
        case tryAgainLater = 11
        case pluginNotAvailable = 50
        case pluginNotAvailableLimitedConnectivity = 51

        /// CHECK: the container holds no address in a range set.
        case reservationMissing = 100
        /// CHECK: the container's reserved address differs from the one in `prevResult`.
        case reservationMismatch = 101
        /// The config asks for the node's podCIDRs and no source has them.
        case nodePodCIDRsNotFound = 102
        /// A podCIDR source exists but its content is not usable.
        case nodePodCIDRsInvalid = 103
        /// A range set has no free address left.
        case rangeSetExhausted = 110
    }
}
