import Logging
import Redis

/// Keeps this process's beat and workers visible in Redis, so `contacts-tasks status` can tell
/// whether any runner is alive: one key per role (`{P}:alive:beat:HOST:PID`), holding a
/// description, set every `interval` with an expiry of `expiry`. A runner that dies stops
/// renewing and drops out of the list when its key expires; one that stops cleanly deletes it.
final class Heartbeat {
    /// How often the keys are renewed.
    static let interval = 5.0
    /// How long a key outlives its last renewal: three missed renewals.
    static let expiryMilliseconds = 15_000

    private let keys: [(key: String, value: String)]
    private let session: RedisSession
    private let stop: StopSignal
    private let url: RedisURL

    init(configuration: TaskRunnerConfiguration, roles: TaskRunner.Roles, stop: StopSignal, logger: Logger) {
        let (host, pid) = TaskRunner.hostAndPID()
        let keys = TaskKeys(prefix: configuration.queuePrefix)
        var entries: [(String, String)] = []
        if roles.contains(.beat) { entries.append((keys.alive(.beat, host: host, pid: pid), "beat")) }
        if roles.contains(.worker) {
            entries.append((keys.alive(.worker, host: host, pid: pid), "worker \(configuration.concurrency)"))
        }
        self.keys = entries
        self.stop = stop
        self.url = configuration.redis
        self.session = RedisSession(
            url: configuration.redis, backoffCap: configuration.redisBackoffCap, stop: stop, logger: logger)
    }

    /// Renews the keys until the stop signal fires, then deletes them.
    func run() {
        while !stop.isStopped {
            _ = session.run("heartbeat", .once) { redis throws(RedisError) in
                for entry in keys {
                    _ = try redis.command(["SET", entry.key, entry.value, "PX", String(Self.expiryMilliseconds)])
                }
            }
            stop.sleep(seconds: Self.interval)
        }
        // A clean stop leaves the list at once rather than when the keys expire.
        _ = try? RedisConnection(url: url, connectTimeout: 1, readTimeout: 1).command(["DEL"] + keys.map(\.key))
    }
}
