import Locking
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ContactStore

@Suite("the store's files on disk: closing, WAL size, a replaced file")
struct StoreLifecycleTests {
    @Test("closing after reads and writes removes the -wal and -shm files, and the file alone holds every write")
    func closeLeavesTheFileWhole() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let store = try ContactStore(path: path)
            for index in 0..<50 { _ = try store.create(try newContact("user\(index)")) }
            // Readers with warm snapshots, and one still checked out in a pipelined scope, at close.
            _ = try store.get(username: "user1")
            #expect(store.withReadSession { session in (try? store.get(username: "user2", in: session)) != nil })
            store.close()
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
            #expect(throws: StoreError.closed) { try store.get(username: "user1") }
            try withTemporaryDatabasePath("copy.db") { copy in
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                let reopened = try ContactStore(path: copy)
                defer { reopened.close() }
                #expect(try reopened.count() == 50)
            }
        }
    }

    @Test("after another file is moved over the path, writes and reads are refused, and closing leaves that file alone")
    func replacedFileIsRefused() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let backup = path + ".backup"
            let old = try ContactStore(path: backup)
            _ = try old.create(try newContact("restored"))
            old.close()
            let replaced = LockedValue(0)
            let store = try ContactStore(path: path, onReplaced: { _ in replaced.withLock { $0 += 1 } })
            _ = try store.create(try newContact("before"))
            #expect(rename(backup, path) == 0)
            #expect(throws: StoreError.databaseReplaced(path: path)) { try store.create(try newContact("after")) }
            #expect(throws: StoreError.databaseReplaced(path: path)) { try store.get(username: "before") }
            store.close()
            #expect(replaced.withLock { $0 } == 1)
            let reopened = try ContactStore(path: path)
            defer { reopened.close() }
            #expect(try reopened.get(username: "restored").username == "restored")
            #expect(try reopened.count() == 1)
        }
    }

    @Test("reads are refused within the check interval after the file is deleted, with no write to notice it")
    func deletedFileIsNoticedByReads() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let store = try ContactStore(path: path)
            defer { store.close() }
            _ = try store.create(try newContact("ada"))
            #expect(unlink(path) == 0)
            try waitUntil("reads are refused", timeout: 5) {
                do throws(StoreError) {
                    _ = try store.get(username: "ada")
                    return false
                } catch {
                    return error == .databaseReplaced(path: path)
                }
            }
        }
    }

    @Test("the WAL stays under its bound while readers keep reading during a long run of writes")
    func walStaysBoundedUnderConcurrentReads() throws {
        try withTemporaryStore { store, path in
            _ = try store.create(try newContact("reader"))
            let writing = Atomic<Bool>(true)
            let readers = DispatchGroup()
            // Readers that always hold a snapshot: without a bound, checkpoints can never reset the WAL.
            for _ in 0..<3 {
                DispatchQueue.global().async(group: readers) {
                    while writing.load(ordering: .relaxed) { _ = try? store.get(username: "reader") }
                }
            }
            var largest: Int64 = 0
            // Each create commits on its own: about 40 MB of WAL frames in all if nothing resets it.
            for index in 0..<3_000 {
                _ = try store.create(try newContact("user\(index)", emails: ["user\(index)@example.com"]))
                if index % 100 == 0 { largest = max(largest, fileSize(path + "-wal")) }
            }
            writing.store(false, ordering: .relaxed)
            readers.wait()
            largest = max(largest, fileSize(path + "-wal"))
            #expect(largest <= ContactStore.walSizeBound, "the -wal file reached \(largest) bytes")
        }
    }
}

func fileSize(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : 0
}

@Suite("group commit when SQLite rolls back the whole transaction")
struct GroupCommitRollbackTests {
    /// A writer over a scratch table on a fresh file, with its database limited to `maxPages`.
    private struct Fixture {
        let writer: GroupCommitWriter
        let path: String

        init(path: String) throws {
            self.path = path
            let db = try SQLiteConnection(path: path)
            try db.execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x BLOB)")
            let file = DatabaseFile(path: path) { _ in }
            let readers = ReaderPool(
                watcher: nil, maxReaders: 2, file: file, open: { () throws(StoreError) -> SQLiteConnection in throw .closed })
            writer = try GroupCommitWriter(
                connection: db, maxBatch: 256, busyTimeoutMilliseconds: 1000, file: file, readers: readers,
                foldsSearchEdits: false)  // a bare table, no store schema
        }

        /// Queues an insert of `bytes` random bytes; its result lands in `results[name]`.
        func insert(_ name: String, bytes: Int, into results: Results, group: DispatchGroup) {
            group.enter()
            writer.submit(
                { db, _ throws(StoreError) in
                    try StoreError.translating { try db.execute("INSERT INTO t VALUES (randomblob(\(bytes)))") }
                },
                completion: { result in
                    results.set(name, result.map { _ in 0 }.mapError { $0 })
                    group.leave()
                })
        }

        /// Runs `body` on the writer queue's connection, between groups.
        func withConnection(_ body: @escaping @Sendable (SQLiteConnection) -> Void) {
            let done = DispatchSemaphore(value: 0)
            writer.submit({ db, _ throws(StoreError) in body(db) }, completion: { _ in done.signal() })
            done.wait()
        }

        func rows() throws -> Int64 {
            let reader = try SQLiteConnection(path: path, readOnly: true)
            return try reader.scalarInt("SELECT count(*) FROM t") ?? -1
        }
    }

    final class Results: @unchecked Sendable {
        // @unchecked Sendable: `lock` guards `values`.
        private let lock = NSLock()
        private var values: [String: Result<Int, StoreError>] = [:]
        func set(_ name: String, _ result: Result<Int, StoreError>) { lock.withLock { values[name] = result } }
        subscript(name: String) -> Result<Int, StoreError>? { lock.withLock { values[name] } }
    }

    @Test(
        "every write of a group rolled back by SQLITE_FULL fails with SQLITE_FULL, none runs outside the transaction, and the next group commits"
    )
    func fullRollsBackTheGroupWithItsOwnError() throws {
        try withTemporaryDatabasePath("full.db") { path in
            let fixture = try Fixture(path: path)
            // Room for small rows only: a 100 kB row needs more pages than the database may have.
            fixture.withConnection { db in try? db.execute("PRAGMA max_page_count = 8") }
            let results = Results()
            let group = DispatchGroup()
            // The three writes queue up behind a write that holds the writer, so they share one group.
            let release = DispatchSemaphore(value: 0)
            let holding = DispatchSemaphore(value: 0)
            group.enter()
            fixture.writer.submit(
                { _, _ throws(StoreError) in
                    holding.signal()
                    release.wait()
                }, completion: { _ in group.leave() })
            holding.wait()  // else a slow writer could take the next write into the holder's group
            fixture.insert("before", bytes: 100, into: results, group: group)
            fixture.insert("too big", bytes: 100_000, into: results, group: group)
            fixture.insert("after", bytes: 100, into: results, group: group)
            release.signal()
            group.wait()
            for name in ["before", "too big", "after"] {
                guard case .failure(.database(let code, _)) = results[name] else {
                    Issue.record("\(name): \(String(describing: results[name]))")
                    continue
                }
                // 13: SQLITE_FULL
                #expect(code & 0xFF == 13, "\(name) failed with SQLite code \(code)")
            }
            #expect(try fixture.rows() == 0)
            fixture.insert("later", bytes: 100, into: results, group: group)
            group.wait()
            #expect(try results["later"]?.get() == 0)
            #expect(try fixture.rows() == 1)
        }
    }
}
