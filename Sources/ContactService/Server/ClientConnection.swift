import Dispatch
import JSONRPC

import Glibc

/// One client connection: reads lines, answers them in order, writes without ever blocking.
///
/// Requests on one connection run one at a time, in order, so responses come back in request
/// order; a write (which waits for group commit) pauses the line queue until it is answered.
/// Different connections run in parallel on their own serial queues.
///
/// Memory stays bounded: the framer holds at most one line of `maxRequestBytes`, reading stops
/// while queued lines or unsent output pass their caps, and resumes when they drain.
// @unchecked Sendable: every mutable property below is read and written only on `queue`
// (source handlers run there, and completions hop there with `queue.async`).
final class ClientConnection: @unchecked Sendable {
    private enum State {
        case open
        /// No more input will be read (EOF, or the server is draining); finish and close.
        case finishing
        case closed
    }

    let fd: Int32
    private let queue: DispatchQueue
    private let dispatcher: RPCDispatcher
    private let readSource: any DispatchSourceRead
    private let writeSource: any DispatchSourceWrite
    private let onClose: @Sendable (ClientConnection) -> Void
    private let batchScope: @Sendable (() -> Void) -> Void

    private var state = State.open
    private var framer: LineFramer
    private var lines: [LineFramer.Event] = []
    private var nextLine = 0
    private var queuedBytes = 0
    private var busy = false
    private var output: [UInt8] = []
    private var readSuspended = false
    private var writeSuspended = true
    private var cancelledSources = 0

    /// Queued input (complete lines) above which reading pauses.
    private let maxQueuedBytes: Int
    /// Unsent output above which no further line is started.
    private static let maxOutputBytes = 1 << 20
    private static let readChunk = 16 * 1024

    init(
        fd: Int32, target: DispatchQueue, dispatcher: RPCDispatcher, maxRequestBytes: Int,
        batchScope: @escaping @Sendable (() -> Void) -> Void, onClose: @escaping @Sendable (ClientConnection) -> Void
    ) {
        self.batchScope = batchScope
        self.fd = fd
        self.queue = DispatchQueue(label: "contacts.connection", target: target)
        self.dispatcher = dispatcher
        self.framer = LineFramer(maxLineBytes: maxRequestBytes)
        self.maxQueuedBytes = maxRequestBytes
        self.onClose = onClose
        self.readSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        self.writeSource = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
    }

    /// Starts reading. Call once.
    func start() {
        readSource.setEventHandler { [unowned self] in self.readAvailable() }
        writeSource.setEventHandler { [unowned self] in self.flush() }
        // The descriptor is closed only once both sources are cancelled, so neither handler
        // can ever see a closed (or reused) descriptor.
        let cancelled: @Sendable () -> Void = { [self] in
            self.cancelledSources += 1
            if self.cancelledSources == 2 {
                close(self.fd)
                self.onClose(self)
            }
        }
        readSource.setCancelHandler(handler: cancelled)
        writeSource.setCancelHandler(handler: cancelled)
        readSource.activate()
        // The write source stays suspended until there is output the socket would not take.
    }

    /// Stops reading new input, answers what was already received, then closes.
    func drain() {
        queue.async { [self] in
            guard state == .open else { return }
            stopReading()
            finishIfDone()
        }
    }

    /// Closes now, whatever is pending (used when draining takes too long).
    func forceClose() {
        queue.async { [self] in closeNow() }
    }

    // MARK: Reading

    private func readAvailable() {
        var total = 0
        var sawEOF = false
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 1) { buffer in
            // Read until the socket is empty, but yield after a while so one busy client
            // cannot starve the others sharing the thread pool.
            while total < 16 * Self.readChunk, queuedBytes < maxQueuedBytes {
                let n = Socket.retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
                if n > 0 {
                    total += n
                    framer.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { event in
                        queuedBytes += Self.cost(of: event)
                        lines.append(event)
                    }
                    // A short read means the socket is drained: skip the read that would only
                    // say EAGAIN. The source is level-triggered, so anything later fires again.
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
            framer.finish { event in lines.append(event) }
            stopReading()
        }
        processLines()
    }

    private func stopReading() {
        if state == .open { state = .finishing }
        if readSuspended {
            readSource.resume()  // a suspended source must be resumed before it is cancelled
            readSuspended = false
        }
        readSource.cancel()
    }

    // MARK: Processing

    /// What a queued event is charged against the input cap: its bytes plus a fixed overhead, so
    /// that a flood of tiny lines is bounded too.
    private static func cost(of event: LineFramer.Event) -> Int {
        if case .line(let bytes) = event { return bytes.count + 64 }
        return 64
    }

    private func processLines() {
        // Several requests at once (pipelining): let them share one read snapshot.
        if lines.count - nextLine > 1 {
            batchScope { processQueuedLines() }
        } else {
            processQueuedLines()
        }
        if nextLine == lines.count {
            lines.removeAll(keepingCapacity: lines.count < 64)
            nextLine = 0
        }
        updateReadInterest()
        flush()
    }

    private func processQueuedLines() {
        while !busy, nextLine < lines.count, output.count < Self.maxOutputBytes, state != .closed {
            let event = lines[nextLine]
            lines[nextLine] = .tooLong  // release the line's bytes now
            nextLine += 1
            switch event {
            case .tooLong:
                queuedBytes -= Self.cost(of: event)
                output.append(contentsOf: dispatcher.oversizedLine(limit: framer.maxLineBytes))
            case .line(let bytes):
                queuedBytes -= Self.cost(of: event)
                let handling = dispatcher.handle(line: bytes, resume: { [queue] work in queue.async(execute: work) }) {
                    [self] reply in
                    queue.async { [self] in
                        busy = false
                        if let reply { output.append(contentsOf: reply) }
                        processLines()
                    }
                }
                switch handling {
                case .reply(let reply): output.append(contentsOf: reply)
                case .noReply: break
                case .pending: busy = true
                }
            }
        }
    }

    /// Pauses reading while too much input is queued or output is stuck; resumes when it drains.
    private func updateReadInterest() {
        guard state == .open else { return }
        let full = queuedBytes >= maxQueuedBytes || output.count >= Self.maxOutputBytes
        if full && !readSuspended {
            readSource.suspend()
            readSuspended = true
        } else if !full && readSuspended {
            readSuspended = false
            readSource.resume()
        }
    }

    // MARK: Writing

    private func flush() {
        guard state != .closed else { return }
        var written = 0
        var broken = false
        output.withUnsafeBytes { bytes in
            while written < bytes.count {
                guard let n = Socket.writeSome(fd, UnsafeRawBufferPointer(rebasing: bytes[written...])) else {
                    broken = true
                    return
                }
                if n == 0 { return }
                written += n
            }
        }
        if broken {
            closeNow()
            return
        }
        if written > 0 { output.removeFirst(written) }
        if output.isEmpty {
            if !writeSuspended {
                writeSource.suspend()
                writeSuspended = true
            }
            // Output was the bottleneck: go on with queued lines (async, so no recursion), and
            // read again if output was what had paused reading.
            if written > 0 && nextLine < lines.count { queue.async { [self] in processLines() } }
            updateReadInterest()
            finishIfDone()
        } else if writeSuspended {
            writeSuspended = false
            writeSource.resume()
        }
    }

    private func finishIfDone() {
        if state == .finishing, !busy, nextLine >= lines.count, output.isEmpty {
            closeNow()
        }
    }

    private func closeNow() {
        guard state != .closed else { return }
        if state == .open { stopReading() }
        state = .closed
        output = []
        lines = []
        if writeSuspended {
            writeSource.resume()
            writeSuspended = false
        }
        writeSource.cancel()
    }
}
