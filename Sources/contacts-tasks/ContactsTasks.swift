import ArgumentParser
import CommandLineConventions
import ContactPaths
import ContactStore
import ContactsLogging
import JSONRPC
import Logging
import Redis
import Tasks

import Glibc

/// `contacts-tasks`: parses flags and hands over to the Tasks library.
@main
struct ContactsTasks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts-tasks",
        abstract: "Run the periodic contact tasks (create-random, purge-expired, backup) over a Redis queue.",
        discussion: """
            Design, Redis keys and guarantees: docs/tasks.md. Shared flags go before or after the \
            subcommand: contacts-tasks --redis URL run --db PATH. Periodic backups are off unless \
            --backup-every is given; they go to --backup-dir (default: backups/ beside the \
            database, as for contactsd), and only the newest --backup-keep copies named \
            contacts-YYYYMMDDTHHMMSSZ.db stay (nothing else there is ever removed).

            Exit codes: 0 clean stop or success; 1 the operation failed (the database cannot be \
            opened, dead retry|drop named a job not on the list); 2 usage error (a malformed flag or \
            --redis URL, naming it); 3 Redis cannot be reached (status, enqueue, dead), with a hint; 78 \
            configuration error (Redis refused the credentials, is a Cluster node that does not hold \
            the queue, or is older than 6.2; run, beat and worker: an unwritable database). \
            Durations: 500ms, 15s, 1m30s, 1h, or plain seconds (docs/cli.md, "Conventions").
            """,
        version: ContactsVersion.current,
        subcommands: [Run.self, Beat.self, Worker.self, Status.self, Enqueue.self, Dead.self],
        defaultSubcommand: Run.self)

    // The shared flags here too, so they may come before the subcommand as well as after it.
    @OptionGroup var options: SharedOptions

    /// Exits by the conventions every Contacts program follows (docs/cli.md).
    static func main() { mainFollowingConventions() }
}

/// Flags every subcommand takes.
struct SharedOptions: ParsableArguments {
    @Option(help: """
        Redis URL: redis://[user][:password]@host[:port][/db] (user and password percent-encoded; IPv6 as [::1]) \
        or unix:///path/redis.sock?db=N[&user=U&password=P] (env CONTACTS_REDIS_URL). rediss:// (TLS) is not \
        supported.
        """)
    var redis: String?

    @Option(help: "SQLite database file (same default as contactsd: env CONTACTS_DB, then the XDG data dir).")
    var db: String?

    @Option(help: "How often create-random runs (500ms, 15s, 1m30s, 1h; a plain number is seconds).")
    var createEvery: DurationArgument = DurationArgument(seconds: 15)

    @Option(help: "How often purge-expired runs.")
    var purgeEvery: DurationArgument = DurationArgument(seconds: 1)

    @Option(help: "Contacts older than this are purged: every one, the user's own included, unless --purge-scope generated.")
    var maxAge: DurationArgument = DurationArgument(seconds: 60)

    @Option(help: "Which contacts older than --max-age purge-expired removes: all (yours too), or generated (only those create-random made).")
    var purgeScope: PurgeScope = .all

    @Option(help: "How often a backup of the database is written (1s or more). (default: off)")
    var backupEvery: DurationArgument?

    @Option(help: "Periodic backups kept: after each, the oldest contacts-YYYYMMDDTHHMMSSZ.db copies beyond this many are removed.")
    var backupKeep: Int = 7

    @Option(help: "Where backups go (created with mode 0700 when missing). (default: backups/ beside --db)")
    var backupDir: String?

    @Option(help: "Prefix of every Redis key, so several deployments or tests can share one Redis.")
    var queuePrefix: String = "contacts-tasks"

    @Option(help: "A job whose worker stops answering is redelivered after this long.")
    var visibilityTimeout: DurationArgument = DurationArgument(seconds: 30)

    @Option(help: "Attempts before a failing job goes to the dead-letter list.")
    var maxAttempts: Int = 5

    @Option(help: "Most jobs the dead-letter list keeps; past it the oldest are dropped (and logged).")
    var deadMax: Int = 10_000

    @Option(help: "Longest wait between attempts to reach Redis again.")
    var redisBackoffMax: DurationArgument = DurationArgument(seconds: 5)

    @Option(help: "Seed mixed into the random data of create-random (for reproducible tests).")
    var seed: UInt64 = 0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text, or json (one object a line).")
    var logFormat: LogFormat = .text

    func validate() throws {
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        guard deadMax >= 1 else { throw ValidationError("--dead-max must be at least 1") }
        guard !queuePrefix.isEmpty else { throw ValidationError("--queue-prefix must not be empty") }
        guard backupKeep >= 1 else { throw ValidationError("--backup-keep must be at least 1") }
        if let backupEvery, backupEvery.milliseconds < 1000 {
            throw ValidationError("--backup-every must be at least 1s (backups are named to the second)")
        }
    }

    /// The configuration, or exit 2 (usage error) with a clear message for a malformed Redis URL.
    func makeConfiguration() throws -> TaskRunnerConfiguration {
        let text = redis ?? getenv("CONTACTS_REDIS_URL").map { String(cString: $0) } ?? "redis://127.0.0.1:6379/0"
        let url: RedisURL
        do {
            url = try RedisURL(text)
        } catch {
            throw ValidationError(error.message)
        }
        var configuration = TaskRunnerConfiguration(redis: url, databasePath: ContactPaths.database(flag: db))
        configuration.createEvery = TaskDuration(milliseconds: createEvery.milliseconds)
        configuration.purgeEvery = TaskDuration(milliseconds: purgeEvery.milliseconds)
        configuration.maxAge = TaskDuration(milliseconds: maxAge.milliseconds)
        configuration.purgeScope = purgeScope
        configuration.queuePrefix = queuePrefix
        configuration.visibilityTimeout = TaskDuration(milliseconds: visibilityTimeout.milliseconds)
        configuration.maxAttempts = maxAttempts
        configuration.deadMax = deadMax
        configuration.redisBackoffCap = TaskDuration(milliseconds: redisBackoffMax.milliseconds)
        configuration.seed = seed
        configuration.backupEvery = backupEvery.map { TaskDuration(milliseconds: $0.milliseconds) }
        configuration.backupKeep = backupKeep
        configuration.backupDirectory = ContactPaths.backupDirectory(
            flag: backupDir, database: configuration.databasePath)
        return configuration
    }

    func makeLogger() -> Logger {
        logFormat.bootstrap(level: logLevel)
        return Logger(label: "contacts-tasks")
    }
}

/// Runs the roles until SIGINT/SIGTERM; exit 0 after a clean stop.
private func serve(_ roles: TaskRunner.Roles, options: SharedOptions, concurrency: Int = 1) throws {
    var configuration = try options.makeConfiguration()
    configuration.concurrency = concurrency
    let logger = options.makeLogger()
    do {
        try ContactPaths.createParentDirectories(of: configuration.databasePath)
        try TaskRunner(configuration: configuration, logger: logger).run(roles)
    } catch let trouble as RedisTrouble {
        logger.critical("cannot start: \(trouble.message)")
        throw ExitCode(ExitStatus.configuration)
    } catch let error as PathError {
        logger.critical("cannot start: \(error.message)")
        throw ExitCode(ExitStatus.failure)
    } catch {
        logger.critical("cannot open the database \(configuration.databasePath): \(error)")
        // A database that cannot be written is the operator's to fix: no restart helps.
        if case .notWritable? = error as? StoreError { throw ExitCode(ExitStatus.configuration) }
        throw ExitCode(ExitStatus.failure)
    }
}

extension ContactsTasks {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the beat and a worker in one process (the default).")
        @OptionGroup var options: SharedOptions
        @Option(help: "Worker threads.") var concurrency: Int = 1
        func validate() throws {
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        }
        func run() throws { try serve([.beat, .worker], options: options, concurrency: concurrency) }
    }

    struct Beat: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run only the scheduler (any number of beats enqueue each tick once, by Redis's clock).")
        @OptionGroup var options: SharedOptions
        func run() throws { try serve([.beat], options: options) }
    }

    struct Worker: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run only workers, to scale out.")
        @OptionGroup var options: SharedOptions
        @Option(help: "Worker threads.") var concurrency: Int = 1
        func validate() throws {
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        }
        func run() throws { try serve([.worker], options: options, concurrency: concurrency) }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show queue depth, jobs in flight, dead jobs, each periodic task's state and the live beats and workers (exit 1 when none is alive).")
        @OptionGroup var options: SharedOptions
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let configuration = try options.makeConfiguration()
            let status = try withQueue(configuration) { queue, redis throws(RedisError) in
                try queue.status(intervals: configuration.interval(of:), on: redis)
            }
            print(json ? StatusOutput.json(status) : StatusOutput.text(status))
            if status.runners.isEmpty {
                printToStderr(
                    """
                    contacts-tasks: no beat or worker is alive under the prefix \(configuration.queuePrefix)
                    hint: start one with `contacts-tasks run` (or tools/run); jobs wait in the queue until then.
                    """)
                throw ExitCode(ExitStatus.failure)
            }
        }
    }

    struct Enqueue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enqueue one job to run now (always accepted; it counts as pending for its task); prints its id.")
        @Argument(help: "create-random, purge-expired or backup.") var task: String
        @OptionGroup var options: SharedOptions

        func validate() throws {
            guard TaskKind(rawValue: task) != nil else {
                throw ValidationError("unknown task \"\(task)\": use create-random, purge-expired or backup")
            }
        }

        func run() throws {
            let configuration = try options.makeConfiguration()
            let kind = TaskKind(rawValue: task)!
            var random = SystemRandomNumberGenerator()
            let id = "\(kind.rawValue):manual:\(String(random.next(), radix: 36))"
            try withQueue(configuration) { queue, redis throws(RedisError) in try queue.enqueue(kind, id: id, on: redis) }
            print(id)
        }
    }

    struct Dead: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, retry or drop the jobs on the dead-letter list.",
            subcommands: [List.self, Retry.self, Drop.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List dead jobs, newest first, with why each died.")
            @OptionGroup var options: SharedOptions
            @Flag(help: "Print JSON for scripts.") var json = false

            func run() throws {
                let jobs = try withQueue(options.makeConfiguration()) { queue, redis throws(RedisError) in
                    try queue.deadJobs(on: redis)
                }
                print(json ? StatusOutput.json(jobs) : StatusOutput.text(jobs))
            }
        }

        struct Retry: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Put a dead job (or every one) back on the queue with fresh attempts.")
            @OptionGroup var target: DeadTarget
            @OptionGroup var options: SharedOptions
            func run() throws { try target.apply(.retry, options: options, done: "requeued") }
        }

        struct Drop: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a dead job (or every one) and its record.")
            @OptionGroup var target: DeadTarget
            @OptionGroup var options: SharedOptions
            func run() throws { try target.apply(.drop, options: options, done: "dropped") }
        }
    }
}

/// `ID` or `--all`, for `dead retry` and `dead drop`.
struct DeadTarget: ParsableArguments {
    @Argument(help: "The dead job's id (see dead list).") var jobID: String?
    @Flag(help: "Every dead job.") var all = false

    func validate() throws {
        guard (jobID != nil) != all else { throw ValidationError("give a job id or --all (not both)") }
    }

    /// Applies `action` and prints what was done; exit 1 when a named job was not on the dead list.
    func apply(_ action: JobQueue.DeadAction, options: SharedOptions, done verb: String) throws {
        let count = try withQueue(options.makeConfiguration()) { queue, redis throws(RedisError) in
            try queue.apply(action, toDead: all ? nil : jobID, on: redis)
        }
        print("\(verb) \(count) job\(count == 1 ? "" : "s")")
        if let jobID, count == 0 {
            printToStderr("contacts-tasks: \(jobID) is not on the dead-letter list")
            throw ExitCode(1)
        }
    }
}

/// Runs `body` against the queue; exit 3 (with a hint) when Redis cannot be reached, 78 when it
/// refuses the credentials or cannot serve the queue, 1 when it fails otherwise.
func withQueue<T>(
    _ configuration: TaskRunnerConfiguration, _ body: (JobQueue, RedisConnection) throws(RedisError) -> T
) throws -> T {
    do {
        let redis = try RedisConnection(url: configuration.redis)
        return try body(JobQueue(keys: TaskKeys(prefix: configuration.queuePrefix)), redis)
    } catch {
        let trouble = RedisTrouble(error, url: configuration.redis)
        if trouble.kind == .outage {
            printToStderr(
                """
                contacts-tasks: \(trouble.message)
                hint: is Redis running? Start it with `redis-server` (or tools/run), or point --redis / \
                CONTACTS_REDIS_URL at the Redis it uses.
                """)
            throw ExitCode(ExitStatus.unavailable)
        }
        printToStderr("contacts-tasks: \(trouble.message)")
        throw ExitCode(trouble.needsOperator ? ExitStatus.configuration : ExitStatus.failure)
    }
}

extension LogFormat: ExpressibleByArgument {}
extension PurgeScope: ExpressibleByArgument {}
