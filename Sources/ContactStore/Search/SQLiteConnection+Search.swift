import CSQLite

/// The search index (schema version 8) and the queries over it.
extension SQLiteConnection {
    /// Makes this connection note every write to `contacts` in `temp.search_edits`, for
    /// `flushSearchIndex` to apply to the search index before the transaction commits.
    ///
    /// Why not triggers that write the index itself: FTS5 writes out what it holds in memory
    /// whenever a savepoint opens, and the writer opens one for every write of a group commit, so
    /// each create cost a new index segment in each table and the merges that follow (creates at
    /// 16 connections fell from 14,800/s to 2,200/s). The edits table is an ordinary one: a
    /// savepoint rolled back takes its rows with it. The triggers are TEMP, this connection's own:
    /// every process that writes contacts does so through `ContactStore`'s writer, which installs
    /// them (a write from outside, such as the sqlite3 shell, is not indexed, as it is not logged
    /// in `changes` either).
    func recordSearchEdits() throws(SQLiteError) {
        let fields = "username, last_name, first_name, emails"
        let old = "old.username, old.last_name, old.first_name, old.emails"
        let new = "new.username, new.last_name, new.first_name, new.emails"
        try execute("""
            CREATE TEMP TABLE IF NOT EXISTS search_edits (
                key INTEGER NOT NULL, deleted INTEGER NOT NULL, \(fields));
            CREATE TEMP TRIGGER IF NOT EXISTS search_edit_insert AFTER INSERT ON main.contacts BEGIN
                INSERT INTO search_edits VALUES (new.search_key, 0, \(new));
            END;
            CREATE TEMP TRIGGER IF NOT EXISTS search_edit_delete AFTER DELETE ON main.contacts BEGIN
                INSERT INTO search_edits VALUES (old.search_key, 1, \(old));
            END;
            CREATE TEMP TRIGGER IF NOT EXISTS search_edit_update
            AFTER UPDATE OF username, first_name, last_name, emails, search_key ON main.contacts BEGIN
                INSERT INTO search_edits VALUES (old.search_key, 1, \(old));
                INSERT INTO search_edits VALUES (new.search_key, 0, \(new));
            END;
            """)
        recordsSearchEdits = true
    }

    /// Applies the edits noted since the last flush to the search index, in order, and forgets
    /// them. The writer calls it once per transaction, after the last write's savepoint and
    /// before `COMMIT` (as it flushes the change log), so the index changes in the same
    /// transaction as the contacts, in one segment per table. An update rewrites only the tables
    /// of the fields it changed.
    func flushSearchIndex() throws(SQLiteError) {
        guard recordsSearchEdits else { return }
        var edits: [(key: Int64, deleted: Bool, values: [String])] = []
        try withStatement("SELECT key, deleted, username, last_name, first_name, emails FROM search_edits ORDER BY rowid") {
            read throws(SQLiteError) in
            while try read.step() {
                edits.append((read.int64(0), read.int64(1) == 1, (2...5).map { read.string(Int32($0)) }))
            }
        }
        guard !edits.isEmpty else { return }
        for (index, edit) in edits.enumerated() {
            // An update is a delete of the old row then an insert of the new under the same key:
            // a field that stayed the same needs neither.
            let pair: (key: Int64, deleted: Bool, values: [String])? =
                edit.deleted ? (index + 1 < edits.count ? edits[index + 1] : nil) : (index > 0 ? edits[index - 1] : nil)
            let isUpdateHalf = pair.map { $0.key == edit.key && $0.deleted != edit.deleted } ?? false
            for (position, field) in SearchRank.Field.allCases.enumerated() {
                if isUpdateHalf, let pair, pair.values[position] == edit.values[position] { continue }
                // Keyed statements (40...47): building and hashing the SQL for every edit costs more
                // than the insert.
                let table = field.indexTable
                let statement = try statement(
                    key: 40 + position * 2 + (edit.deleted ? 1 : 0),
                    edit.deleted
                        ? "INSERT INTO \(table) (\(table), rowid, text) VALUES ('delete', ?1, ?2)"
                        : "INSERT INTO \(table) (rowid, text) VALUES (?1, ?2)")
                statement.bind(edit.key, at: 1)
                statement.bind(SearchIndexText.column(edit.values[position].split(separator: "\n").map(String.init)), at: 2)
                try statement.run()
            }
        }
        try statement("DELETE FROM search_edits").run()
    }

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

    /// A bucket read from the search index, whose candidates come in username order group by
    /// group (`SearchKey`): once `wanted` have matched, the rest of that group is read too, then
    /// the lot is sorted and cut.
    private func searchIndexBucket(_ rank: SearchRank, query: SearchQuery, wanted: Int) throws(SQLiteError) -> [Contact] {
        let match = SearchIndexText.match(query.words[0], rank.kind)
        let table = rank.field.indexTable
        // In username order once `wanted` are found; then a candidate is only checked when its
        // username (one lookup in the search key's index, which holds it) sorts before the last.
        var contacts: [Contact] = []
        var lastGroup: Int64?
        try withStatement("SELECT rowid FROM \(table) WHERE \(table) MATCH ?1") { candidates throws(SQLiteError) in
            candidates.bind(match, at: 1)
            while try candidates.step() {
                let key = candidates.int64(0)
                if let lastGroup {
                    if SearchKey.group(ofKey: key) > lastGroup { break }
                    guard let username = try username(searchKey: key), let last = contacts.last,
                        Self.usernameOrder(username, last.username)
                    else { continue }
                }
                guard let contact = try fetchContact(searchKey: key), SearchMatcher(contact).rank(query) == rank else {
                    continue
                }
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

    /// The username of the contact with that search key, from the key's own index.
    private func username(searchKey: Int64) throws(SQLiteError) -> String? {
        try withStatement("SELECT username FROM contacts WHERE search_key = ?1") { statement throws(SQLiteError) in
            statement.bind(searchKey, at: 1)
            return try statement.step() ? statement.string(0) : nil
        }
    }

    /// The contact with that search key, if any.
    private func fetchContact(searchKey: Int64) throws(SQLiteError) -> Contact? {
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
        let lower = { (byte: UInt8) in (65...90).contains(byte) ? byte | 0x20 : byte }
        return a.utf8.lazy.map(lower).lexicographicallyPrecedes(b.utf8.lazy.map(lower))
    }

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
