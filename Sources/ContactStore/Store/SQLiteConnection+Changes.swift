/// The SQL of the change log (schema version 7).
///
/// Changes are logged by the store's write path, not by triggers: the write path knows who
/// writes (the author a client gave, or the process's own name) and what the contact is after
/// the change, so one row per contact, inserted with the rest of its group commit, does it. A trigger would need the author passed
/// through a temporary table or a connection-level function on every write, would fire twice for
/// a rename (the row's fields and its key are two UPDATEs) and would log the schema upgrades'
/// rewrites as changes. Every write of `ContactStore`, from any process, goes through the
/// functions here: a write's rows wait in `pendingChanges` while its savepoint is open (a write
/// that fails is rolled back to its savepoint and its rows dropped with it, by the writer), and
/// all the rows of a transaction are inserted in it just before it commits, so a change and its
/// log row commit or roll back together, and committed seqs follow commit order without gaps.
/// One change logged by a write of the open transaction and not inserted yet: the columns of
/// its `changes` row but `seq`.
struct PendingChange {
    var operation: Change.Operation
    var username: String
    var oldUsername: String?
    var version: Int64
    var at: Timestamp
    var author: String
    var firstName: String
    var lastName: String
    /// As stored in `contacts.emails`.
    var emails: String
    var createdAt: Timestamp
    var updatedAt: Timestamp
}

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

    /// Logs the change that left `contact` as it is (for a delete: as it was). The row is held in
    /// `pendingChanges` and inserted by `flushChanges` just before the transaction commits,
    /// together with the other writes' rows, in their order.
    func logChange(
        _ operation: Change.Operation, of contact: Contact, oldUsername: String? = nil, at now: Timestamp,
        author: String
    ) {
        pendingChanges.append(
            PendingChange(
                operation: operation, username: contact.username, oldUsername: oldUsername, version: contact.version,
                at: now, author: author, firstName: contact.firstName, lastName: contact.lastName,
                emails: Self.storedEmails(contact.emails.map(\.address)), createdAt: contact.createdAt,
                updatedAt: contact.updatedAt))
    }

    /// The pending rows go in one multi-row INSERT per batch (64, 32, … 1 rows): a statement's
    /// fixed cost and `AUTOINCREMENT`'s bookkeeping (a read and a write of `sqlite_sequence`) are
    /// paid once per batch instead of once per contact, which halves what the log costs a group
    /// of creates (docs/performance.md).
    private static let batchSizes = [64, 32, 16, 8, 4, 2, 1]

    /// Inserts the pending changes, in order, and forgets them. The writer calls it once per
    /// transaction, after the last write's savepoint and before `COMMIT`, so no savepoint
    /// rolled back afterwards can take a flushed row with it; seqs are then given in the order
    /// the writes ran.
    func flushChanges() throws(SQLiteError) {
        defer { pendingChanges.removeAll(keepingCapacity: true) }
        var start = 0
        while start < pendingChanges.count {
            let rows = Self.batchSizes.first { $0 <= pendingChanges.count - start } ?? 1
            let values = (0..<rows).map { row in
                "(" + (1...11).map { "?\(row * 11 + $0)" }.joined(separator: ", ") + ")"
            }
            let statement = try statement(
                key: 30 + rows.trailingZeroBitCount,
                """
                INSERT INTO changes (op, username, old_username, version, at, author, first_name, last_name, emails,
                    created_at, updated_at)
                VALUES \(values.joined(separator: ", "))
                """)
            for (row, change) in pendingChanges[start..<(start + rows)].enumerated() {
                let base = Int32(row * 11)
                statement.bind(change.operation.rawValue, at: base + 1)
                statement.bind(change.username, at: base + 2)
                if let old = change.oldUsername { statement.bind(old, at: base + 3) } else { statement.bindNull(at: base + 3) }
                statement.bind(change.version, at: base + 4)
                statement.bind(change.at.milliseconds, at: base + 5)
                statement.bind(change.author, at: base + 6)
                statement.bind(change.firstName, at: base + 7)
                statement.bind(change.lastName, at: base + 8)
                statement.bind(change.emails, at: base + 9)
                statement.bind(change.createdAt.milliseconds, at: base + 10)
                statement.bind(change.updatedAt.milliseconds, at: base + 11)
            }
            try statement.run()
            start += rows
        }
    }

    /// Deletes up to `limit` contacts created before `cutoff` (with `onlyGenerated`, only those
    /// the task runner made), logging one change per contact, with its row as it was; returns how
    /// many went.
    func logAndPurgeContacts(
        createdBefore cutoff: Timestamp, limit: Int, onlyGenerated: Bool, at now: Timestamp, author: String
    ) throws(SQLiteError) -> Int {
        let filter = onlyGenerated ? " AND generated = 1" : ""
        var usernames: [String] = []
        try withStatement(
            """
            SELECT username, version, first_name, last_name, emails, created_at, updated_at
            FROM contacts WHERE created_at < ?1\(filter) LIMIT ?2
            """
        ) { read throws(SQLiteError) in
            read.bind(cutoff.milliseconds, at: 1)
            read.bind(Int64(limit), at: 2)
            while try read.step() {
                let username = read.string(0)
                usernames.append(username)
                pendingChanges.append(
                    PendingChange(
                        operation: .deleted, username: username, oldUsername: nil, version: read.int64(1), at: now,
                        author: author, firstName: read.string(2), lastName: read.string(3), emails: read.string(4),
                        createdAt: Timestamp(milliseconds: read.int64(5)),
                        updatedAt: Timestamp(milliseconds: read.int64(6))))
            }
        }
        if usernames.isEmpty { return 0 }
        // Exactly the contacts just logged, as one JSON array of usernames (which need no escaping).
        let delete = try statement("DELETE FROM contacts WHERE username IN (SELECT value FROM json_each(?1))")
        delete.bind("[" + usernames.map { "\"\($0)\"" }.joined(separator: ",") + "]", at: 1)
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
