import ContactPaths
import ContactStore
import Dispatch
import JSONRPC
import Logging

import Glibc

/// The whole `contactsd` service: store, methods, socket server and stopping on a signal.
public final class ContactServer: Sendable {
    /// The version reported at start.
    public static let version = ContactsVersion.current

    private let configuration: ServerConfiguration
    private let store: ContactStore
    private let server: UnixSocketServer
    private let logger: Logger
    /// Counts and rate-limits the log lines of every enforced limit.
    private let limits: LimitEvents
    private let pruner: ChangeLogPruner
    private let feed: ChangeFeed
    private let notifier: ServiceNotifier?
    private let watchdog: ServiceWatchdog?

    /// Opens the database and binds the socket (or takes the one a service manager handed over),
    /// creating missing parent directories (mode 0700), and fits `--max-connections` into the
    /// open-file limit (lowering it, with a warning, if needed).
    /// - Parameters:
    ///   - activation: the listening socket systemd passed (`SocketActivation.receive()`); nil to bind `socketPath`.
    ///   - notifier: `$NOTIFY_SOCKET`, told of the upgrade at start, `READY=1` and `STOPPING=1`.
    ///   - watchdogMicroseconds: `WATCHDOG_USEC`; with a notifier, `WATCHDOG=1` goes out at half of it
    ///     while the server makes progress (`ServiceWatchdog`).
    /// - Throws: `ServerStartError` naming what could not be opened, and why.
    public init(
        configuration: ServerConfiguration, logger: Logger, activation: SocketActivation? = nil,
        notifier: ServiceNotifier? = nil, watchdogMicroseconds: UInt64? = nil
    ) throws(ServerStartError) {
        self.logger = logger
        let limits = LimitEvents(logger: logger)
        self.limits = limits
        self.notifier = notifier
        self.watchdog = notifier.flatMap { notifier in
            watchdogMicroseconds.map { ServiceWatchdog(intervalMicroseconds: $0, notifier: notifier, logger: logger) }
        }
        // A handed-over socket has its own path, made by the service manager.
        if activation == nil, configuration.socketPath.utf8.count > Socket.maxPathLength {
            throw ServerStartError(message: Socket.pathTooLong(configuration.socketPath).message, configuration: true)
        }
        do {
            try ContactPaths.createParentDirectories(of: configuration.databasePath)
            if activation == nil { try ContactPaths.createParentDirectories(of: configuration.socketPath) }
        } catch {
            throw ServerStartError(message: error.message)
        }
        var storeOptions = configuration.store
        let pingsWatchdog = watchdog != nil
        let heartbeat = notifier.map { MigrationHeartbeat(notifier: $0, watchdog: pingsWatchdog) }
        let stepLog = MigrationStepLog(logger: logger)
        storeOptions.onMigration = { event in
            heartbeat?.handle(event)
            stepLog.handle(event)
        }
        do {
            self.store = try ContactStore(
                path: configuration.databasePath, options: storeOptions,
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
        var configuration = configuration
        do {
            configuration.maxConnections = try Self.fitConnections(configuration, logger: logger)
        } catch {
            store.close()
            throw error
        }
        self.configuration = configuration
        self.pruner = ChangeLogPruner(
            store: store, maxAgeMilliseconds: Int64(configuration.changesMaxAgeSeconds * 1000),
            maxRows: configuration.changesMaxRows, logger: logger)
        // Plain construction order: counters first, then the methods that report them, then the
        // dispatcher and the socket server that feed them.
        let connections = ConnectionCounters()
        let output = OutputBudget(limit: configuration.maxOutputBytes)
        let feed = ChangeFeed(store: store, maxQueue: configuration.maxSubscriptionQueue)
        self.feed = feed
        let dispatcher = Self.dispatcher(
            store: store, configuration: configuration, logger: logger, limits: limits, connections: connections,
            output: output, feed: feed)
        let connectionSettings = ConnectionSettings(
            maxRequestBytes: configuration.maxRequestBytes, maxOutputBytes: configuration.maxConnectionOutput,
            writeTimeoutNanoseconds: UInt64(configuration.writeTimeoutSeconds * 1e9),
            readTimeoutNanoseconds: UInt64(configuration.readTimeoutSeconds * 1e9),
            budget: output, limits: limits, feed: feed, maxSubscriptionQueue: configuration.maxSubscriptionQueue)
        do {
            self.server = try UnixSocketServer(
                path: configuration.socketPath, mode: configuration.socketMode, activation: activation,
                dispatcher: dispatcher,
                maxConnections: configuration.maxConnections, connectionThreads: configuration.connectionThreads,
                connectionSettings: connectionSettings,
                graceSeconds: configuration.shutdownGraceSeconds, allowUIDs: configuration.allowUIDs,
                allowGIDs: configuration.allowGIDs, limits: limits,
                withSession: { [store] body in store.withReadSession { session in body(session) } },
                counters: connections, logger: logger)
        } catch {
            store.close()
            throw ServerStartError(message: error.description)
        }
    }

    /// The dispatcher a server over `store` answers every line with (every method, the stats
    /// observer), with counters of its own: for the `dispatcher` fuzz target, which must run the
    /// very methods `contactsd` serves.
    package static func dispatcher(
        store: ContactStore, configuration: ServerConfiguration, logger: Logger
    ) -> RPCDispatcher {
        dispatcher(
            store: store, configuration: configuration, logger: logger, limits: LimitEvents(logger: logger),
            connections: ConnectionCounters(), output: OutputBudget(limit: configuration.maxOutputBytes),
            feed: ChangeFeed(store: store, maxQueue: configuration.maxSubscriptionQueue))
    }

    private static func dispatcher(
        store: ContactStore, configuration: ServerConfiguration, logger: Logger, limits: LimitEvents,
        connections: ConnectionCounters, output: OutputBudget, feed: ChangeFeed
    ) -> RPCDispatcher {
        let contactMethods =
            ContactMethods.all(
                store: store, maxResponseBytes: configuration.maxResponseBytes,
                maxImportCards: configuration.maxBatchSize, maxRequestBytes: configuration.maxRequestBytes, logger: logger,
                limits: limits)
            + SubscriptionMethods.all(store: store, logger: logger, limits: limits)
        let stats =
            configuration.collectStats
            ? ServerStats(methodNames: ServerMethods.names(contactMethods: contactMethods)) : nil
        let methods = ServerMethods.registry(
            contactMethods: contactMethods, store: store, stats: stats, limits: limits, connections: connections,
            output: output, feed: feed, databasePath: configuration.databasePath,
            backupDirectory: configuration.backupDirectory, logger: logger)
        return RPCDispatcher(
            methods: methods,
            limits: RPCDispatcher.Limits(
                maxBatchSize: configuration.maxBatchSize, maxResponseBytes: configuration.maxResponseBytes),
            observer: observer(stats: stats, limits: limits, logger: logger))
    }

    /// Counts every request for `server.stats` and, at debug level, logs each one (method, id,
    /// duration, outcome; never params, and method or id only through `LogRedaction`, so no
    /// email address reaches a log).
    private static func observer(stats: ServerStats?, limits: LimitEvents, logger: Logger) -> RPCDispatcher.Observer {
        let debug = logger.logLevel <= .debug
        return RPCDispatcher.Observer { method, id, nanoseconds, code in
            stats?.record(method: method, nanoseconds: nanoseconds, errorCode: code)
            if code == -32003 {
                limits.record(.responsesTooLarge, "answered -32003: a reply was over --max-response-bytes")
            }
            if debug {
                logger.debug(
                    "request",
                    metadata: [
                        "method": "\(method.map(LogRedaction.clientText) ?? "-")",
                        "id": "\(id.map { LogRedaction.clientText($0.description) } ?? "-")",
                        "duration_us": "\(nanoseconds / 1000)", "outcome": "\(code.map { "error \($0)" } ?? "ok")",
                    ])
            }
        }
    }

    /// Serves until `signals` delivers SIGINT or SIGTERM (at once if one came during startup),
    /// then drains and calls `onStop` (normally: exit 0).
    public func run(signals: StopSignals, onStop: @escaping @Sendable () -> Void) {
        // Writing to a client that went away must give EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        server.start()
        pruner.start()
        let socket = server.socket
        var metadata: Logger.Metadata = ["socket": "\(socket.path)", "database": "\(configuration.databasePath)"]
        if socket.handedOver { metadata["activation"] = "socket handed over by the service manager" }
        logger.info("contactsd \(Self.version) listening", metadata: metadata)
        notifier?.send("READY=1", "STATUS=serving on \(socket.path)")
        let store = store
        watchdog?.start(
            pingServer: { [server] in server.ping($0) },
            writerBusyNanoseconds: { store.writerBusyNanoseconds })
        signals.whenSignalled { [self] name in stop(reason: name, onStop: onStop) }
    }

    private func stop(reason: String, onStop: @escaping @Sendable () -> Void) {
        logger.info("\(reason) received: finishing in-flight requests")
        watchdog?.stop()
        notifier?.send("STOPPING=1", "STATUS=stopping (\(reason)): finishing in-flight requests")
        server.shutdown { [self] in
            pruner.stop()
            feed.close()
            store.close()
            logger.info("stopped cleanly")
            onStop()
        }
    }

    /// The connection limit that fits the open-file limit (raised first as far as needed).
    /// - Throws: a configuration error when not even one connection fits.
    private static func fitConnections(_ configuration: ServerConfiguration, logger: Logger) throws(ServerStartError) -> Int {
        let budget = DescriptorBudget(
            maxConnections: configuration.maxConnections, maxReaders: configuration.store.maxReaders,
            serverDescriptors: UnixSocketServer.descriptorsHeld + UnixSocketServer.refusalSlots)
        guard budget.maxConnections >= 1 else {
            throw ServerStartError(
                message: "the open-file limit (ulimit -n) is \(budget.limit), too low: the server needs \(budget.fixed) "
                    + "descriptors besides connections; raise it or lower --max-readers",
                configuration: true)
        }
        if budget.maxConnections < configuration.maxConnections {
            logger.warning(
                """
                lowered --max-connections from \(configuration.maxConnections) to \(budget.maxConnections) to fit the \
                open-file limit of \(budget.limit) (ulimit -n); raise the limit to allow more
                """)
        }
        return budget.maxConnections
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
