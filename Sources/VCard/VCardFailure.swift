/// Why a card (or a stretch of input) could not be read, and where.
public struct VCardFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input line the problem is on (1-based).
    public var line: Int
    /// The line of the card's `BEGIN:VCARD`, when the problem is inside a card.
    public var cardLine: Int?
    /// The property at fault (`PHOTO`), when one is.
    public var property: String?
    /// What is wrong, in plain words.
    public var message: String

    /// Creates a failure.
    public init(line: Int, cardLine: Int? = nil, property: String? = nil, message: String) {
        self.line = line
        self.cardLine = cardLine
        self.property = property
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}
