import CSQLite

/// The search index's inbox (schema version 10): every write to `contacts` adds its index texts
/// to `search_pending` in its own transaction, and the writer folds them into the FTS5 tables
/// in large groups (`foldSearchEdits`); a search reads both (`pendingMatches`).
///
/// Why not write the FTS5 tables in the write's own transaction: FTS5 writes a new segment for
/// each table at every commit and merges them as they pile up, so a group commit of 16 creates
/// wrote about 40 KB of index pages per create, and creates at 16 connections ran at 0.4× of
/// what they did without the index. Folding a thousand edits at once writes a few pages per
/// hundred (docs/performance.md, "Search").
extension SQLiteConnection {
    /// Edits waiting at which the writer folds them in the transaction it is committing.
    static let searchFoldThreshold = 1024

    /// Version 10: `search_pending` and the triggers that fill it. Each row is one edit of one
    /// contact's index entry: its search key, whether the entry is removed (an update removes the
    /// old entry and adds the new), and the four index texts (`SearchIndexText.column`), so a
    /// fold copies them and a removal gives FTS5 back exactly what it was given. Triggers of the
    /// schema, not of one connection: a write from any connection that can compute the texts (the
    /// store's; the guard triggers of version 8 refuse the others) is noted.
    static func createSearchPending(_ db: SQLiteConnection) throws(SQLiteError) {
        let texts = { (row: String) in
            SearchRank.Field.allCases.map { "contacts_search_column(\(row).\($0.column))" }.joined(separator: ", ")
        }
        let fields = SearchRank.Field.allCases.map { "\($0.column) TEXT NOT NULL" }.joined(separator: ", ")
        let columns = SearchRank.Field.allCases.map(\.column).joined(separator: ", ")
        let watched = SearchRank.Field.allCases.map(\.column).joined(separator: ", ")
        try db.execute("""
            CREATE TABLE search_pending (
                seq INTEGER PRIMARY KEY, key INTEGER NOT NULL, removed INTEGER NOT NULL, \(fields));
            CREATE TRIGGER search_pending_insert AFTER INSERT ON contacts BEGIN
                INSERT INTO search_pending (key, removed, \(columns)) VALUES (new.search_key, 0, \(texts("new")));
            END;
            CREATE TRIGGER search_pending_delete AFTER DELETE ON contacts BEGIN
                INSERT INTO search_pending (key, removed, \(columns)) VALUES (old.search_key, 1, \(texts("old")));
            END;
            CREATE TRIGGER search_pending_update AFTER UPDATE OF \(watched), search_key ON contacts BEGIN
                INSERT INTO search_pending (key, removed, \(columns)) VALUES (old.search_key, 1, \(texts("old")));
                INSERT INTO search_pending (key, removed, \(columns)) VALUES (new.search_key, 0, \(texts("new")));
            END;
            """)
    }

    /// How many edits wait in `search_pending` (rows go in and are folded in `seq` order, so the
    /// span of `seq` counts them: two lookups, not a scan; the writer asks at every commit).
    /// Two subqueries: SQLite reads `min` or `max` off the end of the key only when it is the
    /// query's one aggregate, and scans the table for both at once.
    func searchEditsWaiting() throws(SQLiteError) -> Int {
        try withStatement(
            "SELECT (SELECT max(seq) FROM search_pending) - (SELECT min(seq) FROM search_pending) + 1"
        ) { statement throws(SQLiteError) in
            try statement.step() && !statement.isNull(0) ? Int(statement.int64(0)) : 0
        }
    }

    /// Applies every waiting edit to the FTS5 tables, in order, and removes them from
    /// `search_pending`. Runs inside the caller's transaction.
    ///
    /// An edit undone by the next edit of the same contact and field (a contact created then
    /// deleted, a field an update left as it was) is skipped with it: FTS5 would add the same
    /// trigrams and take them away again.
    func foldSearchEdits() throws(SQLiteError) {
        var edits: [(seq: Int64, key: Int64, removed: Bool, texts: [String])] = []
        let columns = SearchRank.Field.allCases.map(\.column).joined(separator: ", ")
        try withStatement("SELECT seq, key, removed, \(columns) FROM search_pending ORDER BY seq") {
            read throws(SQLiteError) in
            while try read.step() {
                edits.append((read.int64(0), read.int64(1), read.int64(2) == 1, (3...6).map { read.string(Int32($0)) }))
            }
        }
        guard let last = edits.last else { return }
        for (position, field) in SearchRank.Field.allCases.enumerated() {
            var kept: [(key: Int64, removed: Bool, text: String)?] = []
            var latest: [Int64: Int] = [:]  // a key's last kept edit in this field
            for edit in edits {
                let text = edit.texts[position]
                if let index = latest[edit.key], let previous = kept[index], previous.removed != edit.removed,
                    previous.text == text
                {
                    kept[index] = nil
                    latest[edit.key] = nil
                    continue
                }
                latest[edit.key] = kept.count
                kept.append((edit.key, edit.removed, text))
            }
            let table = field.indexTable
            for case let edit? in kept {
                // Keyed statements (40...47): building and hashing the SQL for every edit costs
                // more than the insert.
                let statement = try statement(
                    key: 40 + position * 2 + (edit.removed ? 1 : 0),
                    edit.removed
                        ? "INSERT INTO \(table) (\(table), rowid, text) VALUES ('delete', ?1, ?2)"
                        : "INSERT INTO \(table) (rowid, text) VALUES (?1, ?2)")
                statement.bind(edit.key, at: 1)
                statement.bind(edit.text, at: 2)
                try statement.run()
            }
        }
        try withStatement("DELETE FROM search_pending WHERE seq <= ?1") { statement throws(SQLiteError) in
            statement.bind(last.seq, at: 1)
            try statement.run()
        }
    }

    private static let pendingMatchesSQL =
        "SELECT DISTINCT key FROM search_pending WHERE removed = 0 AND ("
        + SearchRank.Field.allCases.map { "instr(\($0.column), ?1) > 0" }.joined(separator: " OR ") + ")"

    /// The contacts that `query` matches through their waiting edits, each with its rank. Every
    /// waiting entry is tested (there are at most a few thousand): whether its texts hold the
    /// first word (or, for a word of one or two characters, a word start of it), which every
    /// rank needs; then the contact as it is now is ranked (`SearchMatcher`), so an entry that
    /// a later edit replaced finds nothing it should not.
    func pendingMatches(_ query: SearchQuery) throws(SQLiteError) -> [(rank: SearchRank, contact: Contact)] {
        var keys: [Int64] = []
        // Keyed (50): every search asks, and hashing the SQL costs more than the empty table's answer.
        try withStatement(key: 50, Self.pendingMatchesSQL) { statement throws(SQLiteError) in
            statement.bind(SearchIndexText.needle(query.words[0]), at: 1)
            while try statement.step() { keys.append(statement.int64(0)) }
        }
        var found: [(rank: SearchRank, contact: Contact)] = []
        for key in keys {
            guard let contact = try fetchContact(searchKey: key), let rank = SearchMatcher(contact).rank(query) else { continue }
            found.append((rank, contact))
        }
        return found
    }
}
