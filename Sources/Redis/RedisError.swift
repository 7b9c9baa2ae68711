/// A Redis failure: the connection broke (I/O, EOF, timeout) or the server replied with an error.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke; reconnecting may help.
        case connection
        /// The server answered with an error reply (e.g. `WRONGTYPE`, `NOAUTH`).
        case server
        /// The URL is malformed; nothing will help but fixing it.
        case invalidURL
    }

    /// The kind of failure.
    public var kind: Kind
    /// A sentence naming what failed.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
