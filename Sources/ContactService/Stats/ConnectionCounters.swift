import Locking

/// Connection counts for `server.stats`: open now, accepted since start, refused since start.
/// Created before the socket server and the methods, and handed to both.
final class ConnectionCounters: Sendable {
    private let counts = LockedValue<(open: Int, accepted: Int, refused: Int)>((0, 0, 0))

    /// A connection was admitted.
    func opened() { counts.withLock { $0.open += 1; $0.accepted += 1 } }

    /// An admitted connection closed.
    func closed() { counts.withLock { $0.open -= 1 } }

    /// A connection was refused with `-32000` (over `--max-connections`, out of descriptors); a peer
    /// not allowed is counted under `limits.refused_peer_credentials` instead. Refused connections
    /// are never counted as accepted.
    func refused() { counts.withLock { $0.refused += 1 } }

    /// The three counts now.
    var snapshot: (open: Int, accepted: Int, refused: Int) { counts.withLock { $0 } }
}
