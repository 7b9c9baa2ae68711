import Dispatch
import Locking
import Logging
import ContactStore

/// Tells the service manager that a schema upgrade at start is progress, not a hang: while the
/// store upgrades the database (`SchemaMigrationEvent`), every `period` it sends
/// `EXTEND_TIMEOUT_USEC` (pushing the start timeout `extension` ahead), a `STATUS=` line naming the
/// step, and `WATCHDOG=1` when a watchdog is configured. The first notice goes out at once.
final class MigrationHeartbeat: Sendable {
    /// How often the notice is repeated.
    static let period: DispatchTimeInterval = .seconds(2)
    /// How far each notice pushes the start timeout, in microseconds: several periods, so one
    /// late notice does not end the start.
    static let extensionMicroseconds: UInt64 = 10_000_000

    private let notifier: ServiceNotifier
    private let watchdog: Bool
    /// The status line, and the semaphore that stops the running heartbeat (nil when none runs).
    private let state = LockedValue<(status: String, stop: DispatchSemaphore?)>(("", nil))

    /// A heartbeat through `notifier`, also pinging the watchdog when `watchdog` is set.
    init(notifier: ServiceNotifier, watchdog: Bool) {
        self.notifier = notifier
        self.watchdog = watchdog
    }

    /// Feeds one event from `StoreOptions.onMigration`.
    func handle(_ event: SchemaMigrationEvent) {
        switch event {
        case .started(let from, let to):
            let stop = DispatchSemaphore(value: 0)
            let replaced = state.withLock { state in
                let what = from == 0 ? "creating the database schema (version \(to))"
                    : "upgrading the database schema from version \(from) to \(to)"
                defer { state = ("STATUS=\(what)", stop) }
                return state.stop
            }
            replaced?.signal()
            BackgroundThread.start { [self] in
                repeat {
                    let status = state.withLock { $0.status }
                    var lines = ["EXTEND_TIMEOUT_USEC=\(Self.extensionMicroseconds)", status]
                    if watchdog { lines.append("WATCHDOG=1") }
                    notifier.send(lines.joined(separator: "\n"))
                } while stop.wait(timeout: .now() + Self.period) == .timedOut
            }
        case .applied(let version):
            state.withLock { $0.status = "STATUS=upgrading the database schema: version \(version) applied" }
        case .finished:
            let stop = state.withLock { state in
                defer { state.stop = nil }
                return state.stop
            }
            stop?.signal()
        }
    }
}
