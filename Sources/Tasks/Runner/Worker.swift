import ContactStore
import Dispatch
import Logging
import Redis
import Synchronization

/// Takes jobs from the queue and runs them, at least once each.
///
/// A job moves atomically from the queue to the in-flight list (BLMOVE) and is leased for the
/// visibility timeout; it is acknowledged only after its task committed. If this worker dies,
/// the lease runs out and any worker's reaper pass puts the job back on the queue.
final class Worker {
    private let configuration: TaskRunnerConfiguration
    private let queue: JobQueue
    private let executor: TaskExecutor
    private let session: RedisSession
    private let stop: StopSignal
    private let logger: Logger
    private let name: String
    private let idleDescriptor: IdleDescriptor
    private var generator = SystemRandomNumberGenerator()
    private var takeFailures = 0
    private var takeBackoff: Backoff { Backoff(base: TaskDuration(milliseconds: 100), cap: configuration.redisBackoffCap) }

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
        self.idleDescriptor = idle
        session.onConnect = { idle.connected($0) }
        session.onDisconnect = { idle.disconnected() }
        // A stop wakes a worker blocked on an empty queue at once; a busy one finishes its job first.
        stop.whenStopped { idle.interruptIfIdle() }
    }

    /// Runs until the stop signal fires; the job in hand is finished and acknowledged first.
    func run() {
        logger.info("worker started", metadata: ["worker": "\(name)"])
        while !stop.isStopped {
            guard let reaped = session.run("check leases", { redis throws(RedisError) in
                try queue.reap(visibility: configuration.visibilityTimeout, on: redis)
            }) else { break }
            if reaped.redelivered > 0 {
                logger.warning("redelivered jobs whose worker stopped answering", metadata: ["count": "\(reaped.redelivered)"])
            }
            let now = Timestamp.now().milliseconds
            var wait = configuration.idleWait.seconds
            if let due = reaped.nextDue { wait = min(wait, max(Double(due - now) / 1000, 0.01)) }
            // Only the blocking wait may be interrupted by a stop, never the lease that follows.
            idleDescriptor.setIdle(true)
            let waited: String?? = session.attempt("wait for a job") { redis throws(RedisError) in
                try queue.wait(block: wait, on: redis)
            }
            idleDescriptor.setIdle(false)
            guard let waited else {
                // Connection trouble, a server error, or a stop that interrupted the wait.
                if stop.isStopped { break }
                takeFailures += 1
                stop.sleep(seconds: Double(takeBackoff.delay(attempt: takeFailures - 1, using: &generator)) / 1000)
                continue
            }
            takeFailures = 0
            guard let id = waited else { continue }
            // A job already moved to in-flight: lease it even while stopping (or the reaper
            // brings it back after the visibility timeout).
            let leased: Job?? = session.run("lease \(id)") { redis throws(RedisError) in
                try queue.lease(
                    id, visibility: configuration.visibilityTimeout, worker: name,
                    maxDeliveries: configuration.maxAttempts + 2, on: redis)
            } ?? session.attempt("lease \(id)") { redis throws(RedisError) in
                try queue.lease(
                    id, visibility: configuration.visibilityTimeout, worker: name,
                    maxDeliveries: configuration.maxAttempts + 2, on: redis)
            }
            guard let leased, let job = leased else { continue }
            process(job)
        }
        logger.info("worker stopped", metadata: ["worker": "\(name)"])
    }

    private func process(_ job: Job) {
        let started = Timestamp.now().milliseconds
        logger.debug("running job", metadata: ["job": "\(job.id)", "attempt": "\(job.attempts + 1)"])
        let outcome: Result<String, StoreError>
        do {
            outcome = .success(try executor.run(job, heartbeat: { renew(job) }))
        } catch {
            outcome = .failure(error)
        }
        let duration = Timestamp.now().milliseconds - started
        switch outcome {
        case .success(let summary):
            finish(job, "acknowledge \(job.id)") { redis throws(RedisError) in
                try queue.ack(job, outcome: summary, durationMilliseconds: duration, on: redis)
            }
        case .failure(let error):
            let delay = configuration.retryBackoff.delay(attempt: job.attempts, using: &generator)
            let retryAt = Timestamp.now().milliseconds + delay
            let dead: Bool? = finish(job, "record the failure of \(job.id)") { redis throws(RedisError) in
                try queue.fail(job, error: error.logDescription, maxAttempts: configuration.maxAttempts, retryAt: retryAt, on: redis)
            }
            if dead == true {
                logger.error("job failed for good: moved to the dead-letter list", metadata: ["job": "\(job.id)", "error": "\(error.logDescription)"])
            } else {
                logger.warning(
                    "job failed; will retry",
                    metadata: ["job": "\(job.id)", "error": "\(error.logDescription)", "retry_in_ms": "\(delay)"])
            }
        }
    }

    /// Records a job's end in Redis, retrying through outages. While stopping it still tries for
    /// a while; if Redis stays away the lease expires and the job is redelivered (at least once).
    @discardableResult
    private func finish<T>(_ job: Job, _ what: String, _ body: (RedisConnection) throws(RedisError) -> T) -> T? {
        if let value = session.run(what, body) { return value }
        let deadline = Timestamp.now().milliseconds + 5000
        while Timestamp.now().milliseconds < deadline {
            if let value = session.attempt(what, body) { return value }
            usleepSeconds(0.2)
        }
        logger.warning("could not record the end of a job; it will be redelivered", metadata: ["job": "\(job.id)"])
        return nil
    }

    private func renew(_ job: Job) {
        _ = session.attempt("renew the lease of \(job.id)") { redis throws(RedisError) in
            try queue.renew(job, visibility: configuration.visibilityTimeout, on: redis)
        }
    }

    private func usleepSeconds(_ seconds: Double) {
        _ = DispatchSemaphore(value: 0).wait(timeout: .now() + seconds)
    }
}

/// The descriptor of a worker's Redis connection while it waits on an empty queue, so that a
/// stop can interrupt that wait (and only that wait: never a command that carries a job).
final class IdleDescriptor: Sendable {
    private let state = Mutex<(descriptor: Int32?, idle: Bool)>((nil, false))

    func connected(_ descriptor: Int32) { state.withLock { $0.descriptor = descriptor } }
    func disconnected() { state.withLock { $0.descriptor = nil } }
    func setIdle(_ idle: Bool) { state.withLock { $0.idle = idle } }

    func interruptIfIdle() {
        state.withLock { state in
            if state.idle, let descriptor = state.descriptor { RedisConnection.interrupt(descriptor: descriptor) }
        }
    }
}
