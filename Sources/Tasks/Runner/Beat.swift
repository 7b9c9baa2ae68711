import ContactStore
import Logging
import Redis

/// The scheduler: enqueues each periodic task once per tick.
///
/// Ticks are aligned to the wall clock (tick n of a task covers [n·interval, (n+1)·interval)),
/// and each is claimed in Redis with `SET NX PX`, so any number of beats enqueue it exactly once.
/// After downtime the beat does not replay missed ticks: it enqueues the current one (the one
/// catch-up) and logs the gap.
final class Beat {
    private let configuration: TaskRunnerConfiguration
    private let queue: JobQueue
    private let session: RedisSession
    private let stop: StopSignal
    private let logger: Logger
    private let name: String
    /// The last tick handled per task (enqueued here or seen claimed by another beat).
    private var handled: [TaskKind: Int64] = [:]

    init(configuration: TaskRunnerConfiguration, stop: StopSignal, logger: Logger, name: String) {
        self.configuration = configuration
        self.queue = JobQueue(keys: TaskKeys(prefix: configuration.queuePrefix))
        self.stop = stop
        self.logger = logger
        self.name = name
        self.session = RedisSession(url: configuration.redis, backoffCap: configuration.redisBackoffCap, stop: stop, logger: logger)
    }

    /// Runs until the stop signal fires.
    func run() {
        logger.info("beat started", metadata: [
            "create_every": "\(configuration.createEvery)", "purge_every": "\(configuration.purgeEvery)",
        ])
        while !stop.isStopped {
            for task in TaskKind.allCases { tickIfDue(task) }
            let now = Timestamp.now().milliseconds
            let next = TaskKind.allCases.map { task -> Int64 in
                let interval = configuration.interval(of: task).milliseconds
                return ((handled[task] ?? (now / interval - 1)) + 1) * interval
            }.min() ?? now + 1000
            stop.sleep(seconds: Double(max(next - now, 1)) / 1000)
        }
        logger.info("beat stopped")
    }

    private func tickIfDue(_ task: TaskKind) {
        let interval = configuration.interval(of: task)
        if let last = handled[task], last >= Timestamp.now().milliseconds / interval.milliseconds { return }
        let result: (tick: Int64, previous: Int64?, claimed: Bool)? = session.run("enqueue \(task.rawValue)") {
            redis throws(RedisError) in
            // Read the clock inside the retry loop: after waiting out a Redis outage, the tick
            // to claim is the current one, not the one that was due when the outage began.
            let tick = Timestamp.now().milliseconds / interval.milliseconds
            var previous = handled[task]
            if previous == nil { previous = try queue.lastTick(task, on: redis) }
            // A beat with no history anywhere starts at the next boundary, so ticks stay on the
            // wall-clock grid; with history, the current tick is the (one) catch-up.
            guard let previous else { return (tick, nil, false) }
            let claimed = try queue.claimTick(task, tick: tick, interval: interval, beat: name, on: redis)
            return (tick, previous, claimed)
        }
        guard let result else { return }  // stopping
        if let previous = result.previous, result.tick - previous > 1 {
            logger.notice(
                "missed ticks: running one catch-up instead of replaying them",
                metadata: ["task": "\(task.rawValue)", "missed": "\(result.tick - previous - 1)"])
        }
        if result.claimed {
            logger.debug("enqueued", metadata: ["task": "\(task.rawValue)", "tick": "\(result.tick)"])
        }
        handled[task] = result.tick
    }
}
