import ContactStore
import Dispatch
import Logging
import Redis
import Locking

/// Takes jobs from the queue and runs them, at least once each.
///
/// A job moves atomically from the queue to the in-flight list (BLMOVE) and is leased for the
/// visibility timeout under a token of its own; it is acknowledged only after its task committed,
/// and only while the token is still current. If this worker dies, the lease runs out and any
/// worker's reaper pass puts the job back on the queue (revoking the token).
final class Worker {
    private let configuration: TaskRunnerConfiguration
    private let queue: JobQueue
    private let executor: TaskExecutor
    private let session: RedisSession
    private let stop: StopSignal
    private let logger: Logger
    private let name: String
    private let idle: IdleDescriptor
    private var generator = SystemRandomNumberGenerator()

    /// What a wait on the queue brought.
    private enum Taken {
        case job(String)
        case nothing
    }

    init(
        configuration: TaskRunnerConfiguration, executor: TaskExecutor, stop: StopSignal, logger: Logger, name: String
    ) {
        self.configuration = configuration
        self.queue = JobQueue(keys: TaskKeys(prefix: configuration.queuePrefix))
        self.executor = executor
        self.stop = stop
        self.logger = logger
        self.name = name
        // Blocking reads wait up to idleWait; the socket timeout must be longer than that.
        self.session = RedisSession(
            url: configuration.redis, backoffCap: configuration.redisBackoffCap, stop: stop, logger: logger,
            readTimeout: configuration.idleWait.seconds + 5)
        let idle = IdleDescriptor()
        self.idle = idle
        session.onConnect = { idle.connected($0) }
        session.onDisconnect = { idle.disconnected() }
        // A stop wakes a worker blocked on an empty queue at once; a busy one finishes its job first.
        stop.whenStopped { idle.stop() }
    }

    /// Runs until the stop signal fires; the job in hand is finished (or handed back) first.
    func run() {
        logger.info("worker started", metadata: ["worker": "\(name)"])
        while !stop.isStopped {
            guard let reaped = session.run("check leases", body: { redis throws(RedisError) in
                try queue.reap(visibility: configuration.visibilityTimeout, on: redis)
            }) else { break }
            if reaped.redelivered > 0 {
                logger.warning("redelivered jobs whose worker stopped answering", metadata: ["count": "\(reaped.redelivered)"])
            }
            var wait = configuration.idleWait.seconds
            if let due = reaped.nextDueIn { wait = min(wait, max(Double(due) / 1000, 0.01)) }
            // Only the blocking wait may be interrupted by a stop, never the lease that follows.
            guard idle.begin() else { break }
            let taken = session.run("wait for a job") { redis throws(RedisError) -> Taken in
                try queue.wait(block: wait, on: redis).map(Taken.job) ?? .nothing
            }
            idle.end()
            guard let taken else { break }  // stopping
            guard case .job(let id) = taken else { continue }
            // The job is in flight now: lease it even while stopping (else the reaper brings it
            // back after the visibility timeout).
            let lease = session.run("lease \(id)", .holdingJob) { redis throws(RedisError) in
                try queue.lease(
                    id, visibility: configuration.visibilityTimeout, worker: name,
                    maxDeliveries: configuration.maxAttempts + 2, deadMax: configuration.deadMax, on: redis)
            }
            switch lease {
            case .leased(let job)?: process(job)
            case .dead(let reason, let trimmed)?:
                logger.error("job moved to the dead-letter list", metadata: ["job": "\(id)", "reason": "\(reason)"])
                logTrimmed(trimmed)
            case .gone?, nil: continue
            }
        }
        logger.info("worker stopped", metadata: ["worker": "\(name)"])
    }

    private func process(_ job: Job) {
        let started = DispatchTime.now().uptimeNanoseconds
        let metadata: Logger.Metadata = ["job": "\(job.id)"]
        logger.debug("running job", metadata: metadata.merging(["attempt": "\(job.attempts + 1)"]) { $1 })
        var leaseLost = false
        let outcome: Result<TaskExecutor.Outcome, StoreError>
        do {
            outcome = .success(try executor.run(job, heartbeat: {
                if stop.isStopped { return false }
                if session.run("renew the lease of \(job.id)", .once, body: { redis throws(RedisError) in
                    try queue.renew(job, visibility: configuration.visibilityTimeout, on: redis)
                }) == false {
                    leaseLost = true
                    return false
                }
                return true
            }))
        } catch {
            outcome = .failure(error)
        }
        if leaseLost {
            logLostLease(job, "renew")
            return
        }
        let duration = Int64((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
        switch outcome {
        case .success(.done(let summary)):
            let acknowledged = finish(job, "acknowledge") { redis throws(RedisError) in
                try queue.ack(job, outcome: summary, durationMilliseconds: duration, on: redis)
            }
            if acknowledged == false { logLostLease(job, "acknowledge") }
        case .success(.interrupted):
            let released = finish(job, "hand back") { redis throws(RedisError) in try queue.release(job, on: redis) }
            if released == true { logger.notice("stopping: handed the unfinished job back to the queue", metadata: metadata) }
            if released == false { logLostLease(job, "hand back") }
        case .failure(let error):
            let delay = configuration.retryBackoff.delay(attempt: job.attempts, using: &generator)
            let failure = finish(job, "record the failure of") { redis throws(RedisError) in
                try queue.fail(
                    job, error: error.logDescription, maxAttempts: configuration.maxAttempts, delay: delay,
                    deadMax: configuration.deadMax, on: redis)
            }
            let failed = metadata.merging(["error": "\(error.logDescription)"]) { $1 }
            switch failure {
            case .retry?: logger.warning("job failed; will retry", metadata: failed.merging(["retry_in_ms": "\(delay)"]) { $1 })
            case .dead(let trimmed)?:
                logger.error("job failed for good: moved to the dead-letter list", metadata: failed)
                logTrimmed(trimmed)
            case .lost?: logLostLease(job, "record the failure of")
            case nil: break
            }
        }
    }

    /// Records a job's end in Redis, retrying through outages, and for a while after a stop; if
    /// Redis stays away the lease expires and the job is redelivered (at least once).
    private func finish<T>(_ job: Job, _ what: String, _ body: (RedisConnection) throws(RedisError) -> T) -> T? {
        let value = session.run("\(what) \(job.id)", .holdingJob, body: body)
        if value == nil {
            logger.warning("could not record the end of a job; it will be redelivered", metadata: ["job": "\(job.id)"])
        }
        return value
    }

    private func logLostLease(_ job: Job, _ what: String) {
        logger.warning(
            "lost the lease of a job (it ran past its visibility timeout and went to another worker): did not \(what) it",
            metadata: ["job": "\(job.id)"])
    }

    private func logTrimmed(_ trimmed: Int) {
        guard trimmed > 0 else { return }
        logger.warning(
            "the dead-letter list is full: dropped its oldest jobs",
            metadata: ["dropped": "\(trimmed)", "dead_max": "\(configuration.deadMax)"])
    }
}

/// The descriptor of a worker's Redis connection while it waits on an empty queue, so that a
/// stop can interrupt that wait (and only that wait: never a command that carries a job).
/// Every transition happens under one lock, so a stop is never missed: one that comes before
/// the wait makes `begin` refuse, one that comes while connecting shuts the new socket down.
final class IdleDescriptor: Sendable {
    private let state = LockedValue<(descriptor: Int32?, idle: Bool, stopped: Bool)>((nil, false, false))

    func connected(_ descriptor: Int32) {
        state.withLock { state in
            state.descriptor = descriptor
            if state.idle && state.stopped { RedisConnection.interrupt(descriptor: descriptor) }
        }
    }

    func disconnected() { state.withLock { $0.descriptor = nil } }

    /// Marks the start of a wait; false when already stopped.
    func begin() -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.idle = true
            return true
        }
    }

    func end() { state.withLock { $0.idle = false } }

    func stop() {
        state.withLock { state in
            state.stopped = true
            if state.idle, let descriptor = state.descriptor { RedisConnection.interrupt(descriptor: descriptor) }
        }
    }
}
