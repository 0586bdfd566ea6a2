import Foundation

/// The standard `process_*` figures (as Prometheus' Go and Python clients export them),
/// read from Linux's /proc at scrape time.
struct ProcessMetrics: Equatable, Sendable {
    var residentMemoryBytes: Double
    var virtualMemoryBytes: Double
    var cpuSeconds: Double
    /// Seconds since the Unix epoch.
    var startTimeSeconds: Double
    var openFDs: Double
    var maxFDs: Double?

    /// The fields of /proc/PID/stat we use, parsed from its text; nil when it does not parse.
    /// The command name (field 2) is in parentheses and may itself hold spaces or parentheses,
    /// so fields are counted from the last ")".
    struct Stat: Equatable {
        var utimeTicks: UInt64
        var stimeTicks: UInt64
        var startTicks: UInt64
        var virtualBytes: UInt64
        var residentPages: UInt64

        init?(_ text: String) {
            guard let close = text.lastIndex(of: ")") else { return nil }
            // After ")": field 3 (state) is index 0, so field N is index N - 3.
            let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
            func field(_ number: Int) -> UInt64? {
                let index = number - 3
                return index < fields.count ? UInt64(fields[index].trimmingCharacters(in: .whitespacesAndNewlines)) : nil
            }
            guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24) else { return nil }
            utimeTicks = utime
            stimeTicks = stime
            startTicks = start
            virtualBytes = vsize
            residentPages = rss
        }
    }

    /// Boot time (seconds since the epoch) from the `btime` line of /proc/stat.
    static func bootTime(procStat text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    init(residentMemoryBytes: Double, virtualMemoryBytes: Double, cpuSeconds: Double, startTimeSeconds: Double, openFDs: Double, maxFDs: Double?) {
        self.residentMemoryBytes = residentMemoryBytes
        self.virtualMemoryBytes = virtualMemoryBytes
        self.cpuSeconds = cpuSeconds
        self.startTimeSeconds = startTimeSeconds
        self.openFDs = openFDs
        self.maxFDs = maxFDs
    }

    init(stat: Stat, bootTime: Double, ticksPerSecond: Double, pageSize: Double, openFDs: Int, maxFDs: Double?) {
        self.init(residentMemoryBytes: Double(stat.residentPages) * pageSize, virtualMemoryBytes: Double(stat.virtualBytes),
                  cpuSeconds: Double(stat.utimeTicks + stat.stimeTicks) / ticksPerSecond,
                  startTimeSeconds: bootTime + Double(stat.startTicks) / ticksPerSecond, openFDs: Double(openFDs), maxFDs: maxFDs)
    }

    /// This process's figures now; nil where /proc is missing (not Linux) or unreadable.
    static func current() -> ProcessMetrics? {
        guard let statText = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let stat = Stat(statText),
              let procStat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let boot = bootTime(procStat: procStat)
        else { return nil }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        #if os(Linux)
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        // No limit (RLIM_INFINITY, all ones) is not a number worth exporting.
        let maxFDs: Double? = getrlimit(resource, &limit) == 0 && limit.rlim_cur != rlim_t.max ? Double(limit.rlim_cur) : nil
        return ProcessMetrics(stat: stat, bootTime: boot, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                              pageSize: Double(sysconf(Int32(_SC_PAGESIZE))), openFDs: fds, maxFDs: maxFDs)
    }
}
