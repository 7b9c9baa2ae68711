/// A Redis failure: the connection broke (I/O, EOF, timeout), authentication was refused, the
/// server replied with an error, or the URL is malformed.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke; reconnecting may help.
        case connection
        /// The server refused the credentials (or wants some): `NOAUTH`, `WRONGPASS`, or an
        /// `AUTH` the server cannot check.
        case authentication
        /// The server answered with an error reply; `code` says which (e.g. `READONLY`, `MOVED`).
        case server
        /// The URL is malformed or asks for what this client cannot do; nothing will help but fixing it.
        case invalidURL
    }

    /// The kind of failure.
    public var kind: Kind
    /// A sentence naming what failed.
    public var message: String
    /// For an error reply, its first word: `ERR`, `READONLY`, `LOADING`, `MOVED`, `NOAUTH`, …
    public var code: String?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, code: String? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    /// An error reply from the server, classified by its code.
    public init(reply: String) {
        let code = reply.prefix { $0 != " " }
        // Redis 7 answers a large request from a client that has not authenticated with
        // "ERR Protocol error: unauthenticated multibulk length" (then closes the connection).
        let isAuthentication = code == "NOAUTH" || code == "WRONGPASS" || reply.contains("Protocol error: unauthenticated")
        self.init(isAuthentication ? .authentication : .server, "Redis error: \(reply)", code: String(code))
    }

    public var description: String { message }
}
