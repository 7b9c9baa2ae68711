/// One problem with one input field, e.g. `emails[1]`: "must contain exactly one @".
public struct FieldError: Sendable, Equatable, CustomStringConvertible {
    /// The field path as the client named it: `username`, `emails[1]`.
    public var field: String
    /// What is wrong, in plain words.
    public var message: String

    /// Creates a field error.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
