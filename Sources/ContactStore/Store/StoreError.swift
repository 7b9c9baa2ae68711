/// Everything a store operation can fail with. The service maps each case to exactly one
/// JSON-RPC error, in one place.
public enum StoreError: Error, Sendable, Equatable {
    /// No contact has that username (compared case-insensitively).
    case notFound(username: String)
    /// Another contact already has that username.
    case usernameTaken(username: String)
    /// Another contact already owns that address.
    case emailTaken(email: String, owner: String)
    /// An imported card's UID is already another stored contact's (`on_conflict: fail`).
    case uidTaken(uid: String, username: String)
    /// `expected_version` did not match the stored version.
    case versionMismatch(username: String, expected: Int64, actual: Int64)
    /// Input that breaks a validation rule; lists every problem found.
    case invalid([FieldError])
    /// The database file was written by a newer version of this code.
    case schemaTooNew(found: Int64, supported: Int64)
    /// The store has been closed.
    case closed
    /// SQLite failed (disk full, I/O error, lock held past the busy timeout, corruption...):
    /// `code` is the extended result code of the failure itself, never that of a later
    /// statement that failed only because of it.
    case database(code: Int32, message: String)
    /// The database cannot be written (read-only file or directory): refused at open.
    case notWritable(path: String, reason: String)
    /// The changes after `since` are no longer kept (`since < oldest - 1`), or `since` is beyond
    /// the newest change (`since > head`, a seq from another database): resync with `list`.
    case changesGone(since: Int64, oldest: Int64, head: Int64)
    /// The file at `path` is no longer the one the store opened (deleted, or another file moved
    /// over it): every read and write is refused until the store is opened again.
    case databaseReplaced(path: String)
    /// A backup of that name is already in the backup directory: a backup never replaces a file.
    case backupExists(name: String)
    /// A backup could not be written or checked; no file was left behind.
    case backupFailed(BackupFailure)

    /// A description for logs that names no email address (those are personal data): the
    /// address of `emailTaken` is left out.
    public var logDescription: String {
        switch self {
        case .emailTaken(_, let owner): return "an email address is taken by contact \(owner)"
        case .invalid(let errors): return "invalid: " + errors.map(\.field).joined(separator: ", ")
        case .backupFailed(let failure): return "backup failed: \(failure.message)"
        default: return "\(self)"
        }
    }

    static func from(_ error: SQLiteError) -> StoreError {
        .database(code: error.code, message: error.message)
    }

    /// Runs `body`, passing store errors through and turning SQLite errors into `.database`:
    /// the one place where mixed failures become a `StoreError`.
    static func translating<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as SQLiteError {
            throw .from(error)
        } catch {
            throw .database(code: -1, message: "\(error)")
        }
    }
}
