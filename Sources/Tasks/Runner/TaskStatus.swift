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

    /// A live beat or worker process, from its heartbeat.
    public struct Runner: Sendable, Equatable {
        public var role: RunnerRole
        public var host: String
        public var pid: Int32
        /// Worker threads (workers only).
        public var concurrency: Int?
    }

    public var queued: Int
    public var inFlight: Int
    public var delayed: Int
    public var dead: Int
    /// The newest dead job ids (up to 20).
    public var deadJobs: [String]
    public var periodic: [Periodic]
    /// The beats and workers alive now (their heartbeat keys have not expired), by role, host, pid.
    public var runners: [Runner]
}

extension JobQueue {
    /// Reads the status in one script; `intervals` supplies a task's interval when no beat has
    /// recorded one (nil: not scheduled, and then the task is left out until a beat records it).
    /// Times are Redis's.
    public func status(intervals: (TaskKind) -> TaskDuration?, on redis: RedisConnection) throws(RedisError) -> TaskStatus {
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
            let recorded = record["interval_ms"].flatMap { Int64($0) }.map(TaskDuration.init)
            guard let interval = recorded ?? intervals(task) else { continue }
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
            dead: Int(reply[4].int ?? 0), deadJobs: reply[5].elements.compactMap(\.text), periodic: periodic,
            runners: try liveRunners(on: redis))
    }

    /// The runners whose heartbeat keys exist now (`SCAN` under the prefix; the keys share the
    /// queue's hash slot, so one node holds them all).
    public func liveRunners(on redis: RedisConnection) throws(RedisError) -> [TaskStatus.Runner] {
        var cursor = "0"
        var runners: [TaskStatus.Runner] = []
        repeat {
            let reply = try redis.command(["SCAN", cursor, "MATCH", keys.alivePrefix + "*", "COUNT", "1000"]).elements
            guard reply.count == 2 else { throw RedisError(.server, "unexpected SCAN reply") }
            cursor = reply[0].text ?? "0"
            for key in reply[1].elements.compactMap(\.text) {
                // role:host:pid after the prefix; a host name holds no ':'.
                let parts = key.dropFirst(keys.alivePrefix.count).split(separator: ":")
                guard parts.count == 3, let role = RunnerRole(rawValue: String(parts[0])), let pid = Int32(parts[2]) else {
                    continue
                }
                let value = try redis.command(["GET", key]).text ?? ""
                let concurrency = role == .worker ? value.split(separator: " ").last.flatMap { Int($0) } : nil
                runners.append(TaskStatus.Runner(role: role, host: String(parts[1]), pid: pid, concurrency: concurrency))
            }
        } while cursor != "0"
        return runners.sorted { ($0.role.rawValue, $0.host, $0.pid) < ($1.role.rawValue, $1.host, $1.pid) }
    }
}
