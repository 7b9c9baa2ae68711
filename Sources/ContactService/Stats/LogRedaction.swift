/// What a log line may say of a string a client chose (a method name, an id).
///
/// Contacts are personal data: no email address may reach a log at any level, and a client may
/// send one anywhere, as an id or a method name. So any such string holding an `@` is replaced by
/// a placeholder; control characters in the rest are escaped by the log handlers themselves.
enum LogRedaction {
    /// The placeholder for a redacted value.
    static let placeholder = "<redacted>"

    /// `text` as it may appear in a log line.
    static func clientText(_ text: String) -> String {
        text.utf8.contains(UInt8(ascii: "@")) ? placeholder : text
    }
}
