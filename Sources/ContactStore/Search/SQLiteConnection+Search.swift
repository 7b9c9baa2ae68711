import CSQLite

/// The search index (schema version 8) and the queries over it.
extension SQLiteConnection {
    /// Makes `contacts_search_column(text)` available to SQL: the search index text of a field
    /// (`SearchIndexText.column`; several values separated by newlines, as addresses are stored).
    /// The index's triggers call it, so every connection that writes contacts registers it; a
    /// connection without it (the sqlite3 shell) cannot write contacts at all, rather than leave
    /// the index behind.
    func registerSearchFunction() throws(SQLiteError) {
        try withHandle { db throws(SQLiteError) in
            let rc = sqlite3_create_function_v2(
                db, "contacts_search_column", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nil,
                { context, _, arguments in
                    guard let argument = arguments?[0], let text = sqlite3_value_text(argument) else {
                        sqlite3_result_null(context)
                        return
                    }
                    let bytes = UnsafeBufferPointer(start: text, count: Int(sqlite3_value_bytes(argument)))
                    let values = bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
                    var column = SearchIndexText.column(values)
                    column.withUTF8 { buffer in
                        sqlite3_result_text(
                            context, UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self),
                            Int32(buffer.count), contacts_sqlite_transient())
                    }
                }, nil, nil, nil)
            if rc != SQLITE_OK { throw lastError(sql: "sqlite3_create_function_v2(contacts_search_column)") }
        }
    }

    /// The contacts matching `query`, best first (`SearchRank`, then username), at most
    /// `query.limit`. Runs in one snapshot.
    func searchContacts(_ query: SearchQuery) throws(SQLiteError) -> [Contact] {
        try inSnapshot { () throws(SQLiteError) in
            var found: [Contact] = []
            for rank in SearchRank.all where found.count < query.limit {
                found += try searchBucket(rank, query: query, wanted: query.limit - found.count)
            }
            return found
        }
    }

    /// Up to `wanted` contacts whose rank for `query` is `rank`, in username order.
    private func searchBucket(_ rank: SearchRank, query: SearchQuery, wanted: Int) throws(SQLiteError) -> [Contact] {
        let word = query.words[0]
        let usernameLike = word.utf8.allSatisfy(Validation.isUsernameByte)
        switch (rank.kind, rank.field) {
        case (.exact, .username):
            // The table's key: one lookup.
            guard usernameLike, let found = try fetchContact(username: word)?.contact else { return [] }
            return SearchMatcher(found).rank(query) == rank ? [found] : []
        case (.prefix, .username):
            // A range of the table's key, already in username order.
            guard usernameLike else { return [] }
            return try withStatement(
                "SELECT \(Self.contactColumns) FROM contacts c WHERE c.username >= ?1 AND c.username < ?2 ORDER BY c.username"
            ) { statement throws(SQLiteError) in
                statement.bind(word, at: 1)
                statement.bind(word + "\u{7F}", at: 2)
                var contacts: [Contact] = []
                while contacts.count < wanted, try statement.step() {
                    let contact = readContact(statement).contact
                    if SearchMatcher(contact).rank(query) == rank { contacts.append(contact) }
                }
                return contacts
            }
        case (_, .username) where !usernameLike, (.exact, .email) where !word.contains("@"):
            // No username holds that character; every address holds an @.
            return []
        default:
            return try searchIndexBucket(rank, query: query, wanted: wanted)
        }
    }

    /// A bucket read from the search index, whose candidates come in username order
    /// (`SearchKey`): the first `wanted` that match are the answer.
    private func searchIndexBucket(_ rank: SearchRank, query: SearchQuery, wanted: Int) throws(SQLiteError) -> [Contact] {
        let match = SearchIndexText.match(query.words[0], rank.kind)
        let table = rank.field.indexTable
        var contacts: [Contact] = []
        try withStatement("SELECT rowid FROM \(table) WHERE \(table) MATCH ?1") { candidates throws(SQLiteError) in
            candidates.bind(match, at: 1)
            while contacts.count < wanted, try candidates.step() {
                guard let contact = try fetchContact(searchKey: candidates.int64(0)),
                    SearchMatcher(contact).rank(query) == rank
                else { continue }
                contacts.append(contact)
            }
        }
        return contacts
    }

    /// The contact with that search key, if any.
    private func fetchContact(searchKey: Int64) throws(SQLiteError) -> Contact? {
        try withStatement("SELECT \(Self.contactColumns) FROM contacts c WHERE c.search_key = ?1") {
            statement throws(SQLiteError) in
            statement.bind(searchKey, at: 1)
            return try statement.step() ? readContact(statement).contact : nil
        }
    }

    /// A search key for `username` between those of its neighbours in username order
    /// (`SearchKey`), respacing a window of neighbours when they leave no room. `excluding` is a
    /// contact being renamed, whose old key does not count. Called inside the writer's transaction.
    func newSearchKey(for username: String, excluding: Int64? = nil) throws(SQLiteError) -> Int64 {
        let lower = try searchKeyNeighbours(of: username, before: true, count: 1, excluding: excluding).first?.key
        let upper = try searchKeyNeighbours(of: username, before: false, count: 1, excluding: excluding).first?.key
        if let key = SearchKey.between(lower, upper) { return key }
        var radius = 4
        while true {
            // The window: `radius` contacts each side, and the one beyond it each side as a bound.
            let before = try searchKeyNeighbours(of: username, before: true, count: radius + 1, excluding: excluding)
            let after = try searchKeyNeighbours(of: username, before: false, count: radius + 1, excluding: excluding)
            let low = before.count > radius ? before[radius].key : 0
            let high = after.count > radius ? after[radius].key : SearchKey.limit
            let window = before.prefix(radius).reversed() + after.prefix(radius)
            let spacing = (high - low) / Int64(window.count + 2)
            if spacing >= SearchKey.minimumSpacing || (before.count <= radius && after.count <= radius) {
                return try respace(window.map(\.id), newAt: min(radius, before.count), from: low, spacing: spacing)
            }
            radius *= 2
        }
    }

    /// Up to `count` contacts next to `username` on one side, nearest first.
    private func searchKeyNeighbours(
        of username: String, before: Bool, count: Int, excluding: Int64?
    ) throws(SQLiteError) -> [(id: Int64, key: Int64)] {
        let sql = before
            ? "SELECT id, search_key FROM contacts WHERE username < ?1 AND id != ?2 ORDER BY username DESC LIMIT ?3"
            : "SELECT id, search_key FROM contacts WHERE username > ?1 AND id != ?2 ORDER BY username LIMIT ?3"
        return try withStatement(sql) { statement throws(SQLiteError) in
            statement.bind(username, at: 1)
            statement.bind(excluding ?? -1, at: 2)
            statement.bind(Int64(count), at: 3)
            var rows: [(id: Int64, key: Int64)] = []
            while try statement.step() { rows.append((statement.int64(0), statement.int64(1))) }
            return rows
        }
    }

    /// Gives the contacts `ids` (in username order) keys `spacing` apart after `low`, leaving the
    /// slot at index `newAt` free, and returns that slot's key. Each contact first takes a
    /// negative key of its own, so that no new key meets an old one in the unique index midway.
    private func respace(_ ids: [Int64], newAt: Int, from low: Int64, spacing: Int64) throws(SQLiteError) -> Int64 {
        let move = try statement("UPDATE contacts SET search_key = ?2 WHERE id = ?1")
        for id in ids {
            move.bind(id, at: 1)
            move.bind(-id, at: 2)
            try move.run()
        }
        for (index, id) in ids.enumerated() {
            move.bind(id, at: 1)
            move.bind(low + spacing * Int64(index < newAt ? index + 1 : index + 2), at: 2)
            try move.run()
        }
        return low + spacing * Int64(newAt + 1)
    }

    /// The order of the contacts table's key (`COLLATE NOCASE`: ASCII letters compared lower-cased).
    static func usernameOrder(_ a: String, _ b: String) -> Bool {
        let lower = { (byte: UInt8) in (65...90).contains(byte) ? byte | 0x20 : byte }
        return a.utf8.lazy.map(lower).lexicographicallyPrecedes(b.utf8.lazy.map(lower))
    }

    /// Version 8: the search key of every contact and the search index, filled from the contacts
    /// already stored, with the triggers that keep the index in the same transaction as every
    /// write to `contacts`, whoever writes.
    static func createSearchIndex(_ db: SQLiteConnection) throws(SQLiteError) {
        try db.execute("ALTER TABLE contacts ADD COLUMN search_key INTEGER")
        // Keys in username order, a stride apart.
        try db.execute("""
            UPDATE contacts SET search_key = ordered.rank * \(SearchKey.stride)
            FROM (SELECT username, row_number() OVER (ORDER BY username) AS rank FROM contacts) AS ordered
            WHERE contacts.username = ordered.username
            """)
        var schema = "CREATE UNIQUE INDEX contacts_search_key ON contacts (search_key);\n"
        for field in SearchRank.Field.allCases {
            let (table, column) = (field.indexTable, field.column)
            schema += """
                CREATE VIRTUAL TABLE \(table) USING fts5(
                    text, tokenize = 'trigram', content = '', detail = 'none', columnsize = 0);
                INSERT INTO \(table) (rowid, text) SELECT search_key, contacts_search_column(\(column)) FROM contacts;
                CREATE TRIGGER \(table)_update AFTER UPDATE OF \(column), search_key ON contacts BEGIN
                    INSERT INTO \(table) (\(table), rowid, text)
                        VALUES ('delete', old.search_key, contacts_search_column(old.\(column)));
                    INSERT INTO \(table) (rowid, text) VALUES (new.search_key, contacts_search_column(new.\(column)));
                END;

                """
        }
        let each = { (row: String, statement: (String, String) -> String) in
            SearchRank.Field.allCases.map { statement($0.indexTable, "contacts_search_column(\(row).\($0.column))") }
                .joined(separator: "\n")
        }
        schema += """
            CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
            \(each("new") { "INSERT INTO \($0) (rowid, text) VALUES (new.search_key, \($1));" })
            END;
            CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
            \(each("old") { "INSERT INTO \($0) (\($0), rowid, text) VALUES ('delete', old.search_key, \($1));" })
            END;
            """
        try db.execute(schema)
    }
}
