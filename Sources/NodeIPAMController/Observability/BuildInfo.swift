/// What `--version`, the start-up log line and `node_ipam_controller_build_info` report.
enum BuildInfo {
    /// The release (the chart's appVersion).
    static let version = "0.1.0"
    static let commit = buildCommit

    /// The compiler that built the binary.
    static let swiftVersion: String = {
        #if compiler(>=6.4)
        return "6.4+"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()

    static var summary: String { "node-ipam-controller \(version) (commit \(commit), Swift \(swiftVersion))" }
}
