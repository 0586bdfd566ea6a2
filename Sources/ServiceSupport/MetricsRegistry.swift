import Foundation

/// A small Prometheus registry: counter, gauge and histogram families with labels, rendered
/// in the text exposition format 0.0.4. Thread-safe.
public final class MetricsRegistry: @unchecked Sendable {
    public enum Kind: String { case counter, gauge, histogram }

    public final class Family: @unchecked Sendable {
        public let name: String
        public let help: String
        public let kind: Kind
        public let labelNames: [String]
        public let buckets: [Double]
        fileprivate let lock: NSLock
        fileprivate var values: [[String]: Double] = [:]
        /// Histograms: per label set, cumulative bucket counts (+Inf last), sum and count.
        fileprivate var histograms: [[String]: (buckets: [UInt64], sum: Double, count: UInt64)] = [:]

        fileprivate init(name: String, help: String, kind: Kind, labelNames: [String], buckets: [Double], lock: NSLock) {
            self.name = name
            self.help = help
            self.kind = kind
            self.labelNames = labelNames
            self.buckets = buckets
            self.lock = lock
        }

        public func inc(_ labels: [String] = [], by amount: Double = 1) {
            lock.withLock { values[labels, default: 0] += amount }
        }

        public func set(_ labels: [String] = [], _ value: Double) {
            lock.withLock { values[labels] = value }
        }

        public func observe(_ labels: [String] = [], _ value: Double) {
            lock.withLock {
                var entry = histograms[labels] ?? (Array(repeating: 0, count: buckets.count + 1), 0, 0)
                for (index, bound) in buckets.enumerated() where value <= bound { entry.buckets[index] += 1 }
                entry.buckets[buckets.count] += 1
                entry.sum += value
                entry.count += 1
                histograms[labels] = entry
            }
        }

        public func remove(_ labels: [String]) {
            lock.withLock {
                values[labels] = nil
                histograms[labels] = nil
            }
        }

        public func removeAll(where predicate: ([String]) -> Bool) {
            lock.withLock {
                for key in values.keys where predicate(key) { values[key] = nil }
                for key in histograms.keys where predicate(key) { histograms[key] = nil }
            }
        }

        /// The current value of a counter or gauge (tests).
        public func value(_ labels: [String] = []) -> Double? { lock.withLock { values[labels] } }

        /// Count of a histogram's observations (tests).
        public func count(_ labels: [String] = []) -> UInt64 { lock.withLock { histograms[labels]?.count ?? 0 } }

        fileprivate func render(into text: inout String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
            switch kind {
            case .counter, .gauge:
                for key in values.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    text += "\(name)\(MetricsRegistry.labels(labelNames, key)) \(MetricsRegistry.format(values[key]!))\n"
                }
            case .histogram:
                for key in histograms.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    let entry = histograms[key]!
                    for (index, bound) in buckets.enumerated() {
                        text += "\(name)_bucket\(MetricsRegistry.labels(labelNames + ["le"], key + [MetricsRegistry.format(bound)])) \(entry.buckets[index])\n"
                    }
                    text += "\(name)_bucket\(MetricsRegistry.labels(labelNames + ["le"], key + ["+Inf"])) \(entry.buckets[buckets.count])\n"
                    text += "\(name)_sum\(MetricsRegistry.labels(labelNames, key)) \(MetricsRegistry.format(entry.sum))\n"
                    text += "\(name)_count\(MetricsRegistry.labels(labelNames, key)) \(entry.count)\n"
                }
            }
        }
    }

    private let lock = NSLock()
    private var families: [String: Family] = [:]
    private var collectors: [@Sendable () -> String] = []

    public init() {}

    private func family(_ name: String, _ help: String, _ kind: Kind, _ labels: [String], _ buckets: [Double] = []) -> Family {
        lock.withLock {
            if let existing = families[name] { return existing }
            let created = Family(name: name, help: help, kind: kind, labelNames: labels, buckets: buckets.sorted(), lock: lock)
            families[name] = created
            return created
        }
    }

    public func counter(_ name: String, help: String, labels: [String] = []) -> Family { family(name, help, .counter, labels) }
    public func gauge(_ name: String, help: String, labels: [String] = []) -> Family { family(name, help, .gauge, labels) }
    public func histogram(_ name: String, help: String, labels: [String] = [], buckets: [Double]) -> Family {
        family(name, help, .histogram, labels, buckets)
    }

    /// Adds text produced at scrape time (already in exposition format).
    public func addCollector(_ collect: @escaping @Sendable () -> String) {
        lock.withLock { collectors.append(collect) }
    }

    public func render() -> String {
        var text = ""
        let extra: [@Sendable () -> String] = lock.withLock {
            for name in families.keys.sorted() { families[name]!.render(into: &text) }
            return collectors
        }
        for collect in extra { text += collect() }
        return text
    }

    public static func labels(_ names: [String], _ values: [String]) -> String {
        guard !names.isEmpty else { return "" }
        let pairs = zip(names, values).map { "\($0)=\"\(escape($1))\"" }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    public static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    public static func format(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
