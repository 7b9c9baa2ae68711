/// The SQL of vCard import and export (schema version 8: the `vcards` table).
extension SQLiteConnection {
    /// Lines are stored joined by a newline, which no unfolded content line holds.
    private static func joined(_ lines: [String]) -> String { lines.joined(separator: "\n") }

    private static func lines(_ statement: SQLiteStatement, _ column: Int32) -> [String] {
        statement.strings(column, separatedBy: UInt8(ascii: "\n"))
    }

    /// A contact's columns (as `contactColumns`), then its card record's.
    private static let recordColumns = """
        c.id, c.username, c.first_name, c.last_name, c.created_at, c.updated_at, c.version, c.emails,
        v.uid, v.names, v.name_lines, v.email_lines, v.kept
        """

    // MARK: Reads

    /// One page of contacts in username order after `after`, each with its stored card record
    /// (nil for a contact never imported nor exported), and the row id for assigning a UID.
    func fetchExportPage(
        after: String?, limit: Int
    ) throws(SQLiteError) -> [(id: Int64, contact: Contact, record: VCardRecord?)] {
        let sql = """
            SELECT \(Self.recordColumns)
            FROM contacts c LEFT JOIN vcards v ON v.contact_id = c.id
            WHERE c.username > ?1 ORDER BY c.username LIMIT ?2
            """
        return try withStatement(sql) { statement throws(SQLiteError) in
            statement.bind(after ?? "", at: 1)
            statement.bind(Int64(limit), at: 2)
            var page: [(id: Int64, contact: Contact, record: VCardRecord?)] = []
            while try statement.step() {
                page.append((statement.int64(0), Self.contact(statement), statement.isNull(8) ? nil : Self.record(statement, from: 8)))
            }
            return page
        }
    }

    /// The contact in columns 1–7 of `recordColumns`.
    private static func contact(_ statement: SQLiteStatement) -> Contact {
        Contact(
            username: statement.string(1), firstName: statement.string(2), lastName: statement.string(3),
            emails: lines(statement, 7).map(Email.init(address:)), createdAt: Timestamp(milliseconds: statement.int64(4)),
            updatedAt: Timestamp(milliseconds: statement.int64(5)), version: statement.int64(6))
    }

    /// The record in columns `uid, names, name_lines, email_lines, kept` from `first`.
    private static func record(_ statement: SQLiteStatement, from first: Int32) -> VCardRecord {
        let names = statement.string(first + 1).split(separator: "\n", omittingEmptySubsequences: false)
        return VCardRecord(
            uid: statement.string(first), names: names.count == 2 ? (String(names[0]), String(names[1])) : nil,
            nameLines: lines(statement, first + 2), emailLines: lines(statement, first + 3),
            keptLines: lines(statement, first + 4))
    }

    /// The contact whose card has `uid`, with its record.
    private func contact(uid: String) throws(SQLiteError) -> (id: Int64, contact: Contact, record: VCardRecord)? {
        let sql = """
            SELECT \(Self.recordColumns)
            FROM vcards v JOIN contacts c ON c.id = v.contact_id WHERE v.uid = ?1
            """
        return try withStatement(sql) { statement throws(SQLiteError) in
            statement.bind(uid, at: 1)
            guard try statement.step() else { return nil }
            return (statement.int64(0), Self.contact(statement), Self.record(statement, from: 8))
        }
    }

    // MARK: Writes (inside the writer's transaction)

    /// Gives every contact of `ids` that has no card record one with a new random `urn:uuid:`
    /// UID, and returns the UIDs of them all (a contact deleted meanwhile is left out).
    func assignUIDs(_ ids: [Int64]) throws(SQLiteError) -> [Int64: String] {
        let insert = try statement(
            "INSERT OR IGNORE INTO vcards (contact_id, uid) SELECT id, ?2 FROM contacts WHERE id = ?1")
        var uids: [Int64: String] = [:]
        for id in ids {
            insert.bind(id, at: 1)
            insert.bind(Self.randomUUID(), at: 2)
            try insert.run()
            try withStatement("SELECT uid FROM vcards WHERE contact_id = ?1") { statement throws(SQLiteError) in
                statement.bind(id, at: 1)
                if try statement.step() { uids[id] = statement.string(0) }
            }
        }
        return uids
    }

    /// A random (version 4) UUID as a URN.
    static func randomUUID() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        let groups = [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }
        return "urn:uuid:" + groups.joined(separator: "-")
    }

    /// Stores `record` as the card record of `contactID`; `replacing` the one it has, if any.
    /// A new contact has none (its id is above every id in `vcards`), and a plain INSERT of one
    /// row needs no statement journal: OR REPLACE would open one, and releasing it walks SQLite's
    /// in-memory journal of the whole import call.
    private func writeRecord(_ record: VCardRecord, contactID: Int64, replacing: Bool) throws(SQLiteError) {
        let write = try statement(
            """
            INSERT \(replacing ? "OR REPLACE " : "")INTO vcards (contact_id, uid, names, name_lines, email_lines, kept)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        write.bind(contactID, at: 1)
        write.bind(record.uid, at: 2)
        write.bind(record.names.map { $0.first + "\n" + $0.last } ?? "", at: 3)
        write.bind(Self.joined(record.nameLines), at: 4)
        write.bind(Self.joined(record.emailLines), at: 5)
        write.bind(Self.joined(record.keptLines), at: 6)
        try write.run()
    }

    /// Imports one contact (see `ContactStore.importContacts`); the caller holds a savepoint.
    func importContact(
        _ imported: ImportedContact, policy: ImportConflictPolicy, now: Timestamp, author: String
    ) throws(StoreError) -> ImportOutcome {
        try StoreError.translating {
            var record = imported.record
            var warnings = imported.warnings
            let existing = try contact(uid: record.uid)
            if let existing {
                switch policy {
                case .skip: return ImportOutcome(status: .skipped, username: existing.contact.username, uid: record.uid)
                case .fail: throw StoreError.uidTaken(uid: record.uid, username: existing.contact.username)
                case .update: break
                }
            }
            // The addresses the model takes: the first 20 no other contact owns.
            var emails: [Email] = []
            for candidate in imported.emails {
                let owner = try emailOwner(candidate.email)
                if let owner, owner.id != existing?.id {
                    record.keptLines.append(candidate.line)
                    warnings.append(FieldError(
                        field: "EMAIL",
                        message: "\(candidate.email.address) belongs to contact \(owner.username); kept as an unmodelled EMAIL"))
                } else if emails.count >= Validation.maxEmails {
                    record.keptLines.append(candidate.line)
                    warnings.append(FieldError(
                        field: "EMAIL",
                        message: "beyond the \(Validation.maxEmails) addresses a contact holds; kept as an unmodelled EMAIL"))
                } else {
                    emails.append(candidate.email)
                    if candidate.line != "EMAIL:" + candidate.email.address { record.emailLines.append(candidate.line) }
                }
            }
            if let existing {
                var change = ContactUpdate(username: existing.contact.username)
                if existing.contact.firstName != imported.firstName { change.firstName = imported.firstName }
                if existing.contact.lastName != imported.lastName { change.lastName = imported.lastName }
                if existing.contact.emails != emails { change.emails = emails }
                if !change.hasChanges && existing.record == record {
                    return ImportOutcome(
                        status: .unchanged, username: existing.contact.username, uid: record.uid, warnings: warnings)
                }
                if change.hasChanges { _ = try updateContact(change, now: now, author: author) }
                try writeRecord(record, contactID: existing.id, replacing: true)
                return ImportOutcome(status: .updated, username: existing.contact.username, uid: record.uid, warnings: warnings)
            }
            let username = try freeUsername(imported.usernames)
            let new = NewContact(
                validatedUsername: username, firstName: imported.firstName, lastName: imported.lastName, emails: emails)
            _ = try insertContact(new, now: now, author: author)
            guard let id = try contactID(username: username) else {
                throw SQLiteError(code: 1 /* SQLITE_ERROR */, message: "the imported contact is missing", sql: nil)
            }
            try writeRecord(record, contactID: id, replacing: false)
            return ImportOutcome(status: .created, username: username, uid: record.uid, warnings: warnings)
        }
    }

    /// The first of `candidates` no contact has, else the first with the lowest free suffix
    /// (`ada-2`, `ada-3`, …), cut so that it stays within the username's length.
    private func freeUsername(_ candidates: [String]) throws(SQLiteError) -> String {
        for candidate in candidates {
            if try contactID(username: candidate) == nil { return candidate }
        }
        let base = candidates.first ?? "contact"
        // Start past the suffixed names already there, so that many cards of one name do not
        // each probe every suffix before theirs.
        let prefix = String(base.prefix(Validation.maxUsernameLength - 2)) + "-"
        let existing = try withStatement("SELECT count(*) FROM contacts WHERE username >= ?1 AND username < ?2") {
            statement throws(SQLiteError) in
            statement.bind(prefix, at: 1)
            statement.bind(prefix + "\u{7F}", at: 2)
            return try statement.step() ? Int(statement.int64(0)) : 0
        }
        var suffix = existing + 2
        while true {
            let tail = "-\(suffix)"
            let name = String(base.prefix(Validation.maxUsernameLength - tail.count)) + tail
            if try contactID(username: name) == nil { return name }
            suffix += 1
        }
    }
}
