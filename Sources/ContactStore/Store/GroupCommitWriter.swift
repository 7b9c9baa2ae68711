import CSQLite
import Dispatch
import Locking
import MonotonicClock
import Synchronization

/// The single writer connection, with group commit.
///
/// Writes queue up while a transaction is committing; the next drain runs all of them in one
/// `BEGIN IMMEDIATE … COMMIT`, each inside its own savepoint. A write that fails rolls back to
/// its savepoint and fails alone; the others commit. Nobody hears "ok" before the COMMIT that
/// made their write durable has returned, and then only while the database path still names
/// the file written (`DatabaseFile`).
///
/// When a write fails in a way that makes SQLite roll back the whole transaction (`SQLITE_FULL`,
/// most `SQLITE_IOERR`s), the writes before it are gone too: they fail with that same error, and
/// the writes after it fail with it without running, rather than run outside any transaction.
/// The next group starts a new transaction, so writes succeed again once the cause is gone.
///
/// After each commit the writer keeps the WAL bounded: it has the WAL checkpointed once for every
/// `checkpointFrames` frames the WAL grows (in place of SQLite's automatic checkpoint; by the
/// `WALCheckpointer` on its own thread when there is one), and once the WAL holds
/// `walResetBytes` the writer waits for the readers of older snapshots to finish
/// (`SQLITE_CHECKPOINT_RESTART`, with snapshot reuse suspended), so the next commit starts the
/// WAL over and `journal_size_limit` truncates it.
///
/// The writer runs on a thread of its own, not a Dispatch queue: it blocks in SQLite (commits,
/// the busy timeout while another process writes), and libdispatch answers blocked workers with
/// more pool threads that a steady load never lets retire (docs/reliability.md, "Soak").
final class GroupCommitWriter: Sendable {
    /// One queued write.
    private struct Job: Sendable {
        /// Runs the write; returns its own error, if it failed, and what to call once the
        /// transaction's fate is known (with the error that ended the transaction, if any).
        let run:
            @Sendable (SQLiteConnection, Timestamp) -> (error: StoreError?, finish: @Sendable (StoreError?) -> Void)
        /// Reports a failure without running the write.
        let fail: @Sendable (StoreError) -> Void
    }

    /// SQLite's own automatic checkpoint threshold, in frames: how often the writer checkpoints
    /// when it has no `WALCheckpointer`, and how far a reset that readers held back waits.
    static let checkpointFrames = 1000
    /// How often the `WALCheckpointer` is asked for a checkpoint, in frames: often, so that little
    /// is left to copy when the writer resets the WAL (the reset copies on the writer's thread).
    static let backgroundCheckpointFrames = 250
    /// The WAL size at which the writer resets the WAL (see the type's comment).
    static let walResetBytes = 8 << 20
    /// `PRAGMA journal_size_limit`: what a reset WAL is truncated to.
    static let journalSizeLimitBytes = 8 << 20

    /// Writes queued and not yet started, and whether `close` was called (no more are taken).
    private let pending = LockedValue<(jobs: [Job], closed: Bool)>(([], false))
    /// Signalled once for every queued write, on close and on deinit: the writer thread waits on it.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled by the writer thread when it has finished every write and stopped (after close).
    private let stopped = DispatchSemaphore(value: 0)
    // Touched only by the writer thread while it runs, then only by `close`, after the thread has
    // stopped (`stopped` orders the two), so no two threads ever share it.
    private nonisolated(unsafe) var connection: SQLiteConnection?
    private let maxBatch: Int
    private let file: DatabaseFile
    private let readers: ReaderPool
    /// Runs the passive checkpoints off the writer's thread; nil: the writer runs them.
    private let checkpointer: WALCheckpointer?
    /// Frames at which the WAL is reset (from `walResetBytes` and the page size).
    private let walResetFrames: Int
    /// No reset is tried below this many frames: raised after a reset that readers held back.
    private nonisolated(unsafe) var nextResetFrames: Int
    /// Frames between passive checkpoints: `backgroundCheckpointFrames` with a checkpointer,
    /// else `checkpointFrames`.
    private let checkpointInterval: Int
    /// No checkpoint is run below this many frames: raised by `checkpointInterval` after each one.
    private nonisolated(unsafe) var nextCheckpointFrames: Int
    private let busyTimeoutMilliseconds: Int32
    /// Edits waiting in `search_pending` after the last commit (writer thread only): once there
    /// are `SQLiteConnection.searchFoldThreshold` a commit folds them into the search index,
    /// and any left are folded when no write has come for `idleFoldDelayMilliseconds`.
    private nonisolated(unsafe) var searchEditsWaiting = 0
    /// How long the writer waits for a quiet moment before folding (writer thread only): doubled
    /// after each fold that fails (a full disk, a read-only file), up to `maxIdleFoldDelayMilliseconds`,
    /// so a fold that cannot commit is not redone twenty times a second.
    private nonisolated(unsafe) var idleFoldDelay = GroupCommitWriter.idleFoldDelayMilliseconds
    static let maxIdleFoldDelayMilliseconds = 5000
    /// Whether the database has the search index to fold edits into (a store's does).
    private let foldsSearchEdits: Bool
    static let idleFoldDelayMilliseconds = 50
    /// How long a WAL reset waits for readers of older snapshots before it gives up until the WAL
    /// has grown by another `checkpointFrames` (a reader in another process may hold one for long).
    private static let resetWaitMilliseconds: Int32 = 100
    private let stats = LockedValue<(batches: Int, writes: Int)>((0, 0))
    /// Told after every commit (the server's change feed wakes on it), after the commit's writes
    /// have been acknowledged.
    private let commitHook = LockedValue<CommitHook?>(nil)
    /// Runs the completions and the commit hook off the writer's thread.
    private let acknowledger = CommitAcknowledger()
    /// Backups running now (`withoutWALResets`): while any holds its snapshot, no WAL reset is tried.
    private let resetHolds = Atomic<Int>(0)
    /// When the group now committing began (`MonotonicClock`), 0 while the writer waits for work:
    /// how a watchdog tells a writer stuck on one transaction from one that makes progress.
    private let groupStarted = Atomic<UInt64>(0)

    /// Takes over `connection`, which must be in WAL mode. With `foldsSearchEdits`, the writer
    /// keeps the search index's waiting edits folded (the database must have the store's schema).
    /// With a `checkpointer`, passive checkpoints run on its thread (the caller closes it first).
    init(
        connection: SQLiteConnection, maxBatch: Int, busyTimeoutMilliseconds: Int32, file: DatabaseFile,
        readers: ReaderPool, checkpointer: WALCheckpointer? = nil, foldsSearchEdits: Bool
    ) throws(SQLiteError) {
        try connection.execute("PRAGMA journal_size_limit = \(Self.journalSizeLimitBytes)")
        let pageSize = Int(try connection.scalarInt("PRAGMA page_size") ?? 4096)
        connection.countWALFrames()
        self.connection = connection
        self.maxBatch = maxBatch
        self.file = file
        self.readers = readers
        self.checkpointer = checkpointer
        self.checkpointInterval = checkpointer == nil ? Self.checkpointFrames : Self.backgroundCheckpointFrames
        self.nextCheckpointFrames = checkpointInterval
        self.walResetFrames = Self.walResetBytes / (pageSize + 24)  // a frame: a 24-byte header and a page
        self.nextResetFrames = walResetFrames
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.foldsSearchEdits = foldsSearchEdits
        self.searchEditsWaiting = foldsSearchEdits ? try connection.searchEditsWaiting() : 0  // left by the last run
        // The thread holds the writer weakly, so a store dropped without `close` still goes away.
        BackgroundThread.start(named: "contacts-writer") { [weak self, wake] in
            while true {
                // Search edits waiting: a quiet moment folds them, so searches read few.
                if let delay = self.flatMap({ $0.searchEditsWaiting > 0 ? $0.idleFoldDelay : nil }) {
                    let quiet = wake.wait(timeout: .now() + .milliseconds(delay))
                    if quiet == .timedOut {
                        self?.foldSearchEditsWhileIdle()
                        continue
                    }
                } else {
                    wake.wait()
                }
                guard let writer = self else { return }
                if writer.drainUnlessClosed() == false { return }
            }
        }
    }

    deinit {
        wake.signal()  // the thread finds the writer gone and ends
    }

    /// Queues `body` and calls `completion` after its transaction committed (or failed), on the
    /// writer's acknowledging thread, in commit order (`CommitAcknowledger`). `body` runs inside
    /// a savepoint of a shared transaction.
    func submit<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection, Timestamp) throws(StoreError) -> T,
        completion: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        let job = Job(
            run: { db, now in
                let result: Result<T, StoreError>
                do throws(StoreError) { result = .success(try body(db, now)) } catch { result = .failure(error) }
                let ownError: StoreError?
                if case .failure(let error) = result { ownError = error } else { ownError = nil }
                return (
                    ownError,
                    { transactionError in
                        if let transactionError, ownError == nil {
                            completion(.failure(transactionError))
                        } else {
                            completion(result)
                        }
                    }
                )
            },
            fail: { completion(.failure($0)) })
        let taken = pending.withLock { pending in
            if !pending.closed { pending.jobs.append(job) }
            return !pending.closed
        }
        if taken { wake.signal() } else { job.fail(.closed) }
    }

    /// Sets (or, with nil, removes) what is called after each committed transaction.
    func setCommitHook(_ hook: (@Sendable () -> Void)?) {
        commitHook.withLock { $0 = hook.map(CommitHook.init) }
    }

    /// Mean number of writes per committed transaction so far (for stats).
    var meanBatchSize: Double {
        stats.withLock { $0.batches == 0 ? 0 : Double($0.writes) / Double($0.batches) }
    }

    /// Writes queued and not yet started.
    var queueDepth: Int { pending.withLock { $0.jobs.count } }

    /// Finishes every queued write and stops the writer thread, runs `beforeClosing` with the
    /// connection, then closes it; later writes fail with `.closed`. Never call it from a write's
    /// completion (that runs on the acknowledging thread, which would wait for itself).
    func close(_ beforeClosing: (SQLiteConnection) -> Void) {
        let first = pending.withLock { pending in
            defer { pending.closed = true }
            return !pending.closed
        }
        guard first else { return }
        wake.signal()
        stopped.wait()
        acknowledger.close()  // every completion has run when close returns
        if let connection { beforeClosing(connection) }
        connection = nil
    }

    /// Commits every queued write, in groups of at most `maxBatch`; false once closed (the
    /// thread then stops, after signalling `stopped`).
    private func drainUnlessClosed() -> Bool {
        while true {
            let (jobs, closed): ([Job], Bool) = pending.withLock { pending in
                let taken = Array(pending.jobs.prefix(maxBatch))
                pending.jobs.removeFirst(taken.count)
                return (taken, pending.closed)
            }
            if jobs.isEmpty {
                if closed { stopped.signal() }
                return !closed
            }
            guard let db = connection else {
                fail(jobs[...], .closed)
                continue
            }
            groupStarted.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
            commit(jobs, on: db)
            groupStarted.store(0, ordering: .relaxed)
        }
    }

    /// How long the group now committing has been at it (waiting for the lock included), in
    /// nanoseconds; 0 while the writer is idle.
    var busyNanoseconds: UInt64 {
        let started = groupStarted.load(ordering: .relaxed)
        guard started != 0 else { return 0 }
        let now = MonotonicClock.nanoseconds()
        return now > started ? now - started : 0
    }

    private func commit(_ jobs: [Job], on db: SQLiteConnection) {
        if file.isReplaced {
            fail(jobs[...], .databaseReplaced(path: file.path))
            return
        }
        // Checked for every batch, so writes succeed again as soon as the file is writable.
        if !file.isWritable() {
            let error = StoreError.database(code: SQLITE_READONLY, message: "the database file or its directory is read-only")
            fail(jobs[...], error)
            return
        }
        let now = Timestamp.now()
        do {
            try db.statement("BEGIN IMMEDIATE").run()
        } catch {
            fail(jobs[...], .from(error))
            return
        }
        var finishers: [@Sendable (StoreError?) -> Void] = []
        finishers.reserveCapacity(jobs.count)
        // Set once the transaction cannot commit: the error that ended it.
        var abort: StoreError?
        for job in jobs {
            do throws(SQLiteError) {
                try db.statement("SAVEPOINT job").run()
                // The change-log rows this write adds, to drop if it is rolled back.
                let logged = db.pendingChanges.count
                let outcome = job.run(db, now)
                finishers.append(outcome.finish)
                if let failure = outcome.error {
                    guard db.isInTransaction else {
                        // SQLite rolled back the whole transaction (SQLITE_FULL, SQLITE_IOERR):
                        // what the writes before this one did is gone, for this write's reason.
                        abort = failure
                        break
                    }
                    // Undo whatever the failed write did before it failed; the others stay.
                    try db.statement("ROLLBACK TO job").run()
                    db.pendingChanges.removeSubrange(logged...)
                }
                try db.statement("RELEASE job").run()
            } catch {
                // The savepoint machinery itself failed (I/O error): the transaction is unusable.
                abort = .from(error)
                break
            }
        }
        // The change-log rows of every write that stays, in one go, outside any savepoint; and
        // the search index's waiting edits, once there are enough to fold.
        var searchEditsLeft = searchEditsWaiting
        if abort == nil {
            do throws(SQLiteError) {
                try db.flushChanges()
                if foldsSearchEdits { searchEditsLeft = try db.searchEditsWaiting() }
                if searchEditsLeft >= SQLiteConnection.searchFoldThreshold {
                    try db.foldSearchEdits()
                    searchEditsLeft = 0
                }
            } catch {
                abort = .from(error)
            }
        }
        // Check the path before COMMIT (so nothing is written into a file that was replaced) and
        // after (so nothing is acknowledged that went into one).
        if abort == nil, !file.check() { abort = .databaseReplaced(path: file.path) }
        if abort == nil {
            do {
                try db.statement("COMMIT").run()
                if !file.check() { abort = .databaseReplaced(path: file.path) }
            } catch {
                abort = .from(error)
            }
        }
        if let abort {
            rollback(db)
            let notRun = jobs[finishers.count...]
            acknowledger.deliver { [finishers] in
                for finish in finishers { finish(abort) }
                for job in notRun { job.fail(abort) }
            }
            return
        }
        searchEditsWaiting = searchEditsLeft
        idleFoldDelay = Self.idleFoldDelayMilliseconds  // the file takes commits again
        stats.withLock {
            $0.batches += 1
            $0.writes += jobs.count
        }
        let hook = commitHook.withLock { $0 }
        acknowledger.deliver { [finishers] in
            for finish in finishers { finish(nil) }
            hook?.call()
        }
        limitWAL(db)
    }

    /// Folds every waiting search edit in a transaction of its own (the writer has had nothing
    /// else to do). A failure (the file read-only, the disk full) leaves them for the next try.
    private func foldSearchEditsWhileIdle() {
        guard let db = connection, !file.isReplaced, file.isWritable() else { return foldFailed() }
        do throws(SQLiteError) {
            try db.statement("BEGIN IMMEDIATE").run()
            try db.foldSearchEdits()
            guard file.check() else {
                rollback(db)
                return foldFailed()
            }
            try db.statement("COMMIT").run()
            searchEditsWaiting = 0
            idleFoldDelay = Self.idleFoldDelayMilliseconds
        } catch {
            rollback(db)
            return foldFailed()
        }
        limitWAL(db)
    }

    private func foldFailed() {
        idleFoldDelay = min(idleFoldDelay * 2, Self.maxIdleFoldDelayMilliseconds)
    }

    /// Has the WAL checkpointed once for every `checkpointInterval` frames it grows, and resets a
    /// WAL that has grown to `walResetFrames` (see the type's comment). Failures are left to the
    /// next commit; so is a reset while the checkpointer is copying (it takes milliseconds).
    ///
    /// Not after every commit past `checkpointFrames`, as SQLite's automatic checkpoint does: a
    /// checkpoint syncs the database file, and while readers keep snapshots in the WAL (the
    /// change feed reads after every commit) it cannot be started over, so every commit would
    /// pay a checkpoint and its sync until the reset (creates at 16 connections fell to 0.6×
    /// with one subscriber).
    private func limitWAL(_ db: SQLiteConnection) {
        let frames = db.walFramesAfterCommit
        if frames < walResetFrames { nextResetFrames = walResetFrames }
        if frames < checkpointInterval { nextCheckpointFrames = checkpointInterval }
        if frames >= nextResetFrames && resetHolds.load(ordering: .relaxed) == 0 {
            let reset = {
                db.setBusyTimeout(milliseconds: Self.resetWaitMilliseconds)
                defer { db.setBusyTimeout(milliseconds: self.busyTimeoutMilliseconds) }
                self.readers.withoutSnapshotReuse {
                    if (try? db.checkpoint(SQLITE_CHECKPOINT_RESTART)) == nil {
                        self.nextResetFrames = frames + Self.checkpointFrames
                    }
                }
            }
            if let checkpointer { _ = checkpointer.exclusively(reset) } else { reset() }
        } else if frames >= nextCheckpointFrames {
            if let checkpointer { checkpointer.request() } else { try? db.checkpoint(SQLITE_CHECKPOINT_PASSIVE) }
            nextCheckpointFrames = frames + checkpointInterval
        }
    }

    /// Runs `body` (a backup, which holds one read snapshot for as long as it copies) with WAL
    /// resets off: a reset would wait for that snapshot, 100 ms for every `checkpointFrames`
    /// the WAL grows, and fail every time. Passive checkpoints go on; the WAL may grow past
    /// `ContactStore.walSizeBound` until the backup ends and the next reset shrinks it.
    func withoutWALResets<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        resetHolds.add(1, ordering: .relaxed)
        defer { resetHolds.subtract(1, ordering: .relaxed) }
        return try body()
    }

    /// Fails `jobs` with `error`, in order with the completions handed over before.
    private func fail(_ jobs: ArraySlice<Job>, _ error: StoreError) {
        acknowledger.deliver {
            for job in jobs { job.fail(error) }
        }
    }

    private func rollback(_ db: SQLiteConnection) {
        db.pendingChanges.removeAll()
        if db.isInTransaction { try? db.execute("ROLLBACK") }
    }
}

/// The commit hook, boxed. Not the closure itself in the `LockedValue`: a function value read
/// through `withLock`'s `inout` is converted to the generic representation and back and written
/// back converted, so every read wrapped the stored closure in two more thunks, and each commit
/// paid for every commit before it (creates at 16 connections fell to 0.6× with one subscriber,
/// and the chain grew without bound). A class reference is stored as it is.
private final class CommitHook: Sendable {
    let call: @Sendable () -> Void

    init(_ call: @escaping @Sendable () -> Void) {
        self.call = call
    }
}
