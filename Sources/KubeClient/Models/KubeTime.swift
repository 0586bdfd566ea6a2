import Foundation

/// Time and MicroTime as the API server writes them (RFC 3339 in UTC). Formatting is done by
/// hand: the controller stamps every status condition and event, and building an
/// ISO8601DateFormatter for each showed up in profiles.
public enum KubeTime {
    /// `2026-12-01T17:48:58Z` (metav1.Time).
    public static func seconds(_ date: Date = Date()) -> String { format(date, fractionDigits: 0) }

    /// `2026-12-01T17:48:58.123456Z` (metav1.MicroTime).
    public static func micro(_ date: Date = Date()) -> String { format(date, fractionDigits: 6) }

    /// `2026-12-01T17:48:58.123Z` (log lines).
    public static func milli(_ date: Date = Date()) -> String { format(date, fractionDigits: 3) }

    static func format(_ date: Date, fractionDigits: Int) -> String {
        let interval = date.timeIntervalSince1970
        var whole = time_t(interval.rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        if fractionDigits > 0 {
            var scale = 1
            for _ in 0..<fractionDigits { scale *= 10 }
            let fraction = min(scale - 1, Int(((interval - interval.rounded(.down)) * Double(scale)).rounded(.down)))
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: fractionDigits - digits.count) + digits
        }
        return text + "Z"
    }

    /// Parses Time or MicroTime (any number of fractional digits).
    public static func parse(_ text: String?) -> Date? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
