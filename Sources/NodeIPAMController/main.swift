// The controller is delivered by the controller issue; until then the binary says so.
#if canImport(Glibc)
import Glibc
#endif
import ClusterCIDRAPI
import MultiCIDR

let message = "node-ipam-controller: the controller is not built yet; only the allocation engine (MultiCIDR) and the ClusterCIDR API exist so far\n"
_ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
exit(1)
