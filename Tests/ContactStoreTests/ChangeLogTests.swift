import Foundation
import Locking
import TestSupport
import Testing

@testable import ContactStore

@Suite("the change log")
struct ChangeLogTests {
    @Test("a create, an update, a rename and a delete are logged in order, each with its contact and author")
    func everyWriteIsLogged() throws {
        try withTemporaryStore { store, _ in
            let created = try store.create(try newContact("ada", emails: ["ada@example.com"]))
            let updated = try store.update(ContactUpdate(username: "ADA", lastName: "King"), author: "my-app")
            let renamed = try store.update(ContactUpdate(username: "ada", newUsername: "ada.k"))
            try store.delete(username: "ada.k", author: "cleaner")
            let page = try store.changes(ChangeQuery(since: 0))
            #expect(page.changes.map(\.seq) == [1, 2, 3, 4])
            #expect(page.changes.map(\.operation) == [.created, .updated, .updated, .deleted])
            #expect(page.changes.map(\.username) == ["ada", "ada", "ada.k", "ada.k"])
            #expect(page.changes.map(\.oldUsername) == [nil, nil, "ada", nil])
            #expect(page.changes.map(\.author) == ["contactsd", "my-app", "contactsd", "cleaner"])
            #expect(page.changes.map(\.version) == [1, 2, 3, 3])
            #expect(page.changes[0].contact == created)
            #expect(page.changes[1].contact == updated)
            #expect(page.changes[2].contact == renamed)
            // A delete carries the contact as it was just before.
            #expect(page.changes[3].contact == renamed)
            #expect(page.changes[3].at >= renamed.updatedAt)
            #expect(page.next == 4)
        }
    }

    @Test("the commit hook costs the same at the hundredth commit as at the first")
    func commitHookDoesNotGrowWithCommits() throws {
        try withTemporaryStore { store, _ in
            // The stack depth at each call: a hook re-wrapped on every commit (as a closure read
            // through LockedValue's inout once was) is called through ever more thunks.
            let depths = LockedValue<[Int]>([])
            store.onCommit {
                let depth = Thread.callStackReturnAddresses.count
                depths.withLock { $0.append(depth) }
            }
            for index in 0..<100 { _ = try store.create(try newContact("user\(index)")) }
            // A create returns once acknowledged; the hook runs just after.
            try waitUntil("the hook has seen every commit") { depths.withLock { $0.count } == 100 }
            store.onCommit(nil)
            let seen = depths.withLock { $0 }
            #expect(Set(seen).count == 1, "stack depths at the hook: \(seen.first ?? 0) at first, \(seen.last ?? 0) at last")
        }
    }

    @Test("a write that changes nothing, or fails, logs nothing")
    func noOpsAndFailuresAreNotLogged() throws {
        try withTemporaryStore { store, _ in
            _ = try store.create(try newContact("ada"))
            _ = try store.update(ContactUpdate(username: "ada", lastName: "Last"))
            #expect(throws: StoreError.usernameTaken(username: "ADA")) { try store.create(try newContact("ADA")) }
            #expect(throws: StoreError.notFound(username: "bob")) { try store.delete(username: "bob") }
            let page = try store.changes(ChangeQuery(since: 0))
            #expect(page.changes.map(\.seq) == [1])
            // The next successful write takes the next seq: a failed write's log row went with its savepoint.
            _ = try store.create(try newContact("bob"))
            #expect(try store.changes(ChangeQuery(since: 1)).changes.map(\.seq) == [2])
        }
    }

    @Test("a purge logs one deleted change per contact, with the contact as it was")
    func purgeLogsEveryContact() throws {
        try withTemporaryStore { store, _ in
            var made: [String: Contact] = [:]
            for n in 0..<1200 {
                let contact = try store.create(try newContact("p\(n)", emails: ["p\(n)@example.com"]))
                made[contact.username] = contact
            }
            let cutoff = Timestamp(milliseconds: Timestamp.now().milliseconds + 1)
            var purged = 0
            while true {
                let removed = try store.purge(createdBefore: cutoff, limit: 500, author: "contacts-tasks")
                purged += removed
                if removed < 500 { break }
            }
            #expect(purged == 1200)
            #expect(try store.count() == 0)
            var deletions: [Change] = []
            var since: Int64 = 1200
            while true {
                let page = try store.changes(ChangeQuery(since: since, limit: 1000))
                deletions += page.changes
                if page.changes.isEmpty { break }
                since = page.next
            }
            #expect(deletions.count == 1200)
            #expect(Set(deletions.map(\.username)).count == 1200)
            #expect(deletions.allSatisfy { $0.operation == .deleted && $0.author == "contacts-tasks" })
            #expect(deletions.allSatisfy { made[$0.username] == $0.contact })
            #expect(deletions.map(\.seq) == Array(1201...2400))
        }
    }

    @Test("exclude_authors leaves out those authors, case-insensitively, and next moves past them")
    func excludeAuthors() throws {
        try withTemporaryStore { store, _ in
            _ = try store.create(try newContact("a1"), author: "app")
            _ = try store.create(try newContact("b1"))
            _ = try store.create(try newContact("a2"), author: "App")
            _ = try store.create(try newContact("a3"), author: "other")
            let others = try store.changes(ChangeQuery(since: 0, excludeAuthors: ["APP"]))
            #expect(others.changes.map(\.username) == ["b1", "a3"])
            #expect(others.next == 4)
            // Only excluded changes after `since`: nothing, and next is the head, not `since`.
            let none = try store.changes(ChangeQuery(since: 2, excludeAuthors: ["app", "other"]))
            #expect(none.changes.isEmpty)
            #expect(none.next == 4)
            // A full page ends at its last change.
            let full = try store.changes(ChangeQuery(since: 0, limit: 1, excludeAuthors: ["app"]))
            #expect(full.changes.map(\.seq) == [2])
            #expect(full.next == 2)
        }
    }

    @Test("pruning keeps the newest rows, only ever a prefix, and since below the oldest is refused")
    func pruneByRows() throws {
        try withTemporaryStore { store, _ in
            for n in 0..<30 { _ = try store.create(try newContact("c\(n)")) }
            let far = Timestamp(milliseconds: 0)
            #expect(try store.pruneChanges(before: far, maxRows: 10, chunk: 7) == 7)
            #expect(try store.pruneChanges(before: far, maxRows: 10, chunk: 7) == 7)
            #expect(try store.pruneChanges(before: far, maxRows: 10, chunk: 7) == 6)
            #expect(try store.pruneChanges(before: far, maxRows: 10, chunk: 7) == 0)
            #expect(try store.changeLogBounds() == ChangeLogBounds(oldest: 21, head: 30))
            #expect(throws: StoreError.changesGone(since: 19, oldest: 21, head: 30)) {
                try store.changes(ChangeQuery(since: 19))
            }
            #expect(try store.changes(ChangeQuery(since: 20)).changes.map(\.seq) == Array(21...30))
            #expect(throws: StoreError.changesGone(since: 31, oldest: 21, head: 30)) {
                try store.changes(ChangeQuery(since: 31))
            }
            #expect(try store.list(ListQuery()).headSeq == 30)
        }
    }

    @Test("pruning by age empties the log but keeps the head, so seqs are never reused")
    func pruneByAge() throws {
        try withTemporaryStore { store, _ in
            for n in 0..<5 { _ = try store.create(try newContact("c\(n)")) }
            let future = Timestamp(milliseconds: Timestamp.now().milliseconds + 60_000)
            #expect(try store.pruneChanges(before: future, maxRows: 1000, chunk: 1000) == 5)
            #expect(try store.changeLogBounds() == ChangeLogBounds(oldest: 6, head: 5))
            #expect(throws: StoreError.changesGone(since: 4, oldest: 6, head: 5)) {
                try store.changes(ChangeQuery(since: 4))
            }
            let page = try store.changes(ChangeQuery(since: 5))
            #expect(page.changes.isEmpty && page.next == 5)
            _ = try store.create(try newContact("after"))
            #expect(try store.changes(ChangeQuery(since: 5)).changes.map(\.seq) == [6])
        }
    }

    @Test("an upgrade from schema 6 keeps every contact, and the new log refuses since 0")
    func upgradeFromSchema6() throws {
        try withTemporaryDatabasePath("old.db") { path in
            try writeDatabase(
                at: path, version: 6,
                data: """
                    INSERT INTO contacts (username, id, first_name, last_name, created_at, updated_at, version, emails, generated)
                    VALUES ('ada', 1, 'Ada', 'Lovelace', 1000, 2000, 3, 'ada@example.com' || char(10) || 'a@example.org', 0),
                           ('bot', 2, 'Bot', 'Made', 1500, 1500, 1, '', 1);
                    INSERT INTO emails (address_key, contact_id) VALUES ('ada@example.com', 1), ('a@example.org', 1);
                    INSERT INTO task_runs (job_id, ran_at) VALUES ('create-random:1', 1500);
                    """)
            let store = try ContactStore(path: path)
            defer { store.close() }
            let ada = try store.get(username: "ada")
            #expect(ada.emails.map(\.address) == ["ada@example.com", "a@example.org"])
            #expect(ada.version == 3 && ada.updatedAt.milliseconds == 2000)
            #expect(try store.count() == 2)
            #expect(try store.isJobRecorded("create-random:1"))
            // History before the upgrade was never logged: since 0 must resync rather than look complete.
            let page = try store.list(ListQuery())
            #expect(page.headSeq == 1)
            #expect(throws: StoreError.changesGone(since: 0, oldest: 2, head: 1)) {
                try store.changes(ChangeQuery(since: 0))
            }
            #expect(try store.changes(ChangeQuery(since: page.headSeq)).changes.isEmpty)
            try store.delete(username: "bot")
            let after = try store.changes(ChangeQuery(since: page.headSeq))
            #expect(after.changes.map(\.seq) == [2])
            #expect(after.changes.first?.contact.firstName == "Bot")
        }
    }

    @Test("a list page and its head_seq come from one snapshot: under concurrent creates, a page of every contact holds head_seq contacts")
    func headSeqMatchesItsPage() throws {
        try withTemporaryStore { store, _ in
            // Only creates, so in any one snapshot the number of contacts is the head.
            let total = 900
            let writes = DispatchGroup()
            for n in 0..<total {
                writes.enter()
                store.create(try newContact("c\(n)")) { _ in writes.leave() }
            }
            var mismatches: [String] = []
            var pages = 0
            repeat {
                let page = try store.list(ListQuery(limit: 1000))
                pages += 1
                if Int64(page.contacts.count) != page.headSeq {
                    mismatches.append("\(page.contacts.count) contacts with head_seq \(page.headSeq)")
                }
            } while try store.count() < total
            writes.wait()
            #expect(mismatches.isEmpty, "pages read in another snapshot than their head_seq: \(mismatches.prefix(5))")
            #expect(pages > 1)
        }
    }

    @Test("a new database's log starts at seq 1 and since 0 reads all of it")
    func newDatabaseStartsAtOne() throws {
        try withTemporaryStore { store, _ in
            #expect(try store.list(ListQuery()).headSeq == 0)
            #expect(try store.changes(ChangeQuery(since: 0)) == ChangePage(changes: [], next: 0))
            _ = try store.create(try newContact("first"))
            #expect(try store.changes(ChangeQuery(since: 0)).changes.map(\.seq) == [1])
        }
    }
}
