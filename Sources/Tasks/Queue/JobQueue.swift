import Redis

/// A job as a worker sees it after leasing it.
public struct Job: Sendable, Equatable {
    /// Unique id, e.g. `create-random:117883460` (task and tick) or `purge-expired:manual:…`.
    public var id: String
    /// What to run.
    public var task: TaskKind
    /// Failed attempts so far.
    public var attempts: Int
    /// This delivery's lease token: renew, acknowledge, fail and release act only while it is
    /// the job's current one.
    public var token: String
}

/// The queue's operations, each one atomic in Redis (a single command or a Lua script), every
/// time taken from Redis's clock. Stateless: every call takes the connection to use.
public struct JobQueue: Sendable {
    /// The keys in use.
    public let keys: TaskKeys

    /// How long a finished job's record stays in Redis (for `status` and operators).
    public static let finishedRecordSeconds = 86_400

    /// A queue under `keys`.
    public init(keys: TaskKeys) {
        self.keys = keys
    }

    // MARK: Scheduling

    /// What a beat's claim of the current tick did.
    public struct Claim: Sendable, Equatable {
        public enum Outcome: String, Sendable {
            /// The tick's job was enqueued.
            case enqueued
            /// A job of the task was still pending: the tick was recorded as skipped.
            case skipped
            /// Another beat (or this one) already handled this tick.
            case taken
            /// No history anywhere: the first job waits for the next tick boundary.
            case fresh
        }

        public var outcome: Outcome
        /// The current tick by Redis's clock.
        public var tick: Int64
        /// The last tick recorded before this claim, if any.
        public var previous: Int64?
        /// Milliseconds until the next tick boundary, by Redis's clock.
        public var untilNext: Int64
    }

    /// Claims the current tick of `task` (by Redis's clock) and enqueues its job unless one is
    /// pending. `after` is the last tick this beat handled, used when Redis lost its history.
    public func claimTick(
        _ task: TaskKind, interval: TaskDuration, after: Int64?, on redis: RedisConnection
    ) throws(RedisError) -> Claim {
        let reply = try redis.command([
            "EVAL", QueueScripts.claimTick, "3", keys.periodic(task), keys.pending(task), keys.queue,
            task.rawValue, String(interval.milliseconds), String(after ?? -1), keys.jobPrefix,
        ]).elements
        guard reply.count == 4, let outcome = reply[0].text.flatMap(Claim.Outcome.init(rawValue:)),
            let tick = reply[1].int, let previous = reply[2].int, let untilNext = reply[3].int
        else { throw RedisError(.server, "unexpected reply to the tick claim: \(reply)") }
        return Claim(outcome: outcome, tick: tick, previous: previous < 0 ? nil : previous, untilNext: untilNext)
    }

    /// Enqueues one job to run now. Always accepted; it counts as pending for its task.
    public func enqueue(_ task: TaskKind, id: String, on redis: RedisConnection) throws(RedisError) {
        try redis.command([
            "EVAL", QueueScripts.enqueue, "3", keys.queue, keys.job(id), keys.pending(task), id, task.rawValue,
        ])
    }

    // MARK: Working

    /// Waits up to `block` seconds for a job and moves it atomically to the in-flight list
    /// (BLMOVE, Redis 6.2 or later). Nil when none came.
    public func wait(block: Double, on redis: RedisConnection) throws(RedisError) -> String? {
        try redis.command(["BLMOVE", keys.queue, keys.inflight, "RIGHT", "LEFT", format3(block)]).text
    }

    /// What leasing a taken job found.
    public enum Lease: Sendable, Equatable {
        /// The job is ours under its token.
        case leased(Job)
        /// Its record vanished (Redis lost its data): dropped.
        case gone
        /// Dead-lettered instead: an unknown task kind, or too many deliveries. `trimmed` older
        /// dead jobs were dropped to keep the list within its cap.
        case dead(reason: String, trimmed: Int)
    }

    /// Leases a job `wait` returned, under a fresh token. A job of a task kind this version does
    /// not know (a rolling upgrade), or delivered more than `maxDeliveries` times (it keeps
    /// killing its workers), goes to the dead-letter list with the reason.
    public func lease(
        _ id: String, visibility: TaskDuration, worker: String, maxDeliveries: Int, deadMax: Int,
        on redis: RedisConnection
    ) throws(RedisError) -> Lease {
        var random = SystemRandomNumberGenerator()
        let token = String(random.next(), radix: 36)
        let reply = try redis.command([
            "EVAL", QueueScripts.lease, "4", keys.leases, keys.job(id), keys.inflight, keys.dead,
            id, String(visibility.milliseconds), worker, String(maxDeliveries), token,
            TaskKind.allCases.map(\.rawValue).joined(separator: " "), String(deadMax), keys.jobPrefix, keys.pendingPrefix,
        ]).elements
        switch reply.first?.text {
        case "leased":
            guard reply.count == 3, let name = reply[1].text, let task = TaskKind(rawValue: name) else { break }
            return .leased(Job(id: id, task: task, attempts: Int(reply[2].int ?? 0), token: token))
        case "gone": return .gone
        case "dead":
            guard reply.count == 3 else { break }
            return .dead(reason: reply[1].text ?? "", trimmed: Int(reply[2].int ?? 0))
        default: break
        }
        throw RedisError(.server, "unexpected reply to the lease of \(id): \(reply)")
    }

    /// Pushes a job's lease deadline out (for long jobs); false when the job's token is no longer
    /// `job.token` (its lease ran out and it went to another worker).
    public func renew(_ job: Job, visibility: TaskDuration, on redis: RedisConnection) throws(RedisError) -> Bool {
        try redis.command([
            "EVAL", QueueScripts.renew, "2", keys.leases, keys.job(job.id), job.id, job.token,
            String(visibility.milliseconds),
        ]).int == 1
    }

    /// Acknowledges a job whose task committed; false (and nothing changed) when the lease was lost.
    public func ack(_ job: Job, outcome: String, durationMilliseconds: Int64, on redis: RedisConnection) throws(RedisError) -> Bool {
        try redis.command([
            "EVAL", QueueScripts.ack, "5", keys.inflight, keys.leases, keys.job(job.id), keys.periodic(job.task),
            keys.pending(job.task), job.id, job.token, outcome, String(durationMilliseconds),
            String(Self.finishedRecordSeconds),
        ]).text == "ok"
    }

    /// What recording a failure did.
    public enum Failure: Sendable, Equatable {
        /// The job waits out its backoff, then runs again.
        case retry
        /// The job failed its last attempt and was dead-lettered (`trimmed` older ones dropped).
        case dead(trimmed: Int)
        /// The lease was lost: nothing changed.
        case lost
    }

    /// Records a failed attempt: a retry after `delay` (from Redis's clock), or a dead letter
    /// after `maxAttempts`.
    public func fail(
        _ job: Job, error: String, maxAttempts: Int, delay: Int64, deadMax: Int, on redis: RedisConnection
    ) throws(RedisError) -> Failure {
        let reply = try redis.command([
            "EVAL", QueueScripts.fail, "6", keys.inflight, keys.leases, keys.job(job.id), keys.delayed, keys.dead,
            keys.periodic(job.task), job.id, job.token, error, String(maxAttempts), String(delay), String(deadMax),
            keys.jobPrefix, keys.pendingPrefix,
        ]).elements
        switch reply.first?.text {
        case "retry": return .retry
        case "dead": return .dead(trimmed: Int(reply.dropFirst().first?.int ?? 0))
        default: return .lost
        }
    }

    /// Hands an unfinished job back to the front of the queue (its worker is stopping); false
    /// when the lease was already lost.
    public func release(_ job: Job, on redis: RedisConnection) throws(RedisError) -> Bool {
        try redis.command([
            "EVAL", QueueScripts.release, "4", keys.inflight, keys.leases, keys.job(job.id), keys.queue, job.id, job.token,
        ]).text == "ok"
    }

    /// Result of one reaper pass.
    public struct Reaped: Sendable, Equatable {
        /// Jobs whose lease expired, put back on the queue.
        public var redelivered: Int
        /// Retries whose backoff ended, put back on the queue.
        public var retried: Int
        /// Milliseconds until the next lease deadline or retry time falls due, if any.
        public var nextDueIn: Int64?
    }

    /// Requeues expired leases (revoking their tokens) and due retries; tells when the next falls due.
    public func reap(visibility: TaskDuration, on redis: RedisConnection) throws(RedisError) -> Reaped {
        let reply = try redis.command([
            "EVAL", QueueScripts.reap, "4", keys.inflight, keys.leases, keys.delayed, keys.queue,
            String(visibility.milliseconds), keys.jobPrefix,
        ]).elements
        let dues = reply.dropFirst(2).compactMap(\.int).filter { $0 >= 0 }
        return Reaped(
            redelivered: Int(reply.first?.int ?? 0), retried: Int(reply.dropFirst().first?.int ?? 0), nextDueIn: dues.min())
    }

    private func format3(_ seconds: Double) -> String {
        // BLMOVE takes fractional seconds; three decimals are plenty.
        let millis = Int64((seconds * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}

extension RedisReply {
    /// A flat `HGETALL` reply as a dictionary.
    var record: [String: String] {
        let fields = elements.map { $0.text ?? "" }
        var record: [String: String] = [:]
        var index = 0
        while index + 1 < fields.count {
            record[fields[index]] = fields[index + 1]
            index += 2
        }
        return record
    }
}
