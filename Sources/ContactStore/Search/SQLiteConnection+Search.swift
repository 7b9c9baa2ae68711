import CSQLite

/// The search index (schema version 8) and the queries over it.
extension SQLiteConnection {
    /// A bucket with at most this many index candidates is read whole and sorted; a larger one is
    /// found by walking contacts in username order (docs/search.md, "How a search runs").
    static let searchCandidateCap = 1000
    /// Past this many candidates the walk checks every contact rather than keeping the set.
    static let searchCandidateSetCap = 50_000

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
            let others = Array(query.words.dropFirst())
            for rank in SearchRank.all where found.count < query.limit {
                let match = SearchIndexText.match(query.words[0], rank, others: others)
                found += try searchBucket(rank, match: match, query: query, wanted: query.limit - found.count)
            }
            return found
        }
    }

    /// Up to `wanted` contacts whose rank for `query` is `rank`, in username order.
    private func searchBucket(
        _ rank: SearchRank, match: String, query: SearchQuery, wanted: Int
    ) throws(SQLiteError) -> [Contact] {
        let candidates = try searchCandidates(match, limit: Self.searchCandidateCap + 1)
        if candidates.count <= Self.searchCandidateCap {
            var contacts: [Contact] = []
            for id in candidates {
                guard let contact = try fetchContact(id: id), SearchMatcher(contact).rank(query) == rank else { continue }
                contacts.append(contact)
            }
            contacts.sort { Self.usernameOrder($0.username, $1.username) }
            return Array(contacts.prefix(wanted))
        }
        // Many candidates: they are dense among all contacts, so walking contacts in username
        // order meets `wanted` of them soon. Reading and sorting them all would not be soon.
        let many = try searchCandidates(match, limit: Self.searchCandidateSetCap + 1)
        let members = many.count <= Self.searchCandidateSetCap ? Set(many) : nil
        var contacts: [Contact] = []
        try withStatement("SELECT \(Self.contactColumns) FROM contacts c ORDER BY c.username") {
            walk throws(SQLiteError) in
            while contacts.count < wanted, try walk.step() {
                if let members, !members.contains(walk.int64(0)) { continue }
                let contact = readContact(walk).contact
                if SearchMatcher(contact).rank(query) == rank { contacts.append(contact) }
            }
            walk.reset()
        }
        return contacts
    }

    /// The ids of the contacts the index offers for `match`, at most `limit`.
    private func searchCandidates(_ match: String, limit: Int) throws(SQLiteError) -> [Int64] {
        try withStatement("SELECT rowid FROM contact_search WHERE contact_search MATCH ?1 LIMIT ?2") {
            statement throws(SQLiteError) in
            statement.bind(match, at: 1)
            statement.bind(Int64(limit), at: 2)
            var ids: [Int64] = []
            while try statement.step() { ids.append(statement.int64(0)) }
            return ids
        }
    }

    /// The contact with that id, if any.
    private func fetchContact(id: Int64) throws(SQLiteError) -> Contact? {
        try withStatement("SELECT \(Self.contactColumns) FROM contacts c WHERE c.id = ?1") { statement throws(SQLiteError) in
            statement.bind(id, at: 1)
            return try statement.step() ? readContact(statement).contact : nil
        }
    }

    /// The order of the contacts table's key (`COLLATE NOCASE`: ASCII letters compared lower-cased).
    static func usernameOrder(_ a: String, _ b: String) -> Bool {
        let lower = { (byte: UInt8) in (65...90).contains(byte) ? byte | 0x20 : byte }
        return a.utf8.lazy.map(lower).lexicographicallyPrecedes(b.utf8.lazy.map(lower))
    }

    /// Version 8: the search index, filled from the contacts already stored, and the triggers
    /// that keep it in the same transaction as every write to `contacts`, whoever writes.
    static func createSearchIndex(_ db: SQLiteConnection) throws(SQLiteError) {
        let columns = "username, last_name, first_name, emails"
        let values = { (row: String) in
            ["username", "last_name", "first_name", "emails"].map { "contacts_search_column(\(row).\($0))" }
                .joined(separator: ", ")
        }
        try db.execute("""
            CREATE VIRTUAL TABLE contact_search USING fts5(
                \(columns), tokenize = 'trigram', content = '', detail = 'column', columnsize = 0);
            INSERT INTO contact_search (rowid, \(columns)) SELECT c.id, \(values("c")) FROM contacts c;
            CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
                INSERT INTO contact_search (rowid, \(columns)) VALUES (new.id, \(values("new")));
            END;
            CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
                INSERT INTO contact_search (contact_search, rowid, \(columns)) VALUES ('delete', old.id, \(values("old")));
            END;
            CREATE TRIGGER contacts_search_update AFTER UPDATE OF username, first_name, last_name, emails ON contacts BEGIN
                INSERT INTO contact_search (contact_search, rowid, \(columns)) VALUES ('delete', old.id, \(values("old")));
                INSERT INTO contact_search (rowid, \(columns)) VALUES (new.id, \(values("new")));
            END;
            """)
    }
}
