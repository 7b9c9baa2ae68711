import CSQLite
import Glibc

extension SQLiteConnection {
    /// Copies every page of `source`'s main database into this connection's main database with
    /// SQLite's online backup API, `pagesPerStep` pages at a time.
    ///
    /// `source` must already be inside a read transaction: `sqlite3_backup_step` then reads every
    /// step from that one snapshot and never restarts, however much other connections commit
    /// meanwhile ("If the source database is modified by [another connection] … the backup will
    /// be restarted by the next call to sqlite3_backup_step()" happens only to a source that ends
    /// its read between steps).
    /// - Parameter between: called after each step; false stops the copy (`SQLITE_INTERRUPT`).
    /// - Throws: the failure of the step (`SQLITE_FULL` on a full disk), or `SQLITE_INTERRUPT`.
    func copyPages(from source: SQLiteConnection, pagesPerStep: Int32, between: () -> Bool) throws(SQLiteError) {
        try withHandle { destination throws(SQLiteError) in
            try source.withHandle { origin throws(SQLiteError) in
                guard let backup = sqlite3_backup_init(destination, "main", origin, "main") else {
                    throw lastError(sql: "sqlite3_backup_init")
                }
                var rc = SQLITE_OK
                while true {
                    rc = sqlite3_backup_step(backup, pagesPerStep)
                    if rc == SQLITE_DONE { break }
                    guard rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED else { break }
                    if rc != SQLITE_OK { usleep(1000) }  // the destination is ours alone: only briefly
                    guard between() else {
                        rc = SQLITE_INTERRUPT
                        break
                    }
                }
                // Finishing sets the destination connection's error code and message to the step's.
                sqlite3_backup_finish(backup)
                if rc == SQLITE_DONE { return }
                if rc == SQLITE_INTERRUPT {
                    throw SQLiteError(code: SQLITE_INTERRUPT, message: "the backup was stopped", sql: nil)
                }
                let error = lastError(sql: "sqlite3_backup_step")
                if error.code != SQLITE_OK { throw error }
                throw SQLiteError(code: rc, message: String(cString: sqlite3_errstr(rc)), sql: "sqlite3_backup_step")
            }
        }
    }

    /// Runs `body` with `handler` called about every `instructions` virtual-machine instructions
    /// of this connection's statements (SQLite's progress handler), then removes it. A long
    /// statement (`PRAGMA quick_check` of a whole file) can so rest between stretches of work.
    func withProgressHandler<T>(
        every instructions: Int32, _ handler: @escaping () -> Void, _ body: () throws(SQLiteError) -> T
    ) throws(SQLiteError) -> T {
        let box = Unmanaged.passRetained(ProgressHandler(handler))
        defer { box.release() }
        return try withHandle { db throws(SQLiteError) in
            sqlite3_progress_handler(
                db, instructions,
                { context in
                    guard let context else { return 0 }
                    Unmanaged<ProgressHandler>.fromOpaque(context).takeUnretainedValue().call()
                    return 0  // never interrupts
                }, box.toOpaque())
            defer { sqlite3_progress_handler(db, 0, nil, nil) }
            return try body()
        }
    }
}

/// A progress handler, boxed for SQLite's context pointer.
private final class ProgressHandler {
    let call: () -> Void

    init(_ call: @escaping () -> Void) {
        self.call = call
    }
}
