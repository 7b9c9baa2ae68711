import Dispatch
import Synchronization

/// The single writer connection, with group commit.
///
/// Writes queue up while a transaction is committing; the next drain runs all of them in one
/// `BEGIN IMMEDIATE … COMMIT`, each inside its own savepoint. A write that fails rolls back to
/// its savepoint and fails alone; the others commit. Nobody hears "ok" before the COMMIT that
/// made their write durable has returned.
final class GroupCommitWriter: Sendable {
    /// One queued write.
    private struct Job: Sendable {
        /// Runs the write; returns whether it succeeded and what to call once the commit's fate is known.
        let run: @Sendable (SQLiteConnection, Timestamp) -> (ok: Bool, finish: @Sendable (StoreError?) -> Void)
        /// Reports a failure without running the write.
        let fail: @Sendable (StoreError) -> Void
    }

    private let queue = DispatchQueue(label: "contacts.store.writer")
    private let pending = Mutex<[Job]>([])
    // Touched only on `queue` (every access below runs there), so no two threads ever share it.
    private nonisolated(unsafe) var connection: SQLiteConnection?
    private let maxBatch: Int
    private let stats = Mutex<(batches: Int, writes: Int)>((0, 0))

    init(connection: SQLiteConnection, maxBatch: Int) {
        self.connection = connection
        self.maxBatch = maxBatch
    }

    /// Queues `body` and calls `completion`, on the writer queue, after its transaction committed
    /// (or failed). `body` runs inside a savepoint of a shared transaction.
    func submit<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection, Timestamp) throws(StoreError) -> T,
        completion: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        let job = Job(
            run: { db, now in
                let result: Result<T, StoreError>
                do throws(StoreError) { result = .success(try body(db, now)) } catch { result = .failure(error) }
                let ok: Bool
                if case .success = result { ok = true } else { ok = false }
                return (ok, { commitError in
                    if let commitError, ok {
                        completion(.failure(commitError))
                    } else {
                        completion(result)
                    }
                })
            },
            fail: { completion(.failure($0)) })
        pending.withLock { $0.append(job) }
        queue.async { self.drain() }
    }

    /// Mean number of writes per committed transaction so far (for stats).
    var meanBatchSize: Double {
        stats.withLock { $0.batches == 0 ? 0 : Double($0.writes) / Double($0.batches) }
    }

    /// Writes queued and not yet started.
    var queueDepth: Int { pending.withLock { $0.count } }

    /// Runs `body` with the writer connection, on the writer queue, and waits for it.
    func sync<T>(_ body: (SQLiteConnection?) -> T) -> T {
        queue.sync { body(connection) }
    }

    /// Finishes every queued write, then closes the connection; later writes fail with `.closed`.
    func close() {
        queue.sync {
            drain()
            connection = nil
        }
    }

    private func drain() {
        while true {
            let jobs: [Job] = pending.withLock { queued in
                let taken = Array(queued.prefix(maxBatch))
                queued.removeFirst(taken.count)
                return taken
            }
            if jobs.isEmpty { return }
            guard let db = connection else {
                for job in jobs { job.fail(.closed) }
                continue
            }
            commit(jobs, on: db)
        }
    }

    private func commit(_ jobs: [Job], on db: SQLiteConnection) {
        let now = Timestamp.now()
        do {
            try db.statement("BEGIN IMMEDIATE").run()
        } catch {
            for job in jobs { job.fail(.from(error)) }
            return
        }
        var finishers: [@Sendable (StoreError?) -> Void] = []
        finishers.reserveCapacity(jobs.count)
        for (index, job) in jobs.enumerated() {
            do throws(SQLiteError) {
                try db.statement("SAVEPOINT job").run()
                let outcome = job.run(db, now)
                if !outcome.ok {
                    // Undo whatever the failed write did before it failed; the others stay.
                    try db.statement("ROLLBACK TO job").run()
                }
                try db.statement("RELEASE job").run()
                finishers.append(outcome.finish)
            } catch {
                // The savepoint machinery itself failed (I/O error): the transaction is unusable.
                rollback(db)
                let failure = StoreError.from(error)
                for finish in finishers { finish(failure) }
                for job in jobs[index...] { job.fail(failure) }
                return
            }
        }
        var commitError: StoreError?
        do {
            try db.statement("COMMIT").run()
            stats.withLock {
                $0.batches += 1
                $0.writes += jobs.count
            }
        } catch {
            commitError = .from(error)
            rollback(db)
        }
        for finish in finishers { finish(commitError) }
    }

    private func rollback(_ db: SQLiteConnection) {
        if db.isInTransaction { try? db.execute("ROLLBACK") }
    }
}
