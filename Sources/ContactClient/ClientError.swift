import JSONRPC

/// Why a client call failed.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// Nothing answers on the socket (missing file, refused, permission denied).
    case cannotConnect(path: String, reason: String)
    /// No answer within the read timeout.
    case timedOut(path: String, seconds: Double)
    /// The server closed the connection before answering (it stopped or crashed mid-call).
    case connectionClosed(path: String)
    /// The server answered with a JSON-RPC error object.
    case server(RPCError)
    /// The server sent something that is not a JSON-RPC response.
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .cannotConnect(let path, let reason): return "cannot connect to \(path): \(reason)"
        case .timedOut(let path, let seconds): return "no answer from \(path) within \(seconds) s"
        case .connectionClosed(let path): return "the server at \(path) closed the connection before answering"
        case .server(let error): return error.message
        case .invalidResponse(let why): return "invalid response from the server: \(why)"
        }
    }

    /// True when the server could not be reached at all (the CLI exits 3 for these).
    public var isUnreachable: Bool {
        switch self {
        case .cannotConnect, .timedOut, .connectionClosed: return true
        case .server, .invalidResponse: return false
        }
    }
}
