import Redis

/// What a Redis failure means for the runner, by kind of error.
public struct RedisTrouble: Sendable, Error, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Connection loss, `LOADING`, `READONLY`, `MASTERDOWN` and the like: reconnect and retry.
        case outage
        /// `NOAUTH`, `WRONGPASS`: wrong or missing credentials. Fatal at start, retried in a run.
        case authentication
        /// A Redis this client cannot use (`MOVED`/`ASK` from a Cluster node, a version without
        /// `BLMOVE`): fatal at start, retried in a run.
        case configuration
        /// Any other error reply: logged and retried.
        case failure
    }

    public var kind: Kind
    /// What went wrong and what to do about it.
    public var message: String

    /// The oldest Redis this runner works with: `BLMOVE` came in 6.2.
    public static let minimumVersion = (major: 6, minor: 2)

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// Classifies `error` from the server at `url`.
    public init(_ error: RedisError, url: RedisURL) {
        switch error.kind {
        case .connection:
            self.init(kind: .outage, message: error.message)
        case .authentication:
            self.init(kind: .authentication, message: "authentication failed (check the user and password in --redis): \(error.message)")
        case .invalidURL:
            self.init(kind: .configuration, message: error.message)
        case .server:
            let words = error.message.split(separator: " ")
            switch error.code {
            // UNBLOCKED: a blocked BLMOVE released because the server became a replica.
            case "LOADING", "READONLY", "MASTERDOWN", "UNBLOCKED", "BUSY", "TRYAGAIN", "CLUSTERDOWN":
                self.init(kind: .outage, message: error.message)
            case "MOVED", "ASK":
                // "Redis error: MOVED 3999 127.0.0.1:6381"
                let slot = words.count > 3 ? String(words[3]) : "?"
                let node = words.count > 4 ? String(words[4]) : "?"
                self.init(
                    kind: .configuration,
                    message: "\(url) is a Redis Cluster node that does not hold this queue's slot \(slot): point --redis at "
                        + "redis://\(node) (hiredis 0.14 has no cluster support, so redirects are not followed)")
            case "ERR" where error.message.contains("unknown command"):
                self.init(
                    kind: .configuration,
                    message: "\(url) lacks a command the runner needs (\(error.message)): contacts-tasks needs Redis "
                        + "\(Self.minimumVersion.major).\(Self.minimumVersion.minor) or later")
            default:
                self.init(kind: .failure, message: error.message)
            }
        }
    }

    /// Auth and configuration troubles: no retry will help without a change by an operator.
    public var needsOperator: Bool { kind == .authentication || kind == .configuration }

    public var description: String { message }
}
