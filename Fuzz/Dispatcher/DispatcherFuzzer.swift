import ContactService
import ContactStore
import Dispatch
import Glibc
import JSONRPC
import Locking
import Logging

/// libFuzzer target: the whole dispatcher `contactsd` answers with, its real methods over a real
/// store in a temporary directory. The input is one connection's bytes: it is framed into lines
/// as a connection frames them, each line is answered as a connection answers it, and every
/// reply must be what JSON-RPC 2.0 asks for (`ReplyCheck`): a valid reply line, or none for a
/// notification, never a crash or a write left unanswered.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDispatcher(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    DispatcherFuzzer.shared.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// One store and one dispatcher for the whole process, reused by every input, as a server keeps
/// one for all its connections (so inputs meet the contacts earlier inputs made).
// @unchecked Sendable: libFuzzer runs one input at a time, on one thread, and only `run` (from
// that thread) touches the mutable state; deferred completions touch only their own box.
final class DispatcherFuzzer: @unchecked Sendable {
    static let shared = DispatcherFuzzer()

    /// The server's limits, two of them lowered (both are options a server can be given) so that
    /// inputs of at most 64 KiB (`-max_len`) reach the oversized-line answer and `-32003`.
    private static let configuration = ServerConfiguration(
        socketPath: "unused.sock", databasePath: "", maxRequestBytes: 48 << 10, maxResponseBytes: 256 << 10)

    /// Past this many contacts the store starts again, from the seeded ones. Creates are bounded
    /// by the input (one needs about 60 bytes of it) but not across inputs, and a store that only
    /// grew would slow every input and end at `-rss_limit_mb`; a few thousand is already more
    /// than a page of 1000 needs.
    private static let maxContacts: Int64 = 5_000

    /// Contacts a new store starts with: `user0` … (names the tests' inputs in the corpus use), five
    /// addresses each, so that gets, updates and deletes find someone, pages run across cursors,
    /// and a page of 1000 (about 300 KB) is over `maxResponseBytes`. Inputs rarely make many
    /// contacts themselves: most creates in the corpus clash with one made before.
    private static let seededContacts = 1_200

    /// How long one write may take to be answered before it counts as a hang; well under
    /// libFuzzer's `-timeout=5`, which covers the whole input, so the finding names the cause.
    private static let deferredTimeoutSeconds = 3

    private let directory: String
    private var generation = 0
    private var store: ContactStore
    private var dispatcher: RPCDispatcher

    private init() {
        // In the working directory, which `tools/fuzz` deletes after a run without finding and
        // keeps, with the input, after one.
        var template = Array("contacts-fuzz-store-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("cannot create a store directory: errno \(errno)") }
        directory = String(cString: made)
        (store, dispatcher) = Self.open(in: directory, generation: 0)
    }

    private static func open(in directory: String, generation: Int) -> (ContactStore, RPCDispatcher) {
        var configuration = configuration
        configuration.databasePath = "\(directory)/contacts-\(generation).db"
        let store: ContactStore
        do {
            store = try ContactStore(path: configuration.databasePath, options: configuration.store)
        } catch {
            fatalError("cannot open the store \(configuration.databasePath): \(error)")
        }
        do {
            for n in 0..<seededContacts {
                let emails = (0..<5).map { "user\(n).\($0)@example.com" }
                _ = try store.create(
                    NewContact(username: "user\(n)", firstName: "User", lastName: "\(n)", emails: emails))
            }
        } catch {
            fatalError("cannot seed the store: \(error)")
        }
        let logger = Logger(label: "contactsd") { _ in DiscardingLogHandler() }
        return (store, ContactServer.dispatcher(store: store, configuration: configuration, logger: logger))
    }

    /// Answers one connection's input and checks every reply.
    func run(_ input: UnsafeRawBufferPointer) {
        let events = LineFramer.events(of: input, maxLineBytes: Self.configuration.maxRequestBytes)
        for (event, reply) in zip(events, answer(events)) {
            ReplyCheck.check(reply, answering: event, limits: dispatcher.limits)
        }
        startAgainIfFull()
    }

    /// The reply to each event, in the pieces the dispatcher produced it (a batch element per
    /// piece), driven the way `ClientConnection` drives it: in order, one request at a time, a
    /// write waited for before the next request runs, and one read session shared by a batch or
    /// by requests that arrived together.
    private func answer(_ events: [LineFramer.Event]) -> [[[UInt8]]] {
        var replies: [[[UInt8]]] = []
        var reply: [[UInt8]] = []
        var next = 0
        var run: RPCLineRun?
        // Runs requests until one defers (returned) or every event is answered (nil).
        func step(context: (any RPCContext)?) -> RPCDispatcher.Deferred? {
            while true {
                if run == nil {
                    guard next < events.count else { return nil }
                    switch events[next] {
                    case .tooLong:
                        run = RPCLineRun(.rejected(dispatcher.oversizedLine(limit: Self.configuration.maxRequestBytes)))
                    case .line(let bytes): run = RPCLineRun(dispatcher.decode(line: bytes))
                    }
                    next += 1
                }
                switch run!.step(dispatcher, context: context) {
                case .output(let bytes): reply.append(bytes)
                case .nothing: break
                case .deferred(let deferred): return deferred
                case .done:
                    replies.append(reply)
                    reply = []
                    run = nil
                }
            }
        }
        while true {
            let shared = events.count - next > 1 || run?.isBatch == true
            let deferred = shared ? store.withReadSession { session in step(context: session) } : step(context: nil)
            guard let deferred else { return replies }
            if let bytes = wait(for: deferred) { reply.append(bytes) }
        }
    }

    /// Starts a deferred request and waits for its one completion.
    private func wait(for deferred: RPCDispatcher.Deferred) -> [UInt8]? {
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedValue<(calls: Int, bytes: [UInt8]?)>((0, nil))
        deferred.start { bytes in
            outcome.withLock { outcome in
                precondition(outcome.calls == 0, "a deferred request completed twice")
                outcome = (1, bytes)
            }
            done.signal()
        }
        let answered = done.wait(timeout: .now() + .seconds(Self.deferredTimeoutSeconds)) == .success
        precondition(answered, "a write was not answered within \(Self.deferredTimeoutSeconds) s")
        let bytes = outcome.withLock { $0.bytes }
        precondition((bytes != nil) == deferred.producesOutput, "a deferred request's output is not what it announced")
        return bytes
    }

    private func startAgainIfFull() {
        let count: Int64
        do {
            count = try store.count()
        } catch {
            preconditionFailure("the store cannot count its contacts after an input: \(error)")
        }
        guard count > Self.maxContacts else { return }
        store.close()
        let path = "\(directory)/contacts-\(generation).db"
        for file in [path, path + "-wal", path + "-shm"] { unlink(file) }
        generation += 1
        (store, dispatcher) = Self.open(in: directory, generation: generation)
    }
}
