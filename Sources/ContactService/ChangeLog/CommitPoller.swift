import ContactStore
import Dispatch
import Glibc
import Locking
import MonotonicClock
import Synchronization

/// Looks for commits of any process, on a thread of its own: one wake-up and two memory reads
/// per look (`CommitProbe`), no Dispatch timer (whose wake-ups cost several thread hand-offs
/// each). It looks when the `-wal` file has been written (`WALWriteWatch`), at most once every
/// `intervalMilliseconds`, and once a second regardless; so while nothing is written it wakes
/// once a second, not twenty times. Without inotify it looks every `intervalMilliseconds`. The
/// probe is made, used and closed on that thread only.
final class CommitPoller: Sendable {
    /// The look made while nothing is written: a net for anything the watch could miss.
    static let idleLookMilliseconds: Int32 = 1000
    /// Nanoseconds from a write to the look (see the loop).
    static let headerDelay: UInt64 = 1_000_000
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let isDone = Atomic<Bool>(false)
    private let watch: WALWriteWatch?

    /// Starts polling; `onCommit` runs on the poller's thread when something may have been committed.
    init(store: ContactStore, intervalMilliseconds: Int, onCommit: @escaping @Sendable () -> Void) {
        let watch = WALWriteWatch(walPath: store.path + "-wal")
        self.watch = watch
        BackgroundThread.start { [self] in
            let probe = store.makeCommitProbe()
            _ = probe?.hasChanged()
            let interval = UInt64(intervalMilliseconds) * 1_000_000
            var lastLook = MonotonicClock.nanoseconds()
            // Written, yet the header had not moved: the commit's frames were in the file but its
            // header not yet in shared memory, and no further write may come to wake the watch.
            var recheck = false
            while !stopped.load(ordering: .acquiring) {
                var written = true
                if let watch {
                    written = watch.wait(milliseconds: recheck ? Int32(intervalMilliseconds) : Self.idleLookMilliseconds)
                    // The watch fires at the write of a commit's frames, a moment before SQLite
                    // puts the new header in shared memory: give it that moment.
                    let elapsed = MonotonicClock.nanoseconds() &- lastLook
                    let pause = max(elapsed < interval ? interval - elapsed : 0, written ? Self.headerDelay : 0)
                    if pause > 0 { usleep(UInt32(pause / 1000)) }
                } else {
                    usleep(UInt32(intervalMilliseconds * 1000))
                }
                if stopped.load(ordering: .acquiring) { break }
                lastLook = MonotonicClock.nanoseconds()
                let changed = probe?.hasChanged() ?? true
                if changed { onCommit() }
                recheck = written && !changed
            }
            probe?.close()
            isDone.store(true, ordering: .releasing)
            finished.signal()
        }
    }

    /// Asks the thread to end (at once if it is waiting for a write, else within one interval);
    /// it closes its probe as it goes.
    func stop() {
        stopped.store(true, ordering: .releasing)
        watch?.wake()
    }

    /// True once the thread has ended and its probe is closed.
    var hasFinished: Bool { isDone.load(ordering: .acquiring) }

    /// Waits until the thread has ended (call after `stop`).
    func waitUntilFinished() {
        if !hasFinished { finished.wait() }
    }
}
