import CSQLite

/// An error reported by SQLite: its primary result code and message.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended SQLite result code (e.g. `SQLITE_CONSTRAINT_UNIQUE`).
    public var code: Int32
    /// SQLite's message for the failure.
    public var message: String
    /// The statement that failed, if any.
    public var sql: String?

    /// The primary result code (low byte of the extended code).
    public var primaryCode: Int32 { code & 0xFF }

    /// True when the database stayed locked longer than the busy timeout.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    public var description: String {
        if let sql { return "SQLite error \(code): \(message) (in \(sql))" }
        return "SQLite error \(code): \(message)"
    }
}
