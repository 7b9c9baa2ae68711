import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ContactStore

@Suite("backups of the live database")
struct BackupTests {
    @Test("a backup taken while writes go on holds exactly one snapshot of them, and passes integrity_check")
    func consistentWhileWriting() throws {
        try withTemporaryStore { store, path in
            for index in 0..<2000 { _ = try store.create(newContact("seed\(index)", emails: ["seed\(index)@example.com"])) }
            let stop = Atomic<Bool>(false)
            let written = Atomic<Int>(0)
            let writerDone = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                var index = 0
                while !stop.load(ordering: .relaxed) {
                    if (try? store.create(newContact("live\(index)", emails: ["live\(index)@example.com"]))) != nil {
                        written.add(1, ordering: .relaxed)
                    }
                    index += 1
                }
                writerDone.signal()
            }
            try waitUntil("the writer commits") { written.load(ordering: .relaxed) > 20 }
            let before = try store.count()
            // One page a step with a pause: the copy spans many commits of the writer.
            let result = try store.backup(
                into: backupDirectory(of: path), name: "during-writes.db",
                pacing: BackupPacing(pagesPerStep: 1, pauseMicroseconds: 300))
            let after = try store.count()
            stop.store(true, ordering: .relaxed)
            writerDone.wait()
            #expect(after > before, "the writer kept committing during the backup")
            let copy = try SQLiteConnection(path: result.path, readOnly: true, create: false)
            let contacts = try #require(try copy.scalarInt("SELECT count(*) FROM contacts"))
            let created = try copy.scalarInt("SELECT count(*) FROM changes WHERE op = 'created'")
            let emails = try copy.scalarInt("SELECT count(*) FROM emails")
            #expect(contacts >= before && contacts <= after)
            #expect(created == contacts, "every contact in the copy has its change, and no change lacks its contact")
            #expect(emails == contacts)
            #expect(try copy.scalarText("PRAGMA integrity_check") == "ok")
            #expect(try copy.scalarText("PRAGMA journal_mode") == "delete", "the copy is one file, with no WAL")
        }
    }

    @Test("a backup file is created private (0600) in a backup directory created private (0700), under a UTC default name")
    func modesAndDefaultName() throws {
        try withTemporaryStore { store, path in
            _ = try store.create(newContact("ada"))
            let directory = backupDirectory(of: path) + "/nested"
            // 2026-11-26T06:45:32.968Z
            let result = try store.backup(into: directory, now: Timestamp(milliseconds: 1_795_675_532_968))
            #expect(result.name == "contacts-20261126T064532Z.db")
            #expect(result.path == directory + "/contacts-20261126T064532Z.db")
            #expect(try mode(of: result.path) == 0o600)
            #expect(try mode(of: directory) == 0o700)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [result.name], "no temporary file is left")
            #expect(result.sizeBytes == Int64(try FileManager.default.attributesOfItem(atPath: result.path)[.size] as! Int))
            #expect(BackupName.isDefaultName(result.name))
        }
    }

    @Test("a name already taken is a conflict, and the file there is left as it was")
    func existingNameIsAConflict() throws {
        try withTemporaryStore { store, path in
            let directory = backupDirectory(of: path)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data("mine".utf8).write(to: URL(fileURLWithPath: directory + "/taken.db"))
            #expect(throws: StoreError.backupExists(name: "taken.db")) {
                try store.backup(into: directory, name: "taken.db")
            }
            #expect(try String(contentsOfFile: directory + "/taken.db", encoding: .utf8) == "mine")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["taken.db"])
        }
    }

    @Test(
        "a name that is not a plain file name is refused, naming the field",
        arguments: ["", "../up.db", "a/b.db", ".hidden", ".", "..", "nul\u{0}.db", "with space.db", "tab\t.db",
            String(repeating: "a", count: 129), "é.db"])
    func badNamesAreRefused(name: String) throws {
        try withTemporaryStore { store, path in
            do throws(StoreError) {
                _ = try store.backup(into: backupDirectory(of: path), name: name)
                Issue.record("\(name) was accepted")
            } catch {
                guard case .invalid(let problems) = error else { throw error }
                #expect(problems.map(\.field) == ["name"])
            }
            #expect(!FileManager.default.fileExists(atPath: backupDirectory(of: path)), "nothing was created")
        }
    }

    @Test("plain file names of letters, digits, dots, underscores and dashes are accepted",
        arguments: ["a", "before-upgrade.db", "2026_11_26.sqlite3", "x..y", String(repeating: "a", count: 128)])
    func goodNamesAreAccepted(name: String) throws {
        #expect(BackupName.problem(with: name) == nil)
    }

    @Test("a backup copies and checks on a thread of its own at idle priority, and the caller's scheduling stays as it was")
    func backupRunsAtIdlePriority() throws {
        try withTemporaryStore { store, path in
            for index in 0..<300 { _ = try store.create(newContact("p\(index)", emails: ["p\(index)@example.com"])) }
            var sawIdleThread = false
            _ = try store.backup(
                into: backupDirectory(of: path), name: "idle.db", pacing: BackupPacing(pagesPerStep: 1, pauseMicroseconds: 2000)
            ) {
                // Called on this thread every 50 ms while the copy runs on its own.
                sawIdleThread = sawIdleThread || threadPolicies().contains(BackupPacing.schedIdle)
                return true
            }
            #expect(sawIdleThread, "some thread ran at SCHED_IDLE during the backup")
            #expect(sched_getscheduler(0) == SCHED_OTHER, "the caller's thread is not changed")
        }
    }

    @Test("a backup rests three times as long as it worked (a quarter of a core), and never less than its pause")
    func pacingShare() {
        #expect(BackupPacing().restNanoseconds(afterWorking: 1_000_000) == 3_000_000)
        #expect(BackupPacing(pauseMicroseconds: 5000, share: 0.5).restNanoseconds(afterWorking: 1_000_000) == 5_000_000)
        #expect(BackupPacing(share: 1).restNanoseconds(afterWorking: 7_000_000) == 1_000_000)
    }

    @Test("a progress handler is called while a long statement runs, and not once it is removed")
    func progressHandler() throws {
        let db = try SQLiteConnection(path: ":memory:")
        let count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT count(*) FROM c"
        var calls = 0
        let rows = try db.withProgressHandler(every: 1000, { calls += 1 }) { () throws(SQLiteError) in
            try db.scalarInt(count)
        }
        #expect(rows == 100_000)
        #expect(calls > 100)
        let during = calls
        _ = try db.scalarInt(count)
        #expect(calls == during)
    }

    @Test("closing the store stops a running backup, which leaves no file behind")
    func closingStopsABackup() throws {
        try withTemporaryDatabasePath("contacts.db") { path in
            let store = try ContactStore(path: path)
            for index in 0..<500 { _ = try store.create(newContact("c\(index)", emails: ["c\(index)@example.com"])) }
            let outcome = Mutex<StoreError?>(nil)
            let started = DispatchSemaphore(value: 0)
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                var signalled = false
                do throws(StoreError) {
                    _ = try store.backup(
                        into: backupDirectory(of: path), name: "slow.db",
                        pacing: BackupPacing(pagesPerStep: 1, pauseMicroseconds: 20_000)
                    ) {
                        if !signalled { started.signal() }
                        signalled = true
                        return true
                    }
                } catch {
                    outcome.withLock { $0 = error }
                }
                done.signal()
            }
            started.wait()
            store.close()
            done.wait()
            #expect(outcome.withLock { $0 } == .closed)
            #expect(try FileManager.default.contentsOfDirectory(atPath: backupDirectory(of: path)) == [])
        }
    }
}

private func backupDirectory(of databasePath: String) -> String {
    (databasePath as NSString).deletingLastPathComponent + "/backups"
}

private func mode(of path: String) throws -> Int {
    try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
}

/// The scheduling policy of every thread of this process (field 41 of /proc/self/task/TID/stat).
private func threadPolicies() -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.compactMap { task in
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 38 ? Int32(fields[38]) : nil  // fields[0] is field 3 (state)
    }
}
