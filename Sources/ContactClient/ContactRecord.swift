import JSONRPC

/// A contact as the server sends it.
public struct ContactRecord: Sendable, Equatable {
    public var username: String
    public var firstName: String
    public var lastName: String
    public var emails: [String]
    /// RFC 3339 UTC with milliseconds, as sent.
    public var createdAt: String
    public var updatedAt: String
    public var version: Int

    /// Decodes the wire form; nil when a field is missing or of the wrong type.
    public init?(_ value: JSONValue) {
        guard let object = value.objectValue,
            let username = object["username"]?.stringValue,
            let firstName = object["first_name"]?.stringValue,
            let lastName = object["last_name"]?.stringValue,
            let emails = object["emails"]?.arrayValue?.compactMap(\.stringValue),
            let createdAt = object["created_at"]?.stringValue,
            let updatedAt = object["updated_at"]?.stringValue,
            let version = object["version"]?.numberValue?.intValue
        else { return nil }
        self.username = username
        self.firstName = firstName
        self.lastName = lastName
        self.emails = emails
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// One page of `contacts.list`.
public struct ContactPageRecord: Sendable, Equatable {
    public var contacts: [ContactRecord]
    /// Pass to the next call to continue; nil on the last page.
    public var nextCursor: String?
}

/// The answer to `contacts.search`.
public struct SearchResultRecord: Sendable, Equatable {
    /// Best match first.
    public var contacts: [ContactRecord]
    /// More contacts match than were returned.
    public var hasMore: Bool
    /// The server's result as received (what `contacts search --json` prints).
    public var result: JSONValue
}
