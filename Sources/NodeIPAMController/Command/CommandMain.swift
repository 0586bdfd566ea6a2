import Foundation
import KubeClient
import Logging

/// The `node-ipam-controller` command line (the executable is Sources/NodeIPAMControllerTool):
/// `run` (the default), `check`, `plan`, `api-requests`. The demo is its own executable, `node-ipam-demo`, so
/// that this one links neither swift-nio nor LocalAPIServer (docs/architecture.md).
public enum Main {
    public static func main(_ arguments: [String], environment: [String: String]) async -> Int32 {
        Output.ignoreBrokenPipes()
        var arguments = arguments
        let subcommand = arguments.first.flatMap { ["run", "demo", "api-requests", "check", "plan"].contains($0) ? $0 : nil } ?? "run"
        if arguments.first == subcommand { arguments.removeFirst() }
        switch subcommand {
        case "demo":
            printError("node-ipam-controller: the demo is its own program now: run `bash hack/demo.sh` (or `swift run node-ipam-demo`)")
            return 2
        case "check":
            return await CheckCommand.main(arguments, environment: environment)
        case "plan":
            return await PlanCommand.main(arguments, environment: environment)
        case "api-requests":
            let leaseName = environment["IPAM_RESOURCE_NAME"] ?? "node-ipam-controller"
            Output.standardOutput(APIRequestCatalog.json(leaseName: leaseName, readOnly: arguments.contains("--read-only")))
            return 0
        default:
            return await RunCommand.main(arguments, environment: environment)
        }
    }
}

/// Prints one line to standard error (never traps on a closed pipe).
func printError(_ text: String) {
    Output.standardError(text)
}
