import ContactPaths
import Redis

/// Everything `contacts-tasks` can be told, with the documented defaults.
public struct TaskRunnerConfiguration: Sendable {
    public var redis: RedisURL
    public var databasePath: String
    public var createEvery = TaskDuration.seconds(15)
    /// How often expired contacts are purged; 1 s keeps every contact within 2 s of max-age.
    public var purgeEvery = TaskDuration.seconds(1)
    public var maxAge = TaskDuration.seconds(60)
    /// Which contacts older than `maxAge` purge-expired removes: every one (the default), or
    /// only those create-random made.
    public var purgeScope = PurgeScope.all
    public var queuePrefix = "contacts-tasks"
    /// A job whose worker stops answering goes back to the queue after this long.
    public var visibilityTimeout = TaskDuration.seconds(30)
    /// Attempts before a failing job is dead-lettered.
    public var maxAttempts = 5
    /// Most jobs the dead-letter list keeps; past it the oldest are dropped (and logged).
    public var deadMax = 10_000
    /// Backoff between attempts of a failing job.
    public var retryBackoff = Backoff(base: TaskDuration(milliseconds: 500), cap: .seconds(60))
    /// Longest wait between reconnection attempts when Redis is away.
    public var redisBackoffCap = TaskDuration.seconds(5)
    /// Longest a worker blocks on an idle queue before it checks leases again.
    public var idleWait = TaskDuration.seconds(10)
    /// Worker threads in this process.
    public var concurrency = 1
    /// Mixed into each job's random source (0 in production; tests fix it).
    public var seed: UInt64 = 0
    /// How often a backup is written; nil (the default) schedules none.
    public var backupEvery: TaskDuration?
    /// Periodic backups kept: older ones (by their default names) are removed after each backup.
    public var backupKeep = 7
    /// Where backups go: by default `backups/` beside the database, as for `contactsd`.
    public var backupDirectory: String

    /// A configuration with defaults for everything but where Redis and the database are.
    public init(redis: RedisURL, databasePath: String) {
        self.redis = redis
        self.databasePath = databasePath
        self.backupDirectory = ContactPaths.backupDirectory(database: databasePath)
    }

    /// The interval of a periodic task; nil for one that is not scheduled (backup, unless
    /// `backupEvery` is set).
    public func interval(of task: TaskKind) -> TaskDuration? {
        switch task {
        case .createRandom: return createEvery
        case .purgeExpired: return purgeEvery
        case .backup: return backupEvery
        }
    }
}

extension TaskRunnerConfiguration {
    /// What purge-expired will remove, said plainly where a newcomer meets it (the log at start).
    public var purgeNotice: String {
        switch purgeScope {
        case .all:
            "purge-expired removes every contact older than \(maxAge), yours included; "
                + "start with --purge-scope generated to keep the ones you create"
        case .generated:
            "purge-expired removes the contacts create-random made once they are older than \(maxAge); yours are kept"
        }
    }
}
