import ContactStore
import Glibc
import JSONRPC
import MonotonicClock

/// One client connection: reads lines, answers them in order, writes without ever blocking.
///
/// Requests on one connection run one at a time, in order, so responses come back in request
/// order; a write (which waits for group commit) pauses the line queue until it is answered.
/// Different connections run in parallel, each on its own lane (`ConnectionLane`) over the
/// server's fixed set of connection threads (`ConnectionThreads`).
///
/// Memory stays bounded whatever the client does:
/// - input: the framer holds at most one line of `maxRequestBytes`, and reading pauses while
///   queued complete lines pass that much;
/// - output: the next request (or batch element) runs only while unsent output is under
///   `maxOutputBytes`, so a connection holds at most that plus one reply; a batch also waits
///   while the server-wide `OutputBudget` is exhausted;
/// - time: unsent output that does not move for the write timeout, or a partial line with no new
///   byte for the read timeout, closes the connection; a run of requests yields to the other
///   connections every 64 requests or 10 ms.
///
/// Subscriptions (`contacts.subscribe`): the change feed hands this connection its changes
/// (`ChangeSubscriber`); they wait in `SubscriptionQueues` and become notification lines only
/// between whole reply lines (never inside a streamed batch reply), within the output cap.
// @unchecked Sendable: every mutable property below is read and written only on `lane` (its
// read and write handlers run there, and completions hop there with `lane.async`).
final class ClientConnection: @unchecked Sendable {
    /// Runs its body with a read session for a run of requests (nil: each read takes its own).
    typealias ReadSessionScope = @Sendable (_ body: ((any RPCContext)?) -> Void) -> Void

    private enum State {
        case open
        /// No more input will be read (EOF, or the server is draining); finish and close.
        case finishing
        case closed
    }

    let fd: Int32
    private let lane: ConnectionLane
    private let dispatcher: RPCDispatcher
    private let settings: ConnectionSettings
    private let onClose: @Sendable (ClientConnection) -> Void
    private let withSession: ReadSessionScope

    private var state = State.open
    private var framer: LineFramer
    private var lines: [LineFramer.Event] = []
    private var nextLine = 0
    private var queuedBytes = 0
    /// The line being answered, until its whole reply is queued.
    private var run: RPCLineRun?
    /// A deferred request (a write) is running; its completion resumes processing.
    private var awaitingDeferred = false
    /// Processing stopped because this connection's unsent output is over its cap.
    private var pausedForOutput = false
    /// Processing stopped until the server-wide output budget has room.
    private var waitingForBudget = false
    /// The peer closed both directions: a batch stops before its next element.
    private var peerGone = false
    private var output = OutputQueue()
    /// When the last byte arrived while a line is unfinished, and whether its timer is set.
    private var lastByteAt: UInt64 = 0
    private var readTimerArmed = false
    /// Since when unsent output has not moved (nil while there is none), and whether its timer is set.
    private var stuckSince: UInt64?
    private var writeTimerArmed = false
    private var subscriptions: SubscriptionQueues
    /// Bytes ever queued for sending, and ever taken by the socket: the offsets that tell when
    /// a notification has left (`SubscriptionQueues.taken`).
    private var appendedBytes = 0
    private var sentBytes = 0
    /// The context of requests that run without a read session (made once: no allocation per request).
    private lazy var plainContext = RequestContext(session: nil, connection: self)

    private static let readChunk = 16 * 1024

    init(
        fd: Int32, threads: ConnectionThreads, dispatcher: RPCDispatcher, settings: ConnectionSettings,
        withSession: @escaping ReadSessionScope, onClose: @escaping @Sendable (ClientConnection) -> Void
    ) {
        self.withSession = withSession
        self.fd = fd
        self.lane = ConnectionLane(fd: fd, threads: threads)
        self.dispatcher = dispatcher
        self.settings = settings
        self.framer = LineFramer(maxLineBytes: settings.maxRequestBytes)
        self.subscriptions = SubscriptionQueues(maxQueue: settings.maxSubscriptionQueue, pageSize: settings.feed.pageSize)
        self.onClose = onClose
    }

    /// Starts reading. Call once.
    func start() {
        // Writability is wanted only while there is output the socket would not take. The
        // handlers are let go when the connection closes (`ConnectionLane.close`).
        guard lane.start(interest: .read, onReadable: { self.readAvailable() }, onWritable: { self.flush() }) else {
            let why = String(cString: strerror(errno))
            settings.limits.record(.acceptErrors, "closed a new connection that could not be watched (epoll: \(why))")
            lane.async { [self] in closeNow() }
            return
        }
    }

    /// Stops reading new input, answers what was already received, then closes.
    func drain() {
        lane.async { [self] in
            guard state == .open else { return }
            stopReading()
            finishIfDone()
        }
    }

    /// Closes now, whatever is pending (used when draining takes too long).
    func forceClose() {
        lane.async { [self] in closeNow() }
    }

    // MARK: Reading

    private func readAvailable() {
        var total = 0
        var sawEOF = false
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 1) { buffer in
            // Read until the socket is empty, but yield after a while so one busy client
            // cannot starve the others sharing the threads.
            while total < 16 * Self.readChunk, queuedBytes < settings.maxRequestBytes {
                let n = Socket.retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
                if n > 0 {
                    total += n
                    framer.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { event in
                        queuedBytes += Self.cost(of: event)
                        lines.append(event)
                    }
                    // A short read means the socket is drained: skip the read that would only
                    // say EAGAIN. Readiness is level-triggered, so anything later fires again.
                    if n < buffer.count { return }
                } else if n == 0 {
                    sawEOF = true
                    return
                } else {
                    if errno != EAGAIN && errno != EWOULDBLOCK { sawEOF = true }  // reset by peer
                    return
                }
            }
        }
        if sawEOF {
            // A last line without its newline still counts as a request.
            framer.finish { event in
                queuedBytes += Self.cost(of: event)
                lines.append(event)
            }
            peerGone = Socket.peerHungUp(fd)
            stopReading()
        } else if total > 0, framer.isMidLine {
            lastByteAt = MonotonicClock.nanoseconds()
            arm(.read, after: settings.readTimeoutNanoseconds)
        }
        processLines()
    }

    private func stopReading() {
        if state == .open { state = .finishing }
        lane.interest.remove(.read)
    }

    /// Pauses reading while too much input is queued or output is stuck; resumes when it drains.
    private func updateReadInterest() {
        guard state == .open else { return }
        let full = queuedBytes >= settings.maxRequestBytes || output.count >= settings.maxOutputBytes
        if full {
            lane.interest.remove(.read)
        } else {
            lane.interest.insert(.read)
        }
    }

    /// Reading is paused by the server (not by the client's silence).
    private var readPaused: Bool { state == .open && !lane.interest.contains(.read) }

    /// What a queued event is charged against the input cap: its bytes plus a fixed overhead, so
    /// that a flood of tiny lines is bounded too.
    private static func cost(of event: LineFramer.Event) -> Int {
        if case .line(let bytes) = event { return bytes.count + 64 }
        return 64
    }

    // MARK: Processing

    private func processLines() {
        guard state != .closed else { return }
        // While a write is pending nothing runs, but reading must still pause at the input cap
        // (level-triggered readiness would otherwise fire without end).
        if !awaitingDeferred {
            // Several requests at once (pipelining, a batch): they share one read session (one
            // snapshot, one reader), passed to each of them; it takes a reader only when a read
            // first uses it.
            if lines.count - nextLine > 1 || run?.isBatch == true {
                withSession { session in
                    processQueued(context: RequestContext(session: session as? ReadSession, connection: self))
                }
            } else {
                processQueued(context: plainContext)
            }
        }
        if nextLine == lines.count {
            lines.removeAll(keepingCapacity: lines.count < 64)
            nextLine = 0
        }
        updateReadInterest()
        flush()
    }

    /// Answers queued requests, one step at a time, until there is nothing to do, a write is
    /// pending, output is over a cap, or it is time to yield.
    private func processQueued(context: (any RPCContext)?) {
        let sliceStart = MonotonicClock.nanoseconds()
        var steps = 0
        while state != .closed, !awaitingDeferred {
            if run == nil {
                guard nextLine < lines.count else { return }
                let event = lines[nextLine]
                lines[nextLine] = .tooLong  // release the line's bytes now
                nextLine += 1
                queuedBytes -= Self.cost(of: event)
                switch event {
                case .tooLong: run = RPCLineRun(.rejected(dispatcher.oversizedLine(limit: framer.maxLineBytes)))
                case .line(let bytes): run = RPCLineRun(dispatcher.decode(line: bytes))
                }
            }
            let isBatch = run?.isBatch == true
            if isBatch && peerGone {
                // Nobody will read the rest of this batch: stop before its next element.
                run = nil
                continue
            }
            if output.count >= settings.maxOutputBytes {
                pause(batch: isBatch)
                return
            }
            if isBatch && settings.budget.isExhausted {
                waitForBudget()
                return
            }
            if steps >= settings.yieldAfterRequests
                || (steps > 0 && MonotonicClock.nanoseconds() - sliceStart >= settings.yieldAfterNanoseconds)
            {
                // Let the other connections sharing the threads run, then go on.
                lane.yield { [self] in processLines() }
                return
            }
            steps += 1
            switch run!.step(dispatcher, context: context) {
            case .output(let bytes):
                enqueue(bytes)
            case .nothing:
                break
            case .deferred(let deferred):
                awaitingDeferred = true
                deferred.start { [self] bytes in
                    lane.async { [self] in
                        awaitingDeferred = false
                        if let bytes, state != .closed { enqueue(bytes) }
                        processLines()
                    }
                }
            case .done:
                run = nil
                steps -= 1
            }
        }
    }

    private func pause(batch: Bool) {
        if !pausedForOutput, batch {
            settings.limits.record(
                .batchesPaused, level: .notice,
                "a batch waits for its client to read (unsent output over --max-connection-output)")
        }
        pausedForOutput = true
    }

    private func waitForBudget() {
        guard !waitingForBudget else { return }
        waitingForBudget = true
        settings.limits.record(
            .batchesPaused, level: .notice, "batches wait: unsent output of all connections is over --max-output-bytes")
        settings.budget.waitForRoom { [weak self] in
            guard let self else { return }
            lane.async { [self] in
                waitingForBudget = false
                processLines()
            }
        }
    }

    // MARK: Writing

    private func enqueue(_ bytes: [UInt8]) {
        output.append(bytes)
        appendedBytes += bytes.count
        settings.budget.charge(bytes.count)
    }

    private func flush() {
        guard state != .closed else { return }
        if !subscriptions.isEmpty { emitNotifications() }
        let sent: Int
        switch output.send(to: fd) {
        case .broken(let partly):
            // What went out before the peer broke is no longer unsent: give it back too.
            if partly > 0 { settings.budget.release(partly) }
            peerGone = true
            closeNow()
            return
        case .sent(let n):
            sent = n
        }
        if sent > 0 {
            settings.budget.release(sent)
            sentBytes += sent
            if !subscriptions.isEmpty {
                for ready in subscriptions.taken(upTo: sentBytes) { ready() }
            }
        }
        if output.isEmpty {
            stuckSince = nil
            lane.interest.remove(.write)
        } else {
            if sent > 0 || stuckSince == nil { stuckSince = MonotonicClock.nanoseconds() }
            arm(.write, after: settings.writeTimeoutNanoseconds)
            lane.interest.insert(.write)
        }
        if pausedForOutput, output.count < settings.maxOutputBytes {
            // Output was the bottleneck: go on (async, so no recursion).
            pausedForOutput = false
            lane.async { [self] in processLines() }
        }
        updateReadInterest()
        finishIfDone()
    }

    // MARK: Deadlines

    /// The two deadlines: unsent output that does not move, and a partial line that does not grow.
    private enum Deadline {
        case write, read
    }

    private func arm(_ deadline: Deadline, after delay: UInt64) {
        var nanoseconds = delay
        switch deadline {
        case .write:
            guard !writeTimerArmed else { return }
            writeTimerArmed = true
            // The first look comes at half the deadline while anyone subscribes (see `check`).
            if !subscriptions.isEmpty { nanoseconds = nanoseconds / 2 }
        case .read:
            guard !readTimerArmed else { return }
            readTimerArmed = true
        }
        lane.async(afterNanoseconds: nanoseconds) { [weak self] in
            self?.check(deadline)
        }
    }

    /// Closes the connection if the deadline has passed, else sets the timer for what is left.
    private func check(_ deadline: Deadline) {
        let now = MonotonicClock.nanoseconds()
        let since: UInt64
        let timeout: UInt64
        switch deadline {
        case .write:
            writeTimerArmed = false
            guard state != .closed, let stuckSince else { return }
            (since, timeout) = (stuckSince, settings.writeTimeoutNanoseconds)
            // Subscribers whose notifications have not moved for half the deadline are dropped
            // first, so they hear of it before the deadline could close the connection.
            if now - stuckSince >= timeout / 2, !subscriptions.isEmpty {
                let stuck = subscriptions.waiting
                for id in stuck { dropSubscription(id, reason: "queue_full") }
                if !stuck.isEmpty { flush() }
            }
        case .read:
            readTimerArmed = false
            guard state == .open, framer.isMidLine else { return }
            // While reading is paused by the server, the client is not the one keeping the line open.
            if readPaused { lastByteAt = now }
            (since, timeout) = (lastByteAt, settings.readTimeoutNanoseconds)
        }
        let waited = now - since
        guard waited >= timeout else {
            let half = timeout / 2
            let early = deadline == .write && waited < half && !subscriptions.isEmpty
            arm(deadline, after: early ? half - waited : timeout - waited)
            return
        }
        switch deadline {
        case .write:
            settings.limits.record(
                .writeTimeouts,
                "closed a connection whose unsent output (\(output.count) bytes) did not move for \(seconds(timeout)) s (--write-timeout)")
        case .read:
            settings.limits.record(
                .readTimeouts,
                "closed a connection that left a request line unfinished for \(seconds(timeout)) s (--read-timeout)")
        }
        closeNow()
    }

    private func seconds(_ nanoseconds: UInt64) -> String {
        let tenths = nanoseconds / 100_000_000
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
    }

    // MARK: Closing

    private func finishIfDone() {
        if state == .finishing, !awaitingDeferred, run == nil, nextLine >= lines.count, output.isEmpty {
            closeNow()
        }
    }

    private func closeNow() {
        guard state != .closed else { return }
        if state == .open { stopReading() }
        state = .closed
        settings.budget.release(output.count)
        output.removeAll()
        settings.feed.unsubscribe(keys: subscriptions.keys)
        subscriptions = SubscriptionQueues(maxQueue: subscriptions.maxQueue, pageSize: subscriptions.pageSize)
        lines = []
        run = nil
        // Out of the epoll set before the descriptor is closed, and closed on the lane, so no
        // handler of this connection can ever see a closed (or reused) descriptor.
        lane.close()
        close(fd)
        onClose(self)
    }
}

// MARK: - Subscriptions

extension ClientConnection: ChangeSubscriber {
    /// Starts a subscription on this connection (from `contacts.subscribe`, on the connection's
    /// lane); returns its id.
    func subscribe(filter: ChangeFilter, after cursor: Int64) -> String {
        let key = settings.feed.makeKey()
        let id = subscriptions.add(key: key, startingAt: cursor)
        settings.feed.subscribe(key: key, id: id, subscriber: self, filter: filter, after: cursor)
        return id
    }

    /// Ends a subscription at once (from `contacts.unsubscribe`, on the connection's lane):
    /// nothing more is sent for it, not even what was pending. False for an unknown id.
    func unsubscribe(_ id: String) -> Bool {
        guard let key = subscriptions.remove(id) else { return false }
        settings.feed.unsubscribe(keys: [key])
        return true
    }

    func receive(subscription id: String, changes: [Change], ready: (@Sendable () -> Void)?) {
        lane.async { [self] in
            guard state != .closed else { return }
            if let key = subscriptions.receive(id, changes, ready: ready) {
                dropped(key: key)
            }
            flush()
        }
    }

    func lost(subscription id: String, reason: String) {
        lane.async { [self] in
            guard state != .closed else { return }
            subscriptions.drop(id, reason: reason)
            flush()
        }
    }

    /// Drops a subscription whose client does not keep up: its notice goes out at the next line
    /// boundary, and the feed forgets it now.
    private func dropSubscription(_ id: String, reason: String) {
        guard let key = subscriptions.entries[id]?.key else { return }
        subscriptions.drop(id, reason: reason)
        dropped(key: key)
    }

    private func dropped(key: Int) {
        settings.feed.unsubscribe(keys: [key])
        settings.limits.record(
            .subscriptionsDropped, level: .notice,
            "dropped a subscription whose client did not keep up (--max-subscription-queue, or output stuck for half of --write-timeout)")
    }

    /// Turns pending changes into notification lines, only between whole reply lines.
    private func emitNotifications() {
        guard run == nil else { return }
        let cap = settings.maxOutputBytes
        let due = subscriptions.emit(hasRoom: { output.count < cap }) { bytes in
            enqueue(bytes)
            return appendedBytes
        }
        for ready in due { ready() }
    }
}

/// What a request run on a connection shares with its methods: the read session of the run (if
/// any) and the connection itself (for `contacts.subscribe`).
final class RequestContext: Sendable {
    let session: ReadSession?
    /// Unowned: a context lives only while its connection runs the request.
    unowned let connection: ClientConnection

    init(session: ReadSession?, connection: ClientConnection) {
        self.session = session
        self.connection = connection
    }
}

extension Params {
    /// The read session to read in: the run's, when the caller gave one (`RequestContext`, or a
    /// bare `ReadSession` from a tool that drives the dispatcher itself).
    var readSession: ReadSession? {
        (context as? RequestContext)?.session ?? context as? ReadSession
    }
}
