import Dispatch
import Locking
import Logging
import MonotonicClock

import Glibc

/// systemd's watchdog (`WatchdogSec=`): sends `WATCHDOG=1` every half of `WATCHDOG_USEC`, but only
/// while the server makes progress, so that a wedged server is restarted rather than kept alive by
/// a timer that ticks regardless. A ping is sent only when, since the previous one,
/// - a block sent to the accept queue and then to the connection threads ran (neither accepting
///   nor answering is stuck behind something), and
/// - the group-commit writer has not been on one group of writes for longer than the whole
///   `WATCHDOG_USEC` (a writer blocked on a lock or in a hung commit stops the pings; set
///   `WatchdogSec=` above `--busy-timeout` and the longest transaction you expect).
///
/// It runs on a thread of its own, so a saturated Dispatch pool cannot delay a ping of a server
/// that is in fact progressing.
public final class ServiceWatchdog: Sendable {
    /// `WATCHDOG_USEC`, in microseconds.
    public let intervalMicroseconds: UInt64
    private let notifier: ServiceNotifier
    private let logger: Logger
    private let stopped = DispatchSemaphore(value: 0)
    /// Whether the pinging thread runs, and whether it has been told to stop.
    private let state = LockedValue<(started: Bool, stopping: Bool)>((false, false))

    /// The watchdog interval asked for by `WATCHDOG_USEC` when `WATCHDOG_PID` is absent or this
    /// process; removes both variables (as `sd_watchdog_enabled(unset_environment=1)` does).
    /// Call it before any thread starts. Nil when no watchdog is asked for (or the value is malformed: logged).
    public static func intervalFromEnvironment(logger: Logger) -> UInt64? {
        let usec = getenv("WATCHDOG_USEC").map { String(cString: $0) }
        let pid = getenv("WATCHDOG_PID").map { String(cString: $0) }
        unsetenv("WATCHDOG_USEC")
        unsetenv("WATCHDOG_PID")
        guard let usec else { return nil }
        if let pid, Int32(pid) != getpid() { return nil }
        guard let interval = UInt64(usec), interval > 0 else {
            logger.error("ignoring WATCHDOG_USEC=\(usec): not a positive number of microseconds")
            return nil
        }
        return interval
    }

    /// A watchdog that pings through `notifier` every `intervalMicroseconds / 2` once started.
    public init(intervalMicroseconds: UInt64, notifier: ServiceNotifier, logger: Logger) {
        self.intervalMicroseconds = intervalMicroseconds
        self.notifier = notifier
        self.logger = logger
    }

    /// Starts pinging. `pingServer` must run its argument once the accept queue and then a
    /// connection thread have come to it (`UnixSocketServer.ping`); `writerBusyNanoseconds` says
    /// how long the writer has been on its current group (0: idle).
    func start(
        pingServer: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        writerBusyNanoseconds: @escaping @Sendable () -> UInt64
    ) {
        let go = state.withLock { state in
            defer { state.started = true }
            return !state.started && !state.stopping
        }
        guard go else { return }
        let period = DispatchTimeInterval.microseconds(Int(min(intervalMicroseconds / 2, UInt64(Int32.max))))
        let limit = intervalMicroseconds * 1000
        let serverAnswered = LockedValue(true)
        BackgroundThread.start { [self] in
            var withheld = false
            var next = DispatchTime.now()
            while true {
                let answered = serverAnswered.withLock { $0 }
                let busy = writerBusyNanoseconds()
                if answered && busy <= limit {
                    notifier.send("WATCHDOG=1")
                    if withheld { logger.notice("watchdog: the server makes progress again; pinging") }
                    withheld = false
                } else if !withheld {
                    withheld = true
                    let why = answered
                        ? "the writer has been on one transaction for \(busy / 1_000_000) ms, more than WATCHDOG_USEC"
                        : "the accept queue or the connection threads have not answered for \(intervalMicroseconds / 2000) ms"
                    logger.error("watchdog: not pinging the service manager: \(why)")
                }
                if answered {
                    serverAnswered.withLock { $0 = false }
                    pingServer { serverAnswered.withLock { $0 = true } }
                }
                // On a fixed schedule, so the time spent checking and sending does not add up;
                // after a stall, the next tick is a whole period away (no burst of pings).
                next = next + period
                if next < .now() { next = .now() + period }
                if stopped.wait(timeout: next) == .success { return }
            }
        }
    }

    /// Stops pinging (when the server stops: the manager stops watching then too).
    func stop() {
        let running = state.withLock { state in
            defer { state.stopping = true }
            return state.started && !state.stopping
        }
        if running { stopped.signal() }
    }
}
