import ContactStore
import Redis

/// A snapshot of the queue and the periodic tasks, for `contacts-tasks status`.
public struct TaskStatus: Sendable, Equatable {
    /// One periodic task's state.
    public struct Periodic: Sendable, Equatable {
        public var task: TaskKind
        public var interval: TaskDuration
        public var lastRunAt: Timestamp?
        public var lastOutcome: String?
        public var lastDurationMilliseconds: Int64?
        public var nextDueAt: Timestamp
        /// Ticks enqueued so far.
        public var enqueued: Int
        /// Ticks skipped because a job of the task was still pending.
        public var skipped: Int
        /// Jobs of the task waiting, delayed or in flight now.
        public var pending: Int
    }

    public var queued: Int
    public var inFlight: Int
    public var delayed: Int
    public var dead: Int
    /// The newest dead job ids (up to 20).
    public var deadJobs: [String]
    public var periodic: [Periodic]
}

extension JobQueue {
    /// Reads the status in one script; `intervals` supplies a task's interval when no beat has
    /// recorded one. Times are Redis's.
    public func status(intervals: (TaskKind) -> TaskDuration, on redis: RedisConnection) throws(RedisError) -> TaskStatus {
        let tasks = TaskKind.allCases
        let reply = try redis.command(
            ["EVAL", QueueScripts.status, String(4 + 2 * tasks.count), keys.queue, keys.inflight, keys.delayed, keys.dead]
                + tasks.flatMap { [keys.periodic($0), keys.pending($0)] } + [String(tasks.count)]
        ).elements
        guard reply.count == 6 + 2 * tasks.count else { throw RedisError(.server, "unexpected status reply") }
        let now = reply[0].int ?? 0
        var periodic: [TaskStatus.Periodic] = []
        for (index, task) in tasks.enumerated() {
            let record = reply[6 + 2 * index].record
            let interval = record["interval_ms"].flatMap { Int64($0) }.map(TaskDuration.init) ?? intervals(task)
            let lastTick = record["last_tick"].flatMap { Int64($0) } ?? (now / interval.milliseconds)
            periodic.append(TaskStatus.Periodic(
                task: task, interval: interval, lastRunAt: record["last_run_at"].flatMap { Int64($0) }.map(Timestamp.init),
                lastOutcome: record["last_outcome"], lastDurationMilliseconds: record["last_duration_ms"].flatMap { Int64($0) },
                nextDueAt: Timestamp(milliseconds: max(lastTick + 1, now / interval.milliseconds) * interval.milliseconds),
                enqueued: Int(record["enqueued"] ?? "") ?? 0, skipped: Int(record["skipped"] ?? "") ?? 0,
                pending: Int(reply[7 + 2 * index].int ?? 0)))
        }
        return TaskStatus(
            queued: Int(reply[1].int ?? 0), inFlight: Int(reply[2].int ?? 0), delayed: Int(reply[3].int ?? 0),
            dead: Int(reply[4].int ?? 0), deadJobs: reply[5].elements.compactMap(\.text), periodic: periodic)
    }
}
