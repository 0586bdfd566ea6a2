// The runnable form of LocalAPIServer is delivered by the LocalAPIServer issue.
#if canImport(Glibc)
import Glibc
#endif
import LocalAPIServer

let message = "local-apiserver: not built yet (see the LocalAPIServer issue)\n"
_ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
exit(1)
