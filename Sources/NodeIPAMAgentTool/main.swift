import Foundation
import NodeIPAMAgent
import ServiceSupport

// node-ipam-agent: everything is in NodeIPAMAgent; this connects it to the process.
Output.ignoreBrokenPipes()
let code = await AgentCommand.main(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment,
                                   executablePath: Bundle.main.executablePath ?? CommandLine.arguments[0])
exit(code)
