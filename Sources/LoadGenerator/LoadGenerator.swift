import Locking

import Glibc

import MonotonicClock
import UnixSocketAddress

/// How to drive the load.
public struct LoadConfiguration: Sendable {
    public var socketPath: String
    public var scenario: Scenario
    public var connections: Int
    /// Requests in flight per connection (1 = unpipelined).
    public var pipeline: Int
    public var seconds: Double
    /// Seconds at the start that are run but not measured.
    public var warmup: Double
    /// Client threads; each drives connections/threads connections with poll(2).
    public var threads: Int
    /// Contacts seeded as user0000000…, for gets, updates and lists.
    public var seeded: Int
    /// The first seeded index to use (to stay clear of contacts being purged).
    public var firstSeeded = 0
    /// Parse every response fully and check its id and result (slower; off for measurements).
    public var verify: Bool
    /// Also follow the change log on a connection of its own (`contacts.subscribe`) from the head
    /// before the load, warm-up included, and report what arrived (`LoadResult.subscriber`).
    public var subscriber = false
    /// Seconds the subscriber may take after the load to receive the changes still on their way.
    public var subscriberDrainSeconds: Double = 5

    public init(
        socketPath: String, scenario: Scenario, connections: Int, pipeline: Int = 1, seconds: Double = 5,
        warmup: Double = 1, threads: Int = 2, seeded: Int = 10_000, verify: Bool = false
    ) {
        self.socketPath = socketPath
        self.scenario = scenario
        self.connections = connections
        self.pipeline = pipeline
        self.seconds = seconds
        self.warmup = warmup
        self.threads = threads
        self.seeded = seeded
        self.verify = verify
    }
}

/// What a run measured.
public struct LoadResult: Sendable {
    public var requests: UInt64 = 0
    public var errors: UInt64 = 0
    public var seconds: Double = 0
    public var latency = LatencyHistogram()
    /// The first error response seen, for the report.
    public var firstError: String?
    /// The measured window, in monotonic nanoseconds (`LoadGenerator.now()`).
    public var measured: Range<UInt64> = 0..<0
    /// What the subscriber saw, when `LoadConfiguration.subscriber` is set.
    public var subscriber: SubscriberResult?

    public var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
}

/// A closed-loop load generator over Unix sockets: each connection sends `pipeline` requests,
/// waits for all answers, and starts again. Responses are scanned for newlines (and for an
/// error member), not parsed, unless `verify` is set.
public enum LoadGenerator {
    /// Runs the load and merges every thread's measurements; with `subscriber`, a subscriber
    /// follows every change the load makes.
    public static func run(_ configuration: LoadConfiguration) throws -> LoadResult {
        guard configuration.subscriber else { return try runLoad(configuration) }
        let headBefore = try SubscriberMeter.headSeq(socketPath: configuration.socketPath)
        let meter = try SubscriberMeter(socketPath: configuration.socketPath, since: headBefore)
        var result: LoadResult
        do {
            result = try runLoad(configuration)
        } catch {
            _ = try? meter.finish(through: headBefore, window: 0..<0, timeout: 0)
            throw error
        }
        let headAfter = try SubscriberMeter.headSeq(socketPath: configuration.socketPath)
        result.subscriber = try meter.finish(
            through: headAfter, window: result.measured, timeout: configuration.subscriberDrainSeconds)
        return result
    }

    private static func runLoad(_ configuration: LoadConfiguration) throws -> LoadResult {
        let threads = max(1, min(configuration.threads, configuration.connections))
        let results = LockedValue<[LoadResult]>([])
        let failures = LockedValue<[String]>([])
        var handles: [pthread_t] = []
        // Creates must not collide with an earlier run's names on the same database.
        let run = String(now() % 1_000_000_007, radix: 36)
        for index in 0..<threads {
            let mine = stride(from: index, to: configuration.connections, by: threads).map { $0 }
            let job = ThreadJob {
                do {
                    let result = try drive(configuration, connections: mine.count, tag: "\(run)t\(index)", seed: UInt64(index + 1) &* 0x9E37_79B9)
                    results.withLock { $0.append(result) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            handles.append(job.start())
        }
        for handle in handles { pthread_join(handle, nil) }
        if let failure = failures.withLock({ $0.first }) { throw LoadError(failure) }
        var total = LoadResult()
        for result in results.withLock({ $0 }) {
            total.requests += result.requests
            total.errors += result.errors
            total.seconds = max(total.seconds, result.seconds)
            total.latency.merge(result.latency)
            total.firstError = total.firstError ?? result.firstError
            // The threads' windows differ by their start-up times: their union is the load's.
            let from = min(total.measured.isEmpty ? .max : total.measured.lowerBound, result.measured.lowerBound)
            total.measured = from..<max(total.measured.upperBound, result.measured.upperBound)
        }
        return total
    }

    private final class Connection: LoadConnection {
        var outstanding = 0
        var builder: RequestBuilder

        init(fd: Int32, builder: RequestBuilder) {
            self.builder = builder
            super.init(fd: fd)
        }
    }

    private static func drive(_ configuration: LoadConfiguration, connections count: Int, tag: String, seed: UInt64) throws -> LoadResult {
        var connections: [Connection] = []
        for index in 0..<count {
            let fd = try connect(configuration.socketPath)
            connections.append(Connection(
                fd: fd,
                builder: RequestBuilder(
                    scenario: configuration.scenario, seeded: configuration.seeded, firstSeeded: configuration.firstSeeded, tag: "\(tag)c\(index)", seed: seed &+ UInt64(index))))
        }
        var result = LoadResult()
        let start = now()
        let measureFrom = start + UInt64(configuration.warmup * 1e9)
        let end = measureFrom + UInt64(configuration.seconds * 1e9)
        var pollSet = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var stopping = false
        while true {
            let time = now()
            if time >= end { stopping = true }
            var active = false
            for (index, connection) in connections.enumerated() {
                if connection.outstanding == 0 && !stopping {
                    connection.output.removeAll(keepingCapacity: true)
                    connection.written = 0
                    for _ in 0..<configuration.pipeline { connection.builder.append(to: &connection.output) }
                    connection.outstanding = configuration.pipeline
                    connection.sentAt = now()
                }
                if let error = connection.sendSome() { throw LoadError("send failed: errno \(error)") }
                pollSet[index].events = Int16(POLLIN) | (connection.hasUnsent ? Int16(POLLOUT) : 0)
                if connection.outstanding > 0 { active = true }
            }
            if stopping && !active { break }
            let ready = poll(&pollSet, nfds_t(pollSet.count), 1000)
            if ready < 0 && errno != EINTR { throw LoadError("poll failed: errno \(errno)") }
            for (index, connection) in connections.enumerated() where pollSet[index].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = chunk.withUnsafeMutableBytes { read(connection.fd, $0.baseAddress, $0.count) }
                if n == 0 { throw LoadError("the server closed a connection") }
                if n < 0 { if errno == EAGAIN { continue } else { throw LoadError("read failed: errno \(errno)") } }
                let arrived = now()
                var lineStart = 0
                for offset in 0..<n where chunk[offset] == UInt8(ascii: "\n") {
                    // Scan the complete line: the part held from earlier reads plus this part.
                    let isError: Bool
                    if connection.input.isEmpty {
                        isError = containsError(chunk[lineStart..<offset])
                        if configuration.verify { try verify(Array(chunk[lineStart..<offset])) }
                    } else {
                        connection.input += chunk[lineStart..<offset]
                        isError = containsError(connection.input[...])
                        if configuration.verify { try verify(connection.input) }
                        connection.input.removeAll(keepingCapacity: true)
                    }
                    lineStart = offset + 1
                    connection.outstanding -= 1
                    if arrived >= measureFrom && connection.sentAt < end {
                        result.requests += 1
                        result.latency.record(nanoseconds: arrived - connection.sentAt)
                        if isError {
                            result.errors += 1
                            if result.firstError == nil {
                                result.firstError = String(decoding: chunk[max(lineStart - 200, 0)..<min(lineStart, n)], as: UTF8.self)
                            }
                        }
                    }
                }
                if lineStart < n { connection.input += chunk[lineStart..<n] }
            }
        }
        result.seconds = configuration.seconds
        result.measured = measureFrom..<end
        return result
    }

    /// True when the line is an error response (`"error":{` at the top level of a response).
    private static func containsError(_ line: ArraySlice<UInt8>) -> Bool {
        let needle = Array(#""error":{"#.utf8)
        guard line.count >= needle.count else { return false }
        var index = line.startIndex
        let last = line.endIndex - needle.count
        while index <= last {
            if line[index] == needle[0] && line[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }

    private static func verify(_ line: [UInt8]) throws {
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix(#"{"jsonrpc":"2.0","id":"#), text.contains(#""result":"#) || text.contains(#""error":"#) else {
            throw LoadError("not a JSON-RPC response: \(text.prefix(200))")
        }
    }

    /// Connects a non-blocking Unix socket.
    public static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard let rc = UnixSocketAddress.with(path: path, { Glibc.connect(fd, $0, $1) }) else {
            close(fd)
            throw LoadError("cannot connect to \(path): the path is longer than \(UnixSocketAddress.maxPathLength) bytes")
        }
        guard rc == 0 else {
            close(fd)
            throw LoadError("cannot connect to \(path): errno \(errno)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    /// Monotonic nanoseconds.
    public static func now() -> UInt64 { MonotonicClock.nanoseconds() }
}

/// A load-generator failure.
public struct LoadError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a closure on its own pthread (joinable).
final class ThreadJob: @unchecked Sendable {
    // @unchecked Sendable: `body` is set in init and run once by the new thread.
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() -> pthread_t {
        var thread = pthread_t()
        let retained = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadJob>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, retained)
        return thread
    }
}
