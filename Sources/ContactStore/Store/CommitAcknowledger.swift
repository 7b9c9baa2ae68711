import Dispatch
import Locking

/// Runs the writer's completions (each write's callback, then the commit hook) on a thread of its
/// own, in the order the writer hands them over, so the writer starts the next group as soon as
/// a commit returns: a callback encodes the reply and wakes the client's connection thread, which
/// cost the writer about a sixteenth of its time under creates at 16 connections
/// (docs/performance.md, "Checkpoints off the writer, and gathered WAL writes").
final class CommitAcknowledger: Sendable {
    /// Batches handed over and not yet run, and whether `close` was called.
    private let pending = LockedValue<(batches: [@Sendable () -> Void], closed: Bool)>(([], false))
    /// Signalled once per batch handed over, and on close.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled by the thread once it has run every batch and stopped (after close).
    private let stopped = DispatchSemaphore(value: 0)

    /// Starts the thread.
    init() {
        // The thread holds the acknowledger weakly, so one dropped without `close` still goes away.
        BackgroundThread.start(named: "contacts-acks") { [weak self, wake] in
            while true {
                wake.wait()
                guard let acknowledger = self, acknowledger.runPending() else { return }
            }
        }
    }

    deinit {
        wake.signal()  // the thread finds the acknowledger gone and ends
    }

    /// Runs the batches handed over so far; false once closed (the thread then stops, after
    /// signalling `stopped`).
    private func runPending() -> Bool {
        let (batches, closed) = pending.withLock { pending in
            defer { pending.batches.removeAll(keepingCapacity: true) }
            return (pending.batches, pending.closed)
        }
        for batch in batches { batch() }
        if closed { stopped.signal() }
        return !closed
    }

    /// Runs `batch` on the thread after every batch handed over before it; after `close`, runs
    /// it on the caller's thread (nothing is left to order it after).
    func deliver(_ batch: @escaping @Sendable () -> Void) {
        let taken = pending.withLock { pending in
            if !pending.closed { pending.batches.append(batch) }
            return !pending.closed
        }
        if taken { wake.signal() } else { batch() }
    }

    /// Runs every batch handed over, then stops the thread. Never call it from a batch.
    func close() {
        let first = pending.withLock { pending in
            defer { pending.closed = true }
            return !pending.closed
        }
        guard first else { return }
        wake.signal()
        stopped.wait()
    }
}
