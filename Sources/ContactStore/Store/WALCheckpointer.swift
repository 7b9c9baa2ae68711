import CSQLite
import Dispatch
import Locking

/// Copies the WAL into the database file on a thread and connection of its own (SQLite's
/// passive checkpoint), so the writer never does: a checkpoint reads back every page the WAL
/// gained, writes it into the database file and syncs both files, and on the writer's thread it
/// was an eighth of the writer's CPU under a steady create load and most of its waiting
/// (docs/performance.md, "Checkpoints off the writer, and gathered WAL writes").
///
/// A passive checkpoint takes no lock that writes wait for, so commits go on meanwhile. The
/// writer still resets the WAL itself (`GroupCommitWriter`'s `RESTART` checkpoint, which keeps
/// the WAL bounded), through `exclusively`, never while a checkpoint of this thread runs:
/// SQLite refuses a second checkpoint at once rather than wait for the first.
///
/// Like the writer, it checks before each checkpoint that the path still names the file opened
/// and that the file may be written, so a file made read-only or replaced is not written.
final class WALCheckpointer: Sendable {
    /// Whether a checkpoint is wanted, whether `close` was called, and whether a checkpoint runs
    /// now (this thread's passive one, or the writer's reset through `exclusively`).
    private struct State {
        var requested = false
        var closed = false
        var running = false
    }

    private let state = LockedValue(State())
    /// Signalled when a checkpoint is first requested, on close and on deinit.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled by the thread once it has stopped (after close).
    private let stopped = DispatchSemaphore(value: 0)
    // Touched only by the checkpointer thread while it runs, then by `close` after the thread has
    // stopped (`stopped` orders the two), so no two threads ever share it.
    private nonisolated(unsafe) var connection: SQLiteConnection?
    private let file: DatabaseFile
    /// Passive checkpoints this thread has run (for tests and stats).
    private let completed = LockedValue(0)

    /// Opens a connection of its own on `path` (the store's file, already in WAL mode) and starts
    /// the thread, which waits for `request`. Opening waits up to `busyTimeoutMilliseconds` for
    /// a lock another connection holds (one recovering the WAL, a store setting up the file).
    init(path: String, file: DatabaseFile, busyTimeoutMilliseconds: Int32) throws(SQLiteError) {
        let connection = try SQLiteConnection(path: path, create: false)
        connection.setBusyTimeout(milliseconds: busyTimeoutMilliseconds)
        try connection.execute(ContactStore.noTemporaryFiles)
        // A connection checkpoints only a WAL it has opened, which its first read does.
        _ = try connection.scalarInt("SELECT count(*) FROM sqlite_schema WHERE 0")
        self.connection = connection
        self.file = file
        // The thread holds the checkpointer weakly, so one dropped without `close` still goes away.
        BackgroundThread.start(named: "contacts-ckpt") { [weak self, wake] in
            while true {
                wake.wait()
                guard let checkpointer = self, checkpointer.runRequested() else { return }
            }
        }
    }

    deinit {
        wake.signal()  // the thread finds the checkpointer gone and ends
    }

    /// Asks for a passive checkpoint soon; requests made while one is pending or running fold
    /// into the next one.
    func request() {
        let first = state.withLock { state in
            defer { state.requested = true }
            return !state.requested && !state.closed
        }
        if first { wake.signal() }
    }

    /// Runs `body` (the writer's WAL reset) while no checkpoint of this thread runs, and keeps
    /// one from starting meanwhile; returns nil, without running it, while one runs.
    func exclusively<T>(_ body: () -> T) -> T? {
        let free = state.withLock { state in
            defer { state.running = true }
            return !state.running
        }
        guard free else { return nil }
        defer { state.withLock { $0.running = false } }
        return body()
    }

    /// How many passive checkpoints this thread has completed.
    var checkpointsCompleted: Int { completed.withLock { $0 } }

    /// Stops the thread (a checkpoint under way finishes first) and closes its connection;
    /// later requests are ignored.
    func close() {
        let first = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        wake.signal()
        stopped.wait()
        connection = nil
    }

    /// Runs the requested checkpoint, if any; false once closed (the thread then stops, after
    /// signalling `stopped`).
    private func runRequested() -> Bool {
        let (run, closed) = state.withLock { state -> (Bool, Bool) in
            // A request met by the writer's reset is dropped: a reset copies every frame it can.
            let run = state.requested && !state.running && !state.closed
            state.requested = false
            if run { state.running = true }
            return (run, state.closed)
        }
        if closed {
            stopped.signal()
            return false
        }
        guard run else { return true }
        defer { state.withLock { $0.running = false } }
        guard let connection, file.check(), file.isWritable() else { return true }
        // A checkpoint that cannot finish (a reader holds old frames, the disk is full) copies
        // what it can; what is left goes with the next one.
        if (try? connection.checkpoint(SQLITE_CHECKPOINT_PASSIVE)) != nil {
            completed.withLock { $0 += 1 }
        }
        return true
    }
}
