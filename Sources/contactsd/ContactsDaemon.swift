import ArgumentParser
import CommandLineConventions
import ContactPaths
import ContactService
import ContactStore
import ContactsLogging
import Dispatch
import Logging

import Glibc

/// `contactsd`: parses flags, builds the server, runs it. Everything else lives in ContactService.
@main
struct ContactsDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contactsd",
        abstract: "Serve the contact database over JSON-RPC 2.0 on a Unix socket.",
        discussion: """
            Paths: --socket, else $CONTACTS_SOCKET, else $XDG_RUNTIME_DIR/contacts/contactsd.sock \
            (or /tmp/contacts-$UID/contactsd.sock). --db, else $CONTACTS_DB, else \
            $XDG_DATA_HOME/contacts/contacts.db (or ~/.local/share/contacts/contacts.db). \
            Missing parent directories are created with mode 0700. Backups (server.backup): \
            --backup-dir, else backups/ beside the database.

            A socket it binds is owned through an exclusive lock on PATH.lock beside it, held while the \
            server lives and never removed: a second server on the same path refuses to start \
            (exit 1). A socket path longer than 107 bytes is refused (exit 78).

            Peers: every connection's uid and gid are read from the kernel (SO_PEERCRED). Served: \
            this server's uid, root, the socket's group when its mode (--socket-mode) grants the group \
            access, and every --allow-uid and --allow-gid. Any other peer gets one error line \
            (code -32001, data.reason "peer_not_allowed", data.uid) and is disconnected.

            Descriptors: the open-file limit is raised toward the hard limit as far as \
            --max-connections needs; when it cannot cover them, --max-connections is lowered to \
            what fits (with a warning), or the server refuses to start (exit 78) if not one fits.

            systemd: started with a socket passed by socket activation (LISTEN_PID is this process, \
            LISTEN_FDS 1 or more; with several, the one LISTEN_FDNAMES names contactsd), it serves \
            that socket instead of binding --socket: no lock file, no stale check, the socket is \
            never removed or closed, --socket-mode is not applied (the unit's SocketMode= is), and \
            the socket file's group is served when its mode grants the group access. A descriptor \
            that is not a listening Unix stream socket is refused (exit 78). With $NOTIFY_SOCKET \
            (Type=notify) it sends READY=1 once serving, STOPPING=1 when stopping, and \
            EXTEND_TIMEOUT_USEC every 2 s while a schema upgrade runs at start; with WATCHDOG_USEC \
            (WatchdogSec=) it sends WATCHDOG=1 every half of it while accepting answers and no \
            write transaction has run longer than WATCHDOG_USEC. These variables are removed from \
            its environment. See docs/operations.md.

            SIGINT or SIGTERM, even during startup: stop accepting, answer requests already \
            received, close every connection, close the database, remove the socket file (not a \
            socket passed by systemd), exit 0. \
            A second SIGINT or SIGTERM while stopping exits at once with status 130 or 143. The \
            wire protocol is described in protocol.md.

            Exit codes: 0 clean stop; 1 cannot start (another server holds the socket); 2 usage \
            error (a malformed flag value, naming the flag); 78 configuration error found at start \
            (an unwritable database, a socket path too long, ulimit -n too low, a passed descriptor \
            that is not a listening Unix stream socket), so a service \
            manager does not restart it in a loop. Durations: 500ms, 15s, 1m30s, 1h, or plain \
            seconds (docs/cli.md, "Conventions").
            """,
        version: ContactsVersion.current)

    @Option(help: "Unix socket path to listen on.")
    var socket: String?

    @Option(help: "SQLite database file.")
    var db: String?

    @Option(help: "Where server.backup writes its copies (created with mode 0700 when missing). (default: backups/ beside --db)")
    var backupDir: String?

    @Option(help: "Socket file mode, in octal (not applied to a socket passed by systemd).")
    var socketMode: String = "0600"

    @Option(
        name: .customLong("allow-uid"),
        help: ArgumentHelp("Also serve peers with this uid (repeatable).", valueName: "uid"))
    var allowUIDs: [UInt32] = []

    @Option(
        name: .customLong("allow-gid"),
        help: ArgumentHelp("Also serve peers whose primary gid is this (repeatable).", valueName: "gid"))
    var allowGIDs: [UInt32] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (debug logs every request).")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text, or json (one object a line, for journald and log shippers).")
    var logFormat: LogFormat = .text

    @Flag(help: "Do not count requests for server.stats (only to measure what counting costs).")
    var noStats = false

    @Option(help: "Longest request line in bytes; longer lines get error -32600 and are skipped.")
    var maxRequestBytes: Int = 1 << 20

    @Option(help: "Most connections open at once; one more gets an error line and is closed.")
    var maxConnections: Int = 4096

    @Option(help: "Most requests in one batch.")
    var maxBatch: Int = 1000

    @Option(help: "Bytes of unsent output per connection above which its next request (or batch element) waits for the client to read.")
    var maxConnectionOutput: Int = 1 << 20

    @Option(help: "Bytes of unsent output of all connections together above which every batch waits.")
    var maxOutputBytes: Int = 64 << 20

    @Option(
        help: "Most changes queued for one subscription (contacts.subscribe) whose client does not read; one more drops it.")
    var maxSubscriptionQueue: Int = 1000

    @Option(help: "Largest single reply in bytes; a larger one is answered with error -32003 (response too large).")
    var maxResponseBytes: Int = 16 << 20

    @Option(help: "Close a connection whose unsent output has not moved for this long (500ms, 10s, 1m; a plain number is seconds).")
    var writeTimeout: DurationArgument = DurationArgument(seconds: 10)

    @Option(help: "Close a connection that holds a partial request line and sends no byte for this long (idle connections stay open).")
    var readTimeout: DurationArgument = DurationArgument(seconds: 30)

    @Option(help: "Most database reader connections; a read waits for a free one. (default: twice the cores)")
    var maxReaders: Int?

    @Option(
        help: "Threads that run the connections' requests, a fixed set; more lets more requests that wait on the disk overlap. (default: twice the cores)")
    var connectionThreads: Int?

    @Option(help: "Durability: normal survives a crash of the process, full also a power loss.")
    var synchronous: StoreOptions.Synchronous = .normal

    @Option(help: "How long a write waits for a lock held by another process (500ms, 10s, 1m; a plain number is seconds).")
    var busyTimeout: DurationArgument = DurationArgument(seconds: 10)

    @Option(
        help: "Prune changes older than this from the change log of contacts.changes (7 days: 168h; a plain number is seconds).")
    var changesMaxAge: DurationArgument = DurationArgument(seconds: 7 * 86_400)

    @Option(help: "Keep at most this many of the newest changes in the change log.")
    var changesMaxRows: Int = 1_000_000

    // The flag --busy-timeout replaced, kept so existing unit files still start.
    @Option(help: .hidden)
    var busyTimeoutMs: Int32?

    static func main() { mainFollowingConventions() }

    func validate() throws {
        guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777, mode & 0o600 == 0o600 else {
            throw ValidationError("--socket-mode must be an octal file mode that lets its owner read and write, such as 0600 or 0660")
        }
        guard maxRequestBytes >= 64 else { throw ValidationError("--max-request-bytes must be at least 64") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1") }
        guard maxConnectionOutput >= 1024 else { throw ValidationError("--max-connection-output must be at least 1024") }
        guard maxOutputBytes >= maxConnectionOutput else {
            throw ValidationError("--max-output-bytes must be at least --max-connection-output")
        }
        guard maxResponseBytes >= 1024 else { throw ValidationError("--max-response-bytes must be at least 1024") }
        guard (maxReaders ?? 1) >= 1 else { throw ValidationError("--max-readers must be at least 1") }
        guard (1...1024).contains(connectionThreads ?? 1) else {
            throw ValidationError("--connection-threads must be from 1 to 1024")
        }
        guard maxSubscriptionQueue >= 1 else { throw ValidationError("--max-subscription-queue must be at least 1") }
        guard changesMaxRows >= 1 else { throw ValidationError("--changes-max-rows must be at least 1") }
        guard (busyTimeoutMs ?? 1) >= 1 else { throw ValidationError("--busy-timeout-ms must be at least 1") }
        guard busyTimeoutMilliseconds <= Int64(Int32.max) else {
            throw ValidationError("--busy-timeout must be at most \(Int32.max / 1000)s")
        }
    }

    /// `--busy-timeout`, or the hidden `--busy-timeout-ms` when that is given.
    private var busyTimeoutMilliseconds: Int64 { busyTimeoutMs.map(Int64.init) ?? busyTimeout.milliseconds }

    func run() throws {
        logFormat.bootstrap(level: logLevel)
        let logger = Logger(label: "contactsd")
        // Before any thread starts: these remove their variables from the environment.
        let activation = Result { () throws(ServerStartError) in try SocketActivation.receive() }
        let notifier = ServiceNotifier.fromEnvironment(logger: logger)
        let watchdogMicroseconds = ServiceWatchdog.intervalFromEnvironment(logger: logger)
        // Then at once, so that a SIGTERM at any moment of startup is honoured.
        let signals = StopSignals(logger: logger)
        let configuration = ServerConfiguration(
            socketPath: ContactPaths.socket(flag: socket), databasePath: ContactPaths.database(flag: db),
            socketMode: UInt32(socketMode, radix: 8) ?? 0o600, maxRequestBytes: maxRequestBytes,
            maxConnections: maxConnections, maxBatchSize: maxBatch, maxConnectionOutput: maxConnectionOutput,
            maxOutputBytes: maxOutputBytes, maxResponseBytes: maxResponseBytes,
            writeTimeoutSeconds: writeTimeout.seconds, readTimeoutSeconds: readTimeout.seconds,
            store: StoreOptions(
                busyTimeoutMilliseconds: Int32(busyTimeoutMilliseconds), synchronous: synchronous,
                maxReaders: maxReaders ?? StoreOptions.defaultMaxReaders),
            collectStats: !noStats, allowUIDs: allowUIDs, allowGIDs: allowGIDs,
            changesMaxAgeSeconds: changesMaxAge.seconds, changesMaxRows: changesMaxRows,
            maxSubscriptionQueue: maxSubscriptionQueue, backupDirectory: backupDir,
            connectionThreads: connectionThreads ?? ServerConfiguration.defaultConnectionThreads)
        let server: ContactServer
        do {
            server = try ContactServer(
                configuration: configuration, logger: logger, activation: try activation.get(), notifier: notifier,
                watchdogMicroseconds: watchdogMicroseconds)
        } catch {
            logger.critical("cannot start: \(error.message)")
            notifier?.send("STATUS=cannot start: \(error.message)")
            throw ExitCode(error.exitCode)
        }
        server.run(signals: signals, onStop: { Glibc.exit(0) })
        // The main thread only waits: the server runs on its own queues, and the stop path ends
        // the process with exit(). Not dispatchMain(): it ends this thread with pthread_exit
        // under frames AddressSanitizer still takes for live, and the signal thread libdispatch
        // puts in its place unblocks every signal; a SIGTERM then ran libdispatch's handler on
        // that stale stack (reported as a stack-buffer-overflow in _dispatch_sigmask).
        while true { pause() }
    }
}

extension StoreOptions.Synchronous: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
