import Locking
import Synchronization

/// The server-wide budget of unsent output (`--max-output-bytes`): while all connections'
/// unsent bytes together exceed it, every batch waits, and resumes when output drains.
///
/// Charging and releasing are one atomic add each (the hot path pays nothing else);
/// the lock is taken only by connections that wait and by whoever wakes them.
final class OutputBudget: Sendable {
    /// The budget in bytes.
    let limit: Int
    private let used = Atomic<Int>(0)
    private let hasWaiters = Atomic<Bool>(false)
    private let waiters = LockedValue<[@Sendable () -> Void]>([])

    init(limit: Int) {
        self.limit = limit
    }

    /// True while the unsent output of all connections exceeds the budget.
    var isExhausted: Bool { used.load(ordering: .sequentiallyConsistent) > limit }

    /// Unsent bytes across all connections now.
    var usedBytes: Int { used.load(ordering: .relaxed) }

    /// Counts `bytes` newly queued for sending.
    func charge(_ bytes: Int) {
        used.wrappingAdd(bytes, ordering: .relaxed)
    }

    /// Counts `bytes` sent (or dropped with a closed connection); wakes the waiters once the
    /// total is back within the budget.
    func release(_ bytes: Int) {
        // Sequentially consistent, with the store and load in `waitForRoom`: a waiter that
        // registers while output drains is seen by this release, or sees the drained total.
        let now = used.wrappingSubtract(bytes, ordering: .sequentiallyConsistent).newValue
        if now <= limit, hasWaiters.load(ordering: .sequentiallyConsistent) { wakeAll() }
    }

    /// Calls `resume` (on any thread) once the budget has room; at once if it has room now.
    func waitForRoom(_ resume: @escaping @Sendable () -> Void) {
        waiters.withLock {
            $0.append(resume)
            hasWaiters.store(true, ordering: .sequentiallyConsistent)
        }
        // Output may have drained between the caller's check and the registration.
        if !isExhausted { wakeAll() }
    }

    private func wakeAll() {
        let woken = waiters.withLock { waiting in
            defer {
                waiting.removeAll()
                hasWaiters.store(false, ordering: .sequentiallyConsistent)
            }
            return waiting
        }
        for resume in woken { resume() }
    }
}
