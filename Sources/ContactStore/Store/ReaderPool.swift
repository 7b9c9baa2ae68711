import Dispatch
import MonotonicClock
import Synchronization

import Glibc

/// Read-only SQLite connections, handed out one caller at a time, at most `maxReaders` open:
/// when all are in use, a read waits for one to come back rather than opening another (each
/// costs two descriptors and a page cache).
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
/// `warmMilliseconds`, so checkpoints are never held back for long.
final class ReaderPool: Sendable {
    /// A reader, with its open snapshot if it has one.
    private struct Entry: @unchecked Sendable {
        // @unchecked Sendable: an entry is owned by whoever popped it (or by the locked array).
        let reader: SQLiteConnection
        var snapshot: (header: WALChangeWatcher.Header, since: UInt64)?
    }

    private let idle = Mutex<[Entry]>([])
    /// One permit per reader that may be checked out; a checkout waits for a permit.
    private let permits: DispatchSemaphore
    private let open: @Sendable () throws(StoreError) -> SQLiteConnection
    private let watcher: WALChangeWatcher?
    private let warmNanoseconds: UInt64 = 20_000_000
    private let reaperQueue = DispatchQueue(label: "contacts.store.readers")
    private let reaperScheduled = Mutex(false)

    /// The reader pinned to this thread by `withSnapshot`, if any, and which pool it belongs to.
    private final class Pinned {
        let pool: ObjectIdentifier
        let reader: SQLiteConnection
        init(pool: ObjectIdentifier, reader: SQLiteConnection) {
            self.pool = pool
            self.reader = reader
        }
    }

    // One process-wide key; values are unretained `Pinned` pointers that live for one scope.
    private static let pinnedKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// - Parameters:
    ///   - watcher: nil disables snapshot reuse (every read is its own transaction).
    ///   - maxReaders: most readers open (and checked out) at once.
    init(
        watcher: WALChangeWatcher?, maxReaders: Int, open: @escaping @Sendable () throws(StoreError) -> SQLiteConnection
    ) {
        self.watcher = watcher
        self.permits = DispatchSemaphore(value: maxReaders)
        self.open = open
    }

    /// A reader whose open transaction (if any) is a current snapshot; waits while `maxReaders`
    /// are checked out. Every checkout that returns is paired with one `checkin`.
    private func checkout() throws(StoreError) -> Entry {
        permits.wait()
        var entry: Entry
        if let popped = idle.withLock({ $0.popLast() }) {
            entry = popped
        } else {
            do {
                entry = Entry(reader: try open(), snapshot: nil)
            } catch {
                permits.signal()
                throw error
            }
        }
        if let snapshot = entry.snapshot {
            if MonotonicClock.nanoseconds() < snapshot.since + warmNanoseconds, let now = watcher?.current(), now == snapshot.header {
                return entry  // nothing committed since it began: the snapshot is current
            }
            end(&entry)
        }
        // Read the header before the snapshot starts: a commit in between makes the saved header
        // older than the snapshot, which only causes one needless renewal later, never a stale read.
        if let watcher, let header = watcher.current(), (try? entry.reader.statement("BEGIN").run()) != nil {
            entry.snapshot = (header, MonotonicClock.nanoseconds())
        }
        return entry
    }

    private func checkin(_ entry: Entry) {
        idle.withLock { $0.append(entry) }
        permits.signal()
        if entry.snapshot != nil { scheduleReaper() }
    }

    private func end(_ entry: inout Entry) {
        if (try? entry.reader.statement("COMMIT").run()) == nil, entry.reader.isInTransaction {
            try? entry.reader.execute("ROLLBACK")
        }
        entry.snapshot = nil
    }

    /// Runs `body` with a reader connection that no one else uses meanwhile (the pinned one
    /// inside `withSnapshot`).
    func withReader<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        if let raw = pthread_getspecific(Self.pinnedKey) {
            let pinned = Unmanaged<Pinned>.fromOpaque(raw).takeUnretainedValue()
            if pinned.pool == ObjectIdentifier(self) { return try body(pinned.reader) }
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

    /// Runs `body` with every read on this thread sharing one read transaction (one snapshot).
    func withSnapshot<T>(_ body: () -> T) -> T {
        if pthread_getspecific(Self.pinnedKey) != nil { return body() }
        guard var entry = try? checkout() else { return body() }
        if entry.snapshot == nil {
            // No snapshot reuse: open a transaction just for this scope.
            guard (try? entry.reader.statement("BEGIN").run()) != nil else {
                checkin(entry)
                return body()
            }
        }
        let pinned = Pinned(pool: ObjectIdentifier(self), reader: entry.reader)
        pthread_setspecific(Self.pinnedKey, Unmanaged.passUnretained(pinned).toOpaque())
        defer {
            pthread_setspecific(Self.pinnedKey, nil)
            if entry.snapshot == nil, entry.reader.isInTransaction { end(&entry) }
            checkin(entry)
            withExtendedLifetime(pinned) {}
        }
        return body()
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
            // An entry taken out holds a permit (taken without waiting), so a checkout meanwhile
            // cannot open a reader past `maxReaders`; entries without a free permit wait a round.
            var stale: [Entry] = idle.withLock { entries in
                var taken: [Entry] = []
                entries.removeAll { entry in
                    guard isStale(entry), permits.wait(timeout: .now()) == .success else { return false }
                    taken.append(entry)
                    return true
                }
                return taken
            }
            for index in stale.indices { end(&stale[index]) }
            let warmLeft = idle.withLock { entries in
                entries.append(contentsOf: stale)
                return entries.contains { $0.snapshot != nil }
            }
            for _ in stale { permits.signal() }
            if warmLeft { scheduleReaper() }
        }
    }

    /// Ends every snapshot and closes every idle reader.
    func closeAll() {
        var entries = idle.withLock { entries in
            defer { entries.removeAll() }
            return entries
        }
        for index in entries.indices where entries[index].snapshot != nil { end(&entries[index]) }
    }
}
