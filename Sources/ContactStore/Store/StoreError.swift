/// Everything a store operation can fail with. The service maps each case to exactly one
/// JSON-RPC error, in one place.
public enum StoreError: Error, Sendable, Equatable {
    /// No contact has that username (compared case-insensitively).
    case notFound(username: String)
    /// Another contact already has that username.
    case usernameTaken(username: String)
    /// Another contact already owns that address.
    case emailTaken(email: String, owner: String)
    /// `expected_version` did not match the stored version.
    case versionMismatch(username: String, expected: Int64, actual: Int64)
    /// Input that breaks a validation rule; lists every problem found.
    case invalid([FieldError])
    /// The database file was written by a newer version of this code.
    case schemaTooNew(found: Int64, supported: Int64)
    /// The store has been closed.
    case closed
    /// SQLite failed (I/O error, lock held past the busy timeout, corruption...).
    case database(code: Int32, message: String)

    /// A description for logs that names no email address (those are personal data): the
    /// address of `emailTaken` is left out.
    public var logDescription: String {
        switch self {
        case .emailTaken(_, let owner): return "an email address is taken by contact \(owner)"
        case .invalid(let errors): return "invalid: " + errors.map(\.field).joined(separator: ", ")
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
