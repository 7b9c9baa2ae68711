import Dispatch
import JSONRPC
import Logging
import Locking

import Glibc

/// Accepts connections on a Unix socket and serves JSON-RPC lines on each, on non-blocking
/// descriptors: no thread per connection; the connections share a fixed set of threads
/// (`ConnectionThreads`), and accepting runs on a Dispatch queue of its own.
///
/// Lifecycle: `start()` → running → `shutdown` (stop accepting, remove the socket file, let each
/// connection answer what it already received, close them all, stop the connection threads) →
/// stopped.
///
/// Descriptors: connections plus refused connections still being closed never pass
/// `maxConnections + refusalSlots`; while they are all in use, accepting pauses (new connections
/// wait in the backlog) until one closes. If the process runs out of descriptors anyway, the
/// reserve is spent on refusing the waiting connection, and other accept failures back off.
// @unchecked Sendable: `acceptSource`, `reserve` and the `accept*`/`refusing` variables are touched
// only on `acceptQueue` after init; every other stored property is immutable or behind a lock (LockedValue).
public final class UnixSocketServer: @unchecked Sendable {
    private enum Phase { case idle, running, draining, stopped }

    /// Refused connections that may be lingering (being closed) at once.
    static let refusalSlots = 8
    /// Descriptors the server holds besides connections: the listener, the lock file, the reserve,
    /// and the connection threads' epoll set and doorbell.
    static let descriptorsHeld = 2 + ReserveDescriptors.count + ConnectionThreads.descriptorsHeld

    private let listener: UnixListener
    private let peers: PeerPolicy
    private let dispatcher: RPCDispatcher
    private let maxConnections: Int
    private let connectionSettings: ConnectionSettings
    private let graceSeconds: Double
    private let withSession: ClientConnection.ReadSessionScope
    private let limits: LimitEvents
    private let logger: Logger
    // The accept queue targets the default pool: a serial queue without a target runs on the
    // overcommit pool, which adds a thread whenever all of its threads are momentarily busy and,
    // under a steady load, never retires it (docs/reliability.md, "Soak"). What blocks (the
    // connections' requests, the writer) runs on threads of its own.
    private let acceptQueue = DispatchQueue(label: "contacts.accept", target: .global())
    private let threads: ConnectionThreads
    private let acceptSource: any DispatchSourceRead
    private let connections = LockedValue<[ObjectIdentifier: ClientConnection]>([:])
    private let phase = LockedValue(Phase.idle)
    private let allClosed = DispatchGroup()
    private let counters: ConnectionCounters
    private let reserve = ReserveDescriptors()
    private var refusing = 0
    private var acceptSuspended = false
    /// The current back-off after failed accepts, nil outside such an episode.
    private var acceptBackoff: Double?
    private var backingOff = false

    /// Binds the socket now (so errors surface before anything else starts), or serves the one
    /// `activation` handed over (then `path` and `mode` are not used: its own are).
    /// - Parameters:
    ///   - allowUIDs: peers allowed besides the server's own uid and root (`--allow-uid`).
    ///   - allowGIDs: peer groups allowed besides the socket's group when `mode` grants it access (`--allow-gid`).
    init(
        path: String, mode: UInt32, activation: SocketActivation? = nil, dispatcher: RPCDispatcher, maxConnections: Int,
        connectionThreads: Int, connectionSettings: ConnectionSettings,
        graceSeconds: Double, allowUIDs: [UInt32] = [], allowGIDs: [UInt32] = [], limits: LimitEvents,
        withSession: @escaping ClientConnection.ReadSessionScope = { $0(nil) },
        counters: ConnectionCounters, logger: Logger
    ) throws(SocketError) {
        self.counters = counters
        self.graceSeconds = graceSeconds
        self.withSession = withSession
        let listener: UnixListener
        if let activation {
            listener = UnixListener(handedOver: activation)
        } else {
            listener = try UnixListener(path: path, mode: mode_t(mode))
        }
        self.listener = listener
        self.peers = PeerPolicy(
            extraUIDs: allowUIDs, extraGIDs: allowGIDs, socketMode: listener.mode, socketGroup: listener.group)
        self.dispatcher = dispatcher
        self.maxConnections = maxConnections
        self.connectionSettings = connectionSettings
        self.limits = limits
        self.logger = logger
        self.threads = try ConnectionThreads(count: connectionThreads)
        self.acceptSource = DispatchSource.makeReadSource(fileDescriptor: listener.fd, queue: acceptQueue)
    }

    /// Starts accepting connections.
    public func start() {
        phase.withLock { $0 = .running }
        threads.start()
        let fd = listener.fd
        let owned = !listener.isHandedOver
        acceptQueue.async { [self] in
            acceptSource.setEventHandler { [self] in acceptPending() }
            // A handed-over socket stays open: the service manager keeps it for the next run.
            acceptSource.setCancelHandler { if owned { close(fd) } }
            acceptSource.activate()
        }
    }

    /// Calls `answered` after a block has run on the accept queue, behind any accepting already
    /// queued, and then on a connection thread, behind the connections waiting for one: a
    /// watchdog's proof that neither accepting nor answering is wedged.
    func ping(_ answered: @escaping @Sendable () -> Void) {
        acceptQueue.async { [threads] in threads.ping(answered) }
    }

    /// The socket served: its path and whether the service manager handed it over.
    var socket: (path: String, handedOver: Bool) { (listener.path, listener.isHandedOver) }

    /// Stops accepting, removes the socket file (not a handed-over one), lets every connection answer what it already
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
        if acceptSuspended {
            acceptSource.resume()  // a suspended source must be resumed before it is cancelled
            acceptSuspended = false
        }
        acceptSource.cancel()
        if !listener.isHandedOver, !listener.removeFile() {
            logger.warning("left \(listener.path) in place: it is no longer the socket this server bound")
        }
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
            threads.stop()
            phase.withLock { $0 = .stopped }
            completion()
        }
    }

    // MARK: Accepting

    /// True while another descriptor may be taken for a connection or a refusal.
    private var hasRoom: Bool {
        connections.withLock { $0.count } + refusing < maxConnections + Self.refusalSlots
    }

    private func acceptPending() {
        while true {
            guard hasRoom else { return pauseAccepting() }
            guard let result = listener.accept() else { return }
            switch result {
            case .success(let fd):
                acceptBackoff = nil
                admit(fd)
            case .failure(let error):
                switch error.errno {
                case ECONNABORTED, EPROTO, EPERM:
                    continue  // that one connection is gone; the next may be fine
                case EMFILE where reserve.isAvailable, ENFILE where reserve.isAvailable:
                    refuseWithReserve()
                    backOff(after: error)
                    return
                default:
                    backOff(after: error)
                    return
                }
            }
        }
    }

    private func pauseAccepting() {
        guard !acceptSuspended else { return }
        acceptSource.suspend()
        acceptSuspended = true
    }

    /// Accepts again unless shut down, backing off, or out of room. On `acceptQueue`.
    private func resumeAccepting() {
        // A refill that found the process out of descriptors is retried here, whenever
        // descriptors may have come free (a connection or a refusal closed, a back-off ended).
        reserve.refill()
        guard acceptSuspended, !backingOff, hasRoom, phase.withLock({ $0 == .running }) else { return }
        acceptSuspended = false
        acceptSource.resume()
    }

    /// Pauses accepting after a failed accept (out of descriptors or memory), so a listener that
    /// stays readable cannot spin the CPU: 50 ms, doubling up to 1 s while failures go on. Counted
    /// and logged once per episode (an episode ends with the next successful accept).
    private func backOff(after error: SocketError) {
        if acceptBackoff == nil {
            limits.record(.acceptErrors, "\(error); pausing accepts until it clears")
        }
        let delay = min((acceptBackoff ?? 0.025) * 2, 1)
        acceptBackoff = delay
        backingOff = true
        pauseAccepting()
        acceptQueue.asyncAfter(deadline: .now() + delay) { [self] in
            backingOff = false
            resumeAccepting()
        }
    }

    /// Out of descriptors: gives the reserve back, accepts the waiting connection and refuses it
    /// with a line, and refills the reserve once that connection is closed.
    private func refuseWithReserve() {
        reserve.release()
        guard case .success(let fd)? = listener.accept() else {
            reserve.refill()
            return
        }
        limits.record(.refusedDescriptors, "refused a connection: the server is out of file descriptors (ulimit -n)")
        refuseBusy(fd, "out of file descriptors", data: ["reason": "too_many_open_files"]) { [self] in reserve.refill()
        }
    }

    /// Refuses `fd` with `-32000` "Server busy: `why`", counted under `connections.refused`.
    private func refuseBusy(
        _ fd: Int32, _ why: String, data: JSONValue, onClosed: @escaping @Sendable () -> Void = {}
    ) {
        counters.refused()
        refuse(fd, RPCError(code: -32000, message: "Server busy: \(why)", data: data), onClosed: onClosed)
    }

    /// Sends `error` to `fd` and closes it (see `ConnectionRefusal`), holding a refusal slot meanwhile.
    /// When every slot is taken (a flood of refused clients), the line is written and the
    /// connection closed at once, without the drain: refused clients never take the room that
    /// allowed ones need.
    private func refuse(_ fd: Int32, _ error: RPCError, onClosed: @escaping @Sendable () -> Void = {}) {
        guard refusing < Self.refusalSlots else {
            let line = RPCDispatcher.errorLine(error)
            // A fresh socket's send buffer is empty: the short line fits without blocking.
            _ = line.withUnsafeBytes { Socket.writeSome(fd, $0) }
            close(fd)
            onClosed()
            return
        }
        refusing += 1
        _ = ConnectionRefusal(fd: fd, error: error, queue: acceptQueue) { [self] in
            refusing -= 1
            onClosed()
            resumeAccepting()
        }
    }

    /// Refuses a peer whose credentials are not allowed (or could not be read).
    private func refusePeer(_ fd: Int32, uid: UInt32?) {
        let who = uid.map { "uid \($0)" } ?? "a peer of unknown uid"
        limits.record(
            .refusedPeerCredentials, "refused a connection from \(who): not allowed by --allow-uid/--allow-gid")
        let data: JSONValue =
            uid.map { ["reason": "peer_not_allowed", "uid": .number(JSONNumber(Int($0)))] } ?? [
                "reason": "peer_not_allowed"
            ]
        refuse(
            fd,
            RPCError(code: -32001, message: "Peer not allowed: \(who) is not in --allow-uid/--allow-gid", data: data))
    }

    private func admit(_ fd: Int32) {
        let peer = Socket.peerCredentials(fd)
        guard let peer, peers.allows(uid: peer.uid, gid: peer.gid, groups: { Socket.peerGroups(fd) }) else {
            return refusePeer(fd, uid: peer?.uid)
        }
        let open = connections.withLock { $0.count }
        guard open < maxConnections else {
            refuseBusy(
                fd, "too many connections (--max-connections \(maxConnections))",
                data: ["reason": "too_many_connections", "max_connections": .number(JSONNumber(maxConnections))])
            limits.record(.refusedTooManyConnections, "refused a connection: \(maxConnections) already open")
            return
        }
        counters.opened()
        allClosed.enter()
        let connection = ClientConnection(
            fd: fd, threads: threads, dispatcher: dispatcher, settings: connectionSettings,
            withSession: withSession
        ) { [self] closed in
            connections.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(closed)) }
            counters.closed()
            logger.trace("connection closed", metadata: ["fd": "\(closed.fd)"])
            allClosed.leave()
            acceptQueue.async { [self] in resumeAccepting() }
        }
        connections.withLock { $0[ObjectIdentifier(connection)] = connection }
        logger.trace("connection opened", metadata: ["fd": "\(fd)"])
        connection.start()
    }
}
