/// A duration given on the command line: `500ms`, `15s`, `1m`, `1h`, or plain seconds (`2.5`).
public struct TaskDuration: Sendable, Equatable, CustomStringConvertible {
    /// The length in milliseconds.
    public var milliseconds: Int64

    /// A duration of `milliseconds`.
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// A duration of whole seconds.
    public static func seconds(_ seconds: Int64) -> TaskDuration { TaskDuration(milliseconds: seconds * 1000) }

    /// Seconds as a floating-point number.
    public var seconds: Double { Double(milliseconds) / 1000 }

    public var description: String {
        if milliseconds % 3_600_000 == 0 && milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0 && milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}
