import Foundation
import Testing

@testable import ContactStore

@Suite("contacts.search in the store")
struct SearchTests {
    private func add(
        _ store: ContactStore, _ username: String, _ first: String, _ last: String, _ emails: [String] = []
    ) throws {
        _ = try store.create(try NewContact(username: username, firstName: first, lastName: last, emails: emails))
    }

    /// The usernames `text` finds, asked twice: as the store stands (writes not yet folded into
    /// the index wait in `search_pending`), and after folding them; both answers must agree.
    private func search(_ store: ContactStore, _ text: String, limit: Int = 20) throws -> [String] {
        let query = try #require(SearchQuery(text, limit: limit))
        let asItStands = try store.search(query).map(\.username)
        try foldSearchEdits(store.path)
        let folded = try store.search(query).map(\.username)
        #expect(asItStands == folded, "\(text): before the fold \(asItStands), after \(folded)")
        return folded
    }

    /// Folds every waiting search edit into the index, on a connection of its own (as the
    /// store's writer does when enough wait or writes pause).
    private func foldSearchEdits(_ path: String) throws {
        let db = try SQLiteConnection(path: path)
        db.setBusyTimeout(milliseconds: 5000)
        try db.execute("BEGIN IMMEDIATE")
        try db.foldSearchEdits()
        try db.execute("COMMIT")
    }

    private func waitingEdits(_ path: String) throws -> Int {
        try SQLiteConnection(path: path).searchEditsWaiting()
    }

    @Test("folding drops accents and case and maps stroked letters: José, ŁÓDŹ, Straße, Øre")
    func folding() {
        #expect(SearchFolding.fold("José") == "jose")
        #expect(SearchFolding.fold("ŁÓDŹ") == "lodz")
        #expect(SearchFolding.fold("Straße") == "strasse")
        #expect(SearchFolding.fold("Øre") == "ore")
        #expect(SearchFolding.fold("ﬁle") == "file")
        #expect(SearchFolding.fold("e\u{301}") == "e")
        #expect(SearchFolding.fold("Ada") == "ada")
    }

    @Test("a fragment finds names, usernames and addresses anywhere in them, case- and accent-blind")
    func substrings() throws {
        try withTemporaryStore { store, _ in
            try add(store, "ada", "Ada", "Lovelace", ["ada@analytical.org"])
            try add(store, "grace", "Grace", "Hopper", ["grace@navy.mil"])
            try add(store, "jose", "José", "Núñez", ["jn@example.com"])
            try add(store, "lodz", "Łukasz", "Łódź-Kowalski")
            #expect(try search(store, "lovel") == ["ada"])
            #expect(try search(store, "OVELA") == ["ada"])
            #expect(try search(store, "@navy") == ["grace"])
            #expect(try search(store, "jose") == ["jose"])
            #expect(try search(store, "NUNEZ") == ["jose"])
            #expect(try search(store, "łódź") == ["lodz"])
            #expect(try search(store, "lodz kowal") == ["lodz"])
            #expect(try search(store, "nobody").isEmpty)
        }
    }

    @Test("several words must all match, each in any field")
    func allWords() throws {
        try withTemporaryStore { store, _ in
            try add(store, "ada", "Ada", "Lovelace", ["ada@analytical.org"])
            try add(store, "adam", "Adam", "Smith")
            #expect(try search(store, "ada love") == ["ada"])
            #expect(try search(store, "love ada") == ["ada"])
            #expect(try search(store, "ada smi") == ["adam"])
            #expect(try search(store, "ada analytical") == ["ada"])
            #expect(try search(store, "ada hopper").isEmpty)
        }
    }

    @Test("words of one or two characters match the starts of words only")
    func shortWords() throws {
        try withTemporaryStore { store, _ in
            try add(store, "ada", "Ada", "Lovelace", ["ada@navy.mil"])
            try add(store, "bob", "Bob", "Na")
            #expect(try search(store, "lo") == ["ada"])
            #expect(try search(store, "ov").isEmpty)
            #expect(try search(store, "n") == ["bob", "ada"])  // last name "Na" before the address word "navy"
            #expect(try search(store, "mi") == ["ada"])
        }
    }

    @Test("results rank exact usernames and addresses first, then prefixes, then by field, then username")
    func ranking() throws {
        try withTemporaryStore { store, _ in
            try add(store, "zed", "Zed", "Zed", ["ann@example.com"])  // address prefix (exact for the whole address)
            try add(store, "ann", "Xavier", "Young")  // exact username
            try add(store, "annabel", "Q", "Q")  // username prefix
            try add(store, "b1", "Q", "Annecy")  // last name prefix
            try add(store, "a1", "Anne", "Q")  // first name prefix
            try add(store, "c1", "Q", "Q", ["annie@example.com"])  // address prefix
            try add(store, "joanna", "Q", "Q")  // username substring
            try add(store, "d2", "Q", "Hanna")  // last name substring, after d1
            try add(store, "d1", "Q", "Joann")
            try add(store, "e1", "Diann", "Q")  // first name substring
            try add(store, "f1", "Q", "Q", ["leeann@example.com"])  // address substring
            try add(store, "other", "Q", "Q")
            #expect(
                try search(store, "ANN")
                    == ["ann", "annabel", "b1", "a1", "c1", "zed", "joanna", "d1", "d2", "e1", "f1"])
            #expect(try search(store, "ann", limit: 3) == ["ann", "annabel", "b1"])
            #expect(try search(store, "Ann@Example.com") == ["zed", "f1"])  // f1: leeann@example.com
            // An exact address comes before an address that merely starts with it.
            try add(store, "aussie", "Q", "Q", ["ann@example.com.au"])
            #expect(try search(store, "ann@example.com") == ["zed", "aussie", "f1"])
        }
    }

    @Test("the index follows updates, renames, deletes and purges in the same transaction")
    func indexFollowsWrites() throws {
        try withTemporaryStore { store, _ in
            try add(store, "ada", "Ada", "Lovelace", ["ada@analytical.org"])
            _ = try store.update(ContactUpdate(username: "ada", newUsername: "countess", lastName: "King"))
            #expect(try search(store, "lovelace").isEmpty)
            #expect(try search(store, "king") == ["countess"])
            #expect(try search(store, "countess") == ["countess"])
            _ = try store.update(ContactUpdate(username: "countess", emails: [Email(address: "ada@babbage.net")]))
            #expect(try search(store, "analytical").isEmpty)
            #expect(try search(store, "babbage") == ["countess"])
            _ = try store.delete(username: "countess")
            #expect(try search(store, "king").isEmpty)
            try add(store, "old", "Old", "Timer")
            #expect(try store.purge(createdBefore: Timestamp(milliseconds: Timestamp.now().milliseconds + 1000), limit: 10) == 1)
            #expect(try search(store, "timer").isEmpty)
        }
    }

    @Test("a large bucket comes out in username order, however the usernames were created")
    func largeBuckets() throws {
        try withTemporaryStore { store, _ in
            let count = 1200
            for n in (0..<count).reversed() {
                _ = try store.create(
                    try NewContact(username: String(format: "marshland-%04d", n), firstName: "Q", lastName: "Marsh", emails: []))
            }
            try add(store, "zz", "Q", "Q", ["marsh@example.com"])
            try add(store, "marsh", "Q", "Q")
            try add(store, "a-marsh", "Q", "Marshall")
            // The exact username, then username prefixes in order.
            #expect(try search(store, "marsh", limit: 4) == ["marsh", "marshland-0000", "marshland-0001", "marshland-0002"])
            // Usernames containing it (a-marsh first), then the rest in order.
            #expect(try search(store, "arsh", limit: 3) == ["a-marsh", "marsh", "marshland-0000"])
            let all = try search(store, "marsh", limit: 100)
            #expect(all == ["marsh"] + (0..<99).map { String(format: "marshland-%04d", $0) })
            // A rename moves the contact in the order.
            _ = try store.update(ContactUpdate(username: "marshland-0005", newUsername: "aaa-renamed"))
            #expect(try search(store, "renamed") == ["aaa-renamed"])
            #expect(
                try search(store, "marshland-00", limit: 6)
                    == ["marshland-0000", "marshland-0001", "marshland-0002", "marshland-0003", "marshland-0004", "marshland-0006"])
        }
    }

    @Test("search keys sort like usernames compared case-insensitively, group by group")
    func searchKeysSortLikeUsernames() {
        let names = ["-a", ".a", "0", "09", "9z", "A", "_x", "a", "a-", "a.", "a0", "a_", "ab", "Ab.c", "zzzzzzz", "zzzzzzzz"]
        let sorted = names.sorted { SQLiteConnection.usernameOrder($0, $1) }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            #expect(SearchKey.group(a) <= SearchKey.group(b), "\(a) \(b)")
        }
        #expect(SearchKey.group("zzzzzzz") == SearchKey.group("zzzzzzzz"))
        #expect(SearchKey.keys(ofGroup: SearchKey.group("zzzzzzz")).upperBound < Int64.max)
    }

    @Test("a database from before the search index gets one on upgrade, holding every contact")
    func migration() throws {
        try withTemporaryDatabasePath("old.db") { path in
            try writeDatabase(
                at: path, version: 7,
                data: """
                    INSERT INTO contacts (username, id, first_name, last_name, created_at, updated_at, version, emails)
                    VALUES ('ada', 1, 'Ada', 'Lovelace', 0, 0, 1, 'ada@example.com');
                    INSERT INTO emails (address_key, contact_id) VALUES ('ada@example.com', 1);
                    """)
            let store = try ContactStore(path: path)
            defer { store.close() }
            #expect(try store.search(try #require(SearchQuery("velac"))).map(\.username) == ["ada"])
        }
    }

    @Test("the index offers a prefix search only the values that start with the word, not all that start like it")
    func prefixAnchor() {
        let tokens = Set(SearchIndexText.tokens(for: "lav", kind: .prefix))
        let ladislav = Set(SearchIndexText.trigrams(SearchIndexText.column(["Ladislav"])))
        let lavinia = Set(SearchIndexText.trigrams(SearchIndexText.column(["Lavinia"])))
        #expect(!tokens.isSubset(of: ladislav))
        #expect(tokens.isSubset(of: lavinia))
        // A first character beyond the BMP has no anchor; the plain trigrams still find it.
        #expect(SearchIndexText.anchor("\u{1D49C}da") == nil)
    }

    @Test("contacts whose index edits still wait are found and ranked with the indexed ones")
    func waitingEditsAreSearched() throws {
        try withTemporaryStore { store, path in
            try add(store, "lovelace", "Q", "Q")
            try add(store, "ada", "Ada", "Byron")
            try foldSearchEdits(path)
            // Written by another connection of the store's kind: the store's writer never
            // learns of these edits, so they stay waiting until it commits something.
            let db = try SQLiteConnection(path: path)
            db.setBusyTimeout(milliseconds: 5000)
            try db.execute("BEGIN IMMEDIATE")
            try db.execute("""
                INSERT INTO contacts (username, id, first_name, last_name, created_at, updated_at, version, emails, search_key)
                VALUES ('countess', 100, 'Augusta', 'Lovelace', 1, 1, 1, '', \(SearchKey.keys(ofGroup: SearchKey.group("countess")).lowerBound));
                UPDATE contacts SET last_name = 'Lovelace' WHERE username = 'ada';
                """)
            try db.execute("COMMIT")
            #expect(try waitingEdits(path) == 3)
            let query = try #require(SearchQuery("lovelace"))
            // The username first, then last names in username order (one indexed, one waiting).
            #expect(try store.search(query).map(\.username) == ["lovelace", "ada", "countess"])
            #expect(try store.search(try #require(SearchQuery("byron"))).isEmpty)  // replaced, still in the index
            #expect(try store.search(try #require(SearchQuery("aug lov"))).map(\.username) == ["countess"])
            try foldSearchEdits(path)
            #expect(try waitingEdits(path) == 0)
            #expect(try store.search(query).map(\.username) == ["lovelace", "ada", "countess"])
        }
    }

    @Test("the writer folds waiting edits once a thousand wait, and the rest when writes pause")
    func writerFoldsWaitingEdits() throws {
        try withTemporaryStore { store, path in
            let count = SQLiteConnection.searchFoldThreshold + 100
            for n in 0..<count {
                _ = try store.create(try NewContact(username: "fold\(n)", firstName: "Q", lastName: "Q", emails: []))
            }
            #expect(try waitingEdits(path) < SQLiteConnection.searchFoldThreshold)
            let deadline = Date().addingTimeInterval(10)
            while try waitingEdits(path) > 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            #expect(try waitingEdits(path) == 0)
            #expect(try search(store, "fold1023") == ["fold1023"])
        }
    }

    @Test("an edit undone before the fold leaves nothing in the index: a create then a delete, an unchanged field")
    func undoneEditsCancel() throws {
        try withTemporaryStore { store, path in
            try add(store, "fleeting", "Quentin", "Zanzibar")
            _ = try store.update(ContactUpdate(username: "fleeting", lastName: "Xylophone"))
            _ = try store.delete(username: "fleeting")
            #expect(try waitingEdits(path) == 4)  // insert; update: remove, add; delete: remove
            let db = try SQLiteConnection(path: path)
            let tables = SearchRank.Field.allCases.map(\.indexTable)
            let segments = {
                try tables.map { try db.scalarInt("SELECT count(*) * 1000000 + total(length(block)) FROM \($0)_data") }
            }
            let before = try segments()
            try foldSearchEdits(path)
            // FTS5 wrote nothing: no segment, not even one of additions and removals.
            #expect(try segments() == before)
            #expect(try waitingEdits(path) == 0)
            for (table, trigram) in [("search_username", "eet"), ("search_first_name", "uen"), ("search_last_name", "anz"), ("search_last_name", "ylo")] {
                #expect(try db.scalarInt("SELECT count(*) FROM \(table) WHERE \(table) MATCH '\"\(trigram)\"'") == 0, "\(table)")
            }
        }
    }

    @Test("ASCII index text comes out of the fast path exactly as out of the general one")
    func asciiFastPath() {
        let samples = [
            "", "a", "Ad", "Ada", "ADA LOVELACE", "ada.lovelace@navy.mil\nx@y.io", "-._", "a-b.c_d0", "  x  ", "Q",
            "O'Brien-Smith", "x\n\ny",
        ]
        for sample in samples {
            let fast = Array(sample.utf8).withUnsafeBufferPointer { SearchIndexText.column(utf8: $0) }
            let general = SearchIndexText.column(sample.split(separator: "\n").map(String.init))
            #expect(String(decoding: fast, as: UTF8.self) == general, "\(sample)")
        }
    }

    @Test("a query of white space only is refused")
    func emptyQuery() {
        #expect(SearchQuery("  \t ") == nil)
        #expect(SearchQuery("") == nil)
    }
}
