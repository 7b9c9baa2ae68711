import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Read-only SQLite connections, handed out one caller at a time.
///
/// In WAL mode readers never wait for the writer, so a read runs on the caller's thread with
/// no queue hop and no global lock: the mutex is held only to pop or push a connection.
///
/// `withSnapshot` pins one reader to the calling thread inside one read transaction, so that a
/// run of reads (pipelined requests) pays for SQLite's read locks once instead of per query.
final class ReaderPool: Sendable {
    private let idle = Mutex<[SQLiteConnection]>([])
    private let open: @Sendable () throws(StoreError) -> SQLiteConnection

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

    init(open: @escaping @Sendable () throws(StoreError) -> SQLiteConnection) {
        self.open = open
    }

    private func checkout() throws(StoreError) -> SQLiteConnection {
        if let reader = idle.withLock({ $0.popLast() }) { return reader }
        return try open()
    }

    private func checkin(_ reader: SQLiteConnection) {
        idle.withLock { $0.append(reader) }
    }

    /// Runs `body` with a reader connection that no one else uses meanwhile (the pinned one
    /// inside `withSnapshot`).
    func withReader<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        if let raw = pthread_getspecific(Self.pinnedKey) {
            let pinned = Unmanaged<Pinned>.fromOpaque(raw).takeUnretainedValue()
            if pinned.pool == ObjectIdentifier(self) { return try body(pinned.reader) }
        }
        let reader = try checkout()
        defer { checkin(reader) }
        return try body(reader)
    }

    /// Runs `body` with every read on this thread sharing one read transaction (one snapshot).
    /// Keep the scope short: an open read transaction holds back WAL checkpoints.
    func withSnapshot<T>(_ body: () -> T) -> T {
        if pthread_getspecific(Self.pinnedKey) != nil { return body() }
        guard let reader = try? checkout() else { return body() }
        defer { checkin(reader) }
        // BEGIN (deferred) takes no lock; the snapshot starts at the first read, if any.
        guard (try? reader.statement("BEGIN").run()) != nil else { return body() }
        let pinned = Pinned(pool: ObjectIdentifier(self), reader: reader)
        pthread_setspecific(Self.pinnedKey, Unmanaged.passUnretained(pinned).toOpaque())
        defer {
            pthread_setspecific(Self.pinnedKey, nil)
            if (try? reader.statement("COMMIT").run()) == nil { try? reader.execute("ROLLBACK") }
            withExtendedLifetime(pinned) {}
        }
        return body()
    }

    /// Closes every idle reader.
    func closeAll() {
        idle.withLock { $0.removeAll() }
    }
}
