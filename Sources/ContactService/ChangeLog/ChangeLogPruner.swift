import ContactStore
import Dispatch
import Locking
import Logging

/// Keeps the change log within `--changes-max-age` and `--changes-max-rows`: once a second, and
/// again at once after every full chunk, it deletes at most `chunk` of the oldest changes as one
/// write of the group commit. So a prune never holds the writer (or a reader) for more than one
/// small range delete, and a backlog (a log over its bounds after an upgrade, or under a create
/// load faster than a chunk a second) is worked off chunk by chunk between the other writes.
///
/// Only `contactsd` prunes: the task runner writes the log but keeps no flags for it.
final class ChangeLogPruner: Sendable {
    /// Most changes deleted by one write.
    static let chunk = 1000
    /// How often the bounds are checked when the last prune was not a full chunk.
    static let intervalMilliseconds = 1000

    private let store: ContactStore
    private let maxAgeMilliseconds: Int64
    private let maxRows: Int
    private let logger: Logger
    private let queue = DispatchQueue(label: "contacts.changes.pruner", target: .global())
    /// Stopped, and whether the last prune failed (so a failure is logged once, not every second).
    private let state = LockedValue<(stopped: Bool, failing: Bool)>((false, false))

    init(store: ContactStore, maxAgeMilliseconds: Int64, maxRows: Int, logger: Logger) {
        self.store = store
        self.maxAgeMilliseconds = maxAgeMilliseconds
        self.maxRows = maxRows
        self.logger = logger
    }

    /// Starts pruning (at once, then every interval).
    func start() {
        queue.async { self.prune() }
    }

    /// Stops pruning; a chunk already queued may still run (or fail once the store is closed).
    func stop() {
        state.withLock { $0.stopped = true }
    }

    private func prune() {
        if state.withLock({ $0.stopped }) { return }
        let cutoff = Timestamp(milliseconds: Timestamp.now().milliseconds - maxAgeMilliseconds)
        store.pruneChanges(before: cutoff, maxRows: maxRows, chunk: Self.chunk) { [self] result in
            var full = false
            switch result {
            case .success(let removed):
                full = removed == Self.chunk
                state.withLock { $0.failing = false }
            case .failure(let error):
                let first = state.withLock { state in
                    defer { state.failing = true }
                    return !state.failing && !state.stopped
                }
                if first { logger.warning("cannot prune the change log: \(error.logDescription)") }
            }
            // The completion runs on the writer's acknowledging thread: the next round is scheduled off it.
            let delay = full ? 0 : Self.intervalMilliseconds
            queue.asyncAfter(deadline: .now() + .milliseconds(delay)) { self.prune() }
        }
    }
}
