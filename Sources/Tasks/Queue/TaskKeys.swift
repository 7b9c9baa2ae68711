/// Every Redis key the runner uses, under one prefix (`--queue-prefix`), so that tests and
/// several deployments can share one Redis. See docs/tasks.md for what each holds.
///
/// The prefix is a hash tag (`{contacts-tasks}:queue`): every key hashes to the same slot, so a
/// Lua script may touch any of them even on a Redis Cluster node.
public struct TaskKeys: Sendable {
    /// The prefix, e.g. `contacts-tasks`.
    public let prefix: String

    /// Keys under `prefix`.
    public init(prefix: String) {
        self.prefix = prefix
    }

    /// `{prefix}`: what every key starts with.
    public var tag: String { "{\(prefix)}" }
    /// LIST of job ids waiting to run (LPUSH in, BLMOVE out from the right).
    public var queue: String { "\(tag):queue" }
    /// LIST of job ids a worker has taken and not yet acknowledged.
    public var inflight: String { "\(tag):inflight" }
    /// ZSET job id → lease deadline (ms, Redis clock); past it, the job goes back to the queue.
    public var leases: String { "\(tag):leases" }
    /// ZSET job id → retry time (ms, Redis clock) for failed jobs waiting out their backoff.
    public var delayed: String { "\(tag):delayed" }
    /// LIST of job ids that failed for good, newest first, capped at `--dead-max`.
    public var dead: String { "\(tag):dead" }
    /// What job hashes start with; a script appends the id.
    public var jobPrefix: String { "\(tag):job:" }
    /// HASH describing one job (task, attempts, deliveries, token, timestamps, last error).
    public func job(_ id: String) -> String { jobPrefix + id }
    /// What pending sets start with; a script appends the task name.
    public var pendingPrefix: String { "\(tag):pending:" }
    /// SET of a task's jobs that are waiting, delayed or in flight (at most one scheduled one).
    public func pending(_ task: TaskKind) -> String { pendingPrefix + task.rawValue }
    /// HASH with a periodic task's last tick, interval, counts, last run and outcome.
    public func periodic(_ task: TaskKind) -> String { "\(tag):periodic:\(task.rawValue)" }

    /// What heartbeat keys start with.
    public var alivePrefix: String { "\(tag):alive:" }
    /// STRING with an expiry: a live beat or worker process (`Heartbeat`), `role:host:pid`.
    public func alive(_ role: RunnerRole, host: String, pid: Int32) -> String {
        "\(alivePrefix)\(role.rawValue):\(host):\(pid)"
    }

    /// The keys of the layout before hash tags (`prefix:queue`), migrated at start.
    var legacy: (queue: String, inflight: String, leases: String, delayed: String, dead: String, jobPrefix: String) {
        ("\(prefix):queue", "\(prefix):inflight", "\(prefix):leases", "\(prefix):delayed", "\(prefix):dead", "\(prefix):job:")
    }

    /// The periodic hash of the layout before hash tags.
    func legacyPeriodic(_ task: TaskKind) -> String { "\(prefix):periodic:\(task.rawValue)" }
}
