import ContactClient
import Dispatch
import Locking

import Glibc

/// Copies stdin to the server on its own thread, line by line, then half-closes the connection
/// so the server answers what it got and closes. Reading answers meanwhile keeps both sides
/// flowing, so a long input never deadlocks on full socket buffers.
final class StdinPump: @unchecked Sendable {
    // @unchecked Sendable: `client` is used here only for sending (a write-only path of its
    // socket), while the main thread only reads; `failed` is behind a lock (LockedValue).
    private let client: ContactClient
    private let failed = LockedValue<ClientError?>(nil)
    private let finished = LockedValue(false)

    init(client: ContactClient) {
        self.client = client
    }

    /// True once all of stdin was sent.
    var isFinished: Bool { finished.withLock { $0 } }

    /// The error that stopped sending, if any.
    var failure: ClientError? { failed.withLock { $0 } }

    func start() {
        let thread = Thread { [self] in pump() }
        thread.start()
    }

    private func pump() {
        defer { client.finishSending() }
        while let line = readLine(strippingNewline: true) {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            do {
                try client.sendRaw(Array(line.utf8))
            } catch {
                failed.withLock { $0 = error }
                return
            }
        }
        finished.withLock { $0 = true }
    }
}

/// A minimal thread (Foundation's Thread would pull all of Foundation into the client).
private final class Thread: @unchecked Sendable {
    // @unchecked Sendable: `body` is set once in init and run once on the new thread.
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        let retained = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, retained)
        pthread_detach(thread)
    }
}
