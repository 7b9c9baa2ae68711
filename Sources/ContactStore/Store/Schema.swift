/// Versioned schema migrations, tracked in `PRAGMA user_version`.
///
/// Append a step to upgrade; never edit a released one. A file whose version is newer than
/// `Schema.latestVersion` is refused untouched.
enum Schema {
    /// One version's upgrade: SQL, or code where SQL alone cannot say it.
    enum Migration: Sendable {
        case sql(String)
        case code(@Sendable (SQLiteConnection) throws(SQLiteError) -> Void)

        func apply(to db: SQLiteConnection) throws(SQLiteError) {
            switch self {
            case .sql(let sql): try db.execute(sql)
            case .code(let body): try body(db)
            }
        }
    }

    static let migrations: [Migration] = [
        // 1: contacts and their emails.
        .sql("""
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
        """),
        // 2: make the per-contact email index covering, so reading a contact's addresses
        // needs no lookup in the emails table itself.
        .sql("""
        DROP INDEX emails_contact;
        CREATE INDEX emails_contact ON emails (contact_id, id, address);
        """),
        // 3: one B-tree per get (docs/performance.md).
        .code(storeContactsByUsername),
        // 4: the job ids contacts-tasks has run, each committed with its task's effect
        // (docs/tasks.md, "Idempotent tasks"). Self-contained: touches no other table.
        .sql("""
        CREATE TABLE task_runs (
            job_id      TEXT    NOT NULL PRIMARY KEY,
            ran_at      INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX task_runs_ran_at ON task_runs (ran_at);
        """),
        // 5: names and addresses in Unicode NFC, as they are now normalised on input.
        .code(normaliseToNFC),
        // 6: which contacts contacts-tasks made (`--purge-scope generated` purges only those).
        // Adding a column with a constant default rewrites nothing.
        .sql("ALTER TABLE contacts ADD COLUMN generated INTEGER NOT NULL DEFAULT 0;"),
        // 7: the change log (protocol.md, `contacts.changes`), written by the store's write path
        // in the same transaction as each change (see `SQLiteConnection+Changes.swift`).
        .code(createChangeLog),
        // 8: the search index (`contacts.search`), kept by triggers in the transaction of every
        // write to contacts (see `SQLiteConnection+Search.swift`).
        .code(SQLiteConnection.createSearchIndex),
        // 9: what a contact's vCard holds besides the model: its UID and the lines the model
        // does not hold, written back on export (protocol.md, `contacts.import`). A new table,
        // empty: nothing is rewritten, so the step takes the same time at any size.
        .sql("""
        CREATE TABLE vcards (
            contact_id  INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
            uid         TEXT    NOT NULL UNIQUE,
            names       TEXT    NOT NULL DEFAULT '',
            name_lines  TEXT    NOT NULL DEFAULT '',
            email_lines TEXT    NOT NULL DEFAULT '',
            kept        TEXT    NOT NULL DEFAULT ''
        );
        """),
    ]

    /// Version 7: the change log. One row per contact per change; the contact after the change
    /// (before it, for a delete) is kept as columns like those of `contacts`, so logging costs no
    /// encoding on the write path and a reply is encoded the way a contact is. `seq` is
    /// `AUTOINCREMENT`, so it is never reused, even after the newest rows are pruned, and
    /// `sqlite_sequence` keeps the head when the log is empty. No index besides `seq`: readers
    /// and pruning both go in `seq` order.
    ///
    /// A file that already holds contacts has history the log never saw, so the log is marked as
    /// starting after seq 1: `since: 0` then gets 410 (resync with `contacts.list`) rather than
    /// an empty history that would look complete. A new, empty file starts its log at seq 1.
    private static func createChangeLog(_ db: SQLiteConnection) throws(SQLiteError) {
        try db.execute("""
            CREATE TABLE changes (
                seq          INTEGER PRIMARY KEY AUTOINCREMENT,
                op           TEXT    NOT NULL,
                username     TEXT    NOT NULL,
                old_username TEXT,
                version      INTEGER NOT NULL,
                at           INTEGER NOT NULL,
                author       TEXT    NOT NULL COLLATE NOCASE,
                first_name   TEXT    NOT NULL,
                last_name    TEXT    NOT NULL,
                emails       TEXT    NOT NULL,
                created_at   INTEGER NOT NULL,
                updated_at   INTEGER NOT NULL
            );
            """)
        if try db.scalarInt("SELECT EXISTS (SELECT 1 FROM contacts)") == 1 {
            try db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('changes', 1)")
        }
    }

    /// Version 5: rewrites the names and addresses stored before input was normalised to NFC, so
    /// that an address typed either way finds its owner. Only rows holding non-ASCII text are
    /// read (a character count that differs from the byte count). An address whose normal form
    /// another contact already owns (two contacts held the same address, written two ways) keeps
    /// its stored form, so no data is lost; it can then be removed by hand.
    private static func normaliseToNFC(_ db: SQLiteConnection) throws(SQLiteError) {
        var rows: [(id: Int64, first: String, last: String, emails: [String])] = []
        try db.withStatement(
            """
            SELECT id, first_name, last_name, emails FROM contacts
            WHERE length(first_name) != length(CAST(first_name AS BLOB))
               OR length(last_name) != length(CAST(last_name AS BLOB))
               OR length(emails) != length(CAST(emails AS BLOB))
            ORDER BY id
            """
        ) { read throws(SQLiteError) in
            while try read.step() {
                rows.append((read.int64(0), read.string(1), read.string(2), read.strings(3, separatedBy: UInt8(ascii: "\n"))))
            }
        }
        let rekey = try db.statement("UPDATE emails SET address_key = ?2 WHERE address_key = ?1")
        let write = try db.statement("UPDATE contacts SET first_name = ?2, last_name = ?3, emails = ?4 WHERE id = ?1")
        for row in rows {
            var addresses: [String] = []
            for address in row.emails {
                let normal = Validation.nfc(address)
                let (oldKey, newKey) = (Email(address: address).key, Email(address: normal).key)
                guard Array(oldKey.utf8) != Array(newKey.utf8) else {
                    addresses.append(normal)
                    continue
                }
                let taken = try db.withStatement("SELECT 1 FROM emails WHERE address_key = ?1") {
                    owner throws(SQLiteError) in
                    owner.bind(newKey, at: 1)
                    return try owner.step()
                }
                if taken {
                    addresses.append(address)
                    continue
                }
                rekey.bind(oldKey, at: 1)
                rekey.bind(newKey, at: 2)
                try rekey.run()
                addresses.append(normal)
            }
            write.bind(row.id, at: 1)
            write.bind(Validation.nfc(row.first), at: 2)
            write.bind(Validation.nfc(row.last), at: 3)
            write.bind(SQLiteConnection.storedEmails(addresses), at: 4)
            try write.run()
        }
    }

    /// Version 3: contacts are stored in their username index (`WITHOUT ROWID`) with their
    /// addresses, in order, in the row; `emails` keeps one row per address for uniqueness and
    /// lookup by address. A get then reads one B-tree leaf instead of three, which is what
    /// keeps it fast when the database no longer fits in the page cache.
    private static func storeContactsByUsername(_ db: SQLiteConnection) throws(SQLiteError) {
        try db.execute("""
            CREATE TABLE contacts_v3 (
                username    TEXT    NOT NULL COLLATE NOCASE PRIMARY KEY,
                id          INTEGER NOT NULL UNIQUE,
                first_name  TEXT    NOT NULL,
                last_name   TEXT    NOT NULL,
                created_at  INTEGER NOT NULL,
                updated_at  INTEGER NOT NULL,
                version     INTEGER NOT NULL DEFAULT 1,
                emails      TEXT    NOT NULL DEFAULT ''
            ) WITHOUT ROWID;
            CREATE TABLE emails_v3 (
                address_key TEXT    NOT NULL PRIMARY KEY,
                contact_id  INTEGER NOT NULL REFERENCES contacts_v3 (id) ON DELETE CASCADE
            ) WITHOUT ROWID;
            INSERT INTO contacts_v3 (username, id, first_name, last_name, created_at, updated_at, version)
                SELECT username, id, first_name, last_name, created_at, updated_at, version FROM contacts;
            -- Email rows whose contact is gone (deleted by a tool without foreign keys) are dropped.
            INSERT INTO emails_v3 (address_key, contact_id)
                SELECT address_key, contact_id FROM emails WHERE contact_id IN (SELECT id FROM contacts);
            """)
        // The address lists, in insertion order. (SQLite 3.40's group_concat has no ORDER BY.)
        let write = try db.statement("UPDATE contacts_v3 SET emails = ?2 WHERE id = ?1")
        var current: (id: Int64, addresses: [String])?
        func flush() throws(SQLiteError) {
            guard let current else { return }
            write.bind(current.id, at: 1)
            write.bind(SQLiteConnection.storedEmails(current.addresses), at: 2)
            try write.run()
        }
        try db.withStatement("SELECT contact_id, address FROM emails ORDER BY contact_id, id") {
            read throws(SQLiteError) in
            while try read.step() {
                let id = read.int64(0)
                if current?.id != id {
                    try flush()
                    current = (id, [])
                }
                current?.addresses.append(read.string(1))
            }
        }
        try flush()
        try db.execute("""
            DROP TABLE emails;
            DROP TABLE contacts;
            ALTER TABLE contacts_v3 RENAME TO contacts;
            ALTER TABLE emails_v3 RENAME TO emails;
            CREATE INDEX contacts_created_at ON contacts (created_at);
            CREATE INDEX emails_contact ON emails (contact_id);
            """)
    }

    static var latestVersion: Int64 { Int64(migrations.count) }

    /// How long a process waits for another one that is upgrading the same file: an upgrade may
    /// rewrite whole tables (version 3 takes about 12 s per million contacts), which is far
    /// longer than the busy timeout a single write is allowed.
    static let upgradeWaitMilliseconds: Int32 = 600_000

    /// Brings the database up to `latestVersion`, in one transaction.
    ///
    /// The version is read inside `BEGIN IMMEDIATE`, so two processes opening a new file at the
    /// same moment (the server and the task runner) cannot both run the same step; the second
    /// waits up to `upgradeWaitMilliseconds` for the first, then finds the file up to date.
    /// `progress` hears of an upgrade from its start (before the lock is taken) to its end.
    static func migrate(
        _ db: SQLiteConnection, busyTimeoutMilliseconds: Int32,
        progress: (@Sendable (SchemaMigrationEvent) -> Void)? = nil
    ) throws(StoreError) {
        try StoreError.translating {
            // Fast path: an up-to-date file needs no write lock (a busy server may hold it).
            let seen = try db.scalarInt("PRAGMA user_version") ?? 0
            if seen == latestVersion { return }
            // A newer file is refused below, inside the transaction: no upgrade to announce.
            if seen < latestVersion { progress?(.started(from: seen, to: latestVersion)) }
            defer { if seen < latestVersion { progress?(.finished) } }
            db.setBusyTimeout(milliseconds: max(busyTimeoutMilliseconds, upgradeWaitMilliseconds))
            defer { db.setBusyTimeout(milliseconds: busyTimeoutMilliseconds) }
            try db.execute("BEGIN IMMEDIATE")
            do {
                let current = try db.scalarInt("PRAGMA user_version") ?? 0
                if current > latestVersion {
                    throw StoreError.schemaTooNew(found: current, supported: latestVersion)
                }
                for version in Int(current)..<migrations.count {
                    try migrations[version].apply(to: db)
                    progress?(.applied(version: Int64(version + 1)))
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
