import CLinux
import Dispatch
import Glibc
import Locking
import MonotonicClock

/// One connection's serial executor on `ConnectionThreads`: the events of its descriptor and the
/// work posted to it (`async`) run one at a time, in order, on whichever of the threads is free,
/// like a serial Dispatch queue with read and write sources on it.
///
/// Readiness is level-triggered, as Dispatch's sources are: after each run the descriptor is
/// armed again for what the connection wants (`interest`), so input left unread fires again.
/// A lane that yields (`yield`), or still has work after `maxRounds` rounds or `maxRunNanoseconds`,
/// goes to the back of the run queue, so a busy connection cannot keep a thread from the others
/// (a round of a big batch takes up to 10 ms: one more round, and a light request waiting in epoll
/// with every thread so held waits that much longer).
// @unchecked Sendable: `state` is behind its lock. `interest`, `registered` and the handlers are
// read and written only by the thread running the lane, and `State.running` lets only one thread
// run it at a time; the lock taken to hand the lane from one run to the next orders them.
final class ConnectionLane: @unchecked Sendable {
    /// The events a connection wants to hear of.
    struct Interest: OptionSet {
        let rawValue: UInt8
        static let read = Interest(rawValue: 1)
        static let write = Interest(rawValue: 2)
    }

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var readable = false
        var writable = false
        /// A thread runs the lane now.
        var running = false
        /// The lane waits in the run queue.
        var queued = false
        /// Work was posted with `yield`: the run ends after this round, behind the other lanes.
        var yielding = false
        /// The epoll events the descriptor is armed for (0: none, or its one event was taken).
        var armed: UInt32 = 0

        var hasWork: Bool { readable || writable || !jobs.isEmpty }
    }

    /// Rounds of work a run does before the lane goes to the back of the run queue…
    static let maxRounds = 8
    /// …or how long it runs before it does, whichever comes first.
    static let maxRunNanoseconds: UInt64 = 1_000_000

    let fd: Int32
    private let threads: ConnectionThreads
    private let state = LockedValue(State())
    /// What the connection wants to hear of: read and changed only while the lane runs.
    var interest: Interest = []
    private var registered = false
    private var onReadable: () -> Void = {}
    private var onWritable: () -> Void = {}

    init(fd: Int32, threads: ConnectionThreads) {
        self.fd = fd
        self.threads = threads
    }

    /// Puts the descriptor in the epoll set, wanting `interest`. Call once, before anything runs.
    /// False (errno set) when it could not be added: nothing will fire, and only posted work runs.
    func start(interest: Interest, onReadable: @escaping () -> Void, onWritable: @escaping () -> Void) -> Bool {
        let events = Self.events(for: interest)
        self.interest = interest
        self.onReadable = onReadable
        self.onWritable = onWritable
        registered = true
        state.withLock { $0.armed = events }
        guard threads.register(self, events: events) else {
            let error = errno
            registered = false
            self.interest = []
            self.onReadable = {}
            self.onWritable = {}
            state.withLock { $0.armed = 0 }
            errno = error
            return false
        }
        return true
    }

    /// Takes the descriptor out of the epoll set, before the connection closes it, and lets the
    /// handlers go. Only while the lane runs. Posted work still runs after it.
    func close() {
        guard registered else { return }
        registered = false
        interest = []
        onReadable = {}
        onWritable = {}
        // Never armed again: the number may belong to another connection once it is closed.
        state.withLock { $0.armed = 0 }
        threads.unregister(self)
    }

    /// Runs `job` on the lane, after the work already posted.
    func async(_ job: @escaping @Sendable () -> Void) {
        post(job, yielding: false)
    }

    /// Runs `job` on the lane, but only after the lanes already waiting for a thread: what a
    /// connection that has done its share for now posts to go on later.
    func yield(_ job: @escaping @Sendable () -> Void) {
        post(job, yielding: true)
    }

    private func post(_ job: @escaping @Sendable () -> Void, yielding: Bool) {
        let schedule = state.withLock { state in
            state.jobs.append(job)
            if yielding { state.yielding = true }
            guard !state.running, !state.queued else { return false }
            state.queued = true
            return true
        }
        if schedule { threads.schedule(self) }
    }

    /// Runs `job` on the lane once `nanoseconds` have passed (the wait is Dispatch's timer).
    func async(afterNanoseconds nanoseconds: UInt64, _ job: @escaping @Sendable () -> Void) {
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in async(job) }
    }

    // MARK: Running (called by ConnectionThreads)

    /// Records an event taken by a thread: true when that thread is now the one to run the lane.
    func ready(events: UInt32) -> Bool {
        let failed = events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
        return state.withLock { state in
            state.armed = 0  // one-shot: the descriptor is quiet until armed again
            if failed || events & EPOLLIN.rawValue != 0 { state.readable = true }
            if failed || events & EPOLLOUT.rawValue != 0 { state.writable = true }
            guard !state.running, !state.queued else { return false }
            state.running = true
            return true
        }
    }

    /// Runs a lane taken from the run queue.
    func runQueued() {
        state.withLock { state in
            state.queued = false
            state.running = true
        }
        run()
    }

    /// Runs the lane's work until there is none (or it goes back to the queue). Only on the thread
    /// that set `running`.
    func run() {
        let started = MonotonicClock.nanoseconds()
        var rounds = 0
        while true {
            let (readable, writable, jobs) = state.withLock { state in
                defer {
                    state.readable = false
                    state.writable = false
                    state.jobs = []
                }
                return (state.readable, state.writable, state.jobs)
            }
            if readable, interest.contains(.read) { onReadable() }
            if writable, interest.contains(.write) { onWritable() }
            for job in jobs { job() }
            rounds += 1
            guard settle(afterRounds: rounds, startedAt: started) else { return }
        }
    }

    private enum Settled {
        case again, idle, requeue, arm(UInt32)
    }

    /// After a round: true to run another; false once the lane is idle or queued again, with its
    /// descriptor armed for what the connection wants now.
    private func settle(afterRounds rounds: Int, startedAt started: UInt64) -> Bool {
        let wanted = registered ? Self.events(for: interest) : 0
        let settled: Settled = state.withLock { state in
            if state.hasWork {
                let due = rounds >= Self.maxRounds || MonotonicClock.nanoseconds() - started >= Self.maxRunNanoseconds
                guard state.yielding || due else { return .again }
                state.yielding = false
                state.running = false
                state.queued = true
                return .requeue
            }
            guard state.armed == wanted else {
                state.armed = wanted
                return .arm(wanted)
            }
            state.running = false
            return .idle
        }
        switch settled {
        case .again:
            return true
        case .idle:
            return false
        case .requeue:
            threads.schedule(self)
            return false
        case .arm(let events):
            // Still running while the descriptor is re-armed, so no other thread arms it at once;
            // an event or a job that came meanwhile makes another round.
            threads.arm(self, events: events)
            return state.withLock { state in
                if state.hasWork { return true }
                state.running = false
                return false
            }
        }
    }

    private static func events(for interest: Interest) -> UInt32 {
        var events: UInt32 = 0
        if interest.contains(.read) { events |= EPOLLIN.rawValue }
        if interest.contains(.write) { events |= EPOLLOUT.rawValue }
        return events
    }
}
