import Foundation
import NodeIPAMController

// The production executable: everything it does lives in the NodeIPAMController module,
// which the demo executable and the tests link too.
exit(await Main.main(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
