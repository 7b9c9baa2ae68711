/// How the store opens its database.
public struct StoreOptions: Sendable {
    /// SQLite's `synchronous` setting for the writer.
    public enum Synchronous: String, Sendable, CaseIterable {
        /// Survives a crash or kill -9 of the process (WAL + NORMAL); the default.
        case normal
        /// Also survives power loss: every commit is fsynced.
        case full
    }

    /// How long a write waits for a lock held by another process before failing, in milliseconds.
    public var busyTimeoutMilliseconds: Int32
    /// Durability level; see `Synchronous`.
    public var synchronous: Synchronous
    /// Most writes folded into one transaction by group commit.
    public var maxWriteBatch: Int
    /// Keep read transactions open between reads while nothing is committed (see `ReaderPool`).
    public var reuseSnapshots = true

    /// Defaults: 10 s busy timeout, `normal` durability, up to 256 writes per commit.
    public init(busyTimeoutMilliseconds: Int32 = 10_000, synchronous: Synchronous = .normal, maxWriteBatch: Int = 256) {
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.synchronous = synchronous
        self.maxWriteBatch = maxWriteBatch
    }
}
