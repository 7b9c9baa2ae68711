import CSQLite
import Dispatch

import Glibc

/// The contact database: validated models in, SQLite underneath.
///
/// Reads run on the caller's thread with a pooled reader connection (WAL: readers never wait
/// for writers). Writes go to one writer connection with group commit and a busy timeout, so
/// another process writing the same file makes a write wait, never fail.
public final class ContactStore: Sendable {
    /// Statement and savepoint journals and temporary tables in memory, never in a temporary
    /// file: each write of a group commit runs in a savepoint whose journal SQLite moves to a file
    /// in /var/tmp past 64 KiB (a batch of creates, a purge of 500), so the process's descriptors
    /// changed from one moment to the next (docs/reliability.md, "Soak"). What they hold is
    /// bounded by a group's writes (`maxWriteBatch`) or a purge's chunk.
    static let noTemporaryFiles = "PRAGMA temp_store = MEMORY"

    /// The database file.
    public let path: String
    /// The largest the `-wal` file grows to while the store is open: the writer resets the WAL
    /// once it holds 8 MiB (`journal_size_limit` is 8 MiB too), and the group commit that
    /// crosses that line may add its pages first. Readers holding snapshots cannot hold a reset
    /// back for more than 100 ms at a time. A running backup does (`backup(into:)`): until it ends,
    /// the WAL grows with the writes made meanwhile.
    public static let walSizeBound: Int64 = 16 << 20
    /// Internal (not private): the job-record extension reads and submits through them.
    let readers: ReaderPool
    let writer: GroupCommitWriter
    /// Runs the writer's passive checkpoints on a thread of its own (`StoreOptions.checkpointsInBackground`).
    let checkpointer: WALCheckpointer?
    /// Internal (not private): backups check it before they open the path.
    let file: DatabaseFile
    /// Who this process's writes are logged as, when a write names no author.
    let author: String
    /// The backups running now; `close` stops them first.
    let backups = BackupGate()
    /// How long a connection waits for a lock held by another process.
    let busyTimeoutMilliseconds: Int32

    /// Opens (creating if needed) and migrates the database at `path`.
    /// - Parameter onReplaced: called once, on any thread, when the store finds that `path` no
    ///   longer names the file it opened (see `StoreError.databaseReplaced`).
    /// - Throws: `.notWritable` for a read-only file or directory, `.schemaTooNew` for a file
    ///   from a newer version, `.database` when SQLite fails.
    public init(
        path: String, options: StoreOptions = StoreOptions(),
        onReplaced: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(StoreError) {
        self.path = path
        self.author = options.author
        self.busyTimeoutMilliseconds = options.busyTimeoutMilliseconds
        // Contacts are personal data: a new file is created private to its owner before SQLite
        // opens it (an empty file is a valid empty database), and SQLite gives its -wal and -shm
        // files the same mode. An existing file keeps the mode its owner chose.
        if !path.hasPrefix(":") {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { Glibc.close(fd) }
            try Self.checkWritable(path)
        }
        let db: SQLiteConnection = try StoreError.translating {
            let db = try SQLiteConnection(path: path)
            // SQLite silently opens a file it cannot write read-only.
            if db.isReadOnly { throw StoreError.notWritable(path: path, reason: "SQLite can open it only read-only") }
            db.setBusyTimeout(milliseconds: options.busyTimeoutMilliseconds)
            // Check the version before anything writes to the file.
            let found = try db.scalarInt("PRAGMA user_version") ?? 0
            if found > Schema.latestVersion {
                throw StoreError.schemaTooNew(found: found, supported: Schema.latestVersion)
            }
            try db.execute("PRAGMA synchronous = \(options.synchronous.rawValue.uppercased())")
            try db.execute("PRAGMA foreign_keys = ON")
            try db.execute(Self.noTemporaryFiles)
            return db
        }
        try Self.retryingDeadlocks(timeoutMilliseconds: options.busyTimeoutMilliseconds) { () throws(StoreError) in
            try StoreError.translating { try db.execute("PRAGMA journal_mode = WAL") }
            try Schema.migrate(
                db, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds, progress: options.onMigration)
        }
        let busy = options.busyTimeoutMilliseconds
        let file = DatabaseFile(path: path, onReplaced: onReplaced)
        self.file = file
        // The writer has read the file, so its -shm exists and can be watched.
        let watcher = options.reuseSnapshots && !path.hasPrefix(":") ? WALChangeWatcher(databasePath: path, busyTimeoutMilliseconds: busy) : nil
        let readers = ReaderPool(watcher: watcher, maxReaders: options.maxReaders, file: file, open: { () throws(StoreError) -> SQLiteConnection in
            // A new reader opens the path: it must still name our file (or the reader would read
            // another database, and share its -shm by name with ours).
            guard file.check() else { throw .databaseReplaced(path: path) }
            do throws(SQLiteError) {
                let reader = try SQLiteConnection(path: path, create: false)
                reader.setBusyTimeout(milliseconds: busy)
                // 16 MB of page cache per reader (allocated only as pages are read): large databases
                // keep their index pages in memory instead of re-reading them through the kernel.
                try reader.execute("PRAGMA query_only = 1; PRAGMA cache_size = -16384; \(Self.noTemporaryFiles)")
                return reader
            } catch {
                throw .from(error)
            }
        })
        self.readers = readers
        let checkpointer: WALCheckpointer? = try StoreError.translating {
            guard options.checkpointsInBackground, !path.hasPrefix(":") else { return nil }
            return try WALCheckpointer(path: path, file: file, busyTimeoutMilliseconds: busy)
        }
        self.checkpointer = checkpointer
        self.writer = try StoreError.translating {
            try GroupCommitWriter(
                connection: db, maxBatch: options.maxWriteBatch, busyTimeoutMilliseconds: busy, file: file,
                readers: readers, checkpointer: checkpointer, foldsSearchEdits: true)
        }
    }

    /// Refuses a database SQLite could read but not write: a read-only file, or a directory in
    /// which SQLite cannot create the `-wal` and `-shm` files (or a read-only file system).
    private static func checkWritable(_ path: String) throws(StoreError) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        if faccessat(AT_FDCWD, path, F_OK, 0) == 0, faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0 {
            throw .notWritable(path: path, reason: "the file cannot be written (\(String(cString: strerror(errno))))")
        }
        if faccessat(AT_FDCWD, directory, W_OK, AT_EACCESS) != 0 {
            throw .notWritable(
                path: path,
                reason: "its directory \(directory) cannot be written (\(String(cString: strerror(errno)))), "
                    + "and SQLite needs to create the -wal and -shm files there")
        }
    }

    /// Runs `body` again when SQLite reports busy at once: when two processes set up a new file
    /// together, SQLite breaks the lock cycle by failing one of them without waiting.
    private static func retryingDeadlocks(
        timeoutMilliseconds: Int32, _ body: () throws(StoreError) -> Void
    ) throws(StoreError) {
        let deadline = Timestamp.now().milliseconds + Int64(timeoutMilliseconds)
        while true {
            do {
                return try body()
            } catch .database(let code, let message) where code & 0xFF == 5 || code & 0xFF == 6 {
                if Timestamp.now().milliseconds > deadline { throw .database(code: code, message: message) }
                usleep(UInt32.random(in: 5_000...30_000))
            }
        }
    }

    /// Stops a running backup (it ends within one step, leaving no file), finishes queued writes, checkpoints the WAL into the database file (`TRUNCATE`) and
    /// closes every connection, so the file alone holds every acknowledged write. When no other
    /// process has the database open, SQLite then deletes the `-wal` and `-shm` files. Later
    /// reads and writes fail with `.closed`.
    ///
    /// After the file was replaced (`StoreError.databaseReplaced`) the `-wal` and `-shm` files at
    /// the path may belong to the new file: then nothing is deleted by path, and the checkpoint
    /// only empties the WAL this store has open (through its descriptor), so it cannot be
    /// replayed into the new file.
    public func close() {
        // A backup holds a read snapshot, which the final checkpoint would wait for: stopped first.
        backups.close()
        writer.close { [readers, file, checkpointer] db in
            // Its connection is closed before the last one, which deletes the WAL files, and
            // before the final checkpoint, which SQLite refuses while another runs.
            checkpointer?.close()
            readers.closeAll()
            if !file.check() { db.keepWALFilesOnClose() }
            try? db.checkpoint(SQLITE_CHECKPOINT_TRUNCATE)
        }
        file.stopWatching()
    }

    // MARK: Reads

    /// The contact with that username, compared case-insensitively, read in `session` if given.
    /// - Throws: `.notFound` when there is none.
    public func get(username: String, in session: ReadSession? = nil) throws(StoreError) -> Contact {
        let found = try readers.withReader(in: session) { db throws(StoreError) in
            do throws(SQLiteError) { return try db.fetchContact(username: username) } catch { throw .from(error) }
        }
        guard let found else { throw .notFound(username: username) }
        return found.contact
    }

    /// Runs `body` with a read session: every read given it shares one snapshot (one SQLite read
    /// transaction) and one reader, taken at the first read. The server opens one for a run of
    /// pipelined requests or a batch; writes are unaffected.
    public func withReadSession<T>(_ body: (ReadSession) -> T) -> T {
        readers.withSession(body)
    }

    /// One page of contacts in case-insensitive username order, with the change log's head read
    /// in the same snapshot, read in `session` if given.
    public func list(_ query: ListQuery, in session: ReadSession? = nil) throws(StoreError) -> ContactPage {
        let (page, head) = try readers.withReader(in: session) { db throws(StoreError) in
            do throws(SQLiteError) {
                return try db.inSnapshot { () throws(SQLiteError) in (try db.fetchPage(query), try db.changeLogHead()) }
            } catch {
                throw .from(error)
            }
        }
        let next = page.hasMore ? page.contacts.last.map { ListCursor.encode(after: $0.username) } : nil
        return ContactPage(contacts: page.contacts, nextCursor: next, headSeq: head)
    }

    /// The contacts matching every word of `query` in any field, best first (protocol.md,
    /// `contacts.search`), read in `session` if given.
    public func search(_ query: SearchQuery, in session: ReadSession? = nil) throws(StoreError) -> [Contact] {
        try readers.withReader(in: session) { db throws(StoreError) in
            do throws(SQLiteError) { return try db.searchContacts(query) } catch { throw .from(error) }
        }
    }

    /// How many contacts are stored, read in `session` if given.
    public func count(in session: ReadSession? = nil) throws(StoreError) -> Int64 {
        try readers.withReader(in: session) { db throws(StoreError) in
            do throws(SQLiteError) { return try db.countContacts() } catch { throw .from(error) }
        }
    }

    // MARK: Writes, asynchronous (group commit)

    // Every write logs its change in its own transaction (`SQLiteConnection+Changes.swift`),
    // as written by `author`, or by this process (`StoreOptions.author`) when it is nil.
    // Completions run on the writer's acknowledging thread, in commit order: they must only hand
    // the result on (`CommitAcknowledger`).

    /// Creates a contact; `completion` runs once the write is durable or has failed.
    public func create(
        _ new: NewContact, author: String? = nil, completion: @escaping @Sendable (Result<Contact, StoreError>) -> Void
    ) {
        let author = author ?? self.author
        writer.submit(
            { db, now throws(StoreError) in try db.insertContact(new, now: now, author: author) }, completion: completion)
    }

    /// Applies a partial update; `completion` runs once it is durable or has failed.
    public func update(
        _ change: ContactUpdate, author: String? = nil,
        completion: @escaping @Sendable (Result<Contact, StoreError>) -> Void
    ) {
        let author = author ?? self.author
        writer.submit(
            { db, now throws(StoreError) in try db.updateContact(change, now: now, author: author) },
            completion: completion)
    }

    /// Deletes a contact and its emails; the result is the stored username.
    public func delete(
        username: String, expectedVersion: Int64? = nil, author: String? = nil,
        completion: @escaping @Sendable (Result<String, StoreError>) -> Void
    ) {
        let author = author ?? self.author
        writer.submit(
            { db, now throws(StoreError) in
                try db.deleteContact(username: username, expectedVersion: expectedVersion, now: now, author: author)
            }, completion: completion)
    }

    /// Deletes up to `limit` contacts created before `cutoff`, in one transaction; the result is the count.
    /// With `onlyGenerated`, only contacts the task runner made (`create(_:jobID:)`) go.
    public func purge(
        createdBefore cutoff: Timestamp, limit: Int, onlyGenerated: Bool = false, author: String? = nil,
        completion: @escaping @Sendable (Result<Int, StoreError>) -> Void
    ) {
        let author = author ?? self.author
        writer.submit(
            { db, now throws(StoreError) in
                try db.purgeContacts(
                    createdBefore: cutoff, limit: limit, onlyGenerated: onlyGenerated, now: now, author: author)
            }, completion: completion)
    }

    // MARK: Writes, blocking (for tools and the task runner; never call from a write's completion)

    /// Creates a contact and waits until it is durable.
    public func create(_ new: NewContact, author: String? = nil) throws(StoreError) -> Contact {
        try wait { create(new, author: author, completion: $0) }
    }

    /// Updates a contact and waits until it is durable.
    public func update(_ change: ContactUpdate, author: String? = nil) throws(StoreError) -> Contact {
        try wait { update(change, author: author, completion: $0) }
    }

    /// Deletes a contact and waits until it is durable.
    @discardableResult
    public func delete(
        username: String, expectedVersion: Int64? = nil, author: String? = nil
    ) throws(StoreError) -> String {
        try wait { delete(username: username, expectedVersion: expectedVersion, author: author, completion: $0) }
    }

    /// Deletes up to `limit` contacts created before `cutoff` and waits; returns the count.
    public func purge(
        createdBefore cutoff: Timestamp, limit: Int, onlyGenerated: Bool = false, author: String? = nil
    ) throws(StoreError) -> Int {
        try wait {
            purge(createdBefore: cutoff, limit: limit, onlyGenerated: onlyGenerated, author: author, completion: $0)
        }
    }

    /// How long the writer has been on the group of writes it is committing now (waiting for
    /// another process's lock included), in nanoseconds; 0 while it is idle. A watchdog reads it.
    public var writerBusyNanoseconds: UInt64 { writer.busyNanoseconds }

    /// Writes waiting for the writer and mean group-commit batch size.
    public var writerStats: (queueDepth: Int, meanBatchSize: Double) {
        (writer.queueDepth, writer.meanBatchSize)
    }

    func wait<T: Sendable>(
        _ start: (@escaping @Sendable (Result<T, StoreError>) -> Void) -> Void
    ) throws(StoreError) -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        start { result in
            box.result = result
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}

/// Carries one result from the writer's acknowledging thread to a waiting thread.
// The semaphore orders the single write before the single read, so no lock is needed.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    var result: Result<T, StoreError>?
}
