import Dispatch
import Logging
import Redis

/// The scheduler: enqueues each periodic task once per tick, by Redis's clock.
///
/// Tick n of a task covers [n·interval, (n+1)·interval) of Redis's `TIME`, so beats on hosts
/// whose clocks disagree still agree on the tick. The claim script refuses any tick at or before
/// the last one recorded (so each is enqueued once, across any number of beats) and skips a tick
/// while a job of the task is still pending (no pile-up). After downtime the beat does not replay
/// missed ticks: it claims the current one (the one catch-up) and logs the gap. The beat sleeps
/// on the monotonic clock for the time the script says is left until the next boundary.
final class Beat {
    private let configuration: TaskRunnerConfiguration
    private let queue: JobQueue
    private let session: RedisSession
    private let stop: StopSignal
    private let logger: Logger
    /// The last tick handled per task (claimed here or seen handled by another beat). Used when
    /// Redis lost its history (a restart without persistence), to tell the gap.
    private var handled: [TaskKind: Int64] = [:]
    /// When each task's next claim falls due (monotonic nanoseconds).
    private var due: [TaskKind: UInt64] = [:]

    init(configuration: TaskRunnerConfiguration, stop: StopSignal, logger: Logger) {
        self.configuration = configuration
        self.queue = JobQueue(keys: TaskKeys(prefix: configuration.queuePrefix))
        self.stop = stop
        self.logger = logger
        self.session = RedisSession(url: configuration.redis, backoffCap: configuration.redisBackoffCap, stop: stop, logger: logger)
    }

    /// Runs until the stop signal fires.
    func run() {
        logger.info("beat started", metadata: [
            "create_every": "\(configuration.createEvery)", "purge_every": "\(configuration.purgeEvery)",
            "backup_every": "\(configuration.backupEvery.map { "\($0)" } ?? "off")",
        ])
        let scheduled = TaskKind.allCases.filter { configuration.interval(of: $0) != nil }
        while !stop.isStopped {
            for task in scheduled where (due[task] ?? 0) <= DispatchTime.now().uptimeNanoseconds {
                claim(task)
            }
            let next = due.values.min() ?? DispatchTime.now().uptimeNanoseconds
            let now = DispatchTime.now().uptimeNanoseconds
            stop.sleep(seconds: next > now ? Double(next - now) / 1e9 : 0)
        }
        logger.info("beat stopped")
    }

    private func claim(_ task: TaskKind) {
        guard let interval = configuration.interval(of: task) else { return }
        guard let claim = session.run("enqueue \(task.rawValue)", body: { redis throws(RedisError) in
            try queue.claimTick(task, interval: interval, after: handled[task], on: redis)
        }) else { return }  // stopping
        let metadata: Logger.Metadata = ["task": "\(task.rawValue)", "tick": "\(claim.tick)"]
        if let previous = claim.previous, claim.tick - previous > 1, claim.outcome != .taken {
            logger.notice(
                "missed ticks: running one catch-up instead of replaying them",
                metadata: metadata.merging(["missed": "\(claim.tick - previous - 1)", "after_tick": "\(previous)"]) { $1 })
        }
        switch claim.outcome {
        case .enqueued: logger.debug("tick enqueued", metadata: metadata)
        case .skipped: logger.debug("tick skipped: a job of this task is still pending", metadata: metadata)
        case .taken, .fresh: break
        }
        handled[task] = claim.tick
        // Wake just past the boundary by Redis's clock (a millisecond late rather than early).
        due[task] = DispatchTime.now().uptimeNanoseconds + UInt64(max(claim.untilNext, 0) + 1) * 1_000_000
    }
}
