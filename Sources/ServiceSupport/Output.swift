#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lines to standard output and standard error that can never stop the process.
///
/// Foundation's `FileHandle.write` traps on a closed or broken pipe (`node-ipam-controller … |
/// head` died of SIGILL); `write(2)` with SIGPIPE ignored returns EPIPE instead, and the line
/// is dropped: the controller keeps allocating, the demo ends normally.
public enum Output {
    /// Once at start: a write to a closed pipe fails with EPIPE rather than killing the process.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Writes `text` and a newline to `descriptor`; false when the line could not be written
    /// (closed pipe, full disk), which callers may ignore.
    @discardableResult
    public static func line(_ text: String, to descriptor: Int32) -> Bool {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    public static func standardOutput(_ text: String) { line(text, to: STDOUT_FILENO) }
    public static func standardError(_ text: String) { line(text, to: STDERR_FILENO) }
}
