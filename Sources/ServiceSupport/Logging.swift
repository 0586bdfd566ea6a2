import Foundation
import KubeClient
import Logging
import Synchronization

/// `--log-format`.
public enum LogFormat: String, Sendable { case text, json }

/// One line per message, text (klog-like) or JSON, to standard error.
public struct IPAMLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let label: String
    public let format: LogFormat
    public let sink: @Sendable (String) -> Void

    public init(label: String, format: LogFormat, level: Logger.Level, sink: @escaping @Sendable (String) -> Void = IPAMLogHandler.standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let writeLock = Mutex(())

    public static let standardError: @Sendable (String) -> Void = { line in
        writeLock.withLock { _ in _ = Output.line(line, to: STDERR_FILENO) }
    }

    public static func timestamp() -> String { KubeTime.milli() }

    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        if let error = event.error { all["error"] = "\(error)" }
        switch format {
        case .text:
            let fields = all.keys.sorted().map { "\($0)=\(Self.quoteIfNeeded("\(all[$0]!)"))" }.joined(separator: " ")
            sink("\(Self.timestamp()) \(Self.paddedLevel(level)) \(message)\(fields.isEmpty ? "" : " " + fields)")
        case .json:
            var object: [String: String] = ["ts": Self.timestamp(), "level": level.rawValue, "msg": "\(message)", "logger": label]
            for (key, value) in all where object[key] == nil { object[key] = "\(value)" }
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                sink(String(decoding: data, as: UTF8.self))
            }
        }
    }

    public static func quoteIfNeeded(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") }) else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            if scalar == "\"" { quoted += "\\" }
            quoted.unicodeScalars.append(scalar)
        }
        return quoted + "\""
    }

    /// The level in capitals, padded to 8 columns (stdlib only: Foundation's `padding` cost more
    /// than the rest of a log line).
    static func paddedLevel(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "TRACE   "
        case .debug: "DEBUG   "
        case .info: "INFO    "
        case .notice: "NOTICE  "
        case .warning: "WARNING "
        case .error: "ERROR   "
        case .critical: "CRITICAL"
        }
    }

    /// `-v`: 0 info, 1-3 debug, 4+ trace.
    public static func level(verbosity: Int) -> Logger.Level {
        verbosity <= 0 ? .info : verbosity < 4 ? .debug : .trace
    }
}

/// Whether the logging system was bootstrapped (swift-log allows it once per process).
private let bootstrapped = Mutex(false)

/// Installs the log handler once per process (later calls are ignored).
public func bootstrapLogging(format: LogFormat, verbosity: Int) {
    bootstrapped.withLock { bootstrapped in
        guard !bootstrapped else { return }
        bootstrapped = true
        let level = IPAMLogHandler.level(verbosity: verbosity)
        LoggingSystem.bootstrap { IPAMLogHandler(label: $0, format: format, level: level) }
    }
}
