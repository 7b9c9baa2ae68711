/// What the store keeps of a contact's vCard besides the model (schema version 8): its UID and
/// the content lines it does not model, so that an export writes back what an import read.
///
/// Lines are unfolded vCard 4.0 content lines (no line breaks inside: a line break in a value is
/// written `\n`). The store never parses them.
public struct VCardRecord: Sendable, Equatable {
    /// The card's `UID`, unique among contacts.
    public var uid: String
    /// `first_name` and `last_name` as they were when `nameLines` were stored: those lines are
    /// written back only while the names are still these.
    public var names: (first: String, last: String)?
    /// The original `FN` and `N` lines, kept when they say more than the model does.
    public var nameLines: [String]
    /// The original `EMAIL` lines (with their parameters) of modelled addresses.
    public var emailLines: [String]
    /// Every other line, written back as it is: `TEL`, `ADR`, `ORG`, `PHOTO`, unmodelled `EMAIL`s…
    public var keptLines: [String]

    /// Creates a record.
    public init(
        uid: String, names: (first: String, last: String)? = nil, nameLines: [String] = [], emailLines: [String] = [],
        keptLines: [String] = []
    ) {
        self.uid = uid
        self.names = names
        self.nameLines = nameLines
        self.emailLines = emailLines
        self.keptLines = keptLines
    }

    public static func == (a: VCardRecord, b: VCardRecord) -> Bool {
        a.uid == b.uid && a.names?.first == b.names?.first && a.names?.last == b.names?.last
            && a.nameLines == b.nameLines && a.emailLines == b.emailLines && a.keptLines == b.keptLines
    }
}

/// One contact to import, already mapped from its card and validated: the store picks the
/// username and the addresses it can hold, in the write path, and keeps the rest.
public struct ImportedContact: Sendable, Equatable {
    /// Usernames to try, in order (each valid by `Validation.username`); when all are taken the
    /// first gets a suffix (`-2`, `-3`, …).
    public var usernames: [String]
    public var firstName: String
    public var lastName: String
    /// Valid addresses, in order, each with its original `EMAIL` content line. The first 20 that
    /// no other contact owns are modelled; the others are kept as lines and reported.
    public var emails: [(email: Email, line: String)]
    /// The UID, and the lines kept besides the model (`emailLines` is filled by the store).
    public var record: VCardRecord
    /// What the mapping already had to report (addresses the model cannot hold, and why).
    public var warnings: [FieldError]

    /// Creates a contact to import.
    public init(
        usernames: [String], firstName: String, lastName: String, emails: [(email: Email, line: String)],
        record: VCardRecord, warnings: [FieldError] = []
    ) {
        self.usernames = usernames
        self.firstName = firstName
        self.lastName = lastName
        self.emails = emails
        self.record = record
        self.warnings = warnings
    }

    public static func == (a: ImportedContact, b: ImportedContact) -> Bool {
        a.usernames == b.usernames && a.firstName == b.firstName && a.lastName == b.lastName
            && a.emails.map(\.email) == b.emails.map(\.email) && a.emails.map(\.line) == b.emails.map(\.line)
            && a.record == b.record && a.warnings == b.warnings
    }
}

/// What an import does with a card whose UID a stored contact already has.
public enum ImportConflictPolicy: String, Sendable, CaseIterable {
    /// Leave the stored contact as it is (the default: importing a file twice changes nothing).
    case skip
    /// Make the stored contact what the card says (its username stays).
    case update
    /// Report the card as a conflict.
    case fail
}

/// What happened to one imported contact.
public struct ImportOutcome: Sendable, Equatable {
    public enum Status: String, Sendable {
        case created, updated, unchanged, skipped, failed
    }

    public var status: Status
    /// The contact's username (for `failed`, none).
    public var username: String?
    /// The card's UID.
    public var uid: String
    /// Addresses kept as unmodelled lines, and other things the user should know.
    public var warnings: [FieldError]
    /// Why it failed (`failed` only).
    public var error: StoreError?

    /// Creates an outcome.
    public init(status: Status, username: String?, uid: String, warnings: [FieldError] = [], error: StoreError? = nil) {
        self.status = status
        self.username = username
        self.uid = uid
        self.warnings = warnings
        self.error = error
    }
}

/// One contact as an export writes it: the model and what the store kept of its card.
public struct ExportedContact: Sendable, Equatable {
    public var contact: Contact
    public var record: VCardRecord
}

/// A page read for export, before the contacts without a UID get one (`ContactStore.exportPage`).
public struct ExportPageRead: Sendable {
    let rows: [(id: Int64, contact: Contact, record: VCardRecord?)]

    /// True when every contact of the page already has its UID: exporting it writes nothing.
    public var isComplete: Bool { rows.allSatisfy { $0.record != nil } }
}
