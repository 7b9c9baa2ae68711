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
    /// Store settings (durability, busy timeout).
    public var store: StoreOptions
    /// Count requests for `server.stats` (off only to measure what counting costs).
    public var collectStats: Bool
    /// Peer uids allowed besides the server's own and root (`--allow-uid`).
    public var allowUIDs: [UInt32]
    /// Peer gids allowed besides the socket's group when `socketMode` grants it access (`--allow-gid`).
    public var allowGIDs: [UInt32]

    /// A configuration with the documented defaults for everything but the two paths.
    public init(
        socketPath: String, databasePath: String, socketMode: UInt32 = 0o600, maxRequestBytes: Int = 1 << 20,
        maxConnections: Int = 4096, maxBatchSize: Int = 1000, shutdownGraceSeconds: Double = 10,
        store: StoreOptions = StoreOptions(), collectStats: Bool = true, allowUIDs: [UInt32] = [],
        allowGIDs: [UInt32] = []
    ) {
        self.allowUIDs = allowUIDs
        self.allowGIDs = allowGIDs
        self.collectStats = collectStats
        self.socketPath = socketPath
        self.databasePath = databasePath
        self.socketMode = socketMode
        self.maxRequestBytes = maxRequestBytes
        self.maxConnections = maxConnections
        self.maxBatchSize = maxBatchSize
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.store = store
    }
}
