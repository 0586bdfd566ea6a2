import Foundation
import ServiceSupport

Output.ignoreBrokenPipes()
exit(await DemoCommand.main(Array(CommandLine.arguments.dropFirst())))
