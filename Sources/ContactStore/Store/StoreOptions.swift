import Glibc

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
    /// Most reader connections open at once; a read waits for a free one rather than opening more.
    public var maxReaders: Int
    /// Copy the WAL into the database file on a thread and connection of its own, not the
    /// writer's (see `WALCheckpointer`), so writes never wait for it. Off, the writer checkpoints
    /// after its commits, and the store runs one thread and one connection fewer: for a process
    /// that writes little (`contacts-tasks`).
    public var checkpointsInBackground = true
    /// The `author` the change log records for this process's writes when a write names none:
    /// the program's name (`contactsd`, `contacts-tasks`). A valid username.
    public var author: String
    /// Called on the opening thread while `ContactStore.init` upgrades the schema (never when the
    /// file is up to date).
    public var onMigration: (@Sendable (SchemaMigrationEvent) -> Void)?

    /// The default reader bound: twice the number of online processors.
    public static var defaultMaxReaders: Int { 2 * max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Defaults: 10 s busy timeout, `normal` durability, up to 256 writes per commit, twice the
    /// cores in readers, writes logged as by `contactsd`.
    public init(
        busyTimeoutMilliseconds: Int32 = 10_000, synchronous: Synchronous = .normal, maxWriteBatch: Int = 256,
        maxReaders: Int = StoreOptions.defaultMaxReaders, author: String = "contactsd"
    ) {
        self.author = author
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.synchronous = synchronous
        self.maxWriteBatch = maxWriteBatch
        self.maxReaders = max(1, maxReaders)
    }
}
