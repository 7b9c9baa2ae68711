import Dispatch
import Logging
import Redis

/// A Redis connection that comes back on its own: the one retry-and-backoff path of the runner.
/// A failure is classified (`RedisTrouble`), logged once per outage (and again only when its
/// kind changes), and retried with capped exponential backoff; the connection is dropped and
/// made anew for every kind but a plain error reply. Owned by one thread (the beat, or one
/// worker), like the connection inside it.
final class RedisSession {
    /// How long `run` keeps trying.
    enum Persistence {
        /// Until it succeeds or the stop signal fires.
        case untilStopped
        /// Also up to `holdingJobGrace` seconds after a stop: the caller holds a job whose end
        /// should be recorded (else its lease runs out and it is redelivered).
        case holdingJob
        /// One try.
        case once
    }

    /// How long a worker that holds a job keeps trying to reach Redis after a stop.
    static let holdingJobGrace = 5.0

    private let url: RedisURL
    private let backoff: Backoff
    private let stop: StopSignal
    private let logger: Logger
    private let readTimeout: Double
    private var connection: RedisConnection?
    private var failures = 0
    private var lastTrouble: RedisTrouble.Kind?
    private var generator = SystemRandomNumberGenerator()
    /// Called with the descriptor of each new connection (so a stop can interrupt a blocked call).
    var onConnect: ((Int32) -> Void)?
    /// Called when the connection is dropped (its descriptor must no longer be interrupted).
    var onDisconnect: (() -> Void)?

    init(url: RedisURL, backoffCap: TaskDuration, stop: StopSignal, logger: Logger, readTimeout: Double = 5) {
        self.url = url
        self.backoff = Backoff(base: TaskDuration(milliseconds: 100), cap: backoffCap)
        self.stop = stop
        self.logger = logger
        self.readTimeout = readTimeout
    }

    /// Runs `body` with a live connection, retrying through failures as `persistence` allows;
    /// nil when it gave up (stopping, or `.once` failed).
    func run<T>(
        _ what: String, _ persistence: Persistence = .untilStopped, body: (RedisConnection) throws(RedisError) -> T
    ) -> T? {
        // A connection that sat idle may have been closed by a Redis that restarted since: the
        // first failure on it is retried at once on a new connection, and only a failure there
        // is an outage. Else a session that calls every few seconds (the heartbeat) would log an
        // outage that was over before it looked, and "reachable again" one call later.
        var retriedStale = false
        while true {
            var remaining = Double.infinity
            if stop.isStopped {
                guard persistence == .holdingJob else { return nil }
                remaining = Self.holdingJobGrace - stop.secondsSinceStop
                if remaining <= 0 { return nil }
            }
            let reusing = connection.map { !$0.isBroken } ?? false
            do {
                let redis = try connected(connectTimeout: min(2, remaining))
                // After a stop no command may wait past the grace: a Redis that accepts but never
                // answers (frozen, swapping) would otherwise hold the exit for a whole read timeout.
                if remaining.isFinite { redis.setReadTimeout(max(0.01, remaining)) }
                let value = try body(redis)
                if failures > 0 {
                    logger.notice("Redis is reachable again", metadata: ["redis": "\(url)"])
                    failures = 0
                    lastTrouble = nil
                }
                return value
            } catch {
                let trouble = RedisTrouble(error, url: url)
                if trouble.kind != .failure { reset() }
                if trouble.kind == .outage && reusing && failures == 0 && !retriedStale {
                    retriedStale = true
                    continue
                }
                // An interrupted wait during shutdown is expected, not an outage.
                if !stop.isStopped && (failures == 0 || lastTrouble != trouble.kind) { log(trouble, what) }
                failures += 1
                lastTrouble = trouble.kind
            }
            if persistence == .once { return nil }
            let delay = Double(backoff.delay(attempt: failures - 1, using: &generator)) / 1000
            if stop.isStopped {
                let left = Self.holdingJobGrace - stop.secondsSinceStop
                _ = DispatchSemaphore(value: 0).wait(timeout: .now() + max(0, min(delay, left)))
            } else {
                stop.sleep(seconds: delay)
            }
        }
    }

    /// Checks, once at start, that this Redis can serve the queue: new enough, reachable for the
    /// queue's slot, credentials accepted; then migrates keys of earlier versions. Waits through
    /// outages like `run`.
    /// - Returns: false when stopped before Redis answered.
    /// - Throws: `RedisTrouble` of kind `.authentication` or `.configuration`.
    func checkAtStart(_ queue: JobQueue) throws(RedisTrouble) -> Bool {
        while !stop.isStopped {
            let trouble: RedisTrouble
            do throws(RedisError) {
                guard let fatal = try probe(connected(connectTimeout: 2), queue) else {
                    if failures > 0 { logger.notice("Redis is reachable again", metadata: ["redis": "\(url)"]) }
                    failures = 0
                    return true
                }
                trouble = fatal
            } catch {
                trouble = RedisTrouble(error, url: url)
            }
            if trouble.needsOperator { throw trouble }
            reset()
            if failures == 0 { log(trouble, "start") }
            failures += 1
            stop.sleep(seconds: Double(backoff.delay(attempt: failures - 1, using: &generator)) / 1000)
        }
        return false
    }

    /// One look at a live connection for `checkAtStart`: a trouble that needs an operator, or nil
    /// when all is well (keys of earlier versions migrated).
    private func probe(_ redis: RedisConnection, _ queue: JobQueue) throws(RedisError) -> RedisTrouble? {
        let needed = "Redis \(RedisTrouble.minimumVersion.major).\(RedisTrouble.minimumVersion.minor) or later"
        if let version = try redis.command(["INFO", "server"]).text.flatMap(Self.version(inInfo:)), version.count >= 2,
            (version[0], version[1]) < RedisTrouble.minimumVersion
        {
            let shown = version.map(String.init).joined(separator: ".")
            return RedisTrouble(kind: .configuration, message: "\(url) runs Redis \(shown); contacts-tasks needs \(needed) (BLMOVE)")
        }
        if try redis.command(["COMMAND", "INFO", "BLMOVE"]).elements.first?.isNull ?? true {
            return RedisTrouble(kind: .configuration, message: "\(url) has no BLMOVE command: contacts-tasks needs \(needed)")
        }
        // A key command answers MOVED on a Cluster node that does not hold the queue's slot.
        try redis.command(["EXISTS", queue.keys.queue])
        let cluster = try redis.command(["INFO", "cluster"]).text?.contains("cluster_enabled:1") ?? false
        if !cluster {
            let moved = try queue.migrateLegacyKeys(on: redis)
            if moved > 0 {
                logger.notice("migrated jobs from the key layout of an earlier version", metadata: ["jobs": "\(moved)"])
            }
        }
        return nil
    }

    /// Drops the current connection (after an interrupt, for instance).
    func reset() {
        onDisconnect?()  // before the descriptor is closed, so nobody can interrupt a reused one
        connection = nil
    }

    private func log(_ trouble: RedisTrouble, _ what: String) {
        let metadata: Logger.Metadata = ["redis": "\(url)"]
        let retry = "retrying with backoff up to \(backoff.cap)"
        switch trouble.kind {
        case .outage: logger.warning("Redis unavailable while trying to \(what): \(trouble.message); \(retry)", metadata: metadata)
        case .authentication: logger.error("Redis \(trouble.message) while trying to \(what); \(retry)", metadata: metadata)
        case .configuration: logger.error("Redis cannot serve the queue: \(trouble.message); \(retry)", metadata: metadata)
        case .failure: logger.error("Redis error while trying to \(what): \(trouble.message); \(retry)", metadata: metadata)
        }
    }

    private func connected(connectTimeout: Double) throws(RedisError) -> RedisConnection {
        if let connection, !connection.isBroken { return connection }
        // A broken connection is dropped through `reset`, so whoever may interrupt its descriptor
        // forgets it before it is closed (and its number reused by another socket).
        if connection != nil { reset() }
        let fresh = try RedisConnection(url: url, connectTimeout: connectTimeout, readTimeout: readTimeout)
        connection = fresh
        onConnect?(fresh.descriptor)
        return fresh
    }

    /// `redis_version:7.0.15` in an `INFO server` reply, as [7, 0, 15].
    static func version(inInfo info: String) -> [Int]? {
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("redis_version:") }) else {
            return nil
        }
        return line.dropFirst("redis_version:".count).split(separator: ".").map { Int($0) ?? 0 }
    }
}
