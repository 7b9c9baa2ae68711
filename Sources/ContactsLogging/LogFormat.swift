import Logging

/// How the executables write their logs to stderr.
public enum LogFormat: String, Sendable, CaseIterable {
    /// Readable lines, with control characters escaped (see `TextLogHandler`).
    case text
    /// One JSON object a line (`ts`, `level`, `label`, `message`, then metadata), for journald
    /// and log shippers.
    case json

    /// Installs the handler for the whole process (call once, first thing in `run`).
    public func bootstrap(level: Logger.Level) {
        switch self {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = TextLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
