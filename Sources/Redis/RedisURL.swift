/// Where and how to reach Redis: `redis://[[user]:password@]host[:port][/db]` or
/// `unix:///path/redis.sock[?db=N][&password=P]`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// TCP host and port, or a Unix socket path.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int32)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database: Int

    /// Parses a URL.
    /// - Throws: `RedisError` of kind `.invalidURL`, saying what is wrong.
    public init(_ text: String) throws(RedisError) {
        func invalid(_ why: String) -> RedisError {
            RedisError(.invalidURL, "invalid Redis URL \"\(text)\": \(why)")
        }
        if text.hasPrefix("unix://") {
            var rest = Substring(text.dropFirst("unix://".count))
            var query: Substring = ""
            if let mark = rest.firstIndex(of: "?") {
                query = rest[rest.index(after: mark)...]
                rest = rest[..<mark]
            }
            guard rest.hasPrefix("/"), rest.count > 1 else { throw invalid("expected unix:///absolute/path.sock") }
            endpoint = .unix(path: String(rest))
            database = 0
            for pair in query.split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw invalid("query part \"\(pair)\" is not name=value") }
                switch parts[0] {
                case "db":
                    guard let db = Int(parts[1]), db >= 0 else { throw invalid("db must be a number") }
                    database = db
                case "password": password = String(parts[1])
                case "user", "username": username = String(parts[1])
                default: throw invalid("unknown query parameter \"\(parts[0])\"")
                }
            }
            return
        }
        guard text.hasPrefix("redis://") else { throw invalid("expected redis://host:port/db or unix:///path") }
        var rest = Substring(text.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var hostPort = rest
        database = 0
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), number >= 0 else { throw invalid("the database must be a number") }
                database = number
            }
        }
        var host = String(hostPort)
        var port: Int32 = 6379
        if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let number = Int32(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(number) else {
                throw invalid("the port must be a number from 1 to 65535")
            }
            port = number
        }
        guard !host.isEmpty else { throw invalid("the host is missing") }
        endpoint = .tcp(host: host, port: port)
    }

    /// The URL without its password, for logs.
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port): return "redis://\(host):\(port)/\(database)"
        case .unix(let path): return "unix://\(path)?db=\(database)"
        }
    }
}
