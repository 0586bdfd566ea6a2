#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// klog-style lines (`I1201 21:54:06.123456   4242 node-ipam] …`, UTC) to stderr and/or a
/// file — never stdout, which carries the result. `KLOG_V` sets the verbosity (4 = debug);
/// with a log file, stderr gets the lines too when `KLOG_LOGTOSTDERR=true`.
struct Logger {
    enum Severity: Character { case info = "I", warning = "W", error = "E" }

    var verbosity: Int
    var toStderr: Bool
    var fileDescriptor: Int32?
    /// Lines kept for tests (in-process runs); nil in the executable.
    var captured: [String]?

    init(environment: [String: String], logFile: String?, capture: Bool = false) {
        verbosity = Int(environment["KLOG_V"] ?? "") ?? 0
        fileDescriptor = nil
        if let logFile, !logFile.isEmpty {
            let fd = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if fd >= 0 { fileDescriptor = fd }
        }
        // Captured (in-process tests): the lines go to `captured` instead of the test's stderr.
        toStderr = !capture && (fileDescriptor == nil || environment["KLOG_LOGTOSTDERR"]?.lowercased() == "true")
        captured = capture ? [] : nil
        if let logFile, !logFile.isEmpty, fileDescriptor == nil {
            log(.warning, "cannot open log file \(logFile): \(POSIX.errorText); logging to stderr")
        }
    }

    func enabled(_ level: Int) -> Bool { verbosity >= level }

    mutating func info(_ message: @autoclosure () -> String, level: Int = 0) {
        if verbosity >= level { log(.info, message()) }
    }

    mutating func log(_ severity: Severity, _ message: String) {
        let line = Logger.prefix(severity) + message + "\n"
        captured?.append(line)
        let bytes = Array(line.utf8)
        if toStderr { POSIX.writeAll(2, bytes) }
        if let fileDescriptor { POSIX.writeAll(fileDescriptor, bytes) }
    }

    func close() {
        if let fileDescriptor { _ = closeDescriptor(fileDescriptor) }
    }

    static func prefix(_ severity: Severity) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let pid = String(getpid())
        return "\(severity.rawValue)\(pad(Int(parts.tm_mon) + 1, 2))\(pad(Int(parts.tm_mday), 2)) "
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(now.tv_nsec / 1000, 6)) "
            + String(repeating: " ", count: max(0, 7 - pid.count)) + pid + " node-ipam] "
    }
}

private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
