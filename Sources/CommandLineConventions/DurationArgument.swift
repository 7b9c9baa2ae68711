import ArgumentParser

/// A duration on the command line, in the one syntax every Contacts program takes: `500ms`,
/// `15s`, `1m30s`, `1h`, or a plain number of seconds. Zero, negative, infinite, longer than a
/// year and non-numbers are refused (exit 2) with a message naming the syntax.
public struct DurationArgument: ExpressibleByArgument, Sendable, Equatable {
    /// The longest duration any flag takes: a year.
    public static let maxSeconds: Double = 86_400 * 365

    /// The duration in seconds.
    public var seconds: Double

    /// The duration in whole milliseconds (rounded).
    public var milliseconds: Int64 { Int64((seconds * 1000).rounded()) }

    /// A duration of `seconds`.
    public init(seconds: Double) {
        self.seconds = seconds
    }

    public init?(argument: String) {
        guard let seconds = Self.parse(argument), seconds > 0, seconds <= Self.maxSeconds else { return nil }
        self.seconds = seconds
    }

    public var defaultValueDescription: String {
        // Whole hours as hours (a 7-day default reads 168h, not 604800s): the syntax has no days.
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(Int(seconds * 1000))ms"
    }

    /// Seconds for `text` in the duration syntax, or nil when it is not one (or not finite).
    /// A plain number is seconds; units are `ms`, `s`, `m` and `h`, and may follow each other.
    public static func parse(_ text: String) -> Double? {
        if let plain = Double(text) { return plain.isFinite ? plain : nil }
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { ("0"..."9").contains($0) || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            total += value * unit.seconds
        }
        return total.isFinite ? total : nil
    }
}
