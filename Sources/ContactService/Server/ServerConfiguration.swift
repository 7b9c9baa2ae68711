import ContactPaths
import ContactStore

/// Everything `contactsd` can be told on its command line.
public struct ServerConfiguration: Sendable {
    /// The Unix socket path.
    public var socketPath: String
    /// The SQLite database path.
    public var databasePath: String
    /// Socket file mode (default 0600: only this user may connect).
    public var socketMode: UInt32
    /// Longest request line, in bytes; longer lines get -32600 and are dropped.
    public var maxRequestBytes: Int
    /// Most connections open at once; one more gets one error line and is closed.
    public var maxConnections: Int
    /// Most requests in one batch.
    public var maxBatchSize: Int
    /// How long SIGTERM waits for in-flight requests before closing connections anyway, in seconds.
    public var shutdownGraceSeconds: Double
    /// Unsent output per connection above which no further request runs on it, in bytes.
    public var maxConnectionOutput: Int
    /// Unsent output of all connections together above which every batch waits, in bytes.
    public var maxOutputBytes: Int
    /// Largest single reply, in bytes; a larger one is answered with -32003.
    public var maxResponseBytes: Int
    /// Seconds unsent output may stay unmoved before the connection is closed.
    public var writeTimeoutSeconds: Double
    /// Seconds a partial request line may wait for its next byte before the connection is closed.
    public var readTimeoutSeconds: Double
    /// Store settings (durability, busy timeout).
    public var store: StoreOptions
    /// Count requests for `server.stats` (off only to measure what counting costs).
    public var collectStats: Bool
    /// Peer uids allowed besides the server's own and root (`--allow-uid`).
    public var allowUIDs: [UInt32]
    /// Peer gids allowed besides the socket's group when `socketMode` grants it access (`--allow-gid`).
    public var allowGIDs: [UInt32]
    /// Changes older than this are pruned from the change log, in seconds (`--changes-max-age`).
    public var changesMaxAgeSeconds: Double
    /// The change log keeps at most this many of the newest changes (`--changes-max-rows`).
    public var changesMaxRows: Int
    /// Most changes queued for one subscription before it is dropped (`--max-subscription-queue`).
    public var maxSubscriptionQueue: Int
    /// Where `server.backup` writes (`--backup-dir`; by default `backups/` beside the database).
    public var backupDirectory: String
    /// The fixed set of threads that run the connections' requests (`--connection-threads`).
    public var connectionThreads: Int

    /// `--connection-threads` by default: twice the cores, as many as the reader pool's readers
    /// (`StoreOptions.defaultMaxReaders`). Measured against the cores alone (docs/performance.md,
    /// "Connections on threads of their own"): a get beside heavy batches waits less (a thread is
    /// more often free of them) and gets at 16 connections have a lower p99, while pipelined
    /// gets have a higher one (more runnable threads share the cores).
    public static var defaultConnectionThreads: Int { ConnectionThreads.defaultCount }

    /// A configuration with the documented defaults for everything but the two paths.
    public init(
        socketPath: String, databasePath: String, socketMode: UInt32 = 0o600, maxRequestBytes: Int = 1 << 20,
        maxConnections: Int = 4096, maxBatchSize: Int = 1000, maxConnectionOutput: Int = 1 << 20,
        maxOutputBytes: Int = 64 << 20, maxResponseBytes: Int = 16 << 20, writeTimeoutSeconds: Double = 10,
        readTimeoutSeconds: Double = 30, shutdownGraceSeconds: Double = 10,
        store: StoreOptions = StoreOptions(), collectStats: Bool = true, allowUIDs: [UInt32] = [],
        allowGIDs: [UInt32] = [], changesMaxAgeSeconds: Double = 7 * 86_400, changesMaxRows: Int = 1_000_000,
        maxSubscriptionQueue: Int = 1000, backupDirectory: String? = nil,
        connectionThreads: Int = ServerConfiguration.defaultConnectionThreads
    ) {
        self.connectionThreads = connectionThreads
        self.backupDirectory = ContactPaths.backupDirectory(flag: backupDirectory, database: databasePath)
        self.maxSubscriptionQueue = maxSubscriptionQueue
        self.changesMaxAgeSeconds = changesMaxAgeSeconds
        self.changesMaxRows = changesMaxRows
        self.allowUIDs = allowUIDs
        self.allowGIDs = allowGIDs
        self.collectStats = collectStats
        self.socketPath = socketPath
        self.databasePath = databasePath
        self.socketMode = socketMode
        self.maxRequestBytes = maxRequestBytes
        self.maxConnections = maxConnections
        self.maxBatchSize = maxBatchSize
        self.maxConnectionOutput = maxConnectionOutput
        self.maxOutputBytes = maxOutputBytes
        self.maxResponseBytes = maxResponseBytes
        self.writeTimeoutSeconds = writeTimeoutSeconds
        self.readTimeoutSeconds = readTimeoutSeconds
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.store = store
    }
}
