import CLinux
import Glibc
import Locking

/// The threads that run every connection's work: a fixed set of them, all waiting on one epoll
/// set, so that whichever is free takes the next connection that has something to do.
///
/// Why not Dispatch sources and queues, as before: libdispatch adds a worker to its pool whenever
/// work waits while none of its workers is running, and a connection's work blocks now and then
/// (SQLite's WAL-index mutex, a page read, a malloc arena), so the pool grew at moments of its own
/// choosing and never shrank under a steady load (docs/reliability.md, "Soak"). Here the number of
/// threads is fixed by construction; a thread that blocks holds only the connection it runs, and
/// the others go on with the rest. It also saves a wake-up per request: libdispatch's manager
/// thread waits in epoll and then wakes a worker, where here the thread that epoll wakes runs the
/// request.
///
/// How a connection is run (`ConnectionLane`): its descriptor is in the epoll set with
/// `EPOLLONESHOT`, so one event goes to one thread and then the descriptor is quiet until that
/// thread re-arms it, after the connection's work is done. Work posted from elsewhere (a write's
/// completion, changes for a subscriber, a timer) puts an idle lane on the run queue and rings the
/// doorbell, an `eventfd` in the same epoll set that wakes one waiting thread per ring.
// @unchecked Sendable: `epoll` and `doorbell` are set in init and only passed to system calls
// (which are thread-safe); everything else that changes is behind a `LockedValue`.
final class ConnectionThreads: @unchecked Sendable {
    /// How many threads serve connections unless told (`--connection-threads`): twice the cores
    /// (`ServerConfiguration.defaultConnectionThreads` says why).
    static var defaultCount: Int { 2 * max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Descriptors these threads hold: the epoll set and the doorbell.
    static let descriptorsHeld = 2

    /// The epoll `data` of the doorbell; a connection's is its descriptor, never negative.
    private static let doorbellMark = UInt64.max

    private struct Shared {
        /// Lanes with work posted while they were idle, in the order they got it.
        var queued: [ConnectionLane] = []
        var queuedHead = 0
        /// Every registered lane, by descriptor.
        var lanes: [Int32: ConnectionLane] = [:]
        var started = false
        var stopping = false
    }

    let count: Int
    /// The threads' name, as `ps -L` and `/proc/PID/task/*/comm` show it (at most 15 bytes).
    let name: String
    private let epoll: Int32
    private let doorbell: Int32
    private let shared = LockedValue(Shared())

    /// Makes the epoll set and the doorbell; the threads start with `start()`.
    /// - Throws: `SocketError` when the process has no descriptor left for them.
    init(count: Int = ConnectionThreads.defaultCount, name: String = "contactsd-conn") throws(SocketError) {
        self.count = max(1, count)
        self.name = String(decoding: name.utf8.prefix(15), as: UTF8.self)
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw SocketError("cannot create the connections' epoll set", errno: errno) }
        doorbell = eventfd(0, Int32(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC))
        guard doorbell >= 0 else {
            let error = errno
            close(epoll)
            throw SocketError("cannot create the connections' eventfd", errno: error)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.doorbellMark
        precondition(epoll_ctl(epoll, EPOLL_CTL_ADD, doorbell, &event) == 0, "epoll_ctl(doorbell): \(errno)")
    }

    deinit {
        // Every thread holds a reference while it runs, and so does every lane: nothing can
        // use the descriptors any more.
        close(doorbell)
        close(epoll)
    }

    /// Starts the threads. Call once.
    func start() {
        shared.withLock { shared in
            precondition(!shared.started, "ConnectionThreads.start() called twice")
            shared.started = true
        }
        for _ in 0..<count {
            BackgroundThread.start(named: name) { [self] in serve() }
        }
    }

    /// Lets every thread finish what it runs and exit. Lanes still registered are not run again
    /// (and are let go, so that nothing keeps this object alive in a cycle).
    func stop() {
        let (wasRunning, dropped) = shared.withLock { shared in
            defer {
                shared.stopping = true
                shared.lanes = [:]
                shared.queued = []
                shared.queuedHead = 0
            }
            return (shared.started && !shared.stopping, (shared.lanes, shared.queued))
        }
        withExtendedLifetime(dropped) {}  // released here, outside the lock
        guard wasRunning else { return }
        for _ in 0..<count { ring() }
    }

    // MARK: Lanes

    /// Adds `lane`'s descriptor to the epoll set, armed for `events`; false (and errno set) when
    /// it could not be added (the threads are stopping, or the kernel refused: `ENOSPC` past
    /// `/proc/sys/fs/epoll/max_user_watches`, `ENOMEM`).
    func register(_ lane: ConnectionLane, events: UInt32) -> Bool {
        let open = shared.withLock { shared in
            guard !shared.stopping else { return false }
            shared.lanes[lane.fd] = lane
            return true
        }
        guard open else {
            errno = ESHUTDOWN
            return false
        }
        var event = Self.oneShotEvent(events, for: lane)
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, lane.fd, &event) == 0 else {
            let error = errno
            shared.withLock { shared in
                if shared.lanes[lane.fd] === lane { shared.lanes[lane.fd] = nil }
            }
            errno = error
            return false
        }
        return true
    }

    /// Arms `lane`'s descriptor again for one event among `events` (none: it stays quiet).
    func arm(_ lane: ConnectionLane, events: UInt32) {
        var event = Self.oneShotEvent(events, for: lane)
        precondition(epoll_ctl(epoll, EPOLL_CTL_MOD, lane.fd, &event) == 0, "epoll_ctl(MOD, \(lane.fd)): \(errno)")
    }

    /// The epoll registration of `lane`: one event among `events`, then quiet until armed again.
    private static func oneShotEvent(_ events: UInt32, for lane: ConnectionLane) -> epoll_event {
        var event = epoll_event()
        event.events = events | EPOLLONESHOT.rawValue
        event.data.u64 = UInt64(lane.fd)
        return event
    }

    /// Takes `lane`'s descriptor out of the epoll set, before it is closed. An event already taken
    /// by another thread may still be looked up by this descriptor, and then finds nothing, or
    /// the next connection given the same number, which only reads or writes and finds nothing
    /// to do: events are hints, never commands.
    func unregister(_ lane: ConnectionLane) {
        shared.withLock { shared in
            if shared.lanes[lane.fd] === lane { shared.lanes[lane.fd] = nil }
        }
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, lane.fd, nil)
    }

    /// Queues an idle lane that was given work, and wakes a thread for it (not once stopped).
    func schedule(_ lane: ConnectionLane) {
        let queued = shared.withLock { shared in
            guard !shared.stopping else { return false }
            shared.queued.append(lane)
            return true
        }
        if queued { ring() }
    }

    /// Runs `answered` on one of the threads, behind the lanes already waiting for one: a
    /// watchdog's proof that the threads are not all wedged.
    func ping(_ answered: @escaping @Sendable () -> Void) {
        // A lane of its own, never registered: it only runs posted work.
        ConnectionLane(fd: -1, threads: self).async(answered)
    }

    // MARK: The threads

    private func ring() {
        var one: UInt64 = 1
        _ = Socket.retryingOnInterrupt { write(doorbell, &one, 8) }
    }

    private func serve() {
        var event = epoll_event()
        while true {
            switch next() {
            case .stop:
                return
            case .lane(let lane):
                // A descriptor that is ready goes first: a run queue that never empties (busy
                // connections yielding, writes completing) must not starve the connections
                // whose input waits in epoll.
                if epoll_wait(epoll, &event, 1, 0) == 1 { take(event) }
                lane.runQueued()
            case .wait:
                let n = epoll_wait(epoll, &event, 1, -1)
                if n == 1 {
                    take(event)
                } else {
                    precondition(n == 0 || errno == EINTR, "epoll_wait: \(errno)")
                }
            }
        }
    }

    /// Handles one event from the epoll set.
    private func take(_ event: epoll_event) {
        if event.data.u64 == Self.doorbellMark {
            // One ring, one thread: the ring is spent here, and the queue is read at the top of
            // the loop (an empty read means another thread took the work first).
            var value: UInt64 = 0
            _ = read(doorbell, &value, 8)
            return
        }
        let fd = Int32(truncatingIfNeeded: event.data.u64)
        guard let lane = shared.withLock({ $0.lanes[fd] }) else { return }
        if lane.ready(events: event.events) { lane.run() }
    }

    private enum Next {
        case stop
        case lane(ConnectionLane)
        case wait
    }

    private func next() -> Next {
        shared.withLock { shared in
            if shared.stopping { return .stop }
            guard shared.queuedHead < shared.queued.count else { return .wait }
            let lane = shared.queued[shared.queuedHead]
            shared.queuedHead += 1
            if shared.queuedHead == shared.queued.count {
                shared.queued.removeAll(keepingCapacity: shared.queued.count < 1024)
                shared.queuedHead = 0
            }
            return .lane(lane)
        }
    }
}
