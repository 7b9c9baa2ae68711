import Dispatch
import MonotonicClock
import Locking
import Synchronization

import Glibc

/// Read-only SQLite connections, handed out one caller at a time.
///
/// In WAL mode readers never wait for the writer, so a read runs on the caller's thread with
/// no queue hop and no global lock: the mutex is held only to pop or push a connection.
///
/// Snapshot reuse: a returned reader keeps its read transaction open ("warm") together with the
/// WAL-index header read just before that transaction began. The next caller reuses the open
/// transaction only if the header is unchanged, i.e. nobody in any process has committed since,
/// so the snapshot is exactly what a new transaction would see; otherwise the transaction is
/// ended and a new one begun. This saves SQLite's per-transaction locking (two `fcntl` calls and
/// an `fstat`, about half the cost of a get). Warm readers left idle are ended after
/// `warmMilliseconds`, so checkpoints are never held back for long, and not at all while the
/// writer resets a large WAL (`withoutSnapshotReuse`).
final class ReaderPool: Sendable {
    /// A reader, with its open snapshot if it has one.
    struct Entry: @unchecked Sendable {
        // @unchecked Sendable: an entry is owned by whoever popped it (or by the locked state).
        let reader: SQLiteConnection
        var snapshot: (header: WALChangeWatcher.Header, since: UInt64)?
    }

    /// Idle readers, how many are checked out, and whether the pool is closed.
    private struct State: @unchecked Sendable {
        // @unchecked Sendable: only ever touched under the mutex.
        var idle: [Entry] = []
        var inUse = 0
        var closed = false
        /// Signalled when the last checked-out reader comes back after `closeAll` began.
        var drained: DispatchSemaphore?
    }

    private let state = LockedValue(State())
    /// One permit per reader that may be checked out (`--max-readers`); a checkout waits for one.
    private let permits: DispatchSemaphore
    private let open: @Sendable () throws(StoreError) -> SQLiteConnection
    private let watcher: WALChangeWatcher?
    private let file: DatabaseFile
    /// Set while the writer resets a large WAL: snapshots are not kept between reads.
    private let reuseSuspended = Atomic<Bool>(false)
    private let warmNanoseconds: UInt64 = 20_000_000
    private let reaperQueue = DispatchQueue(label: "contacts.store.readers", target: .global())
    private let reaperScheduled = LockedValue(false)

    /// - Parameters:
    ///   - watcher: nil disables snapshot reuse (every read is its own transaction).
    ///   - maxReaders: most readers open (and checked out) at once.
    ///   - file: reads are refused once it is replaced.
    init(
        watcher: WALChangeWatcher?, maxReaders: Int, file: DatabaseFile,
        open: @escaping @Sendable () throws(StoreError) -> SQLiteConnection
    ) {
        self.watcher = watcher
        self.permits = DispatchSemaphore(value: maxReaders)
        self.file = file
        self.open = open
    }

    /// A reader whose open transaction (if any) is a current snapshot; waits while `maxReaders`
    /// are checked out. Every checkout that returns is paired with one `checkin`.
    private func checkout() throws(StoreError) -> Entry {
        permits.wait()
        let (closed, popped): (Bool, Entry?) = state.withLock { state in
            if state.closed { return (true, nil) }
            state.inUse += 1
            return (false, state.idle.popLast())
        }
        if closed {
            permits.signal()
            throw .closed
        }
        var entry: Entry
        if let popped {
            entry = popped
        } else {
            do {
                entry = Entry(reader: try open(), snapshot: nil)
            } catch {
                release()
                throw error
            }
        }
        let reuse = !reuseSuspended.load(ordering: .relaxed)
        if let snapshot = entry.snapshot {
            if reuse, MonotonicClock.nanoseconds() < snapshot.since + warmNanoseconds,
                let now = watcher?.current(), now == snapshot.header
            {
                return entry  // nothing committed since it began: the snapshot is current
            }
            end(&entry)
        }
        // Read the header before the snapshot starts: a commit in between makes the saved header
        // older than the snapshot, which only causes one needless renewal later, never a stale read.
        if reuse, let watcher, let header = watcher.current(),
            (try? entry.reader.statement("BEGIN").run()) != nil
        {
            entry.snapshot = (header, MonotonicClock.nanoseconds())
        }
        return entry
    }

    private func checkin(_ entry: Entry) {
        var entry = entry
        let kept = state.withLock { state in
            if state.closed { return false }
            state.idle.append(entry)
            state.inUse -= 1
            return true
        }
        if kept {
            permits.signal()
            if entry.snapshot != nil { scheduleReaper() }
            return
        }
        // Closed meanwhile: this reader is closed here, by the last reference going away.
        if entry.snapshot != nil { end(&entry) }
        release()
    }

    /// Counts one checked-out reader as gone, waking `closeAll` when it was the last.
    private func release() {
        let drained = state.withLock { state in
            state.inUse -= 1
            return state.closed && state.inUse == 0 ? state.drained : nil
        }
        permits.signal()
        drained?.signal()
    }

    private func end(_ entry: inout Entry) {
        if (try? entry.reader.statement("COMMIT").run()) == nil, entry.reader.isInTransaction {
            try? entry.reader.execute("ROLLBACK")
        }
        entry.snapshot = nil
    }

    /// Runs `body` with a reader connection that no one else uses meanwhile: the session's, when
    /// it is open and from this pool, else one checked out for this read.
    func withReader<T>(
        in session: ReadSession? = nil, _ body: (SQLiteConnection) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        if file.isReplaced { throw .databaseReplaced(path: file.path) }
        if let session, session.isOpen, session.pool == ObjectIdentifier(self) {
            return try body(try reader(of: session))
        }
        var entry = try checkout()
        do {
            let result = try body(entry.reader)
            checkin(entry)
            return result
        } catch {
            // A failed statement may leave the transaction unusable: start clean next time.
            if entry.snapshot != nil { end(&entry) }
            checkin(entry)
            throw error
        }
    }

    /// Runs `body` with a session: one reader and one read transaction (one snapshot) for every
    /// read given it. The reader is taken only when a read first uses the session, so a run of
    /// requests that reads nothing (writes, or a run that pauses at once) holds no reader.
    func withSession<T>(_ body: (ReadSession) -> T) -> T {
        let session = ReadSession(pool: ObjectIdentifier(self))
        defer {
            session.isOpen = false
            if var entry = session.entry {
                session.entry = nil
                if entry.snapshot == nil, entry.reader.isInTransaction { end(&entry) }
                checkin(entry)
            }
        }
        return body(session)
    }

    /// The session's reader, checked out (with a read transaction begun) on first use.
    private func reader(of session: ReadSession) throws(StoreError) -> SQLiteConnection {
        if let entry = session.entry { return entry.reader }
        let entry = try checkout()
        // Without snapshot reuse, a transaction just for this session; if it cannot begin, the
        // reads still run, each in its own.
        if entry.snapshot == nil { _ = try? entry.reader.statement("BEGIN").run() }
        session.entry = entry
        return entry.reader
    }

    /// Ends idle snapshots older than the warm period; runs again while any remain.
    private func scheduleReaper() {
        let first = reaperScheduled.withLock { scheduled in
            defer { scheduled = true }
            return !scheduled
        }
        guard first else { return }
        reaperQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(warmNanoseconds))) { [self] in
            reaperScheduled.withLock { $0 = false }
            let now = MonotonicClock.nanoseconds()
            // A snapshot may have begun after `now` was read (another thread checked it in since):
            // compare by adding, never by subtracting unsigned times.
            let isStale = { (entry: Entry) in entry.snapshot.map { $0.since + self.warmNanoseconds <= now } ?? false }
            let warmLeft = endIdleSnapshots(where: isStale)
            if warmLeft { scheduleReaper() }
        }
    }

    /// Ends the snapshots of the idle readers that match; true when warm idle readers remain.
    private func endIdleSnapshots(where matches: (Entry) -> Bool) -> Bool {
        // An entry taken out holds a permit (taken without waiting), so a checkout meanwhile
        // cannot open a reader past `maxReaders`; entries without a free permit wait a round.
        var taken: [Entry] = state.withLock { state in
            var old: [Entry] = []
            state.idle.removeAll { entry in
                guard matches(entry), permits.wait(timeout: .now()) == .success else { return false }
                old.append(entry)
                return true
            }
            state.inUse += old.count  // out of the pool while their snapshots end
            return old
        }
        for index in taken.indices where taken[index].snapshot != nil { end(&taken[index]) }
        let takenCount = taken.count
        let (warmLeft, drained) = state.withLock { state in
            state.inUse -= taken.count
            if state.closed {
                taken.removeAll()  // closed meanwhile: they close here
                return (false, state.inUse == 0 ? state.drained : nil)
            }
            state.idle.append(contentsOf: taken)
            return (state.idle.contains { $0.snapshot != nil }, nil)
        }
        for _ in 0..<takenCount { permits.signal() }
        drained?.signal()
        return warmLeft
    }

    /// Runs `body` (the writer's WAL reset) while no snapshot is kept between reads: idle warm
    /// snapshots are ended first, and reads meanwhile each use a transaction of their own, so
    /// only reads in progress can hold the reset back.
    func withoutSnapshotReuse(_ body: () -> Void) {
        reuseSuspended.store(true, ordering: .relaxed)
        _ = endIdleSnapshots { $0.snapshot != nil }
        body()
        reuseSuspended.store(false, ordering: .relaxed)
    }

    /// Refuses further reads, ends every snapshot and closes every reader, waiting (up to
    /// `timeoutSeconds`) for those in use, then closes the watcher's connection.
    func closeAll(timeoutSeconds: Int = 10) {
        let (idle, drained): ([Entry], DispatchSemaphore?) = state.withLock { state in
            if state.closed { return ([], nil) }
            state.closed = true
            defer { state.idle.removeAll() }
            if state.inUse > 0 { state.drained = DispatchSemaphore(value: 0) }
            return (state.idle, state.drained)
        }
        var entries = idle
        for index in entries.indices where entries[index].snapshot != nil { end(&entries[index]) }
        entries.removeAll()  // the last references: each connection closes here
        // The watcher's mapping is read by `checkout`, so it closes only once no reader is out.
        if let drained, drained.wait(timeout: .now() + .seconds(timeoutSeconds)) == .timedOut { return }
        watcher?.close()
    }
}
