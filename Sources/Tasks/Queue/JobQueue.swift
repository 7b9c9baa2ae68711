import ContactStore
import Redis

/// A job as a worker sees it after taking it.
public struct Job: Sendable, Equatable {
    /// Unique id, e.g. `create-random:117883460` (task and tick) or `purge-expired:manual:…`.
    public var id: String
    /// What to run.
    public var task: TaskKind
    /// Failed attempts so far.
    public var attempts: Int
}

/// The queue's operations, each one atomic in Redis (a single command or a Lua script).
/// Stateless: every call takes the connection to use.
public struct JobQueue: Sendable {
    /// The keys in use.
    public let keys: TaskKeys

    /// A queue under `keys`.
    public init(keys: TaskKeys) {
        self.keys = keys
    }

    /// Claims tick `tick` of `task` and enqueues its job; false when another beat already did.
    public func claimTick(
        _ task: TaskKind, tick: Int64, interval: TaskDuration, beat: String, on redis: RedisConnection
    ) throws(RedisError) -> Bool {
        let id = "\(task.rawValue):\(tick)"
        // Keep the claim well past the tick so a slow beat cannot claim it again.
        let ttl = max(interval.milliseconds * 4, 60_000)
        let reply = try redis.command([
            "EVAL", QueueScripts.claimTick, "4", keys.tick(task, tick), keys.queue, keys.job(id), keys.periodic(task),
            beat, String(ttl), id, task.rawValue, String(Timestamp.now().milliseconds), String(tick),
            String(interval.milliseconds),
        ])
        return reply.int == 1
    }

    /// The last tick any beat enqueued for `task`, if any.
    public func lastTick(_ task: TaskKind, on redis: RedisConnection) throws(RedisError) -> Int64? {
        try redis.command(["HGET", keys.periodic(task), "last_tick"]).int
    }

    /// Enqueues one job to run now; returns its id.
    public func enqueue(_ task: TaskKind, id: String, on redis: RedisConnection) throws(RedisError) {
        try redis.command([
            "EVAL", QueueScripts.enqueue, "2", keys.queue, keys.job(id), id, task.rawValue,
            String(Timestamp.now().milliseconds),
        ])
    }

    /// Waits up to `block` seconds for a job and moves it atomically to the in-flight list
    /// (BLMOVE, Redis 6.2 or later). Nil when none came.
    public func wait(block: Double, on redis: RedisConnection) throws(RedisError) -> String? {
        try redis.command(["BLMOVE", keys.queue, keys.inflight, "RIGHT", "LEFT", format3(block)]).text
    }

    /// Leases a job `wait` returned. Nil when its record vanished (Redis lost its data) or when it
    /// was delivered more than `maxDeliveries` times (it keeps killing its workers): such a job
    /// goes to the dead-letter list instead of around the loop forever.
    public func lease(
        _ id: String, visibility: TaskDuration, worker: String, maxDeliveries: Int, on redis: RedisConnection
    ) throws(RedisError) -> Job? {
        let now = Timestamp.now().milliseconds
        let fields = try redis.command([
            "EVAL", QueueScripts.lease, "4", keys.leases, keys.job(id), keys.inflight, keys.dead, id,
            String(now + visibility.milliseconds), worker, String(now), String(maxDeliveries),
        ]).elements
        var record: [String: String] = [:]
        var index = 0
        while index + 1 < fields.count {
            if let key = fields[index].text, let value = fields[index + 1].text { record[key] = value }
            index += 2
        }
        if record["dead"] != nil { return nil }
        guard let name = record["task"], let task = TaskKind(rawValue: name) else {
            // Unknown or malformed: drop it rather than crash-loop on it.
            try redis.command(["LREM", keys.inflight, "1", id])
            try redis.command(["ZREM", keys.leases, id])
            return nil
        }
        return Job(id: id, task: task, attempts: Int(record["attempts"] ?? "0") ?? 0)
    }

    /// Pushes a job's lease deadline out (for long jobs); false if the job is no longer ours.
    public func renew(_ job: Job, visibility: TaskDuration, on redis: RedisConnection) throws(RedisError) -> Bool {
        let deadline = Timestamp.now().milliseconds + visibility.milliseconds
        return try redis.command(["EVAL", QueueScripts.renew, "1", keys.leases, job.id, String(deadline)]).int == 1
    }

    /// Acknowledges a job whose task committed.
    public func ack(_ job: Job, outcome: String, durationMilliseconds: Int64, on redis: RedisConnection) throws(RedisError) {
        try redis.command([
            "EVAL", QueueScripts.ack, "4", keys.inflight, keys.leases, keys.job(job.id), keys.periodic(job.task),
            job.id, String(Timestamp.now().milliseconds), outcome, String(durationMilliseconds),
        ])
    }

    /// Records a failed attempt; returns true when the job was dead-lettered.
    public func fail(
        _ job: Job, error: String, maxAttempts: Int, retryAt: Int64, on redis: RedisConnection
    ) throws(RedisError) -> Bool {
        let reply = try redis.command([
            "EVAL", QueueScripts.fail, "6", keys.inflight, keys.leases, keys.job(job.id), keys.delayed, keys.dead,
            keys.periodic(job.task), job.id, String(Timestamp.now().milliseconds), error, String(maxAttempts),
            String(retryAt),
        ])
        return reply.text == "dead"
    }

    /// Result of one reaper pass.
    public struct Reaped: Sendable, Equatable {
        /// Jobs whose lease expired, put back on the queue.
        public var redelivered: Int
        /// Retries whose backoff ended, put back on the queue.
        public var retried: Int
        /// The earliest lease deadline or retry time still pending (ms), if any.
        public var nextDue: Int64?
    }

    /// Requeues expired leases and due retries; tells when the next one falls due.
    public func reap(visibility: TaskDuration, on redis: RedisConnection) throws(RedisError) -> Reaped {
        let reply = try redis.command([
            "EVAL", QueueScripts.reap, "4", keys.inflight, keys.leases, keys.delayed, keys.queue,
            String(Timestamp.now().milliseconds), String(visibility.milliseconds),
        ]).elements
        let dues = reply.dropFirst(2).compactMap { $0.text.flatMap(Double.init) }.filter { $0 >= 0 }
        return Reaped(
            redelivered: Int(reply.first?.int ?? 0), retried: Int(reply.dropFirst().first?.int ?? 0),
            nextDue: dues.min().map { Int64($0) })
    }

    private func format3(_ seconds: Double) -> String {
        // BLMOVE takes fractional seconds; three decimals are plenty.
        let millis = Int64((seconds * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
