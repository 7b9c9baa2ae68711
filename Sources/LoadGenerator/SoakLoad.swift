import ContactStore
import Locking

import Glibc

/// How to drive the soak load (`contacts-bench soak`, run by `tools/soak`).
public struct SoakConfiguration: Sendable {
    public var socketPath: String
    /// Requests a second in all, paced (an open schedule, one request in flight per connection).
    public var rate: Double
    public var connections: Int
    /// Client threads; each drives its share of the connections and of the rate with poll(2).
    public var threads: Int
    public var seconds: Double
    /// Seconds per reported window.
    public var window: Double
    /// The task runner's `--max-age`, in seconds: a contact older than that may be purged.
    public var maxAge: Double
    /// Requests a connection sends on average (uniform in 1...2n) before it closes and reconnects.
    public var churnEvery: Int

    public init(
        socketPath: String, rate: Double, connections: Int = 16, threads: Int = 2, seconds: Double, window: Double = 10,
        maxAge: Double, churnEvery: Int = 200
    ) {
        self.socketPath = socketPath
        self.rate = rate
        self.connections = connections
        self.threads = threads
        self.seconds = seconds
        self.window = window
        self.maxAge = maxAge
        self.churnEvery = churnEvery
    }

    /// Gets and updates of the load's own contacts pick those acknowledged at most `maxAge -
    /// liveMargin` ago: the purger cannot have removed them, so a 404 for one is a failure.
    var liveMargin: Double { 3 }
    /// One get in twenty asks for a contact acknowledged more than `maxAge + expiredMargin` ago:
    /// the purger (1 s ticks) must have removed it, so 404 is the expected answer.
    var expiredMargin: Double { 10 }
}

/// What one window (or the whole soak) saw.
public struct SoakWindow: Sendable {
    /// 0 for the first window.
    public var index: Int
    public var requests: UInt64 = 0
    /// Error answers that no request of the soak should get, and connections the server closed.
    public var unexpectedErrors: UInt64 = 0
    /// 404 for a get of a contact older than the purge age (the purger removed it).
    public var expectedNotFound: UInt64 = 0
    /// Gets of contacts past the purge age (plus a margin) that were still there.
    public var unpurged: UInt64 = 0
    /// Connections closed by the load and opened again.
    public var reconnects: UInt64 = 0
    public var latency = LatencyHistogram()
    /// The first unexpected answer (or event) of the window.
    public var firstUnexpected: String?

    public init(index: Int) { self.index = index }

    /// Adds another thread's counts of the same window.
    public mutating func merge(_ other: SoakWindow) {
        requests += other.requests
        unexpectedErrors += other.unexpectedErrors
        expectedNotFound += other.expectedNotFound
        unpurged += other.unpurged
        reconnects += other.reconnects
        latency.merge(other.latency)
        firstUnexpected = firstUnexpected ?? other.firstUnexpected
    }
}

/// The soak's load: the mix of `Scenario.mix` (80% get, 10% create, 5% update, 5% list) at a
/// fixed rate over connections that keep closing and reopening, on contacts the load itself
/// creates while `contacts-tasks` purges them after `maxAge`, so the store stays at a steady size.
/// Every answer is classified: see `SoakWindow`.
public enum SoakLoad {
    /// Runs the load and calls `report` (on the calling thread) with each window as soon as every
    /// thread has finished it, and returns the whole run's counts.
    public static func run(_ configuration: SoakConfiguration, report: (SoakWindow) -> Void) throws -> SoakWindow {
        let threads = max(1, min(configuration.threads, configuration.connections))
        let board = WindowBoard(threads: threads)
        let failures = LockedValue<[String]>([])
        let run = String(LoadGenerator.now() % 1_000_000_007, radix: 36)
        let start = LoadGenerator.now()
        var handles: [pthread_t] = []
        for index in 0..<threads {
            let count = (configuration.connections - index + threads - 1) / threads
            let job = ThreadJob {
                do {
                    var lane = try SoakLane(
                        configuration, connections: count, rate: configuration.rate / Double(threads),
                        tag: "\(run)t\(index)", seed: UInt64(index + 1) &* 0x9E37_79B9, start: start, board: board)
                    try lane.drive()
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                board.finish()
            }
            handles.append(job.start())
        }
        var total = SoakWindow(index: -1)
        var next = 0
        while true {
            if let window = board.take(next) {
                report(window)
                total.merge(window)
                next += 1
            } else if board.isEmptyAndFinished {
                break
            } else {
                usleep(100_000)
            }
        }
        for handle in handles { pthread_join(handle, nil) }
        if let failure = failures.withLock({ $0.first }) { throw LoadError(failure) }
        return total
    }
}

/// Where the threads leave their finished windows for the reporting thread.
private final class WindowBoard: Sendable {
    private struct State {
        var windows: [Int: SoakWindow] = [:]
        var flushes: [Int: Int] = [:]
        var finished = 0
    }
    private let threads: Int
    private let state = LockedValue(State())

    init(threads: Int) { self.threads = threads }

    func flush(_ window: SoakWindow) {
        state.withLock {
            $0.windows[window.index, default: SoakWindow(index: window.index)].merge(window)
            $0.flushes[window.index, default: 0] += 1
        }
    }

    func finish() { state.withLock { $0.finished += 1 } }

    var isEmptyAndFinished: Bool { state.withLock { $0.finished == threads && $0.windows.isEmpty } }

    /// The window once every thread flushed it (or every thread ended: one that failed flushes
    /// no more), removed from the board.
    func take(_ index: Int) -> SoakWindow? {
        state.withLock {
            guard let window = $0.windows[index], $0.flushes[index, default: 0] == threads || $0.finished == threads
            else { return nil }
            $0.windows[index] = nil
            return window
        }
    }
}

/// One thread's connections, its share of the rate, and the contacts it created.
private struct SoakLane {
    private enum Request {
        case create(String)
        case get, update, list
        case getExpired
    }

    private final class Connection: LoadConnection {
        var pending: Request?
        var remaining = 0
    }

    private let configuration: SoakConfiguration
    private let tag: String
    private let board: WindowBoard
    private let start: UInt64
    private let windowNanoseconds: UInt64
    private let interval: UInt64
    private var connections: [Connection] = []
    private var generator: XorShift64
    private var counter = 0
    /// Usernames this lane created, with the time of their acknowledgement, oldest first;
    /// `oldest` is the index of the first one still kept.
    private var created: [(name: String, at: UInt64)] = []
    private var oldest = 0
    private var window: SoakWindow

    init(
        _ configuration: SoakConfiguration, connections count: Int, rate: Double, tag: String, seed: UInt64,
        start: UInt64, board: WindowBoard
    ) throws {
        self.configuration = configuration
        self.tag = tag
        self.board = board
        self.start = start
        self.generator = XorShift64(seed: seed)
        self.windowNanoseconds = UInt64(configuration.window * 1e9)
        self.interval = UInt64(1e9 / max(rate, 0.001))
        self.window = SoakWindow(index: 0)
        for _ in 0..<count {
            connections.append(Connection(fd: try LoadGenerator.connect(configuration.socketPath)))
        }
        for connection in connections { connection.remaining = lifetime() }
    }

    mutating func drive() throws {
        let end = start + UInt64(configuration.seconds * 1e9)
        var nextSend = start
        var pollSet = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var stopping = false
        var first = 0
        while true {
            var time = LoadGenerator.now()
            rollWindow(at: time)
            if time >= end { stopping = true }
            // Pace: send what the schedule owes to idle connections, starting at a rotating one;
            // after a stall, at most 100 ms of the schedule is made up.
            if nextSend + 100_000_000 < time { nextSend = time - 100_000_000 }
            var busy = 0
            for step in 0..<connections.count {
                let connection = connections[(first + step) % connections.count]
                if connection.pending == nil && !stopping && nextSend <= time {
                    send(on: connection, at: time)
                    nextSend += interval
                }
                if connection.pending != nil { busy += 1 }
            }
            first = (first + 1) % connections.count
            for (index, connection) in connections.enumerated() {
                if let error = connection.sendSome() { try replace(connection, because: "send failed: errno \(error)") }
                pollSet[index].fd = connection.fd
                pollSet[index].events = Int16(POLLIN) | (connection.hasUnsent ? Int16(POLLOUT) : 0)
                pollSet[index].revents = 0
            }
            if stopping && busy == 0 { break }
            if stopping && time >= end + 10_000_000_000 {
                unexpected("\(busy) requests unanswered 10 s after the end")
                break
            }
            time = LoadGenerator.now()
            // Poll's resolution is 1 ms: the schedule is then kept in bursts of a millisecond's worth.
            let owed = nextSend > time ? Int32(min(max((nextSend - time) / 1_000_000, 1), 50)) : 0
            let wait = stopping || busy == connections.count ? 50 : owed
            let ready = poll(&pollSet, nfds_t(pollSet.count), wait)
            if ready < 0 && errno != EINTR { throw LoadError("poll failed: errno \(errno)") }
            for (index, connection) in connections.enumerated()
            where pollSet[index].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = chunk.withUnsafeMutableBytes { read(connection.fd, $0.baseAddress, $0.count) }
                if n == 0 {
                    try replace(connection, because: "the server closed a connection")
                    continue
                }
                if n < 0 {
                    if errno == EAGAIN { continue }
                    try replace(connection, because: "read failed: errno \(errno)")
                    continue
                }
                var lineStart = 0
                for offset in 0..<n where chunk[offset] == UInt8(ascii: "\n") {
                    connection.input += chunk[lineStart..<offset]
                    lineStart = offset + 1
                    try answered(connection, line: connection.input)
                    connection.input.removeAll(keepingCapacity: true)
                }
                if lineStart < n { connection.input += chunk[lineStart..<n] }
            }
        }
        // Answers after the end count in the last window.
        rollWindow(at: end)
        board.flush(window)
    }

    // MARK: Requests

    private mutating func send(on connection: Connection, at time: UInt64) {
        counter += 1
        let live = liveRange(at: time)
        var request: Request
        switch counter % 20 {
        case 0, 1: request = .create("s-\(tag)-\(counter)")
        case 2: request = .list
        case 3: request = .update
        case 4: request = .getExpired
        default: request = .get
        }
        if case .getExpired = request, expiredCount(at: time) == 0 { request = .get }
        if live.isEmpty {
            switch request {
            case .create, .list: break
            default: request = .create("s-\(tag)-\(counter)")
            }
        }
        let id = counter
        let line: String
        switch request {
        case .create(let name):
            line = #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.create","params":{"username":"\#(name)","first_name":"Soak","last_name":"Test","emails":["\#(name)@example.com"]}}"#
        case .get:
            line = #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.get","params":{"username":"\#(pick(live))"}}"#
        case .getExpired:
            let name = created[oldest + Int(random() % UInt64(expiredCount(at: time)))].name
            line = #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.get","params":{"username":"\#(name)"}}"#
        case .update:
            line = #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.update","params":{"username":"\#(pick(live))","last_name":"Soak\#(id % 100)"}}"#
        case .list:
            let after = live.isEmpty ? "" : #","cursor":"\#(ListCursor.encode(after: pick(live)))""#
            line = #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.list","params":{"limit":50\#(after)}}"#
        }
        connection.output.removeAll(keepingCapacity: true)
        connection.output += Array(line.utf8)
        connection.output.append(UInt8(ascii: "\n"))
        connection.written = 0
        connection.pending = request
        connection.sentAt = time
    }

    private mutating func answered(_ connection: Connection, line: [UInt8]) throws {
        let time = LoadGenerator.now()
        let code = Self.errorCode(line[...])
        switch connection.pending {
        case .create(let name)? where code == nil:
            created.append((name, time))
        case .getExpired? where code == nil:
            window.unpurged += 1
            window.firstUnexpected = window.firstUnexpected ?? "not purged: " + String(decoding: line.prefix(300), as: UTF8.self)
        case .getExpired? where code == 404:
            window.expectedNotFound += 1
        case nil:
            unexpected("an answer to no request: " + String(decoding: line.prefix(300), as: UTF8.self))
        default:
            if code != nil { unexpected(String(decoding: line.prefix(300), as: UTF8.self)) }
        }
        window.requests += 1
        window.latency.record(nanoseconds: time - connection.sentAt)
        connection.pending = nil
        connection.remaining -= 1
        if connection.remaining <= 0 {
            window.reconnects += 1
            try reconnect(connection)
        }
        forgetOld(at: time)
    }

    /// Replaces a connection that failed: counted as unexpected, and its request as unanswered.
    private mutating func replace(_ connection: Connection, because reason: String) throws {
        unexpected(reason)
        connection.pending = nil
        try reconnect(connection)
    }

    private mutating func reconnect(_ connection: Connection) throws {
        close(connection.fd)
        connection.fd = try LoadGenerator.connect(configuration.socketPath)
        connection.input.removeAll(keepingCapacity: true)
        connection.output.removeAll(keepingCapacity: true)
        connection.written = 0
        connection.remaining = lifetime()
    }

    private mutating func unexpected(_ what: String) {
        window.unexpectedErrors += 1
        window.firstUnexpected = window.firstUnexpected ?? what
    }

    private mutating func rollWindow(at time: UInt64) {
        let last = Int((configuration.seconds * 1e9 / Double(windowNanoseconds)).rounded(.up)) - 1
        let index = min(Int((time - start) / windowNanoseconds), max(last, 0))
        while window.index < index {
            board.flush(window)
            window = SoakWindow(index: window.index + 1)
        }
    }

    // MARK: The contacts this lane created

    /// Indices of the contacts young enough that the purger cannot have removed them.
    private func liveRange(at time: UInt64) -> Range<Int> {
        let limit = UInt64((configuration.maxAge - configuration.liveMargin) * 1e9)
        return firstIndex(ackedAfter: time > limit ? time - limit : 0)..<created.count
    }

    /// How many kept contacts (from `oldest` on) are past the purge age and its margin.
    private func expiredCount(at time: UInt64) -> Int {
        let age = UInt64((configuration.maxAge + configuration.expiredMargin) * 1e9)
        return time > age ? firstIndex(ackedAfter: time - age) - oldest : 0
    }

    /// The first kept index acknowledged at or after `moment` (binary search: `created` is in order).
    private func firstIndex(ackedAfter moment: UInt64) -> Int {
        var low = oldest
        var high = created.count
        while low < high {
            let middle = (low + high) / 2
            if created[middle].at < moment { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Drops contacts acknowledged more than a minute past the expired margin, and compacts.
    private mutating func forgetOld(at time: UInt64) {
        let keep = UInt64((configuration.maxAge + configuration.expiredMargin + 60) * 1e9)
        guard time > keep else { return }
        oldest = firstIndex(ackedAfter: time - keep)
        if oldest > 4096 && oldest * 2 > created.count {
            created.removeFirst(oldest)
            oldest = 0
        }
    }

    private mutating func pick(_ range: Range<Int>) -> String {
        created[range.lowerBound + Int(random() % UInt64(range.count))].name
    }

    private mutating func lifetime() -> Int {
        1 + Int(random() % UInt64(2 * max(configuration.churnEvery, 1)))
    }

    private mutating func random() -> UInt64 { generator.next() }

    /// The code of an error answer (`"error":{"code":N`), or nil for a result.
    static func errorCode(_ line: ArraySlice<UInt8>) -> Int? {
        let needle = Array(#""error":{"code":"#.utf8)
        guard line.count >= needle.count else { return nil }
        var index = line.startIndex
        while index <= line.endIndex - needle.count {
            if line[index] == needle[0] && line[index..<(index + needle.count)].elementsEqual(needle) {
                let isDigit = { (byte: UInt8) in byte == UInt8(ascii: "-") || (48...57).contains(byte) }
                var digits = line[(index + needle.count)...].prefix(while: isDigit)
                let negative = digits.first == UInt8(ascii: "-")
                if negative { digits = digits.dropFirst() }
                let value = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
                return negative ? -value : value
            }
            index += 1
        }
        return nil
    }
}
