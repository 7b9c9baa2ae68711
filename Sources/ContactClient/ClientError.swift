import JSONRPC

/// Why a client call failed.
///
/// Every throwing method of ``ContactClient`` throws this type (typed throws), so a `do throws(ClientError)`
/// block can switch over the cases. The first three cases mean the server could not be reached or
/// went away (``isUnreachable`` is true): retrying later, or on a new connection, may succeed.
/// ``server(_:)`` means the server understood the request and refused it; its `RPCError` carries
/// the JSON-RPC error code, message and `data` of protocol.md's section 3 (see <doc:HandlingErrors>).
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// Nothing answers on the socket: the file is missing, the connection was refused, the socket's
    /// permissions do not allow this user, or the path is too long for a Unix socket.
    /// - Parameters:
    ///   - path: the socket path tried.
    ///   - reason: the system's reason (`strerror`), or why the path cannot be used.
    case cannotConnect(path: String, reason: String)
    /// No answer within the read timeout given to ``ContactClient/init(socketPath:connectTimeout:readTimeout:)``.
    /// ``ContactClient/nextNotification()`` may simply be called again; after a timed-out request,
    /// make a new client, since the late answer would otherwise meet the next request.
    /// - Parameters:
    ///   - path: the socket path.
    ///   - seconds: the read timeout that passed.
    case timedOut(path: String, seconds: Double)
    /// The server closed the connection before answering (it stopped or crashed mid-call, or
    /// refused the connection with `-32000` or `-32001` and closed it).
    /// - Parameter path: the socket path.
    case connectionClosed(path: String)
    /// The server answered with a JSON-RPC error object: `code` (for example `404` no such contact,
    /// `409` a conflict, `410` changes no longer kept, `-32602` invalid params, `-32603` the database
    /// failed), `message` (one sentence for people) and `data` (the machine-readable details).
    case server(RPCError)
    /// The server sent something that is not a JSON-RPC response this client expected (not JSON,
    /// an answer for another request, a result of the wrong shape).
    /// - Parameter why: what was wrong with it.
    case invalidResponse(String)

    /// One line for people: the path and reason, or the server's own message.
    public var description: String {
        switch self {
        case .cannotConnect(let path, let reason): return "cannot connect to \(path): \(reason)"
        case .timedOut(let path, let seconds): return "no answer from \(path) within \(seconds) s"
        case .connectionClosed(let path): return "the server at \(path) closed the connection before answering"
        case .server(let error): return error.message
        case .invalidResponse(let why): return "invalid response from the server: \(why)"
        }
    }

    /// True when the server could not be reached at all (the CLI exits 3 for these):
    /// ``cannotConnect(path:reason:)``, ``timedOut(path:seconds:)`` and ``connectionClosed(path:)``.
    public var isUnreachable: Bool {
        switch self {
        case .cannotConnect, .timedOut, .connectionClosed: return true
        case .server, .invalidResponse: return false
        }
    }
}
