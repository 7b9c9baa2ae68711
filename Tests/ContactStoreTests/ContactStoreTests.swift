import Foundation
import Testing

@testable import ContactStore

@Suite("ContactStore on a real SQLite file")
struct ContactStoreTests {
    @Test("a created contact reads back with its emails in insertion order")
    func createAndGet() throws {
        try withTemporaryStore { store, _ in
            let created = try store.create(try newContact("Ada", emails: ["z@example.com", "a@example.com"]))
            let read = try store.get(username: "ada")
            #expect(read == created)
            #expect(read.emails.map(\.address) == ["z@example.com", "a@example.com"])
            #expect(read.version == 1)
        }
    }

    @Test("one failing write in a group commit fails alone")
    func groupCommitIsolatesFailures() throws {
        try withTemporaryStore { store, _ in
            _ = try store.create(try newContact("taken"))
            let group = DispatchGroup()
            let results = ResultsBox()
            for name in ["one", "taken", "two", "three"] {
                group.enter()
                let new = try newContact(name, emails: ["\(name)@example.com"])
                store.create(new) { result in
                    results.append(name, result)
                    group.leave()
                }
            }
            group.wait()
            #expect(results.failures == ["taken"])
            #expect(try store.count() == 4)
            #expect(try store.get(username: "taken").emails.isEmpty)
        }
    }

    @Test("an update is all or nothing: a taken email leaves the contact unchanged")
    func updateIsAtomic() throws {
        try withTemporaryStore { store, _ in
            _ = try store.create(try newContact("a", emails: ["a@example.com"]))
            _ = try store.create(try newContact("b", emails: ["b@example.com"]))
            let change = ContactUpdate(username: "a", firstName: "Changed", emails: [Email(address: "B@example.com")])
            #expect(throws: StoreError.emailTaken(email: "B@example.com", owner: "b")) { try store.update(change) }
            let a = try store.get(username: "a")
            #expect(a.firstName == "First" && a.emails.map(\.address) == ["a@example.com"] && a.version == 1)
        }
    }

    @Test("delete honours expected_version")
    func deleteWithVersion() throws {
        try withTemporaryStore { store, _ in
            _ = try store.create(try newContact("a"))
            #expect(throws: StoreError.versionMismatch(username: "a", expected: 2, actual: 1)) {
                try store.delete(username: "a", expectedVersion: 2)
            }
            #expect(try store.delete(username: "A", expectedVersion: 1) == "a")
            #expect(throws: StoreError.notFound(username: "a")) { try store.get(username: "a") }
        }
    }

    @Test("purge removes contacts created before the cutoff, in chunks, emails included")
    func purge() throws {
        try withTemporaryStore { store, _ in
            for n in 0..<7 { _ = try store.create(try newContact("old\(n)", emails: ["old\(n)@example.com"])) }
            let cutoff = Timestamp(milliseconds: Timestamp.now().milliseconds + 1)
            #expect(try store.purge(createdBefore: cutoff, limit: 5) == 5)
            #expect(try store.purge(createdBefore: cutoff, limit: 5) == 2)
            #expect(try store.count() == 0)
            // The addresses are free again, so the emails went too.
            _ = try store.create(try newContact("new", emails: ["old0@example.com"]))
        }
    }

    @Test("the WAL watcher sees every commit, from the store or any other connection")
    func walWatcherSeesCommits() throws {
        try withTemporaryStore { store, path in
            let watcher = try #require(WALChangeWatcher(databasePath: path, busyTimeoutMilliseconds: 1000))
            let before = try #require(watcher.current())
            #expect(watcher.current() == before)
            _ = try store.create(try newContact("watched"))
            let afterStore = try #require(watcher.current())
            #expect(afterStore != before)
            let other = try SQLiteConnection(path: path)
            try other.execute("UPDATE contacts SET first_name = 'Other'")
            #expect(watcher.current() != afterStore)
        }
    }

    @Test("email rows left behind by a tool without foreign keys never attach to a new contact")
    func orphanedEmailRowsStayOrphaned() throws {
        try withTemporaryStore { store, path in
            _ = try store.create(try newContact("first"))
            _ = try store.create(try newContact("gone", emails: ["gone@example.com"]))
            // The sqlite3 shell, like any connection by default, does not enforce foreign keys.
            let shell = try SQLiteConnection(path: path)
            try shell.execute("DELETE FROM contacts WHERE username = 'gone'")
            _ = try store.create(try newContact("next"))
            #expect(try store.list(ListQuery(email: "gone@example.com")).contacts.isEmpty)
            #expect(try store.get(username: "next").emails.isEmpty)
        }
    }

    @Test("a fresh file is migrated to the latest schema version")
    func migratesFreshFile() throws {
        try withTemporaryStore { _, path in
            let db = try SQLiteConnection(path: path)
            #expect(try db.scalarInt("PRAGMA user_version") == Schema.latestVersion)
            #expect(try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'contacts_created_at'") == 1)
        }
    }

    @Test("a file at schema version 1 is upgraded on open and keeps its data")
    func upgradesOlderFile() throws {
        try withTemporaryDatabasePath("v1.db") { path in
            // Addresses inserted out of alphabetical order, interleaved between contacts.
            try writeDatabase(at: path, version: 1, data: """
                    INSERT INTO contacts (id, username, first_name, last_name, created_at, updated_at, version)
                        VALUES (1, 'old', 'Old', 'Timer', 1000, 2000, 3), (7, 'Other', 'An', 'Other', 1500, 1500, 1),
                               (9, 'bare', 'No', 'Mail', 1600, 1600, 1);
                    INSERT INTO emails (contact_id, address, address_key) VALUES
                        (1, 'Old@Example.com', 'old@example.com'), (7, 'z@example.com', 'z@example.com'),
                        (1, 'b@example.com', 'b@example.com'), (7, 'a@example.com', 'a@example.com'),
                        (1, 'a2@example.com', 'a2@example.com'),
                        (99, 'ghost@example.com', 'ghost@example.com');  -- its contact is gone
                    """)
            let store = try ContactStore(path: path)
            defer { store.close() }
            let contact = try store.get(username: "OLD")
            #expect(contact.emails.map(\.address) == ["Old@Example.com", "b@example.com", "a2@example.com"])
            #expect(contact.version == 3 && contact.createdAt.milliseconds == 1000 && contact.updatedAt.milliseconds == 2000)
            #expect(try store.get(username: "other").emails.map(\.address) == ["z@example.com", "a@example.com"])
            #expect(try store.get(username: "bare").emails.isEmpty)
            // Lookup by address and uniqueness still work on the upgraded tables.
            #expect(try store.list(ListQuery(email: "A@example.com")).contacts.map(\.username) == ["Other"])
            #expect(throws: StoreError.emailTaken(email: "B@example.com", owner: "old")) {
                try store.create(try newContact("new", emails: ["B@example.com"]))
            }
            // A new contact gets an id of its own: deleting it leaves the others' addresses alone.
            _ = try store.create(try newContact("new", emails: ["new@example.com"]))
            _ = try store.delete(username: "new")
            #expect(try store.get(username: "old").emails.count == 3)
            _ = try store.delete(username: "old")
            _ = try store.create(try newContact("again", emails: ["old@example.com", "b@example.com", "ghost@example.com"]))
            let db = try SQLiteConnection(path: path)
            #expect(try db.scalarInt("PRAGMA user_version") == Schema.latestVersion)
            #expect(try db.scalarInt("SELECT count(*) FROM emails") == 5)
        }
    }

    @Test("a file at schema version 4 gets its names and addresses in NFC, keeping an address two contacts held")
    func upgradesToNFC() throws {
        try withTemporaryDatabasePath("v4.db") { path in
            let (nfd, nfc, other) = ("e\u{301}@x.com", "\u{E9}@x.com", "u\u{308}@y.com")
            try writeDatabase(at: path, version: 4, data: """
                    INSERT INTO contacts (username, id, first_name, last_name, created_at, updated_at, version, emails)
                        VALUES ('one', 1, 'Rene\u{301}', 'L', 1, 1, 1, '\(nfd)\n\(other)'),
                               ('two', 2, 'T', 'W', 1, 1, 1, '\(nfc)'), ('plain', 3, 'P', 'Q', 1, 1, 1, 'p@x.com');
                    INSERT INTO emails (address_key, contact_id) VALUES ('\(nfd)', 1), ('\(other)', 1), ('\(nfc)', 2), ('p@x.com', 3);
                    """)
            let store = try ContactStore(path: path)
            defer { store.close() }
            let one = try store.get(username: "one")
            #expect(Array(one.firstName.utf8) == Array("Ren\u{E9}".utf8))
            #expect(one.emails.map { Array($0.address.utf8) } == [Array(nfd.utf8), Array("\u{FC}@y.com".utf8)])
            #expect(try store.list(ListQuery(email: other)).contacts.map(\.username) == ["one"])
            #expect(try store.list(ListQuery(email: "\u{FC}@y.com")).contacts.map(\.username) == ["one"])
            #expect(try store.list(ListQuery(email: nfd)).contacts.map(\.username) == ["two"])
            #expect(try store.get(username: "plain").emails.map(\.address) == ["p@x.com"])
        }
    }

    @Test("a process opening a file that another one is upgrading waits for the upgrade, however long")
    func concurrentUpgradeOfALargeFile() throws {
        try withTemporaryDatabasePath("v2.db") { path in
            // Enough contacts that the upgrade takes far longer than the 50 ms busy timeout below.
            try writeDatabase(at: path, version: 2, data: """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
                    INSERT INTO contacts (id, username, first_name, last_name, created_at, updated_at, version)
                        SELECT i, 'user' || i, 'F', 'L', i, i, 1 FROM n;
                    INSERT INTO emails (contact_id, address, address_key)
                        SELECT id, username || '@example.com', username || '@example.com' FROM contacts;
                    """)
            #expect(openConcurrently(path, count: 2, options: StoreOptions(busyTimeoutMilliseconds: 50)).isEmpty)
            let store = try ContactStore(path: path)
            defer { store.close() }
            #expect(try store.count() == 30000)
            #expect(try store.get(username: "USER29999").emails.map(\.address) == ["user29999@example.com"])
        }
    }

    @Test("a file from a newer version is refused and not modified")
    func refusesNewerSchema() throws {
        try withTemporaryDatabasePath("future.db") { path in
            do {
                let db = try SQLiteConnection(path: path)
                try db.execute("CREATE TABLE t (x); PRAGMA user_version = 42")
            }
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(throws: StoreError.schemaTooNew(found: 42, supported: Schema.latestVersion)) {
                _ = try ContactStore(path: path)
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
    }
}

/// Collects results from the writer's queue.
final class ResultsBox: @unchecked Sendable {
    // @unchecked Sendable: `lock` guards `failed`.
    private let lock = NSLock()
    private var failed: [String] = []
    func append(_ name: String, _ result: Result<Contact, StoreError>) {
        if case .failure = result { lock.withLock { failed.append(name) } }
    }
    var failures: [String] { lock.withLock { failed } }
}

@Suite("opening one new file from many places at once")
struct ConcurrentOpenTests {
    @Test("several stores opening a new file at the same moment all succeed", arguments: 0..<20)
    func concurrentMigration(round: Int) throws {
        try withTemporaryDatabasePath("new.db") { path in
            #expect(openConcurrently(path, count: 8).isEmpty)
        }
    }
}
