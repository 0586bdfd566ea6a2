import Foundation
import Synchronization

/// A small Prometheus registry: counter, gauge and histogram families with labels, rendered
/// in the text exposition format 0.0.4. Thread-safe.
public final class MetricsRegistry: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public final class Family: Sendable {
        public let name: String
        public let help: String
        public let kind: Kind
        public let labelNames: [String]
        public let buckets: [Double]

        fileprivate struct Histogram {
            /// Cumulative bucket counts (+Inf last).
            var buckets: [UInt64]
            var sum: Double = 0
            var count: UInt64 = 0
        }

        fileprivate struct Series {
            var values: [[String]: Double] = [:]
            var histograms: [[String]: Histogram] = [:]
        }

        private let series = Mutex(Series())

        fileprivate init(name: String, help: String, kind: Kind, labelNames: [String], buckets: [Double]) {
            self.name = name
            self.help = help
            self.kind = kind
            self.labelNames = labelNames
            self.buckets = buckets
        }

        public func inc(_ labels: [String] = [], by amount: Double = 1) {
            series.withLock { $0.values[labels, default: 0] += amount }
        }

        public func set(_ labels: [String] = [], _ value: Double) {
            series.withLock { $0.values[labels] = value }
        }

        public func observe(_ labels: [String] = [], _ value: Double) {
            let buckets = self.buckets
            series.withLock { series in
                var entry = series.histograms[labels] ?? Histogram(buckets: Array(repeating: 0, count: buckets.count + 1))
                for (index, bound) in buckets.enumerated() where value <= bound { entry.buckets[index] += 1 }
                entry.buckets[buckets.count] += 1
                entry.sum += value
                entry.count += 1
                series.histograms[labels] = entry
            }
        }

        public func remove(_ labels: [String]) {
            series.withLock {
                $0.values[labels] = nil
                $0.histograms[labels] = nil
            }
        }

        public func removeAll(where predicate: ([String]) -> Bool) {
            series.withLock { series in
                for key in series.values.keys where predicate(key) { series.values[key] = nil }
                for key in series.histograms.keys where predicate(key) { series.histograms[key] = nil }
            }
        }

        /// The current value of a counter or gauge (tests).
        public func value(_ labels: [String] = []) -> Double? { series.withLock { $0.values[labels] } }

        /// Count of a histogram's observations (tests).
        public func count(_ labels: [String] = []) -> UInt64 { series.withLock { $0.histograms[labels]?.count ?? 0 } }

        fileprivate func render(into text: inout String) {
            let (values, histograms) = series.withLock { ($0.values, $0.histograms) }
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

    private struct State {
        var families: [String: Family] = [:]
        var collectors: [@Sendable () -> String] = []
    }

    private let state = Mutex(State())

    public init() {}

    private func family(_ name: String, _ help: String, _ kind: Kind, _ labels: [String], _ buckets: [Double] = []) -> Family {
        state.withLock { state in
            if let existing = state.families[name] { return existing }
            let created = Family(name: name, help: help, kind: kind, labelNames: labels, buckets: buckets.sorted())
            state.families[name] = created
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
        state.withLock { $0.collectors.append(collect) }
    }

    public func render() -> String {
        var text = ""
        let (families, extra) = state.withLock { state in
            (state.families.sorted { $0.key < $1.key }.map(\.value), state.collectors)
        }
        for family in families { family.render(into: &text) }
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
