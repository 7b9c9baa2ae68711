/// One entry of the change log: what happened to one contact, in one committed transaction.
public struct Change: Sendable, Equatable {
    /// What kind of change it was.
    public enum Operation: String, Sendable, CaseIterable {
        case created, updated, deleted
    }

    /// Its place in the log: only grows, never reused.
    public var seq: Int64
    /// Created, updated (a rename included) or deleted.
    public var operation: Operation
    /// The contact's username after the change (for a delete, the one it had).
    public var username: String
    /// The username before a rename; nil for every other change.
    public var oldUsername: String?
    /// When it was committed (the writer's clock; the same for every change of one transaction).
    public var at: Timestamp
    /// Who wrote it: `contactsd`, `contacts-tasks`, or the `author` a client gave.
    public var author: String
    /// The contact after the change; before it, for a delete.
    public var contact: Contact

    /// The contact's version after the change (before it, for a delete).
    public var version: Int64 { contact.version }

    /// A log entry.
    public init(
        seq: Int64, operation: Operation, username: String, oldUsername: String?, at: Timestamp, author: String,
        contact: Contact
    ) {
        self.seq = seq
        self.operation = operation
        self.username = username
        self.oldUsername = oldUsername
        self.at = at
        self.author = author
        self.contact = contact
    }
}

/// A `changes` request: the changes after `since`, at most `limit`, leaving out `excludeAuthors`.
public struct ChangeQuery: Sendable, Equatable {
    public static let defaultLimit = 100
    public static let maxLimit = 1000
    /// Most names in `excludeAuthors`.
    public static let maxExcludedAuthors = 100

    /// The last seq the caller has seen (exclusive): changes with a greater seq are returned.
    public var since: Int64
    public var limit: Int
    /// Authors whose changes are skipped, compared case-insensitively like usernames.
    public var excludeAuthors: [String]

    /// A query; `excludeAuthors` must hold valid usernames (`Validation.username`).
    public init(since: Int64, limit: Int = ChangeQuery.defaultLimit, excludeAuthors: [String] = []) {
        self.since = since
        self.limit = limit
        self.excludeAuthors = excludeAuthors
    }
}

/// What `changes` returns: the changes in seq order, and the `since` to ask with next.
public struct ChangePage: Sendable, Equatable {
    public var changes: [Change]
    /// The last change's seq when the page is full; otherwise the head (every change up to it
    /// was read, and the ones not returned were excluded), so an empty page means up to date.
    public var next: Int64
}

/// The extent of the change log in one snapshot.
public struct ChangeLogBounds: Sendable, Equatable {
    /// The seq of the oldest change kept; `head + 1` when none is kept.
    public var oldest: Int64
    /// The seq of the newest change ever committed (0 before the first).
    public var head: Int64
}
