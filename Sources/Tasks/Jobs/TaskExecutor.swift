import ContactStore
import Logging
import MonotonicClock

/// Runs one job against the store. Holds no SQL: every change goes through `ContactStore`.
public struct TaskExecutor: Sendable {
    /// Most rows one purge transaction deletes, so the server never waits long for the lock.
    public static let purgeChunk = 500

    let store: ContactStore
    let maxAge: TaskDuration
    let seed: UInt64
    let purgeScope: PurgeScope
    let backups: BackupSettings
    let logger: Logger

    /// An executor over `store`. `seed` is mixed into each job's random source (tests fix it);
    /// `purgeScope` says which contacts older than `maxAge` purge-expired removes; `backups`
    /// where the backup task writes and how many of its copies it keeps.
    public init(
        store: ContactStore, maxAge: TaskDuration, seed: UInt64 = 0, purgeScope: PurgeScope = .all,
        backups: BackupSettings = BackupSettings(directory: "backups"), logger: Logger
    ) {
        self.store = store
        self.maxAge = maxAge
        self.seed = seed
        self.purgeScope = purgeScope
        self.backups = backups
        self.logger = logger
    }

    /// How long a job's record in the store outlives it: a redelivery within this time finds it.
    public static let jobRecordRetention = TaskDuration.seconds(25 * 3600)

    /// How a run ended.
    public enum Outcome: Sendable, Equatable {
        /// Done; a short summary for status.
        case done(String)
        /// Stopped between chunks (`heartbeat` said so) before the work was done.
        case interrupted
    }

    /// Runs `job`, or throws what went wrong.
    /// - Parameter heartbeat: called between chunks of long work; renews the lease and returns
    ///   false when the work should stop there (the runner is stopping, or the lease was lost).
    public func run(_ job: Job, heartbeat: () -> Bool = { true }) throws(StoreError) -> Outcome {
        switch job.task {
        case .createRandom: return try createRandom(job)
        case .purgeExpired: return try purgeExpired(heartbeat: heartbeat)
        case .backup: return try backup(job, heartbeat: heartbeat)
        }
    }

    /// The contact a job creates: fully determined by the job id (and the seed), so a
    /// redelivered job builds the same contact.
    public func contact(for jobID: String) throws(StoreError) -> NewContact {
        let hash = SeededGenerator.stableHash(jobID)
        var generator = SeededGenerator(seed: hash ^ seed)
        return try RandomContactFactory.make(suffix: String(hash, radix: 36), using: &generator)
    }

    private func createRandom(_ job: Job) throws(StoreError) -> Outcome {
        let new = try contact(for: job.id)
        do throws(StoreError) {
            // The contact and the record that this job ran commit together: a redelivery finds
            // the record even after the contact was purged or deleted.
            switch try store.create(new, jobID: job.id) {
            case .created(let created):
                logger.info("created contact", metadata: ["job": "\(job.id)", "username": "\(created.username)"])
                return .done("ok: created \(created.username)")
            case .alreadyRan:
                logger.info("job already ran: nothing to do", metadata: ["job": "\(job.id)"])
                return .done("ok: already ran")
            }
        } catch .usernameTaken(_) {
            // The username is derived from the job id: only an earlier attempt of this very job
            // (made by a version that kept no record) can have taken it, so the work is done.
            logger.info("contact already created by an earlier attempt", metadata: ["job": "\(job.id)"])
            return .done("ok: \(new.username) already existed")
        }
    }

    private func purgeExpired(heartbeat: () -> Bool) throws(StoreError) -> Outcome {
        let now = Timestamp.now().milliseconds
        let contacts = Timestamp(milliseconds: now - maxAge.milliseconds)
        let records = Timestamp(milliseconds: now - Self.jobRecordRetention.milliseconds)
        let onlyGenerated = purgeScope == .generated
        guard
            let total = try inChunks(heartbeat, { limit throws(StoreError) in
                try store.purge(createdBefore: contacts, limit: limit, onlyGenerated: onlyGenerated)
            }),
            try inChunks(heartbeat, { limit throws(StoreError) in try store.purgeJobRecords(ranBefore: records, limit: limit) }) != nil
        else { return .interrupted }
        if total > 0 { logger.info("purged expired contacts", metadata: ["count": "\(total)"]) }
        return .done("ok: removed \(total)")
    }

    /// Runs `chunk` (one transaction of at most `purgeChunk` rows) until a chunk comes back
    /// short; returns the rows removed, or nil when `heartbeat` stopped it between chunks (a stop
    /// or a lost lease then ends the job one chunk later at most).
    private func inChunks(_ heartbeat: () -> Bool, _ chunk: (Int) throws(StoreError) -> Int) throws(StoreError) -> Int? {
        var total = 0
        while true {
            let removed = try chunk(Self.purgeChunk)
            total += removed
            if removed < Self.purgeChunk { return total }
            guard heartbeat() else { return nil }
        }
    }
}
