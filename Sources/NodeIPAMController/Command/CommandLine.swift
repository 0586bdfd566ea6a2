import Foundation

/// Parses `run` arguments: `--flag=value`, `--flag value`, `-v N`, `-v=N`, and a bare
/// `--enable-leader-election` (= true). Unknown flags and missing values are errors.
enum ArgumentParsing {
    enum Parsed: Equatable {
        case help
        case version
        case flags([String: String])
    }

    struct UsageError: Error, CustomStringConvertible, Equatable {
        let message: String
        var description: String { message }
    }

    static func parse(_ arguments: [String], known: [FlagSpec] = Settings.flags) throws(UsageError) -> Parsed {
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "-h" || argument == "--help" || argument == "help" { return .help }
            if argument == "--version" || argument == "version" { return .version }
            var name: String
            if argument.hasPrefix("--") {
                name = String(argument.dropFirst(2))
            } else if argument.hasPrefix("-") && argument.count > 1 {
                name = String(argument.dropFirst(1))
            } else {
                throw UsageError(message: "unexpected argument \"\(argument)\"; flags start with --")
            }
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard known.contains(where: { $0.flag == name }) else {
                throw UsageError(message: "unknown flag --\(name); see --help")
            }
            if let inline {
                values[name] = inline
            } else if name == "enable-leader-election" {
                // A bare boolean flag means true (go-flags' AllowBoolValues); a following
                // true/false word is taken as its value.
                if index < arguments.count, ["true", "false"].contains(arguments[index].lowercased()) {
                    values[name] = arguments[index]
                    index += 1
                } else {
                    values[name] = "true"
                }
            } else {
                guard index < arguments.count else { throw UsageError(message: "flag --\(name) needs a value") }
                values[name] = arguments[index]
                index += 1
            }
        }
        return .flags(values)
    }

    static var helpText: String {
        var text = """
        node-ipam-controller: gives every Node its pod CIDRs from ClusterCIDR pools (networking.x-k8s.io/v1).

        Usage:
          node-ipam-controller [run] [flags]     run the controller (default)
          node-ipam-controller api-requests      print the API requests the controller makes (JSON, for RBAC checks)
          node-ipam-controller check [-o json]   list every problem in the cluster's pod ranges (read-only)
          node-ipam-controller plan -f FILE|DIR [--nodes FILE] [--delete NAMES] [-o json]
                                                 show what a ClusterCIDR change would do, before applying it (read-only)

        The demo (a bundled local API server with sample nodes) is its own program: node-ipam-demo.

        Flags (flag > environment variable > default):

        """
        for spec in Settings.flags {
            let flag = spec.flag == "v" ? "-v, --v" : "--\(spec.flag)"
            text += "  \(flag)\n      \(spec.help)\n      env \(spec.environment)"
            text += spec.defaultValue.isEmpty ? "\n" : ", default \(spec.defaultValue)\n"
        }
        text += "\nA bad value exits with code 2 and one line naming the flag.\n"
        return text
    }
}
