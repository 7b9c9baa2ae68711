import ContactPaths
import ContactStore
import Dispatch
import JSONRPC
import Logging
import Synchronization

import Glibc

/// The whole `contactsd` service: store, methods, socket server and signal handling.
// @unchecked Sendable: `signalSources` holds non-Sendable Dispatch sources only to keep them
// alive; it is written once in `run` and never read. Everything else is immutable and Sendable.
public final class ContactServer: @unchecked Sendable {
    /// The version reported at start.
    public static let version = ContactsVersion.current

    private let configuration: ServerConfiguration
    private let store: ContactStore
    private let server: UnixSocketServer
    private let logger: Logger
    /// Counts and rate-limits the log lines of every enforced limit.
    private let limits: LimitEvents
    private let signalQueue = DispatchQueue(label: "contacts.signals")
    private nonisolated(unsafe) var signalSources: [any DispatchSourceSignal] = []

    /// Opens the database and binds the socket, creating missing parent directories (mode 0700).
    /// - Throws: `ServerStartError` naming what could not be opened, and why.
    public init(configuration: ServerConfiguration, logger: Logger) throws(ServerStartError) {
        self.configuration = configuration
        self.logger = logger
        let limits = LimitEvents(logger: logger)
        self.limits = limits
        do {
            try ContactPaths.createParentDirectories(of: configuration.databasePath)
            try ContactPaths.createParentDirectories(of: configuration.socketPath)
        } catch {
            throw ServerStartError(message: error.message)
        }
        do {
            self.store = try ContactStore(
                path: configuration.databasePath, options: configuration.store,
                onReplaced: { path in
                    limits.record(
                        .databaseReplaced, level: .critical,
                        "the database file \(path) was deleted or replaced under the server: refusing reads and writes; "
                            + "restart contactsd to use the file now at that path")
                })
        } catch {
            let configurationError = if case .notWritable = error { true } else { false }
            throw ServerStartError(
                message: "cannot open the database \(configuration.databasePath): \(Self.describe(error))",
                configuration: configurationError)
        }
        let boundServer = LateBinding<UnixSocketServer>()
        let boundStats = LateBinding<ServerStats>()
        let methods = ServerMethods.registry(
            store: store, stats: boundStats, limits: limits, logger: logger, databasePath: configuration.databasePath,
            connections: { boundServer.get()?.connectionCounts ?? (0, 0, 0) })
        let stats = ServerStats(methodNames: methods.map(\.name))
        if configuration.collectStats { boundStats.set(stats) }
        let dispatcher = RPCDispatcher(
            methods: methods, limits: RPCDispatcher.Limits(maxBatchSize: configuration.maxBatchSize),
            observer: Self.observer(stats: configuration.collectStats ? stats : nil, logger: logger))
        do {
            self.server = try UnixSocketServer(
                path: configuration.socketPath, mode: configuration.socketMode, dispatcher: dispatcher,
                maxConnections: configuration.maxConnections, maxRequestBytes: configuration.maxRequestBytes,
                graceSeconds: configuration.shutdownGraceSeconds,
                batchScope: { [store] body in store.withReadSnapshot(body) },
                onRefused: { boundStats.get()?.countError(-32000) }, logger: logger)
        } catch {
            store.close()
            throw ServerStartError(message: error.description)
        }
        boundServer.set(server)
    }

    /// Counts every request for `server.stats` and, at debug level, logs each one (method, id,
    /// duration, outcome; never params, so no email address reaches a log).
    private static func observer(stats: ServerStats?, logger: Logger) -> RPCDispatcher.Observer? {
        let debug = logger.logLevel <= .debug
        guard stats != nil || debug else { return nil }
        return RPCDispatcher.Observer { method, id, nanoseconds, code in
            stats?.record(method: method, nanoseconds: nanoseconds, errorCode: code)
            if debug {
                logger.debug(
                    "request",
                    metadata: [
                        "method": "\(method ?? "-")", "id": "\(id.map { "\($0)" } ?? "-")",
                        "duration_us": "\(nanoseconds / 1000)", "outcome": "\(code.map { "error \($0)" } ?? "ok")",
                    ])
            }
        }
    }

    /// Serves until SIGINT or SIGTERM, then drains and calls `onStop` (normally: exit 0).
    public func run(onStop: @escaping @Sendable () -> Void) {
        // Writing to a client that went away must give EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        raiseDescriptorLimit(to: configuration.maxConnections + 64)
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
            source.setEventHandler { [self] in stop(reason: signalNumber == SIGTERM ? "SIGTERM" : "SIGINT", onStop: onStop) }
            source.activate()
            signalSources.append(source)
        }
        server.start()
        logger.info(
            "contactsd \(Self.version) listening",
            metadata: ["socket": "\(configuration.socketPath)", "database": "\(configuration.databasePath)"])
    }

    private func stop(reason: String, onStop: @escaping @Sendable () -> Void) {
        logger.info("\(reason) received: finishing in-flight requests")
        server.shutdown { [self] in
            store.close()
            logger.info("stopped cleanly")
            onStop()
        }
    }

    /// Lets the process hold enough descriptors for `--max-connections`.
    private func raiseDescriptorLimit(to wanted: Int) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 || limit.rlim_cur < rlim_t(wanted) {
            logger.warning("the descriptor limit (\(limit.rlim_cur)) is below --max-connections; raise ulimit -n")
        }
    }

    private static func describe(_ error: StoreError) -> String {
        switch error {
        case .schemaTooNew(let found, let supported):
            return "its schema version \(found) is newer than this contactsd supports (\(supported)); upgrade contactsd. The file was not modified"
        case .database(let code, let message):
            return "\(message) (SQLite code \(code))"
        case .notWritable(_, let reason):
            return reason
        default:
            return "\(error)"
        }
    }
}

/// Why the server could not start: one sentence for the user, and the exit status to use.
public struct ServerStartError: Error, Sendable, CustomStringConvertible {
    /// What failed, naming the path.
    public var message: String
    /// The process exit status: 78 (EX_CONFIG) when the configuration itself is wrong (an
    /// unwritable database, a socket path too long), so a service manager does not restart it in
    /// a loop; 1 for anything else.
    public var exitCode: Int32

    /// A start failure; `configuration` marks one that a restart cannot fix.
    public init(message: String, configuration: Bool = false) {
        self.message = message
        self.exitCode = configuration ? 78 : 1
    }

    public var description: String { message }
}
