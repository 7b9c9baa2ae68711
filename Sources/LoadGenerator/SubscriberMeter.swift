import ContactClient
import ContactStore
import Dispatch
import Glibc
import JSONRPC
import Locking

/// A subscriber beside the load (issue 14, point 7): on a connection and thread of its own it
/// subscribes from a given seq, reads every notification, checks that each change's seq is the one
/// after the previous change's, and times each change from its `at` to the read of its line.
///
/// Its parsing (`JSONReader`, the whole notification) is off the load's threads; on a 2-core
/// machine it still takes CPU from the load and the server, as any real subscriber would.
final class SubscriberMeter: Sendable {
    /// What the reading thread and the caller share.
    private final class Shared: Sendable {
        /// When to stop reading: unset while the load runs.
        let stop = LockedValue(Stop())
        /// Set once when the thread ends.
        let outcome = LockedValue<Result<Tally, LoadError>?>(nil)
        /// Signalled when the server has answered `contacts.subscribe`, or the thread has ended.
        let ready = DispatchSemaphore(value: 0)
    }

    /// Stop once every change up to `target` is in, or at `deadline` (monotonic nanoseconds).
    private struct Stop: Sendable {
        var target: Int?
        var deadline = UInt64.max
    }

    /// One notification's arrival (monotonic) and how many changes it brought.
    private struct Arrival: Sendable {
        var at: UInt64
        var changes: Int
    }

    /// What the reading thread counts.
    private struct Tally: Sendable {
        var previous: Int
        var highest: Int
        var received = 0
        var gaps = 0
        var droppedReason: String?
        var latency = LatencyHistogram()
        var arrivals: [Arrival] = []

        init(since: Int) {
            previous = since
            highest = since
        }

        /// Counts the changes of one notification whose line was read at `wall` (CLOCK_REALTIME ns).
        mutating func count(_ changes: [JSONValue], readAt wall: Int64) throws(LoadError) {
            for change in changes {
                guard let object = change.objectValue, let seq = object["seq"]?.numberValue?.intValue,
                    let at = object["at"]?.stringValue.flatMap({ Timestamp(rfc3339: $0) })
                else { throw LoadError("a change without a seq or an at: \(change)") }
                if seq != previous + 1 { gaps += 1 }
                previous = seq
                guard seq > highest else { continue }
                highest = seq
                received += 1
                latency.record(nanoseconds: UInt64(max(0, wall - at.milliseconds * 1_000_000)))
            }
        }
    }

    private let shared: Shared
    private let thread: pthread_t
    private let since: Int

    /// Subscribes from `since` on a new connection and thread, and returns once the server has
    /// accepted the subscription (so the changes after `since` are timed from then on, not replayed).
    /// - Throws: when the connection or the subscription fails.
    init(socketPath: String, since: Int) throws {
        let shared = Shared()
        self.shared = shared
        self.since = since
        thread = ThreadJob {
            let outcome: Result<Tally, LoadError>
            do {
                outcome = .success(try Self.follow(socketPath: socketPath, since: since, shared: shared))
            } catch {
                outcome = .failure(error as? LoadError ?? LoadError("subscriber: \(error)"))
            }
            shared.outcome.withLock { $0 = outcome }
            shared.ready.signal()
        }.start()
        shared.ready.wait()
        if case .failure(let error) = shared.outcome.withLock({ $0 }) {
            pthread_join(thread, nil)
            throw error
        }
    }

    /// Reads on until every change up to `head` has arrived, the subscription was dropped, or
    /// `timeout` seconds have passed, then ends the thread.
    /// - Parameters:
    ///   - head: the newest seq once the load has ended.
    ///   - window: the load's measured window (monotonic nanoseconds), for the delivery rate.
    /// - Throws: when the connection failed or a notification could not be read.
    func finish(through head: Int, window: Range<UInt64>, timeout: Double) throws -> SubscriberResult {
        shared.stop.withLock {
            $0 = Stop(target: head, deadline: LoadGenerator.now() + UInt64(timeout * 1e9))
        }
        pthread_join(thread, nil)
        guard let outcome = shared.outcome.withLock({ $0 }) else { throw LoadError("subscriber: no outcome") }
        let tally = try outcome.get()
        var result = SubscriberResult()
        result.headBefore = since
        result.headAfter = head
        result.received = tally.received
        result.gaps = tally.gaps
        result.droppedReason = tally.droppedReason
        result.latency = tally.latency
        result.receivedInWindow = tally.arrivals.filter { window.contains($0.at) }.reduce(0) { $0 + $1.changes }
        result.windowSeconds = Double(window.count) / 1e9
        return result
    }

    /// The newest seq of the change log now (`contacts.list`'s `head_seq`).
    static func headSeq(socketPath: String) throws -> Int {
        let client = try ContactClient(socketPath: socketPath)
        let result = try client.call(method: "contacts.list", params: ["limit": 1])
        guard let head = result.objectValue?["head_seq"]?.numberValue?.intValue else {
            throw LoadError("contacts.list answered without a head_seq")
        }
        return head
    }

    /// The reading thread: subscribes, then counts every notification until told to stop.
    private static func follow(socketPath: String, since: Int, shared: Shared) throws -> Tally {
        // A short read timeout, so the thread sees the stop while no notification comes.
        let client = try ContactClient(socketPath: socketPath, readTimeout: 0.1)
        // Sent raw and answered in the loop below: `ContactClient.subscribe` would keep
        // notifications that came before its answer where `readRawLine` does not see them.
        try client.sendRaw(
            Array(#"{"jsonrpc":"2.0","id":1,"method":"contacts.subscribe","params":{"since":\#(since)}}"#.utf8))
        var tally = Tally(since: since)
        while tally.droppedReason == nil {
            let stop = shared.stop.withLock { $0 }
            if let target = stop.target, tally.highest >= target || LoadGenerator.now() >= stop.deadline { break }
            let line: [UInt8]?
            do {
                line = try client.readRawLine()
            } catch {
                // (Not `catch .timedOut`: Swift 6.3's SIL ownership verifier crashes on it here.)
                if case .timedOut = error { continue }
                throw error
            }
            guard let line else { throw LoadError("subscriber: the server closed the connection") }
            let wall = wallNanoseconds()
            let arrived = LoadGenerator.now()
            let message: JSONValue
            do { message = try JSONReader.parse(line) } catch {
                throw LoadError("subscriber: not JSON (\(error.reason)): \(excerpt(line))")
            }
            guard let object = message.objectValue else { throw LoadError("subscriber: not an object") }
            if object["id"] != nil {
                guard object["result"]?.objectValue?["subscription"] != nil else {
                    throw LoadError("contacts.subscribe failed: \(excerpt(line))")
                }
                shared.ready.signal()
                continue
            }
            guard let method = object["method"]?.stringValue,
                let event = SubscriptionEvent(ServerNotification(method: method, params: object["params"]))
            else { throw LoadError("subscriber: an unexpected message: \(excerpt(line))") }
            switch event {
            case .changed(_, let changes):
                try tally.count(changes, readAt: wall)
                tally.arrivals.append(Arrival(at: arrived, changes: changes.count))
            case .dropped(_, _, let reason):
                tally.droppedReason = reason.isEmpty ? "unknown" : reason
            }
        }
        return tally
    }

    /// The start of a line, for an error message.
    private static func excerpt(_ line: [UInt8]) -> String {
        String(decoding: line.prefix(300), as: UTF8.self)
    }

    /// CLOCK_REALTIME in nanoseconds: the clock the writer's `at` is taken from.
    private static func wallNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
