import Foundation
import KubeClient
import Logging

@main
enum Main {
    static func main() async {
        Output.ignoreBrokenPipes()
        var arguments = Array(CommandLine.arguments.dropFirst())
        let subcommand = arguments.first.flatMap { ["run", "demo", "api-requests", "check", "plan"].contains($0) ? $0 : nil } ?? "run"
        if arguments.first == subcommand { arguments.removeFirst() }
        switch subcommand {
        case "demo":
            exit(await DemoCommand.main(arguments))
        case "check":
            exit(await CheckCommand.main(arguments, environment: ProcessInfo.processInfo.environment))
        case "plan":
            exit(await PlanCommand.main(arguments, environment: ProcessInfo.processInfo.environment))
        case "api-requests":
            let leaseName = ProcessInfo.processInfo.environment["IPAM_RESOURCE_NAME"] ?? "node-ipam-controller"
            Output.standardOutput(APIRequestCatalog.json(leaseName: leaseName, readOnly: arguments.contains("--read-only")))
            exit(0)
        default:
            exit(await RunCommand.main(arguments, environment: ProcessInfo.processInfo.environment))
        }
    }
}

/// Prints one line to standard error (never traps on a closed pipe).
func printError(_ text: String) {
    Output.standardError(text)
}
