import ContactStore
import Logging

/// Runs one job against the store. Holds no SQL: every change goes through `ContactStore`.
public struct TaskExecutor: Sendable {
    /// Most rows one purge transaction deletes, so the server never waits long for the lock.
    public static let purgeChunk = 500

    let store: ContactStore
    let maxAge: TaskDuration
    let seed: UInt64
    let logger: Logger

    /// An executor over `store`. `seed` is mixed into each job's random source (tests fix it).
    public init(store: ContactStore, maxAge: TaskDuration, seed: UInt64 = 0, logger: Logger) {
        self.store = store
        self.maxAge = maxAge
        self.seed = seed
        self.logger = logger
    }

    /// Runs `job`; returns a short outcome for status, or throws what went wrong.
    /// - Parameter heartbeat: called between chunks of long work, to keep the lease alive.
    public func run(_ job: Job, heartbeat: () -> Void = {}) throws(StoreError) -> String {
        switch job.task {
        case .createRandom: return try createRandom(job)
        case .purgeExpired: return try purgeExpired(heartbeat: heartbeat)
        }
    }

    /// The contact a job creates: fully determined by the job id (and the seed), so a
    /// redelivered job builds the same contact and finds its own earlier attempt.
    public func contact(for jobID: String) throws(StoreError) -> NewContact {
        let hash = SeededGenerator.stableHash(jobID)
        var generator = SeededGenerator(seed: hash ^ seed)
        return try RandomContactFactory.make(suffix: String(hash, radix: 36), using: &generator)
    }

    private func createRandom(_ job: Job) throws(StoreError) -> String {
        let new = try contact(for: job.id)
        do throws(StoreError) {
            let created = try store.create(new)
            logger.info("created contact", metadata: ["job": "\(job.id)", "username": "\(created.username)"])
            return "ok: created \(created.username)"
        } catch .usernameTaken(_) {
            // The username is derived from the job id: only an earlier attempt of this very job
            // can have taken it, so the work is already done.
            logger.info("contact already created by an earlier attempt", metadata: ["job": "\(job.id)"])
            return "ok: \(new.username) already existed"
        }
    }

    private func purgeExpired(heartbeat: () -> Void) throws(StoreError) -> String {
        let cutoff = Timestamp(milliseconds: Timestamp.now().milliseconds - maxAge.milliseconds)
        var total = 0
        while true {
            let removed = try store.purge(createdBefore: cutoff, limit: Self.purgeChunk)
            total += removed
            if removed < Self.purgeChunk { break }
            heartbeat()
        }
        if total > 0 { logger.info("purged expired contacts", metadata: ["count": "\(total)"]) }
        return "ok: removed \(total)"
    }
}
