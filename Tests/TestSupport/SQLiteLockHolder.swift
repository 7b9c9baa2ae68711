import CSQLite
import Dispatch
import Foundation

/// Holds the write lock of a SQLite file from this (test) process, the way another program
/// writing the same file would, so tests can make the server or the task runner wait on it.
public final class SQLiteLockHolder: @unchecked Sendable {
    // @unchecked Sendable: `db` is used on the calling thread in init and then only by the one
    // release block, after which it is never touched again.
    private let db: OpaquePointer
    private let released = DispatchSemaphore(value: 0)

    /// Takes the write lock (BEGIN IMMEDIATE) and releases it after `seconds`, or, with nil,
    /// when `release(after:)` says.
    public init(path: String, seconds: Double?) throws {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK, let handle else { throw SupportError("cannot open \(path)") }
        db = handle
        sqlite3_busy_timeout(db, 5000)
        guard sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK else {
            sqlite3_close(db)
            throw SupportError("cannot lock \(path)")
        }
        if let seconds { release(after: seconds) }
    }

    /// Releases the lock `seconds` from now; call it once, and only for a holder made with nil.
    public func release(after seconds: Double) {
        // A thread of its own: under load, other tests' blocking work can hold every thread of
        // the global queue past the server's busy timeout.
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: seconds)
            sqlite3_exec(db, "COMMIT", nil, nil, nil)
            released.signal()
        }
    }

    /// Waits until the lock was released.
    public func waitUntilReleased() {
        released.wait()
        released.signal()
    }

    deinit {
        sqlite3_close(db)
    }

    /// Runs SQL on a file directly, bypassing the store (to set up odd or broken files).
    public static func execute(_ sql: String, on path: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open(path, &handle) == SQLITE_OK, let handle else { throw SupportError("cannot open \(path)") }
        defer { sqlite3_close(handle) }
        sqlite3_busy_timeout(handle, 5000)
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
            throw SupportError("SQL failed: \(String(cString: sqlite3_errmsg(handle)))")
        }
    }
}

/// A test-support failure.
public struct SupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
