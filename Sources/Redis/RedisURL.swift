/// Where and how to reach Redis: `redis://[user][:password]@host[:port][/db]` (user and password
/// percent-encoded, host a name, an IPv4 address or a bracketed IPv6 one such as `[::1]`) or
/// `unix:///path/redis.sock[?db=N][&user=U][&password=P]`. `rediss://` (TLS) is refused: Debian's
/// hiredis 0.14 has no TLS.
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
                case "password", "user", "username":
                    guard let value = Self.percentDecoded(parts[1]) else { throw invalid("bad percent-encoding in \(parts[0])") }
                    if parts[0] == "password" { password = value } else { username = value }
                default: throw invalid("unknown query parameter \"\(parts[0])\"")
                }
            }
            return
        }
        if text.hasPrefix("rediss://") {
            throw invalid(
                "rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS. Use a Unix socket, or a local "
                    + "TLS tunnel (stunnel, spiped) and redis://127.0.0.1:PORT")
        }
        guard text.hasPrefix("redis://") else { throw invalid("expected redis://host:port/db or unix:///path") }
        var rest = Substring(text.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            // RFC 3986 userinfo: `user:password`, `:password` or `user`, each percent-encoded.
            let user = credentials.firstIndex(of: ":").map { credentials[..<$0] } ?? credentials
            guard let decodedUser = Self.percentDecoded(user) else { throw invalid("bad percent-encoding in the user name") }
            username = decodedUser.isEmpty ? nil : decodedUser
            if let colon = credentials.firstIndex(of: ":") {
                guard let decoded = Self.percentDecoded(credentials[credentials.index(after: colon)...]) else {
                    throw invalid("bad percent-encoding in the password")
                }
                password = decoded
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
        var host: String
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            // An IPv6 literal: `[::1]` or `[::1]:6380`.
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("missing ] after the IPv6 address") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("expected :port after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        var port: Int32 = 6379
        if let portText {
            guard let number = Int32(portText), (1...65535).contains(number) else {
                throw invalid("the port must be a number from 1 to 65535")
            }
            port = number
        }
        guard !host.isEmpty else { throw invalid("the host is missing") }
        endpoint = .tcp(host: host, port: port)
    }

    /// `%XX` sequences decoded as UTF-8; nil when a sequence is malformed.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The URL without its password, for logs.
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : host
            return "redis://\(username.map { "\($0)@" } ?? "")\(shown):\(port)/\(database)"
        case .unix(let path): return "unix://\(path)?db=\(database)"
        }
    }
}
