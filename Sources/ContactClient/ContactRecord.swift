import JSONRPC

/// A contact as the server sends it (protocol.md, "The contact object").
public struct ContactRecord: Sendable, Equatable {
    /// The username, in the case it was stored in; unique ignoring case.
    public var username: String
    /// The first name, trimmed and in Unicode NFC.
    public var firstName: String
    /// The last name, trimmed and in Unicode NFC.
    public var lastName: String
    /// The addresses, in the order they were given.
    public var emails: [String]
    /// When the contact was created: RFC 3339 UTC with milliseconds, as sent
    /// (`2026-11-26T06:45:32.968Z`).
    public var createdAt: String
    /// When the contact last changed, in the same form as ``createdAt``.
    public var updatedAt: String
    /// 1 when created, one more at each update; pass it as `expected_version` to change the
    /// contact only if nobody else did in between.
    public var version: Int

    /// Decodes the wire form.
    /// - Parameter value: a contact object, as in a `contacts.get` result or a change's `contact`.
    /// - Returns: nil when a field is missing or of the wrong type.
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

/// One page of `contacts.list`, from ``ContactClient/list(limit:cursor:usernamePrefix:email:)``.
public struct ContactPageRecord: Sendable, Equatable {
    /// The page's contacts, in username order (case-insensitive).
    public var contacts: [ContactRecord]
    /// Pass to the next call to continue; nil on the last page.
    public var nextCursor: String?
}

/// The answer to `contacts.search`, from ``ContactClient/search(_:limit:)``.
public struct SearchResultRecord: Sendable, Equatable {
    /// Best match first.
    public var contacts: [ContactRecord]
    /// More contacts match than were returned.
    public var hasMore: Bool
    /// The server's result as received (what `contacts search --json` prints).
    public var result: JSONValue
}
