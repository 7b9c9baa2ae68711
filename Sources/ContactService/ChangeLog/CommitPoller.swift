import ContactStore
import Dispatch
import Glibc
import Locking
import Synchronization

/// Looks for commits of any process every `intervalMilliseconds`, on a thread of its own that
/// sleeps in between: one wake-up and two memory reads per look (`CommitProbe`), no Dispatch
/// timer (whose wake-ups cost several thread hand-offs each). The probe is made, used and closed
/// on that thread only.
final class CommitPoller: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let isDone = Atomic<Bool>(false)

    /// Starts polling; `onCommit` runs on the poller's thread when something may have been committed.
    init(store: ContactStore, intervalMilliseconds: Int, onCommit: @escaping @Sendable () -> Void) {
        BackgroundThread.start { [self] in
            let probe = store.makeCommitProbe()
            _ = probe?.hasChanged()
            while !stopped.load(ordering: .acquiring) {
                usleep(UInt32(intervalMilliseconds * 1000))
                if stopped.load(ordering: .acquiring) { break }
                if probe?.hasChanged() ?? true { onCommit() }
            }
            probe?.close()
            isDone.store(true, ordering: .releasing)
            finished.signal()
        }
    }

    /// Asks the thread to end (within one interval); it closes its probe as it goes.
    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    /// True once the thread has ended and its probe is closed.
    var hasFinished: Bool { isDone.load(ordering: .acquiring) }

    /// Waits until the thread has ended (call after `stop`).
    func waitUntilFinished() {
        if !hasFinished { finished.wait() }
    }
}
