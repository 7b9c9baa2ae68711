/// Versioned schema migrations, tracked in `PRAGMA user_version`.
///
/// Append a step to upgrade; never edit a released one. A file whose version is newer than
/// `Schema.latestVersion` is refused untouched.
enum Schema {
    static let migrations: [String] = [
        // 1: contacts and their emails.
        """
        CREATE TABLE contacts (
            id          INTEGER PRIMARY KEY,
            username    TEXT    NOT NULL COLLATE NOCASE UNIQUE,
            first_name  TEXT    NOT NULL,
            last_name   TEXT    NOT NULL,
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL,
            version     INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX contacts_created_at ON contacts (created_at);
        CREATE TABLE emails (
            id          INTEGER PRIMARY KEY,
            contact_id  INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            address     TEXT    NOT NULL,
            address_key TEXT    NOT NULL UNIQUE
        );
        CREATE INDEX emails_contact ON emails (contact_id, id);
        """,
        // 2: make the per-contact email index covering, so reading a contact's addresses
        // needs no lookup in the emails table itself.
        """
        DROP INDEX emails_contact;
        CREATE INDEX emails_contact ON emails (contact_id, id, address);
        """,
    ]

    static var latestVersion: Int64 { Int64(migrations.count) }

    /// Brings the database up to `latestVersion`, in one transaction.
    ///
    /// The version is read inside `BEGIN IMMEDIATE`, so two processes opening a new file at the
    /// same moment (the server and the task runner) cannot both run the same step.
    static func migrate(_ db: SQLiteConnection) throws(StoreError) {
        try StoreError.translating {
            // Fast path: an up-to-date file needs no write lock (a busy server may hold it).
            if try db.scalarInt("PRAGMA user_version") == latestVersion { return }
            try db.execute("BEGIN IMMEDIATE")
            do {
                let current = try db.scalarInt("PRAGMA user_version") ?? 0
                if current > latestVersion {
                    throw StoreError.schemaTooNew(found: current, supported: latestVersion)
                }
                for version in Int(current)..<migrations.count {
                    try db.execute(migrations[version])
                }
                if current < latestVersion { try db.execute("PRAGMA user_version = \(latestVersion)") }
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }
}
