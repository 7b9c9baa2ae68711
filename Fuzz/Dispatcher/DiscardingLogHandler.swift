import Logging

/// Drops every log line, but at debug level, so the server's debug-only work (the line per
/// request, with the redaction of client text) still runs on every input.
struct DiscardingLogHandler: LogHandler {
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {}
}
