import Logging
import MonotonicClock
import Locking

/// Every limit or fault the server enforces or meets, counted for `server.stats` (under
/// `limits`) and logged at most once a minute per cause, so a hostile client cannot fill the log.
public enum LimitEvent: String, CaseIterable, Sendable {
    /// A connection over `--max-connections` was refused (also counted in `connections.refused`).
    case refusedTooManyConnections = "refused_too_many_connections"
    /// A peer whose uid/gid is not allowed (`--allow-uid`, `--allow-gid`) was refused.
    case refusedPeerCredentials = "refused_peer_credentials"
    /// A connection whose unsent output did not move for `--write-timeout` was closed.
    case writeTimeouts = "write_timeouts"
    /// A connection holding a partial line that sent nothing for `--read-timeout` was closed.
    case readTimeouts = "read_timeouts"
    /// A reply over `--max-response-bytes` was replaced by `-32003`.
    case responsesTooLarge = "responses_too_large"
    /// A batch waited because its connection's or the server's unsent output was over the cap.
    case batchesPaused = "batches_paused"
    /// `accept` failed (out of descriptors or memory); the server backed off.
    case acceptErrors = "accept_errors"
    /// A connection was refused or closed at a descriptor limit.
    case refusedDescriptors = "refused_descriptors"
    /// A write failed because the disk is full.
    case diskFull = "disk_full"
    /// The file at `--db` is no longer the one the server has open.
    case databaseReplaced = "database_replaced"
    /// Any other database failure answered with `-32603` (I/O error, read-only file, lock timeout).
    case databaseErrors = "database_errors"
    /// A subscription was dropped: its client did not keep up (`--max-subscription-queue`).
    case subscriptionsDropped = "subscriptions_dropped"
}

/// Counts `LimitEvent`s and logs each cause at most once a minute.
public final class LimitEvents: Sendable {
    /// Counts and the last time each cause was logged (monotonic ns). These events are rare
    /// (off the hot path), so one lock is simpler than an atomic per cause.
    private let state = LockedValue<(counts: [LimitEvent: Int], lastLogged: [LimitEvent: UInt64])>(([:], [:]))
    private let logger: Logger
    private let logInterval: UInt64

    /// - Parameter logIntervalSeconds: the shortest time between two log lines of one cause.
    public init(logger: Logger, logIntervalSeconds: Double = 60) {
        self.logger = logger
        self.logInterval = UInt64(logIntervalSeconds * 1e9)
    }

    /// Counts one event and logs `message` (at `level`) unless this cause was logged within the interval.
    public func record(
        _ event: LimitEvent, level: Logger.Level = .warning, _ message: @autoclosure () -> String,
        metadata: @autoclosure () -> Logger.Metadata = [:]
    ) {
        let now = MonotonicClock.nanoseconds()
        let due = state.withLock { state in
            state.counts[event, default: 0] += 1
            if let previous = state.lastLogged[event], now < previous + logInterval { return false }
            state.lastLogged[event] = now
            return true
        }
        if due {
            var metadata = metadata()
            metadata["cause"] = "\(event.rawValue)"
            logger.log(level: level, "\(message())", metadata: metadata)
        }
    }

    /// Every counter, by its wire name, in declaration order.
    public var snapshot: [(name: String, count: Int)] {
        let counts = state.withLock { $0.counts }
        return LimitEvent.allCases.map { ($0.rawValue, counts[$0] ?? 0) }
    }
}
