import ContactStore
import JSONRPC
import Logging

extension StoreError {
    /// The one place where a store failure becomes a JSON-RPC error object.
    var rpcError: RPCError {
        switch self {
        case .notFound(let username):
            return RPCError(code: 404, message: "no contact named \(quoted(username))", data: ["username": .string(username)])
        case .usernameTaken(let username):
            return RPCError(
                code: 409, message: "username \(quoted(username)) is already taken",
                data: ["reason": "username_taken", "username": .string(username)])
        case .emailTaken(let email, let owner):
            return RPCError(
                code: 409, message: "email \(quoted(email)) already belongs to contact \(quoted(owner))",
                data: ["reason": "email_taken", "email": .string(email), "owner": .string(owner)])
        case .uidTaken(let uid, let username):
            return RPCError(
                code: 409, message: "UID \(quoted(uid)) is already contact \(quoted(username))'s",
                data: ["reason": "uid_taken", "uid": .string(uid), "username": .string(username)])
        case .versionMismatch(let username, let expected, let actual):
            return RPCError(
                code: 409,
                message: "contact \(quoted(username)) is at version \(actual), not the expected \(expected)",
                data: [
                    "reason": "version_mismatch", "username": .string(username),
                    "expected_version": .number(JSONNumber(Int(expected))),
                    "current_version": .number(JSONNumber(Int(actual))),
                ])
        case .invalid(let errors):
            return .invalidParams(errors.map { ParamProblem(field: $0.field, message: $0.message) })
        case .changesGone(let since, let oldest, let head):
            let why =
                since > head
                ? "seq \(since) is beyond the newest change (\(head)): it is not from this database"
                : "the changes after seq \(since) are no longer kept (the oldest kept is \(oldest))"
            return RPCError(
                code: 410,
                message: "\(why); resync with contacts.list, then follow the changes from the head_seq it reports",
                data: [
                    "reason": .string(since > head ? "beyond_head" : "pruned"), "since": .number(JSONNumber(Int(since))),
                    "oldest": .number(JSONNumber(Int(oldest))), "head_seq": .number(JSONNumber(Int(head))),
                ])
        case .closed:
            return .internalError("the server is shutting down")
        case .schemaTooNew:
            return .internalError("the database was written by a newer version")
        case .notWritable:
            return .internalError("the database cannot be written")
        case .databaseReplaced:
            // No path: -32603 never names files.
            return RPCError(
                code: -32603, message: "Internal error: the database file was deleted or replaced; restart contactsd",
                data: ["reason": "database_replaced"])
        case .backupExists(let name):
            return RPCError(
                code: 409, message: "a backup named \(quoted(name)) already exists; a backup never replaces a file",
                data: ["reason": "backup_exists", "name": .string(name)])
        case .backupFailed(let failure):
            // No path: -32603 never names files (the server's log does).
            var data = JSONObject()
            data.append("reason", .string(failure.reason))
            if let code = failure.sqliteCode { data.append("sqlite_code", .number(JSONNumber(Int(code)))) }
            return RPCError(
                code: -32603, message: "Internal error: the backup failed: \(failure.message); no file was left behind",
                data: .object(data))
        case .database(let code, _):
            // SQLite's own message may name files or SQL; the client gets the code only.
            let (reason, message) = Self.describe(sqliteCode: code)
            return RPCError(
                code: -32603, message: "Internal error: \(message)",
                data: ["reason": .string(reason), "sqlite_code": .number(JSONNumber(Int(code)))])
        }
    }

    /// SQLite's primary result codes told apart here (https://sqlite.org/rescode.html).
    fileprivate enum PrimaryCode {
        static let readOnly: Int32 = 8  // SQLITE_READONLY*: the file became read-only
        static let ioError: Int32 = 10  // SQLITE_IOERR*
        static let full: Int32 = 13  // SQLITE_FULL: the disk (or file system) is full
    }

    /// `data.reason` and the message of a database error, by SQLite's primary result code.
    fileprivate static func describe(sqliteCode code: Int32) -> (reason: String, message: String) {
        switch code & 0xFF {
        case PrimaryCode.full: return ("disk_full", "the disk is full")
        case PrimaryCode.readOnly: return ("read_only", "the database file cannot be written")
        case PrimaryCode.ioError: return ("io_error", "database I/O error \(code)")
        default: return ("database error \(code)", "database error \(code)")
        }
    }
}

/// Maps store failures to JSON-RPC errors and logs the database failures among them (at
/// warning level, with their SQLite code; a full disk is counted and logged at most once a
/// minute): the one place where a store error leaves the store.
struct StoreErrorReporter: Sendable {
    var logger: Logger?
    var limits: LimitEvents?

    func rpcError(_ error: StoreError) -> RPCError {
        if case .database(let code, _) = error { log(sqliteCode: code) }
        return error.rpcError
    }

    private func log(sqliteCode code: Int32) {
        let metadata: Logger.Metadata = [
            "sqlite_code": "\(code)", "reason": "\(StoreError.describe(sqliteCode: code).reason)",
        ]
        if code & 0xFF == StoreError.PrimaryCode.full {
            limits?.record(.diskFull, "a write failed: the disk is full", metadata: metadata)
        } else if let limits {
            // Rate-limited like every limit: a read-only file fails every write, and must not
            // write a log line for each.
            limits.record(.databaseErrors, "database error", metadata: metadata)
        } else {
            logger?.warning("database error", metadata: metadata)
        }
    }
}

private func quoted(_ string: String) -> String {
    var writer = JSONWriter()
    writer.writeString(string)
    return String(decoding: writer.bytes, as: UTF8.self)
}
