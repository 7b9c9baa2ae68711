import Logging
import Redis

/// A Redis connection that comes back on its own: a broken or missing connection is retried
/// with capped exponential backoff, logged once when it goes and once when it returns.
/// Owned by one thread (the beat, or one worker), like the connection inside it.
final class RedisSession {
    private let url: RedisURL
    private let backoff: Backoff
    private let stop: StopSignal
    private let logger: Logger
    private let readTimeout: Double
    private var connection: RedisConnection?
    private var failures = 0
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

    /// Runs `body` with a live connection, reconnecting and retrying until it succeeds or the
    /// stop signal fires (then nil). Server error replies are logged and retried the same way.
    func run<T>(_ what: String, _ body: (RedisConnection) throws(RedisError) -> T) -> T? {
        while !stop.isStopped {
            if let value = attempt(what, body) { return value }
            let delay = backoff.delay(attempt: failures - 1, using: &generator)
            if stop.sleep(seconds: Double(delay) / 1000) { return nil }
        }
        return nil
    }

    /// One try: nil on failure (already logged), the value otherwise.
    func attempt<T>(_ what: String, _ body: (RedisConnection) throws(RedisError) -> T) -> T? {
        do {
            let live = try connected()
            let value = try body(live)
            if failures > 0 {
                logger.notice("Redis is reachable again", metadata: ["redis": "\(url)"])
                failures = 0
            }
            return value
        } catch {
            if error.kind == .connection {
                onDisconnect?()
                connection = nil
            }
            // An interrupted wait during shutdown is expected, not an outage.
            if failures == 0 && !stop.isStopped {
                logger.warning(
                    "Redis unavailable while trying to \(what): \(error.message); retrying with backoff up to \(backoff.cap)",
                    metadata: ["redis": "\(url)"])
            }
            failures += 1
            return nil
        }
    }

    /// Drops the current connection (after an interrupt, for instance).
    func reset() {
        onDisconnect?()  // before the descriptor is closed, so nobody can interrupt a reused one
        connection = nil
    }

    private func connected() throws(RedisError) -> RedisConnection {
        if let connection, !connection.isBroken { return connection }
        let fresh = try RedisConnection(url: url, readTimeout: readTimeout)
        connection = fresh
        onConnect?(fresh.descriptor)
        return fresh
    }
}
