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
    }

    public var queued: Int
    public var inFlight: Int
    public var delayed: Int
    public var dead: Int
    public var deadJobs: [String]
    public var periodic: [Periodic]

    /// Reads the status; `configuration` supplies the intervals when no beat has recorded one.
    public static func read(configuration: TaskRunnerConfiguration, on redis: RedisConnection) throws(RedisError) -> TaskStatus {
        let keys = TaskKeys(prefix: configuration.queuePrefix)
        let queued = try redis.command(["LLEN", keys.queue]).int ?? 0
        let inFlight = try redis.command(["LLEN", keys.inflight]).int ?? 0
        let delayed = try redis.command(["ZCARD", keys.delayed]).int ?? 0
        let dead = try redis.command(["LLEN", keys.dead]).int ?? 0
        let deadJobs = try redis.command(["LRANGE", keys.dead, "0", "19"]).elements.compactMap(\.text)
        let now = Timestamp.now().milliseconds
        var periodic: [Periodic] = []
        for task in TaskKind.allCases {
            let fields = try redis.command(["HGETALL", keys.periodic(task)]).elements.compactMap(\.text)
            var record: [String: String] = [:]
            var index = 0
            while index + 1 < fields.count {
                record[fields[index]] = fields[index + 1]
                index += 2
            }
            let interval = record["interval_ms"].flatMap(Int64.init).map(TaskDuration.init) ?? configuration.interval(of: task)
            let lastTick = record["last_tick"].flatMap(Int64.init) ?? (now / interval.milliseconds)
            periodic.append(Periodic(
                task: task, interval: interval, lastRunAt: record["last_run_at"].flatMap(Int64.init).map(Timestamp.init),
                lastOutcome: record["last_outcome"], lastDurationMilliseconds: record["last_duration_ms"].flatMap(Int64.init),
                nextDueAt: Timestamp(milliseconds: max(lastTick + 1, now / interval.milliseconds) * interval.milliseconds)))
        }
        return TaskStatus(
            queued: Int(queued), inFlight: Int(inFlight), delayed: Int(delayed), dead: Int(dead), deadJobs: deadJobs,
            periodic: periodic)
    }
}
