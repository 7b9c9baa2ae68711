import Dispatch
import JSONRPC
import Logging
import Synchronization

import Glibc

/// Accepts connections on a Unix socket and serves JSON-RPC lines on each, with Dispatch
/// sources on non-blocking descriptors: no thread per connection, no blocking of shared queues.
///
/// Lifecycle: `start()` → running → `shutdown` (stop accepting, remove the socket file, let each
/// connection answer what it already received, close them all) → stopped.
// @unchecked Sendable: `acceptSource` (a non-Sendable Dispatch protocol type) is touched only on
// `acceptQueue` after init; every other stored property is immutable or behind a Mutex.
public final class UnixSocketServer: @unchecked Sendable {
    private enum Phase { case idle, running, draining, stopped }

    private let listener: UnixListener
    private let dispatcher: RPCDispatcher
    private let maxConnections: Int
    private let connectionSettings: ConnectionSettings
    private let graceSeconds: Double
    private let batchScope: @Sendable (() -> Void) -> Void
    private let logger: Logger
    private let acceptQueue = DispatchQueue(label: "contacts.accept")
    private let connectionQueue = DispatchQueue(label: "contacts.connections", attributes: .concurrent)
    private let acceptSource: any DispatchSourceRead
    private let connections = Mutex<[ObjectIdentifier: ClientConnection]>([:])
    private let phase = Mutex(Phase.idle)
    private let allClosed = DispatchGroup()
    private let counters: ConnectionCounters

    /// Binds the socket now (so errors surface before anything else starts).
    init(
        path: String, mode: UInt32, dispatcher: RPCDispatcher, maxConnections: Int,
        connectionSettings: ConnectionSettings, graceSeconds: Double, batchScope: @escaping @Sendable (() -> Void) -> Void = { $0() },
        counters: ConnectionCounters, logger: Logger
    ) throws(SocketError) {
        self.counters = counters
        self.graceSeconds = graceSeconds
        self.batchScope = batchScope
        self.listener = try UnixListener(path: path, mode: mode_t(mode))
        self.dispatcher = dispatcher
        self.maxConnections = maxConnections
        self.connectionSettings = connectionSettings
        self.logger = logger
        self.acceptSource = DispatchSource.makeReadSource(fileDescriptor: listener.fd, queue: acceptQueue)
    }

    /// Starts accepting connections.
    public func start() {
        phase.withLock { $0 = .running }
        let fd = listener.fd
        acceptQueue.async { [self] in
            acceptSource.setEventHandler { [self] in acceptPending() }
            acceptSource.setCancelHandler { close(fd) }
            acceptSource.activate()
        }
    }

    /// Stops accepting, removes the socket file, lets every connection answer what it already
    /// received, closes them all (idle ones included), then calls `completion`.
    public func shutdown(completion: @escaping @Sendable () -> Void) {
        // On the accept queue, so no connection can be admitted after the snapshot below.
        acceptQueue.async { [self] in beginShutdown(completion: completion) }
    }

    private func beginShutdown(completion: @escaping @Sendable () -> Void) {
        let wasRunning = phase.withLock { phase in
            defer { phase = .draining }
            return phase == .running
        }
        guard wasRunning else { return }
        acceptSource.cancel()
        listener.removeFile()
        let open = connections.withLock { Array($0.values) }
        for connection in open { connection.drain() }
        // A client that never reads its answers must not hold the shutdown forever.
        let forced = DispatchWorkItem { [self] in
            let stuck = connections.withLock { Array($0.values) }
            if !stuck.isEmpty { logger.warning("closing \(stuck.count) connections that did not finish in time") }
            for connection in stuck { connection.forceClose() }
        }
        acceptQueue.asyncAfter(deadline: .now() + graceSeconds, execute: forced)
        allClosed.notify(queue: acceptQueue) { [self] in
            forced.cancel()
            phase.withLock { $0 = .stopped }
            completion()
        }
    }


    private func acceptPending() {
        while true {
            guard let result = listener.accept() else { return }
            switch result {
            case .failure(let error):
                logger.error("\(error)")
                if error.errno == EMFILE || error.errno == ENFILE {
                    // Out of descriptors: pause accepting briefly instead of spinning on a
                    // readable listener we cannot serve.
                    acceptSource.suspend()
                    acceptQueue.asyncAfter(deadline: .now() + 0.1) { [self] in acceptSource.resume() }
                }
                return
            case .success(let fd):
                admit(fd)
            }
        }
    }

    private func admit(_ fd: Int32) {
        let open = connections.withLock { $0.count }
        guard open < maxConnections else {
            counters.refused()
            let line = RPCDispatcher.errorLine(
                RPCError(
                    code: -32000, message: "Server busy: too many connections (--max-connections \(maxConnections))",
                    data: ["reason": "too_many_connections", "max_connections": .number(JSONNumber(maxConnections))]))
            // A fresh socket's send buffer is empty, so this short line fits without blocking.
            _ = line.withUnsafeBytes { Socket.writeSome(fd, $0) }
            // Closing with the client's request still unread would reset the connection and the
            // client could lose the line: signal EOF now, drain what it sent, close a bit later.
            Glibc.shutdown(fd, Int32(SHUT_WR))
            acceptQueue.asyncAfter(deadline: .now() + 0.5) {
                withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { buffer in
                    while read(fd, buffer.baseAddress, buffer.count) > 0 {}
                }
                close(fd)
            }
            logger.warning("refused a connection: \(maxConnections) already open")
            return
        }
        counters.opened()
        allClosed.enter()
        let connection = ClientConnection(
            fd: fd, target: connectionQueue, dispatcher: dispatcher, settings: connectionSettings,
            batchScope: batchScope
        ) { [self] closed in
            connections.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(closed)) }
            counters.closed()
            logger.trace("connection closed", metadata: ["fd": "\(closed.fd)"])
            allClosed.leave()
        }
        connections.withLock { $0[ObjectIdentifier(connection)] = connection }
        logger.trace("connection opened", metadata: ["fd": "\(fd)"])
        connection.start()
    }
}
