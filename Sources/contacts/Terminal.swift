import MonotonicClock
import Glibc

/// What the output may use: colour only on a terminal, and never when NO_COLOR is set.
enum Terminal {
    static let isTTY = isatty(1) == 1
    static let colors = isTTY && (getenv("NO_COLOR").map { String(cString: $0).isEmpty } ?? true)

    /// Columns of the terminal on stdout (`TIOCGWINSZ`, else `$COLUMNS`, else 80); nil when
    /// stdout is not a terminal.
    static let columns: Int? = {
        guard isTTY else { return nil }
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = getenv("COLUMNS").map({ String(cString: $0) }), let value = Int(text), value > 0 { return value }
        return 80
    }()

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
