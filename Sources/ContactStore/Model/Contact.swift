/// A contact as stored and as returned by every method.
public struct Contact: Sendable, Equatable {
    /// Unique (case-insensitively) login-style name, stored as given.
    public var username: String
    /// Given name, trimmed.
    public var firstName: String
    /// Family name, trimmed.
    public var lastName: String
    /// Email addresses in insertion order.
    public var emails: [Email]
    /// Set by the store when the contact is created.
    public var createdAt: Timestamp
    /// Set by the store on every write.
    public var updatedAt: Timestamp
    /// Starts at 1 and goes up by one with each update.
    public var version: Int64

    /// Creates a contact value; the store sets timestamps and version on writes.
    public init(
        username: String, firstName: String, lastName: String, emails: [Email],
        createdAt: Timestamp, updatedAt: Timestamp, version: Int64
    ) {
        self.username = username
        self.firstName = firstName
        self.lastName = lastName
        self.emails = emails
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}
