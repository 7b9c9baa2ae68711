import Redis

/// The dead-letter list: jobs that failed for good, for `contacts-tasks dead`.
extension JobQueue {
    /// One dead job and why it died.
    public struct DeadJob: Sendable, Equatable {
        public var id: String
        /// The task kind as recorded (possibly one this version does not know).
        public var task: String
        public var attempts: Int
        public var deliveries: Int
        /// Why it died: the last error, or the dead-lettering reason.
        public var lastError: String?
        /// When it died (ms since the epoch, Redis's clock).
        public var failedAt: Int64?
    }

    /// Every dead job, newest first.
    public func deadJobs(on redis: RedisConnection) throws(RedisError) -> [DeadJob] {
        let reply = try redis.command(["EVAL", QueueScripts.deadList, "1", keys.dead, keys.jobPrefix]).elements
        var jobs: [DeadJob] = []
        var index = 0
        while index + 1 < reply.count {
            let record = reply[index + 1].record
            jobs.append(DeadJob(
                id: reply[index].text ?? "", task: record["task"] ?? "?", attempts: Int(record["attempts"] ?? "") ?? 0,
                deliveries: Int(record["deliveries"] ?? "") ?? 0, lastError: record["last_error"],
                failedAt: record["failed_at"].flatMap { Int64($0) }))
            index += 2
        }
        return jobs
    }

    /// What to do with dead jobs.
    public enum DeadAction: String, Sendable {
        /// Back on the queue with fresh attempts.
        case retry
        /// Deleted with their records.
        case drop
    }

    /// Applies `action` to a dead job (or, with nil, to every one); returns how many it touched.
    public func apply(_ action: DeadAction, toDead id: String?, on redis: RedisConnection) throws(RedisError) -> Int {
        Int(try redis.command([
            "EVAL", QueueScripts.deadApply, "2", keys.dead, keys.queue, action.rawValue, id ?? "", keys.jobPrefix,
            keys.pendingPrefix,
        ]).int ?? 0)
    }
}
