import ContactStore
import JSONRPC

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
        case .closed:
            return .internalError("the server is shutting down")
        case .schemaTooNew:
            return .internalError("the database was written by a newer version")
        case .database(let code, _):
            // SQLite's own message may name files or SQL; the client gets the code only.
            return .internalError("database error \(code)")
        }
    }
}

private func quoted(_ string: String) -> String {
    var writer = JSONWriter()
    writer.writeString(string)
    return String(decoding: writer.bytes, as: UTF8.self)
}
