import Dispatch
import Synchronization

/// The backups running on a store, so that closing the store stops them and waits for them.
///
/// A backup enters before it opens anything and leaves when its files are gone; `close` marks the
/// gate closing (each backup sees it at its next step and stops) and waits until all have left.
final class BackupGate: Sendable {
    private let closing = Atomic<Bool>(false)
    private let running = DispatchGroup()

    /// Registers a backup; false (and nothing registered) once the store is closing.
    func enter() -> Bool {
        running.enter()
        // Entered first, then checked: `close` either sees this backup in the group or it sees `closing`.
        if closing.load(ordering: .sequentiallyConsistent) {
            running.leave()
            return false
        }
        return true
    }

    /// Ends a backup registered by `enter`.
    func leave() {
        running.leave()
    }

    /// True once `close` began: a backup stops at its next step.
    var isClosing: Bool { closing.load(ordering: .sequentiallyConsistent) }

    /// Makes every running backup stop and waits until each has left.
    func close() {
        closing.store(true, ordering: .sequentiallyConsistent)
        running.wait()
    }
}
