/// Every SQL statement about contacts. Each runs on whichever connection the caller holds:
/// a pooled reader for queries, the writer (inside its transaction) for changes.
extension SQLiteConnection {
    static let contactColumns =
        "c.id, c.username, c.first_name, c.last_name, c.created_at, c.updated_at, c.version, c.emails"

    /// How a contact's addresses are kept in its row (schema version 3): in order, separated by
    /// a newline, which validation forbids inside an address.
    static func storedEmails(_ addresses: [String]) -> String {
        addresses.joined(separator: "\n")
    }

    // MARK: Reads

    /// The contact with that username (case-insensitively), with its emails in insertion order.
    func fetchContact(username: String) throws(SQLiteError) -> (id: Int64, contact: Contact)? {
        try withStatement(key: 0, "SELECT \(Self.contactColumns) FROM contacts c WHERE c.username = ?1") {
            statement throws(SQLiteError) in
            statement.bind(username, at: 1)
            return try statement.step() ? readContact(statement) : nil
        }
    }

    /// One page in case-insensitive username order, plus whether more rows follow.
    func fetchPage(_ query: ListQuery) throws(SQLiteError) -> (contacts: [Contact], hasMore: Bool) {
        var conditions: [String] = []
        if query.after != nil { conditions.append("c.username > ?1") }
        if query.usernamePrefix != nil { conditions.append("c.username >= ?2 AND c.username < ?3") }
        var join = ""
        if query.email != nil { join = "JOIN emails f ON f.contact_id = c.id AND f.address_key = ?4" }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // One cached statement per combination of filters (keys 1...8).
        let variant = 1 + (query.after != nil ? 1 : 0) + (query.usernamePrefix != nil ? 2 : 0) + (query.email != nil ? 4 : 0)
        let sql = "SELECT \(Self.contactColumns) FROM contacts c \(join) \(filter) ORDER BY c.username LIMIT ?5"
        return try withStatement(key: variant, sql) { statement throws(SQLiteError) in
            if let after = query.after { statement.bind(after, at: 1) }
            if let prefix = query.usernamePrefix {
                // Usernames are ASCII below 0x7F and NOCASE compares lower-cased ASCII, so every
                // username starting with the prefix sorts in [prefix, prefix + "\u{7F}").
                // ASCII-only lowercasing: Unicode rules would map e.g. the Kelvin sign to "k", and
                // the prefix must match literally.
                let lower = String(decoding: prefix.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
                statement.bind(lower, at: 2)
                statement.bind(lower + "\u{7F}", at: 3)
            }
            if let email = query.email { statement.bind(Email(address: Validation.nfc(email)).key, at: 4) }
            statement.bind(Int64(query.limit + 1), at: 5)
            var contacts: [Contact] = []
            while try statement.step() {
                contacts.append(readContact(statement).contact)
            }
            let hasMore = contacts.count > query.limit
            if hasMore { contacts.removeLast() }
            return (contacts, hasMore)
        }
    }

    /// Number of contacts stored.
    func countContacts() throws(SQLiteError) -> Int64 {
        try scalarInt("SELECT count(*) FROM contacts") ?? 0
    }

    /// The contact in the current row of a statement that selected `contactColumns`.
    func readContact(_ statement: SQLiteStatement) -> (id: Int64, contact: Contact) {
        let contact = Contact(
            username: statement.string(1), firstName: statement.string(2), lastName: statement.string(3),
            emails: statement.strings(7, separatedBy: UInt8(ascii: "\n")).map(Email.init(address:)),
            createdAt: Timestamp(milliseconds: statement.int64(4)),
            updatedAt: Timestamp(milliseconds: statement.int64(5)), version: statement.int64(6))
        return (statement.int64(0), contact)
    }

    // MARK: Writes (called inside the writer's transaction)

    /// The owner of an address, if any: (contact id, username).
    func emailOwner(_ email: Email) throws(SQLiteError) -> (id: Int64, username: String)? {
        try withStatement(
            "SELECT c.id, c.username FROM emails e JOIN contacts c ON c.id = e.contact_id WHERE e.address_key = ?1"
        ) { statement throws(SQLiteError) in
            statement.bind(email.key, at: 1)
            return try statement.step() ? (statement.int64(0), statement.string(1)) : nil
        }
    }

    func contactID(username: String) throws(SQLiteError) -> Int64? {
        try withStatement("SELECT id FROM contacts WHERE username = ?1") { statement throws(SQLiteError) in
            statement.bind(username, at: 1)
            return try statement.step() ? statement.int64(0) : nil
        }
    }

    /// Fails with `emailTaken` when another contact owns one of the addresses.
    private func checkEmailsFree(_ emails: [Email], for owner: Int64?) throws(StoreError) {
        for email in emails {
            let found: (id: Int64, username: String)?
            do throws(SQLiteError) { found = try emailOwner(email) } catch { throw .from(error) }
            if let found, found.id != owner {
                throw .emailTaken(email: email.address, owner: found.username)
            }
        }
    }

    private func insertEmails(_ emails: [Email], contactID: Int64) throws(SQLiteError) {
        let statement = try statement("INSERT INTO emails (contact_id, address_key) VALUES (?1, ?2)")
        for email in emails {
            statement.bind(contactID, at: 1)
            statement.bind(email.key, at: 2)
            try statement.run()
        }
    }

    /// Inserts a new contact, and logs it as written by `author`; `generated` marks one the task
    /// runner made (schema version 6).
    func insertContact(
        _ new: NewContact, now: Timestamp, author: String, generated: Bool = false
    ) throws(StoreError) -> Contact {
        let contact = Contact(
            username: new.username, firstName: new.firstName, lastName: new.lastName, emails: new.emails,
            createdAt: now, updatedAt: now, version: 1)
        try StoreError.translating {
            if try contactID(username: new.username) != nil { throw StoreError.usernameTaken(username: new.username) }
            try checkEmailsFree(new.emails, for: nil)
            let searchKey = try newSearchKey(for: new.username)
            // The id only links a contact to its email and card rows. It is above every id those
            // tables hold, so rows left behind by a tool that deleted a contact without foreign
            // keys (the sqlite3 shell's default) can never attach to a new contact.
            let id = try withStatement(
                """
                INSERT INTO contacts (
                    id, username, first_name, last_name, created_at, updated_at, version, emails, generated, search_key)
                VALUES (
                    max(ifnull((SELECT max(id) FROM contacts), 0), ifnull((SELECT max(contact_id) FROM emails), 0),
                        ifnull((SELECT max(contact_id) FROM vcards), 0)) + 1,
                    ?1, ?2, ?3, ?4, ?4, 1, ?5, ?6, ?7)
                RETURNING id
                """
            ) { statement throws(SQLiteError) in
                statement.bind(new.username, at: 1)
                statement.bind(new.firstName, at: 2)
                statement.bind(new.lastName, at: 3)
                statement.bind(now.milliseconds, at: 4)
                statement.bind(Self.storedEmails(new.emails.map(\.address)), at: 5)
                statement.bind(generated ? 1 : 0, at: 6)
                statement.bind(searchKey, at: 7)
                guard try statement.step() else {
                    throw SQLiteError(code: 1 /* SQLITE_ERROR */, message: "INSERT returned no id", sql: statement.sql)
                }
                return statement.int64(0)
            }
            try insertEmails(new.emails, contactID: id)
            logChange(.created, of: contact, at: now, author: author)
        }
        return contact
    }

    /// Applies `change` and logs it as written by `author` (an update that changes nothing is
    /// neither written nor logged).
    func updateContact(_ change: ContactUpdate, now: Timestamp, author: String) throws(StoreError) -> Contact {
        try StoreError.translating {
            guard let found = try fetchContact(username: change.username) else {
                throw StoreError.notFound(username: change.username)
            }
            let (id, current) = (found.id, found.contact)
            if let expected = change.expectedVersion, expected != current.version {
                throw StoreError.versionMismatch(username: current.username, expected: expected, actual: current.version)
            }
            if let newName = change.newUsername, let owner = try contactID(username: newName), owner != id {
                throw StoreError.usernameTaken(username: newName)
            }
            // The list the contact ends with, worked out before anything is written, so that a
            // change that changes nothing writes nothing (and keeps the version).
            var emails = change.emails ?? current.emails
            if let removed = change.removeEmails {
                // Removing an address the contact does not have is a no-op: the call is idempotent.
                let keys = Set(removed.map(\.key))
                emails.removeAll { keys.contains($0.key) }
            }
            if let replacement = change.emails { try checkEmailsFree(replacement, for: id) }
            if let added = change.addEmails {
                // An address the contact already has stays where it is; the others are appended.
                // Ownership is checked before the count, as protocol.md orders the errors.
                let present = Set(emails.map(\.key))
                let new = added.filter { !present.contains($0.key) }
                try checkEmailsFree(new, for: id)
                if emails.count + new.count > Validation.maxEmails {
                    throw StoreError.invalid([
                        FieldError(
                            field: "add_emails",
                            message: "would give the contact \(emails.count + new.count) addresses; the limit is \(Validation.maxEmails)")
                    ])
                }
                emails += new
            }
            var updated = current
            updated.username = change.newUsername ?? current.username
            updated.firstName = change.firstName ?? current.firstName
            updated.lastName = change.lastName ?? current.lastName
            updated.emails = emails
            if updated == current { return current }
            if emails != current.emails {
                let delete = try statement("DELETE FROM emails WHERE contact_id = ?1")
                delete.bind(id, at: 1)
                try delete.run()
                try insertEmails(emails, contactID: id)
            }
            let update = try statement(
                """
                UPDATE contacts SET first_name = ?2, last_name = ?3, updated_at = ?4,
                version = version + 1, emails = ?5 WHERE id = ?1
                """)
            update.bind(id, at: 1)
            update.bind(updated.firstName, at: 2)
            update.bind(updated.lastName, at: 3)
            update.bind(now.milliseconds, at: 4)
            update.bind(Self.storedEmails(emails.map(\.address)), at: 5)
            try update.run()
            // The username is the table's key: setting it moves the row, so only a rename does.
            // The search key follows the username's order (`SearchKey`): a rename into another
            // group takes a new one.
            if updated.username != current.username {
                let key = SearchKey.group(updated.username) == SearchKey.group(current.username)
                    ? try searchKey(id: id) : try newSearchKey(for: updated.username)
                let rename = try statement("UPDATE contacts SET username = ?2, search_key = ?3 WHERE id = ?1")
                rename.bind(id, at: 1)
                rename.bind(updated.username, at: 2)
                rename.bind(key, at: 3)
                try rename.run()
            }
            updated.updatedAt = now
            updated.version = current.version + 1
            let renamed = updated.username != current.username ? current.username : nil
            logChange(.updated, of: updated, oldUsername: renamed, at: now, author: author)
            return updated
        }
    }

    /// Deletes a contact (its emails go by cascade), logging it as it was, and returns the stored
    /// username.
    func deleteContact(
        username: String, expectedVersion: Int64?, now: Timestamp, author: String
    ) throws(StoreError) -> String {
        try StoreError.translating {
            guard let found = try fetchContact(username: username)?.contact else {
                throw StoreError.notFound(username: username)
            }
            if let expectedVersion, expectedVersion != found.version {
                throw StoreError.versionMismatch(username: found.username, expected: expectedVersion, actual: found.version)
            }
            let delete = try statement("DELETE FROM contacts WHERE username = ?1")
            delete.bind(found.username, at: 1)
            try delete.run()
            logChange(.deleted, of: found, at: now, author: author)
            return found.username
        }
    }

    /// Deletes up to `limit` contacts created before `cutoff` (with `onlyGenerated`, only those
    /// the task runner made), logging each; returns how many went.
    func purgeContacts(
        createdBefore cutoff: Timestamp, limit: Int, onlyGenerated: Bool = false, now: Timestamp, author: String
    ) throws(StoreError) -> Int {
        do throws(SQLiteError) {
            return try logAndPurgeContacts(
                createdBefore: cutoff, limit: limit, onlyGenerated: onlyGenerated, at: now, author: author)
        } catch {
            throw .from(error)
        }
    }
}
