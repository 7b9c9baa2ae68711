import Locking
import Logging
import MonotonicClock
import ContactStore

/// Logs how long each step of a schema upgrade took (`SchemaMigrationEvent`), at info level, so
/// an operator upgrading a large database sees where a long start went, and the times in
/// docs/performance.md can be read off a real upgrade. A new database's schema is created
/// silently: its steps take no time worth telling.
final class MigrationStepLog: Sendable {
    private let logger: Logger
    /// When the upgrade and its current step began (monotonic nanoseconds); nil while none runs
    /// or while a new database is set up.
    private let started = LockedValue<(upgrade: UInt64, step: UInt64)?>(nil)

    /// A log of upgrades written to `logger`.
    init(logger: Logger) {
        self.logger = logger
    }

    /// Feeds one event from `StoreOptions.onMigration`.
    func handle(_ event: SchemaMigrationEvent) {
        let now = MonotonicClock.nanoseconds()
        switch event {
        case .started(let from, let to):
            guard from > 0 else { return }
            started.withLock { $0 = (now, now) }
            logger.info("upgrading the database schema from version \(from) to \(to)")
        case .applied(let version):
            guard let step = started.withLock({ state -> UInt64? in
                defer { state?.step = now }
                return state?.step
            }) else { return }
            logger.info("schema step \(version) applied in \(Self.seconds(now - step)) s")
        case .finished:
            guard let upgrade = started.withLock({ state -> UInt64? in
                defer { state = nil }
                return state?.upgrade
            }) else { return }
            logger.info("schema upgrade finished after \(Self.seconds(now - upgrade)) s")
        }
    }

    /// Seconds with two decimals.
    private static func seconds(_ nanoseconds: UInt64) -> String {
        let hundredths = (nanoseconds + 5_000_000) / 10_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
