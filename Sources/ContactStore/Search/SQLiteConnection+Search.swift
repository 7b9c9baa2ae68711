import CSQLite

/// The search index (schema version 8) and the queries over it. Writes reach the index through
/// `search_pending` (version 10, `SQLiteConnection+SearchPending.swift`).
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
                    SearchIndexText.column(utf8: bytes).withUnsafeBufferPointer { buffer in
                        // An empty buffer may have no address, and a NULL pointer is SQL NULL.
                        guard let start = buffer.baseAddress, !buffer.isEmpty else {
                            sqlite3_result_text(context, "", 0, contacts_sqlite_transient())
                            return
                        }
                        sqlite3_result_text(
                            context, UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self), Int32(buffer.count),
                            contacts_sqlite_transient())
                    }
                }, nil, nil, nil)
            if rc != SQLITE_OK { throw lastError(sql: "sqlite3_create_function_v2(contacts_search_column)") }
        }
    }

    /// The contacts matching `query`, best first (`SearchRank`, then username), at most
    /// `query.limit`. Runs in one snapshot.
    func searchContacts(_ query: SearchQuery) throws(SQLiteError) -> [Contact] {
        try inSnapshot { () throws(SQLiteError) in
            // The contacts whose latest edits are not folded into the index yet: few, all read.
            let waiting = try pendingMatches(query)
            var found: [Contact] = []
            for rank in SearchRank.all where found.count < query.limit {
                let wanted = query.limit - found.count
                var bucket = try searchBucket(rank, query: query, wanted: wanted)
                let more = waiting.filter { $0.rank == rank }.map(\.contact).filter { contact in
                    !bucket.contains { $0.username == contact.username }
                }
                if !more.isEmpty {
                    bucket = Array((bucket + more).sorted { Self.usernameOrder($0.username, $1.username) }.prefix(wanted))
                }
                found += bucket
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

    /// A bucket read from the search index, whose candidates come in username order group by
    /// group (`SearchKey`): once `wanted` have matched, the rest of that group is read too, then
    /// the lot is sorted and cut.
    private func searchIndexBucket(_ rank: SearchRank, query: SearchQuery, wanted: Int) throws(SQLiteError) -> [Contact] {
        let match = SearchIndexText.match(query.words[0], rank.kind)
        let table = rank.field.indexTable
        // In username order once `wanted` are found; then a candidate is only checked when its
        // username sorts before the last. Each candidate comes with its username, read by the
        // same statement from the search key's index (which holds it): a lookup statement per
        // candidate made a dense bucket at a million contacts twice as slow (docs/performance.md).
        var contacts: [Contact] = []
        var lastGroup: Int64?
        try withStatement(
            """
            SELECT \(table).rowid, c.username FROM \(table) JOIN contacts c ON c.search_key = \(table).rowid
            WHERE \(table) MATCH ?1 ORDER BY \(table).rowid
            """
        ) { candidates throws(SQLiteError) in
            candidates.bind(match, at: 1)
            while try candidates.step() {
                let key = candidates.int64(0)
                let username = candidates.string(1)
                if let lastGroup {
                    if SearchKey.group(ofKey: key) > lastGroup { break }
                    guard let last = contacts.last, Self.usernameOrder(username, last.username) else { continue }
                }
                guard let contact = try fetchContact(username: username)?.contact,
                    SearchMatcher(contact).rank(query) == rank
                else { continue }
                contacts.append(contact)
                if lastGroup != nil {
                    contacts.sort { Self.usernameOrder($0.username, $1.username) }
                    contacts.removeLast()
                } else if contacts.count == wanted {
                    lastGroup = SearchKey.group(ofKey: key)
                    contacts.sort { Self.usernameOrder($0.username, $1.username) }
                }
            }
        }
        contacts.sort { Self.usernameOrder($0.username, $1.username) }
        return contacts
    }

    /// The contact with that search key, if any.
    func fetchContact(searchKey: Int64) throws(SQLiteError) -> Contact? {
        try withStatement("SELECT \(Self.contactColumns) FROM contacts c WHERE c.search_key = ?1") {
            statement throws(SQLiteError) in
            statement.bind(searchKey, at: 1)
            return try statement.step() ? readContact(statement).contact : nil
        }
    }

    /// A free search key for `username` (`SearchKey`): after the highest of its group, or in a
    /// gap when the group's top is taken. Called inside the writer's transaction.
    func newSearchKey(for username: String) throws(StoreError) -> Int64 {
        let keys = SearchKey.keys(ofGroup: SearchKey.group(username))
        do throws(SQLiteError) {
            let highest = try withStatement("SELECT max(search_key) FROM contacts WHERE search_key BETWEEN ?1 AND ?2") {
                statement throws(SQLiteError) in
                statement.bind(keys.lowerBound, at: 1)
                statement.bind(keys.upperBound, at: 2)
                return try statement.step() && !statement.isNull(0) ? statement.int64(0) : nil
            }
            guard let highest else { return keys.lowerBound }
            if highest < keys.upperBound { return highest + 1 }
            // The top is taken (33 million creates in one group): the first gap.
            let gap = try withStatement("SELECT search_key FROM contacts WHERE search_key BETWEEN ?1 AND ?2 ORDER BY search_key") {
                statement throws(SQLiteError) in
                statement.bind(keys.lowerBound, at: 1)
                statement.bind(keys.upperBound, at: 2)
                var expected = keys.lowerBound
                while try statement.step(), statement.int64(0) == expected { expected += 1 }
                return expected
            }
            if gap <= keys.upperBound { return gap }
        } catch {
            throw .from(error)
        }
        throw StoreError.invalid([
            FieldError(
                field: "username",
                message: "\(SearchKey.groupSize) contacts already have usernames starting with \"\(username.prefix(SearchKey.prefixLength))\"")
        ])
    }

    /// The search key a contact has now.
    func searchKey(id: Int64) throws(SQLiteError) -> Int64 {
        try withStatement("SELECT search_key FROM contacts WHERE id = ?1") { statement throws(SQLiteError) in
            statement.bind(id, at: 1)
            return try statement.step() ? statement.int64(0) : 0
        }
    }

    /// The order of the contacts table's key (`COLLATE NOCASE`: ASCII letters compared lower-cased).
    static func usernameOrder(_ a: String, _ b: String) -> Bool {
        // Over the UTF-8 bytes in place: a search compares a username with every candidate
        // left in a group, and the generic lazy-sequence comparison was a tenth of its time.
        var (a, b) = (a, b)
        return a.withUTF8 { a in
            b.withUTF8 { b in
                for (x, y) in zip(a, b) where x != y {
                    let (lowerX, lowerY) = (lowercasedASCII(x), lowercasedASCII(y))
                    if lowerX != lowerY { return lowerX < lowerY }
                }
                return a.count < b.count
            }
        }
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte | 0x20 : byte }

    /// Version 8: the search key of every contact and the search index, filled from the contacts
    /// already stored, with the triggers that keep the index in the same transaction as every
    /// write to `contacts`, whoever writes.
    static func createSearchIndex(_ db: SQLiteConnection) throws(SQLiteError) {
        try db.execute("ALTER TABLE contacts ADD COLUMN search_key INTEGER")
        // Keys group by group, each group's sequence in username order.
        let write = try db.statement("UPDATE contacts SET search_key = ?2 WHERE username = ?1")
        var current: (group: Int64, next: Int64)?
        var usernames: [String] = []
        try db.withStatement("SELECT username FROM contacts ORDER BY username") { read throws(SQLiteError) in
            while try read.step() { usernames.append(read.string(0)) }
        }
        for username in usernames {
            let group = SearchKey.group(username)
            let key = current?.group == group ? current!.next : SearchKey.keys(ofGroup: group).lowerBound
            write.bind(username, at: 1)
            write.bind(key, at: 2)
            try write.run()
            current = (group, key + 1)
        }
        var schema = "CREATE UNIQUE INDEX contacts_search_key ON contacts (search_key);\n"
        for field in SearchRank.Field.allCases {
            let (table, column) = (field.indexTable, field.column)
            schema += """
                CREATE VIRTUAL TABLE \(table) USING fts5(
                    text, tokenize = 'trigram', content = '', detail = 'none', columnsize = 0);
                INSERT INTO \(table) (rowid, text) SELECT search_key, contacts_search_column(\(column)) FROM contacts;

                """
        }
        // A connection that is not the store's (the sqlite3 shell) cannot write contacts: it has
        // no `contacts_search_column`, so these fail. Its writes would be missing from the index
        // (and from the change log) and would break the next delete of an unindexed row.
        for event in ["INSERT", "UPDATE", "DELETE"] {
            schema += """
                CREATE TRIGGER contacts_write_guard_\(event.lowercased()) BEFORE \(event) ON contacts BEGIN
                    SELECT contacts_search_column(NULL);
                END;

                """
        }
        try db.execute(schema)
    }
}
