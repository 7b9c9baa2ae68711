/// Every Redis key the runner uses, under one prefix (`--queue-prefix`), so that tests and
/// several deployments can share one Redis. See docs/tasks.md for what each holds.
public struct TaskKeys: Sendable {
    /// The prefix, e.g. `contacts-tasks`.
    public let prefix: String

    /// Keys under `prefix`.
    public init(prefix: String) {
        self.prefix = prefix
    }

    /// LIST of job ids waiting to run (LPUSH in, BLMOVE out from the right).
    public var queue: String { "\(prefix):queue" }
    /// LIST of job ids a worker has taken and not yet acknowledged.
    public var inflight: String { "\(prefix):inflight" }
    /// ZSET job id → lease deadline (ms); past it, the job goes back to the queue.
    public var leases: String { "\(prefix):leases" }
    /// ZSET job id → retry time (ms) for failed jobs waiting out their backoff.
    public var delayed: String { "\(prefix):delayed" }
    /// LIST of job ids that failed every attempt.
    public var dead: String { "\(prefix):dead" }
    /// HASH describing one job (task, attempts, timestamps, last error).
    public func job(_ id: String) -> String { "\(prefix):job:\(id)" }
    /// STRING claimed with SET NX PX by the one beat that enqueues that tick.
    public func tick(_ task: TaskKind, _ tick: Int64) -> String { "\(prefix):tick:\(task.rawValue):\(tick)" }
    /// HASH with a periodic task's last tick, last run, outcome and interval.
    public func periodic(_ task: TaskKind) -> String { "\(prefix):periodic:\(task.rawValue)" }
}
