import MonotonicClock
import Glibc

/// What the output may use: colour only on a terminal, and never when NO_COLOR is set.
enum Terminal {
    static let isTTY = isatty(1) == 1
    static let colors = isTTY && (getenv("NO_COLOR").map { String(cString: $0).isEmpty } ?? true)

    static func bold(_ text: String) -> String { colors ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    static func dim(_ text: String) -> String { colors ? "\u{1B}[2m\(text)\u{1B}[0m" : text }

    /// Writes to standard error.
    static func error(_ text: String) {
        var line = text.hasSuffix("\n") ? text : text + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// Writes to standard output, unbuffered per call (so streamed pages appear at once).
    static func output(_ text: String) {
        var line = text.hasSuffix("\n") ? text : text + "\n"
        line.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// Milliseconds on the monotonic clock.
func monotonicMilliseconds() -> Double {
    Double(MonotonicClock.nanoseconds()) / 1_000_000
}

/// One decimal, without Foundation.
func format1(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
