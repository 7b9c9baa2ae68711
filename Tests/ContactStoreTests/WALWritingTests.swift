import CSQLite
import Dispatch
import Foundation
import Locking
import TestSupport
import Testing

@testable import ContactStore

@Suite("the writer's thread does only writes: WAL frames gathered, checkpoints and completions elsewhere")
struct WALWritingTests {
    @Test("a commit's WAL frames go to the file in a few write calls, not two per page")
    func framesAreGathered() throws {
        try withTemporaryDatabasePath("frames.db") { path in
            let db = try SQLiteConnection(path: path)
            try db.execute("PRAGMA journal_mode = WAL; CREATE TABLE notes (body BLOB)")
            db.countWALFrames()  // also keeps SQLite from checkpointing on its own
            try db.execute("INSERT INTO notes VALUES (randomblob(10))")
            let callsBefore = try #require(db.walWriteCalls)
            let framesBefore = db.walFramesAfterCommit
            try db.execute("""
                BEGIN;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
                INSERT INTO notes SELECT randomblob(900) FROM n;
                COMMIT
                """)
            let frames = db.walFramesAfterCommit - framesBefore
            let calls = try #require(db.walWriteCalls) - callsBefore
            #expect(frames > 80)
            // At most 120 KiB a call: 29 frames of 4 KiB pages, and one call more where a
            // gathering starts after a read.
            #expect(calls <= frames / 29 + 2, "\(calls) write calls for \(frames) frames")
        }
    }

    @Test(
        "when COMMIT returns, the commit is in the files: a copy taken then, as a kill -9 would leave them, holds it",
        arguments: [false, true])
    func committedFramesAreInTheFiles(spillingPages: Bool) throws {
        try withTemporaryDatabasePath("frames.db") { path in
            let db = try SQLiteConnection(path: path)
            // As the store runs it: a commit does not sync the WAL (a sync would write what is gathered).
            try db.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE notes (id INTEGER PRIMARY KEY, body BLOB)")
            db.countWALFrames()  // no checkpoint: everything stays in the WAL
            // A page cache of 5 pages spills pages to the WAL before the commit, and writing them
            // again rewrites those frames in place (SQLite then redoes the frames' checksums).
            if spillingPages { try db.execute("PRAGMA cache_size = 5") }
            try db.execute("""
                BEGIN;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
                INSERT INTO notes SELECT i, zeroblob(500) FROM n;
                UPDATE notes SET body = randomblob(600);
                COMMIT
                """)
            try withTemporaryDatabasePath("copy.db") { copy in
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
                try withDefaultVFSConnection(copy) { reader in
                    #expect(scalarText(reader, "PRAGMA integrity_check") == "ok")
                    #expect(scalarText(reader, "SELECT count(*) FROM notes WHERE length(body) = 600") == "300")
                }
            }
        }
    }

    @Test("what the gathered writes put in the WAL reads back through SQLite's own VFS, in another connection")
    func gatheredFramesReadBackThroughTheDefaultVFS() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let store = try ContactStore(path: path)
            defer { store.close() }
            for index in 0..<300 {
                _ = try store.create(try newContact("user\(index)", emails: ["user\(index)@example.com"]))
            }
            // The store is open: its last commits are in the WAL, not yet all in the file.
            try withDefaultVFSConnection(path) { reader in
                #expect(scalarText(reader, "PRAGMA integrity_check") == "ok")
                #expect(scalarText(reader, "SELECT count(*) FROM contacts") == "300")
                #expect(scalarText(reader, "SELECT count(*) FROM emails") == "300")
            }
        }
    }

    @Test(
        "the database file gets the WAL's pages while the store is open, from the checkpointer's or the writer's thread",
        arguments: [true, false])
    func walIsCopiedIntoTheFileWhileOpen(inBackground: Bool) throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            var options = StoreOptions()
            options.checkpointsInBackground = inBackground
            let store = try ContactStore(path: path, options: options)
            defer { store.close() }
            #expect((store.checkpointer != nil) == inBackground)
            let sizeAtOpen = fileSize(path)
            // Each create commits on its own: a few thousand WAL frames in all.
            for index in 0..<600 {
                _ = try store.create(try newContact("user\(index)", emails: ["user\(index)@example.com"]))
            }
            try waitUntil("the database file has grown", timeout: 10) { fileSize(path) > sizeAtOpen + 64 * 1024 }
            if let checkpointer = store.checkpointer {
                try waitUntil("the checkpointer has checkpointed", timeout: 10) {
                    checkpointer.checkpointsCompleted > 0
                }
            }
        }
    }

    @Test("the writer's WAL reset is not run while a checkpoint of the checkpointer runs, and runs once it is done")
    func resetWaitsForNoCheckpoint() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let store = try ContactStore(path: path)
            defer { store.close() }
            let checkpointer = try #require(store.checkpointer)
            let inner = checkpointer.exclusively { checkpointer.exclusively { "ran" } }
            #expect(inner == .some(nil))  // the outer ran; the inner found a checkpoint running
            #expect(checkpointer.exclusively { "ran" } == "ran")
        }
    }

    @Test("completions run on the acknowledging thread, not the writer's, in the order of the commits")
    func completionsRunOffTheWriterInCommitOrder() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let store = try ContactStore(path: path)
            defer { store.close() }
            let completed = LockedValue<(usernames: [String], threads: Set<String>)>(([], []))
            let done = DispatchGroup()
            // From several threads at once, so commits hold several writes.
            DispatchQueue.concurrentPerform(iterations: 8) { thread in
                for index in 0..<50 {
                    let username = "user\(thread)x\(index)"
                    done.enter()
                    store.create(try! newContact(username)) { result in
                        let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
                        completed.withLock {
                            if case .success = result { $0.usernames.append(username) }
                            $0.threads.insert(name.trimmingCharacters(in: .whitespacesAndNewlines))
                        }
                        done.leave()
                    }
                }
            }
            done.wait()
            let (usernames, threads) = completed.withLock { ($0.usernames, $0.threads) }
            #expect(threads == ["contacts-acks"])
            let logged = try store.changes(ChangeQuery(since: 0, limit: 1000)).changes.map(\.username)
            #expect(usernames.count == 400)
            #expect(usernames == logged)
        }
    }

    @Test("closing the store returns only once every queued write's completion has run")
    func closeRunsEveryCompletion() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let store = try ContactStore(path: path)
            let completions = LockedValue(0)
            for index in 0..<300 {
                store.create(try newContact("user\(index)")) { _ in completions.withLock { $0 += 1 } }
            }
            store.close()
            #expect(completions.withLock { $0 } == 300)
        }
    }
}

/// Runs `body` with a connection to `path` through SQLite's own VFS (`unix`), not the store's:
/// it sees the files as any other program would.
private func withDefaultVFSConnection(_ path: String, _ body: (OpaquePointer) throws -> Void) throws {
    var handle: OpaquePointer?
    #expect(sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, "unix") == SQLITE_OK)
    let connection = try #require(handle)
    defer { sqlite3_close_v2(connection) }
    try body(connection)
}

/// The first column of the first row of `sql`, as text.
private func scalarText(_ db: OpaquePointer, _ sql: String) -> String? {
    var statement: OpaquePointer?
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else { return nil }
    defer { sqlite3_finalize(statement) }
    guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return nil }
    return String(cString: text)
}
