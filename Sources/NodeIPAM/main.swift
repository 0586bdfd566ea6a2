#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NodeIPAMPlugin

// node-ipam: the CNI IPAM plugin (ipam.type "node-ipam"). Everything is in NodeIPAMPlugin;
// this only connects it to the process: environment and stdin in, stdout and exit status out.
// A reader that went away must not kill us (writes report EPIPE instead).
signal(SIGPIPE, SIG_IGN)
let output = Plugin.runProcess()
exit(output)
