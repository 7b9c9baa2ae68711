/// The SQL of the change log (schema version 7).
///
/// Changes are logged by the store's write path, not by triggers: the write path knows who
/// writes (the author a client gave, or the process's own name) and what the contact is after
/// the change, so one plain INSERT per contact does it. A trigger would need the author passed
/// through a temporary table or a connection-level function on every write, would fire twice for
/// a rename (the row's fields and its key are two UPDATEs) and would log the schema upgrades'
/// rewrites as changes. Every write of `ContactStore`, from any process, goes through the
/// functions here, inside the transaction (and savepoint) of the change it logs, so a change and
/// its log row commit or roll back together; a savepoint rolled back takes its `seq` back too,
/// so committed seqs follow commit order without gaps.
extension SQLiteConnection {
    /// The current head: the newest seq ever committed, kept by `sqlite_sequence` even when
    /// every row has been pruned (0 before the first change).
    func changeLogHead() throws(SQLiteError) -> Int64 {
        try withStatement(key: 20, "SELECT seq FROM sqlite_sequence WHERE name = 'changes'") {
            statement throws(SQLiteError) in
            try statement.step() ? statement.int64(0) : 0
        }
    }

    /// The oldest kept seq and the head, in the caller's transaction.
    func changeLogBounds() throws(SQLiteError) -> ChangeLogBounds {
        let head = try changeLogHead()
        let oldest = try withStatement(key: 21, "SELECT min(seq) FROM changes") { statement throws(SQLiteError) in
            try statement.step() && !statement.isNull(0) ? statement.int64(0) : nil
        }
        return ChangeLogBounds(oldest: oldest ?? head + 1, head: head)
    }

    /// Runs `body` inside one read transaction (one snapshot): the caller's, when one is open,
    /// else one begun and ended here.
    func inSnapshot<T>(_ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        if isInTransaction { return try body() }
        try statement("BEGIN").run()
        defer { if isInTransaction { try? statement("COMMIT").run() } }
        return try body()
    }

    // MARK: Writes (inside the writer's transaction)

    /// Appends the change that left `contact` as it is (for a delete: as it was).
    func logChange(
        _ operation: Change.Operation, of contact: Contact, oldUsername: String? = nil, at now: Timestamp,
        author: String
    ) throws(SQLiteError) {
        // Keyed: on every write's path, where hashing the SQL text would cost more than the lookup.
        let statement = try statement(
            key: 24,
            """
            INSERT INTO changes (op, username, old_username, version, at, author, first_name, last_name, emails,
                created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            """)
        statement.bind(operation.rawValue, at: 1)
        statement.bind(contact.username, at: 2)
        if let oldUsername { statement.bind(oldUsername, at: 3) }
        statement.bind(contact.version, at: 4)
        statement.bind(now.milliseconds, at: 5)
        statement.bind(author, at: 6)
        statement.bind(contact.firstName, at: 7)
        statement.bind(contact.lastName, at: 8)
        statement.bind(Self.storedEmails(contact.emails.map(\.address)), at: 9)
        statement.bind(contact.createdAt.milliseconds, at: 10)
        statement.bind(contact.updatedAt.milliseconds, at: 11)
        try statement.run()
    }

    /// Logs the deletion of the stored contact `username` (its row as it is now), then deletes it.
    func logAndDeleteContact(username: String, at now: Timestamp, author: String) throws(SQLiteError) {
        let log = try statement(
            """
            INSERT INTO changes (op, username, version, at, author, first_name, last_name, emails, created_at, updated_at)
            SELECT 'deleted', username, version, ?2, ?3, first_name, last_name, emails, created_at, updated_at
            FROM contacts WHERE username = ?1
            """)
        log.bind(username, at: 1)
        log.bind(now.milliseconds, at: 2)
        log.bind(author, at: 3)
        try log.run()
        let delete = try statement("DELETE FROM contacts WHERE username = ?1")
        delete.bind(username, at: 1)
        try delete.run()
    }

    /// Deletes up to `limit` contacts created before `cutoff` (with `onlyGenerated`, only those
    /// the task runner made), logging one change per contact; returns how many went.
    ///
    /// Two statements, no row through Swift: the chosen contacts' rows are copied into the log,
    /// then exactly the contacts just logged are deleted (by the seqs above the head read first),
    /// so the log and the deletion cannot disagree whatever order SQLite picks them in.
    func logAndPurgeContacts(
        createdBefore cutoff: Timestamp, limit: Int, onlyGenerated: Bool, at now: Timestamp, author: String
    ) throws(SQLiteError) -> Int {
        let head = try changeLogHead()
        let filter = onlyGenerated ? " AND generated = 1" : ""
        let log = try statement(
            """
            INSERT INTO changes (op, username, version, at, author, first_name, last_name, emails, created_at, updated_at)
            SELECT 'deleted', username, version, ?3, ?4, first_name, last_name, emails, created_at, updated_at
            FROM contacts WHERE created_at < ?1\(filter) LIMIT ?2
            """)
        log.bind(cutoff.milliseconds, at: 1)
        log.bind(Int64(limit), at: 2)
        log.bind(now.milliseconds, at: 3)
        log.bind(author, at: 4)
        try log.run()
        if changes == 0 { return 0 }
        let delete = try statement(
            "DELETE FROM contacts WHERE username IN (SELECT username FROM changes WHERE seq > ?1)")
        delete.bind(head, at: 1)
        try delete.run()
        return changes
    }

    /// Deletes the oldest changes, at most `chunk` of them: those committed before `cutoff` and
    /// those beyond the newest `maxRows`, only ever a prefix of the log (so the kept changes have
    /// no hole, and `oldest` says exactly what is gone); returns how many went.
    func pruneChanges(before cutoff: Timestamp, maxRows: Int, chunk: Int) throws(SQLiteError) -> Int {
        let bounds = try changeLogBounds()
        guard bounds.oldest <= bounds.head else { return 0 }
        // Keep seqs above head - maxRows; of the rest, delete while they are older than the cutoff,
        // looking at no more than one chunk of rows.
        var below = max(bounds.oldest, bounds.head - Int64(maxRows) + 1)
        try withStatement("SELECT seq, at FROM changes WHERE seq >= ?1 ORDER BY seq LIMIT ?2") {
            scan throws(SQLiteError) in
            scan.bind(below, at: 1)
            scan.bind(Int64(chunk), at: 2)
            while try scan.step() {
                if scan.int64(1) >= cutoff.milliseconds { return }
                below = scan.int64(0) + 1
            }
        }
        below = min(below, bounds.oldest + Int64(chunk))
        guard below > bounds.oldest else { return 0 }
        let delete = try statement("DELETE FROM changes WHERE seq < ?1")
        delete.bind(below, at: 1)
        try delete.run()
        return changes
    }

    // MARK: Reads

    /// The changes after `query.since`, in seq order, at most `query.limit`, without those of
    /// `query.excludeAuthors`, with the `next` to ask with; in the caller's transaction.
    func fetchChanges(_ query: ChangeQuery, head: Int64) throws(SQLiteError) -> ChangePage {
        // The excluded authors go in as one JSON array (they are validated usernames, so they need
        // no escaping): one statement whatever their number. NOT IN compares with the column's
        // NOCASE collation.
        let excluded = "[" + query.excludeAuthors.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        let filter = query.excludeAuthors.isEmpty ? "" : " AND author NOT IN (SELECT value FROM json_each(?3))"
        let sql = """
            SELECT seq, op, username, old_username, at, author, first_name, last_name, emails, created_at, updated_at,
                version
            FROM changes WHERE seq > ?1\(filter) ORDER BY seq LIMIT ?2
            """
        let changes = try withStatement(key: query.excludeAuthors.isEmpty ? 22 : 23, sql) {
            statement throws(SQLiteError) in
            statement.bind(query.since, at: 1)
            statement.bind(Int64(query.limit), at: 2)
            if !query.excludeAuthors.isEmpty { statement.bind(excluded, at: 3) }
            var changes: [Change] = []
            while try statement.step() {
                let username = statement.string(2)
                let contact = Contact(
                    username: username, firstName: statement.string(6), lastName: statement.string(7),
                    emails: statement.strings(8, separatedBy: UInt8(ascii: "\n")).map(Email.init(address:)),
                    createdAt: Timestamp(milliseconds: statement.int64(9)),
                    updatedAt: Timestamp(milliseconds: statement.int64(10)), version: statement.int64(11))
                changes.append(
                    Change(
                        seq: statement.int64(0), operation: Change.Operation(rawValue: statement.string(1)) ?? .updated,
                        username: username, oldUsername: statement.isNull(3) ? nil : statement.string(3),
                        at: Timestamp(milliseconds: statement.int64(4)), author: statement.string(5), contact: contact))
            }
            return changes
        }
        // A short page read every change up to the head: those not returned were excluded.
        let next = changes.count == query.limit ? changes[changes.count - 1].seq : max(head, query.since)
        return ChangePage(changes: changes, next: next)
    }
}
