import CSQLite
import Glibc

/// Why a backup failed: a reason from an open set, a sentence for people, and the SQLite code
/// when SQLite reported it. Names no path (the caller that knows the directory logs it).
public struct BackupFailure: Error, Sendable, Equatable {
    /// `disk_full`, `not_writable`, `not_a_directory`, `io_error`, `check_failed`, `interrupted`,
    /// or `database error N` for another SQLite failure.
    public var reason: String
    /// What went wrong, in plain words.
    public var message: String
    /// SQLite's extended result code, when the failure came from SQLite.
    public var sqliteCode: Int32?

    /// A failure with its reason and message.
    public init(reason: String, message: String, sqliteCode: Int32? = nil) {
        self.reason = reason
        self.message = message
        self.sqliteCode = sqliteCode
    }

    /// The copy was stopped before it was done (the caller asked, or the store is closing).
    public static let interrupted = BackupFailure(reason: "interrupted", message: "the backup was stopped before it was done")

    /// A failure of a system call on the backup directory, by `errno`.
    static func system(_ what: String, errno code: Int32) -> BackupFailure {
        let text = String(cString: strerror(code))
        switch code {
        case ENOSPC, EDQUOT:
            return BackupFailure(reason: "disk_full", message: "the disk holding the backup directory is full (\(what))")
        case EROFS, EACCES, EPERM:
            return BackupFailure(reason: "not_writable", message: "the backup directory cannot be written (\(what): \(text))")
        case ENOTDIR:
            return BackupFailure(reason: "not_a_directory", message: "the backup directory is not a directory (\(what))")
        default:
            return BackupFailure(reason: "io_error", message: "\(what) failed: \(text)")
        }
    }

    /// A failure SQLite reported while copying or checking.
    static func sqlite(_ error: SQLiteError) -> BackupFailure {
        let code = error.code
        switch error.primaryCode {
        case SQLITE_FULL:
            return BackupFailure(reason: "disk_full", message: "the disk holding the backup directory is full", sqliteCode: code)
        case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM:
            return BackupFailure(reason: "not_writable", message: "the backup file cannot be written", sqliteCode: code)
        case SQLITE_IOERR:
            return BackupFailure(reason: "io_error", message: "I/O error \(code) while writing the backup", sqliteCode: code)
        case SQLITE_INTERRUPT:
            return .interrupted
        default:
            return BackupFailure(reason: "database error \(code)", message: "database error \(code)", sqliteCode: code)
        }
    }
}
