import CSQLite
import ContactPaths
import Glibc
import Locking
import Dispatch
import MonotonicClock

/// What `ContactStore.backup` wrote.
public struct BackupResult: Sendable, Equatable {
    /// The backup's absolute path: the backup directory and its name.
    public var path: String
    /// The file name.
    public var name: String
    /// The file's size in bytes.
    public var sizeBytes: Int64
    /// From the call to the checked file under its name, in nanoseconds.
    public var durationNanoseconds: UInt64
}

/// Backups: a consistent copy of the live database, written while reads and writes go on.
extension ContactStore {
    /// Writes a consistent copy of the database into `directory` under `name` (by default
    /// `contacts-YYYYMMDDTHHMMSSZ.db` for `now`, in UTC) and checks it with `PRAGMA quick_check`.
    ///
    /// The copy is one read snapshot (SQLite's online backup API, stepping `pacing.pagesPerStep`
    /// pages at a time from one open read transaction), so writers and readers never wait for it.
    /// It is written to a hidden file created with mode 0600 in `directory`, checked, synced, and
    /// only then linked under `name` (`link(2)` never replaces a file); any failure removes it.
    /// `directory` is created (mode 0700) when missing. Blocks the calling thread for the copy.
    /// - Parameter shouldContinue: called between steps; false stops the backup (`.interrupted`).
    /// - Throws: `.invalid` for a bad name (field `name`), `.backupExists` when `name` is taken,
    ///   `.backupFailed` (full disk, unwritable directory, failed check, stopped), `.closed` when
    ///   the store closes meanwhile, `.databaseReplaced`.
    public func backup(
        into directory: String, name: String? = nil, now: Timestamp = .now(), pacing: BackupPacing = BackupPacing(),
        shouldContinue: () -> Bool = { true }
    ) throws(StoreError) -> BackupResult {
        let started = MonotonicClock.nanoseconds()
        if let name, let problem = BackupName.problem(with: name) {
            throw .invalid([FieldError(field: "name", message: problem)])
        }
        let name = name ?? BackupName.defaultName(at: now)
        guard backups.enter() else { throw .closed }
        defer { backups.leave() }
        do {
            try ContactPaths.createParentDirectories(of: directory + "/" + name)
        } catch {
            throw .backupFailed(BackupFailure(reason: "not_writable", message: "the backup directory cannot be created"))
        }
        let target = directory + "/" + name
        if faccessat(AT_FDCWD, target, F_OK, AT_SYMLINK_NOFOLLOW) == 0 { throw .backupExists(name: name) }
        var random = SystemRandomNumberGenerator()
        let temporary = directory + "/.\(name).tmp-\(String(random.next(), radix: 36))"
        // Private from its first moment: the copy is written into this file, never created by SQLite.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .backupFailed(.system("creating the backup file", errno: errno)) }
        Glibc.close(fd)
        // However it ends, nothing but the linked name stays: the temporary file and any journal
        // SQLite made beside it go.
        defer {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
        }
        try onIdleThread(shouldContinue: shouldContinue) { [self] stopped throws(StoreError) in
            try copySnapshot(to: temporary, pacing: pacing, stopped: stopped)
            try check(temporary, pacing: pacing)
        }
        try syncFile(temporary)
        guard link(temporary, target) == 0 else {
            if errno == EEXIST { throw .backupExists(name: name) }
            throw .backupFailed(.system("naming the backup file", errno: errno))
        }
        try syncFile(directory)
        var info = stat()
        let size = stat(target, &info) == 0 ? Int64(info.st_size) : 0
        return BackupResult(
            path: Self.absolute(target), name: name, sizeBytes: size, durationNanoseconds: MonotonicClock.nanoseconds() - started)
    }

    /// Runs `work` (the copy and its check) on a thread of its own at idle priority (Linux's
    /// `SCHED_IDLE`): it runs only when no other thread wants a core, and a request's thread that
    /// wakes takes the core from it at once, so reads and writes hardly notice a backup (get p99
    /// at a million contacts within 1.1× of without, against 3–4× at normal priority). A thread of
    /// its own because an unprivileged thread cannot leave `SCHED_IDLE` again, and the caller's
    /// (a task runner's worker) goes on to other work. Meanwhile this thread asks `shouldContinue`
    /// every 50 ms; `work` sees the answer through `stopped`.
    private func onIdleThread(
        shouldContinue: () -> Bool, _ work: @escaping @Sendable (_ stopped: @Sendable () -> Bool) throws(StoreError) -> Void
    ) throws(StoreError) {
        let stop = LockedValue(false)
        let outcome = LockedValue<StoreError?>(nil)
        let done = DispatchSemaphore(value: 0)
        BackgroundThread.start {
            var idle = sched_param(sched_priority: 0)
            sched_setscheduler(0, BackupPacing.schedIdle, &idle)
            do throws(StoreError) {
                try work { stop.withLock { $0 } }
            } catch {
                outcome.withLock { $0 = error }
            }
            done.signal()
        }
        while done.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            if !shouldContinue() { stop.withLock { $0 = true } }
        }
        if let error = outcome.withLock({ $0 }) { throw error }
    }

    /// Copies one snapshot of the database into the (empty) file at `destination`, converted
    /// from WAL to a rollback journal, so the backup is one self-contained file.
    private func copySnapshot(
        to destination: String, pacing: BackupPacing, stopped: () -> Bool
    ) throws(StoreError) {
        do {
            let copy = try SQLiteConnection(path: destination, create: false)
            // The file is thrown away on any failure: no journal and no sync until it is whole.
            try copy.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            guard file.check() else { throw StoreError.databaseReplaced(path: path) }
            let source = try SQLiteConnection(path: path, create: false)
            source.setBusyTimeout(milliseconds: busyTimeoutMilliseconds)
            try source.execute("PRAGMA query_only = 1; BEGIN")
            // The first read starts the transaction: from here on `source` sees one snapshot.
            _ = try source.scalarInt("SELECT count(*) FROM sqlite_schema")
            // Held open for the whole copy, that snapshot would make every WAL reset wait for it.
            var pacer = BackupPacer(pacing)
            try writer.withoutWALResets { () throws(SQLiteError) in
                try copy.copyPages(from: source, pagesPerStep: pacing.pagesPerStep) {
                    pacer.rest()
                    return !backups.isClosing && !stopped()
                }
            }
            try source.execute("COMMIT")
            // The copy's header says WAL, like its source's; a backup is better one file alone.
            try copy.execute("PRAGMA journal_mode = DELETE")
        } catch let error as StoreError {
            throw error
        } catch let error as SQLiteError {
            if error.primaryCode == SQLITE_INTERRUPT, backups.isClosing { throw .closed }
            throw .backupFailed(.sqlite(error))
        } catch {
            throw .backupFailed(BackupFailure(reason: "io_error", message: "\(error)"))
        }
    }

    /// Runs `PRAGMA quick_check` on the finished file with a connection of its own (so the pages
    /// come from the file, not from the copy's cache), paced like the copy: it reads the whole
    /// file, which at a million contacts is seconds of a core.
    private func check(_ file: String, pacing: BackupPacing) throws(StoreError) {
        let verdict: String?
        do throws(SQLiteError) {
            let reader = try SQLiteConnection(path: file, readOnly: true, create: false)
            var pacer = BackupPacer(pacing)
            verdict = try reader.withProgressHandler(every: 10_000, {
                if pacer.worked >= BackupPacing.checkSliceNanoseconds { pacer.rest() }
            }) { () throws(SQLiteError) in
                try reader.scalarText("PRAGMA quick_check")
            }
        } catch {
            throw .backupFailed(.sqlite(error))
        }
        guard verdict == "ok" else {
            throw .backupFailed(
                BackupFailure(reason: "check_failed", message: "quick_check found: \(verdict ?? "nothing")"))
        }
    }

    /// `path` from the root: relative paths are taken from the working directory.
    private static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// fsync(2) of a file or directory, so the backup and its name survive a power loss.
    private func syncFile(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .backupFailed(.system("opening the backup to sync it", errno: errno)) }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw .backupFailed(.system("syncing the backup", errno: errno)) }
    }
}
