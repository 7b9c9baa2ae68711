import ArgumentParser

/// A duration on the command line: `500ms`, `10s`, `1m30s`, `1h`, or a plain number of seconds.
/// Zero, negative, infinite and non-numbers are refused with a message naming the syntax.
struct DurationArgument: ExpressibleByArgument, Sendable {
    /// The duration in seconds.
    var seconds: Double

    init(seconds: Double) {
        self.seconds = seconds
    }

    init?(argument: String) {
        guard let seconds = Self.parse(argument), seconds > 0, seconds <= 86_400 * 365 else { return nil }
        self.seconds = seconds
    }

    var defaultValueDescription: String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(Int(seconds * 1000))ms"
    }

    /// Seconds for `text`, or nil when it is not a duration.
    static func parse(_ text: String) -> Double? {
        if let plain = Double(text) { return plain.isFinite ? plain : nil }
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            total += value * unit.seconds
        }
        return total.isFinite ? total : nil
    }
}
