/// Tells cheaply whether any process has committed to the database since the last look: two
/// reads of the WAL-index header in shared memory, no lock and no system call
/// (`WALChangeWatcher`). For a poller that must notice another process's commits.
///
/// Not thread-safe: its owner calls it from one queue at a time.
public final class CommitProbe {
    private let watcher: WALChangeWatcher
    private var last: WALChangeWatcher.Header?

    init(watcher: WALChangeWatcher) {
        self.watcher = watcher
    }

    /// True when the header differs from the one seen at the previous call (and at the first
    /// call, and whenever a commit is rewriting it): something may have been committed since.
    public func hasChanged() -> Bool {
        let now = watcher.current()
        defer { last = now }
        return now == nil || now != last
    }

    /// Closes the probe's own connection (SQLite cannot delete the `-wal` and `-shm` files while
    /// it is open). `hasChanged` must not be called afterwards.
    public func close() {
        watcher.close()
    }
}

extension ContactStore {
    /// A probe of commits by any process (its own read-only connection, mapping the `-shm`
    /// file); nil when the database is not a WAL file on disk. Close it before the store.
    public func makeCommitProbe() -> CommitProbe? {
        guard !path.hasPrefix(":"), let watcher = WALChangeWatcher(databasePath: path, busyTimeoutMilliseconds: 1000)
        else { return nil }
        return CommitProbe(watcher: watcher)
    }

    /// Calls `hook` after every transaction this process commits (on the writer's acknowledging
    /// thread, after the commit's completions, so it must only hand the news on); nil removes it.
    /// One hook at a time.
    public func onCommit(_ hook: (@Sendable () -> Void)?) {
        writer.setCommitHook(hook)
    }
}
