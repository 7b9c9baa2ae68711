import CSQLite
import CSQLiteVFS
import Glibc
import MonotonicClock

/// One SQLite connection, with its own cache of prepared statements.
///
/// Not thread-safe: SQLite is opened in multi-thread mode (`SQLITE_OPEN_NOMUTEX`), which
/// allows a connection on any thread but only one thread at a time. The store guarantees that:
/// the writer connection lives on the writer's thread and each reader is checked out of
/// the pool by exactly one caller at a time. That is why `@unchecked Sendable` is safe here:
/// it may move between threads, but is never used by two at once.
final class SQLiteConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    /// Hot statements by small integer key: hashing a long SQL string costs more than the
    /// lookup it saves on the per-request read path.
    private var keyed: [SQLiteStatement?] = []
    /// Changes logged by the writes of the open transaction, not yet inserted (see
    /// `SQLiteConnection+Changes.swift`); only the writer connection has any.
    var pendingChanges: [PendingChange] = []
    /// The database file path, for messages.
    let path: String
    /// Frames in the WAL after this connection's last commit, as SQLite's WAL hook reports them
    /// (only once `countWALFrames()` has installed it).
    private let walFrames = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    /// The busy handler's state (see `setBusyTimeout`); the connection is used by one thread at a time.
    private let busyWait = UnsafeMutablePointer<BusyWait>.allocate(capacity: 1)

    /// Opens (and with `create`, creates) the database at `path`.
    init(path: String, readOnly: Bool = false, create: Bool = true) throws(SQLiteError) {
        _ = Self.configureLibrary
        var flags = SQLITE_OPEN_NOMUTEX
        flags |= readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0))
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard let db else {
            throw SQLiteError(code: rc, message: "cannot open database", sql: nil)
        }
        guard rc == SQLITE_OK else {
            // sqlite3_open_v2 hands back a handle even on failure; it must still be closed.
            let error = SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(db)), sql: nil)
            sqlite3_close_v2(db)
            throw error
        }
        self.handle = db
        self.path = path
        walFrames.initialize(to: 0)
        busyWait.initialize(to: BusyWait())
        sqlite3_extended_result_codes(db, 1)
        try registerSearchFunction()
    }

    /// Process-wide SQLite settings, applied once before the first connection opens: memory
    /// statistics off, and the VFS that gathers a commit's WAL writes into a few calls
    /// (`CSQLiteVFS`; if it cannot be registered, SQLite's default VFS serves, only slower).
    private static let configureLibrary: Void = {
        _ = contacts_sqlite_disable_memstatus()
        _ = contacts_sqlite_register_vfs()
    }()

    deinit {
        statements.removeAll()  // finalize statements before closing the connection
        keyed.removeAll()
        sqlite3_close_v2(handle)
        walFrames.deallocate()
        busyWait.deallocate()
    }

    /// True when SQLite opened the file read-only (it does so silently when the file or its
    /// file system cannot be written).
    var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    /// Counts the frames in the WAL after each commit (`walFramesAfterCommit`). This replaces
    /// SQLite's automatic checkpoint, which uses the same hook: the caller checkpoints instead.
    func countWALFrames() {
        sqlite3_wal_hook(
            handle,
            { context, _, _, frames in
                context?.assumingMemoryBound(to: Int32.self).pointee = frames
                return SQLITE_OK
            }, UnsafeMutableRawPointer(walFrames))
    }

    /// Frames in the WAL after the last commit on this connection (see `countWALFrames`).
    var walFramesAfterCommit: Int { Int(walFrames.pointee) }

    /// Checkpoints the WAL in `mode` (`SQLITE_CHECKPOINT_PASSIVE`, `_RESTART`, `_TRUNCATE`),
    /// waiting for readers up to the busy timeout in the blocking modes.
    func checkpoint(_ mode: Int32) throws(SQLiteError) {
        let rc = sqlite3_wal_checkpoint_v2(handle, "main", mode, nil, nil)
        if rc != SQLITE_OK { throw lastError(sql: "wal_checkpoint") }
    }

    /// How many write calls reached this connection's WAL file since it was opened (`CSQLiteVFS`
    /// gathers a commit's frames into a few); nil when its WAL is not open or not gathered.
    var walWriteCalls: Int? {
        let calls = contacts_sqlite_wal_write_calls(handle)
        return calls < 0 ? nil : Int(calls)
    }

    /// Makes closing this connection leave the `-wal` and `-shm` files where they are (SQLite's
    /// persistent-WAL mode): a last close then truncates the WAL through its open descriptor but
    /// deletes nothing by path, so it cannot remove the files of another database now at that path.
    func keepWALFilesOnClose() {
        var on: Int32 = 1
        sqlite3_file_control(handle, "main", SQLITE_FCNTL_PERSIST_WAL, &on)
    }

    /// The start of the WAL index (the `-shm` shared memory) as SQLite maps it for this
    /// connection: valid while the connection stays open, read-only for the caller. Nil when the
    /// database is not in WAL mode or this connection has not read it yet.
    func walIndex() -> UnsafeRawPointer? {
        contacts_wal_index(handle)
    }

    /// Sets how long a locked database is retried before `SQLITE_BUSY` is returned.
    ///
    /// Not `sqlite3_busy_timeout`: SQLite's own handler sleeps 1, 2, 5, 10, 15 ms… between tries,
    /// while most waits here are for something that ends within microseconds (the writer's WAL
    /// reset waiting for a reader of this process, such as the change feed's, which reads after
    /// every commit); a reset stalled every write for 33 ms or more. So the first millisecond is
    /// retried every 50 µs, the next few every 200 µs, and only longer waits (another process
    /// writing) every millisecond.
    func setBusyTimeout(milliseconds: Int32) {
        busyWait.pointee.timeoutNanoseconds = UInt64(max(0, milliseconds)) * 1_000_000
        sqlite3_busy_handler(
            handle,
            { context, attempts in
                guard let wait = context?.assumingMemoryBound(to: BusyWait.self) else { return 0 }
                let now = MonotonicClock.nanoseconds()
                if attempts == 0 { wait.pointee.startedAt = now }
                let waited = now &- wait.pointee.startedAt
                guard waited < wait.pointee.timeoutNanoseconds else { return 0 }
                let pause: UInt64 = attempts < 20 ? 50_000 : attempts < 60 ? 200_000 : 1_000_000
                var request = timespec(tv_sec: 0, tv_nsec: Int(min(pause, wait.pointee.timeoutNanoseconds - waited)))
                nanosleep(&request, nil)
                return 1
            }, UnsafeMutableRawPointer(busyWait))
    }

    /// Runs one or more statements that return no rows (schema, pragmas, transaction control).
    func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text, sql: sql)
        }
    }

    /// A prepared statement for `sql`, prepared once per connection and reused.
    func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statements[sql] {
            return cached
        }
        let statement = try SQLiteStatement(connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// A prepared statement cached under a small integer `key` (each call site owns one key).
    func statement(key: Int, _ sql: @autoclosure () -> String) throws(SQLiteError) -> SQLiteStatement {
        if key < keyed.count, let cached = keyed[key] { return cached }
        let statement = try SQLiteStatement(connection: self, sql: sql())
        if key >= keyed.count { keyed += Array(repeating: nil, count: key - keyed.count + 1) }
        keyed[key] = statement
        return statement
    }

    /// Runs `body` with the cached statement for `sql` and resets it afterwards, however `body`
    /// ends, so no call site can leave a statement holding its read or its bindings.
    func withStatement<T>(
        _ sql: String, _ body: (SQLiteStatement) throws(SQLiteError) -> T
    ) throws(SQLiteError) -> T {
        let statement = try statement(sql)
        defer { statement.reset() }
        return try body(statement)
    }

    /// `withStatement` for a statement cached under a small integer `key`.
    func withStatement<T>(
        key: Int, _ sql: @autoclosure () -> String, _ body: (SQLiteStatement) throws(SQLiteError) -> T
    ) throws(SQLiteError) -> T {
        let statement = try statement(key: key, sql())
        defer { statement.reset() }
        return try body(statement)
    }

    /// Reads a single integer pragma or scalar query.
    func scalarInt(_ sql: String) throws(SQLiteError) -> Int64? {
        try firstRow(sql) { $0.int64(0) }
    }

    /// Runs a query and returns the first column of its first row as text, if any.
    func scalarText(_ sql: String) throws(SQLiteError) -> String? {
        try firstRow(sql) { $0.string(0) }
    }

    private func firstRow<T>(_ sql: String, _ read: (SQLiteStatement) -> T) throws(SQLiteError) -> T? {
        try withStatement(sql) { statement throws(SQLiteError) in
            try statement.step() ? read(statement) : nil
        }
    }


    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Rows changed by every INSERT, UPDATE or DELETE that completed since the connection
    /// opened (a statement that failed was rolled back and counts nothing).
    var totalChanges: Int64 { sqlite3_total_changes64(handle) }

    /// True inside an explicit transaction.
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Builds an error from the connection's current state.
    func lastError(sql: String?) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Gives the statement wrapper access to the raw handle without letting it escape further.
    func withHandle<T>(_ body: (OpaquePointer) throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try body(handle)
    }
}

/// How long a busy connection may go on waiting, and since when it waits.
private struct BusyWait {
    var timeoutNanoseconds: UInt64 = 0
    var startedAt: UInt64 = 0
}
