import Logging

/// What our two handlers share: a level, handler metadata merged under each event's, and one
/// line per event written to stderr by `log(event:)`.
protocol StderrLogHandler: LogHandler {}

extension StderrLogHandler {
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The handler's metadata with the event's on top.
    func mergedMetadata(_ event: LogEvent) -> Logger.Metadata {
        metadata.merging(event.metadata ?? [:]) { _, new in new }
    }
}
