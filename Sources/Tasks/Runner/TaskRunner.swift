import ContactStore
import Dispatch
import Locking
import Logging
import Redis

import Glibc

/// Runs the beat and/or workers of `contacts-tasks` until SIGINT or SIGTERM.
///
/// On a signal the beat stops, each worker finishes and acknowledges the job in hand (or, in a
/// purge, hands it back after the current chunk), and `run` returns (the executable then exits 0).
public final class TaskRunner: Sendable {
    /// Which parts run in this process.
    public struct Roles: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The scheduler.
        public static let beat = Roles(rawValue: 1)
        /// The job workers.
        public static let worker = Roles(rawValue: 2)
    }

    private let configuration: TaskRunnerConfiguration
    private let logger: Logger
    /// Fires on SIGINT/SIGTERM, or when `stop()` is called.
    public let stopSignal = StopSignal()

    /// A runner; nothing starts until `run`.
    public init(configuration: TaskRunnerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Asks every part to stop.
    public func stop() { stopSignal.stop() }

    /// Runs `roles` until stopped; returns once every part has finished.
    ///
    /// SIGINT and SIGTERM are blocked first thing, in the calling thread, so every thread started
    /// later inherits the block and a signal stays pending until the one thread that waits for it
    /// (`sigwait`) takes it: there is no window in which a signal is missed or kills the process.
    /// Then Redis is checked (waiting through an outage), and the roles start.
    /// - Throws: `RedisTrouble` when Redis refuses the credentials or cannot serve the queue
    ///   (`needsOperator`); `StoreError` when the database cannot be opened.
    public func run(_ roles: Roles) throws {
        watchStopSignals()
        let check = RedisSession(url: configuration.redis, backoffCap: configuration.redisBackoffCap, stop: stopSignal, logger: logger)
        guard try check.checkAtStart(JobQueue(keys: TaskKeys(prefix: configuration.queuePrefix))) else {
            logger.info("stopped cleanly")
            return
        }
        let done = DispatchGroup()
        var store: ContactStore?
        if roles.contains(.worker) {
            // The change log names this process as the author of everything the worker writes.
            // It writes a few times a minute: its writer checkpoints itself (one thread fewer).
            var options = StoreOptions(author: "contacts-tasks")
            options.checkpointsInBackground = false
            let opened = try ContactStore(path: configuration.databasePath, options: options)
            store = opened
            let executor = TaskExecutor(
                store: opened, maxAge: configuration.maxAge, seed: configuration.seed,
                purgeScope: configuration.purgeScope,
                backups: BackupSettings(
                    directory: configuration.backupDirectory, keep: configuration.backupKeep,
                    every: configuration.backupEvery),
                logger: logger)
            for index in 0..<configuration.concurrency {
                let worker = Worker(
                    configuration: configuration, executor: executor, stop: stopSignal, logger: logger,
                    name: "\(Self.hostIdentity())-w\(index)")
                start(worker.run, in: done)
            }
        }
        if roles.contains(.beat) {
            start(Beat(configuration: configuration, stop: stopSignal, logger: logger).run, in: done)
        }
        start(Heartbeat(configuration: configuration, roles: roles, stop: stopSignal, logger: logger).run, in: done)
        logger.info("contacts-tasks running", metadata: [
            "redis": "\(configuration.redis)", "database": "\(configuration.databasePath)",
            "prefix": "\(configuration.queuePrefix)",
        ])
        if roles.contains(.worker) { logger.notice("\(configuration.purgeNotice)") }
        done.wait()
        store?.close()
        logger.info("stopped cleanly")
    }

    /// Runs a part's loop on a thread of its own; the part is used by that thread only.
    private func start(_ body: @escaping () -> Void, in group: DispatchGroup) {
        group.enter()
        let box = UncheckedBox(body)
        BackgroundThread.start {
            box.value()
            group.leave()
        }
    }

    /// `hostname:pid`, naming this process in job records.
    static func hostIdentity() -> String {
        let (host, pid) = hostAndPID()
        return "\(host):\(pid)"
    }

    /// This host's name and this process's id.
    static func hostAndPID() -> (host: String, pid: Int32) {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (host, getpid())
    }

    /// Blocks SIGINT and SIGTERM in this thread (and so in every thread it starts later) and
    /// takes them on a thread of their own with `sigwait`.
    private func watchStopSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let signals = UncheckedBox(set)
        BackgroundThread.start { [stopSignal, logger] in
            var set = signals.value
            while true {
                var number: Int32 = 0
                guard sigwait(&set, &number) == 0 else { continue }
                logger.info("signal received: finishing the jobs in hand", metadata: ["signal": "\(number)"])
                stopSignal.stop()
            }
        }
    }
}

/// Hands a thread-confined object to the one thread that will own it.
// @unchecked Sendable: the value is created here and then used only by the new thread.
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
