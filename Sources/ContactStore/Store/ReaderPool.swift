import Synchronization

/// Read-only SQLite connections, handed out one caller at a time.
///
/// In WAL mode readers never wait for the writer, so a read runs on the caller's thread with
/// no queue hop and no global lock: the mutex is held only to pop or push a connection.
final class ReaderPool: Sendable {
    private let idle = Mutex<[SQLiteConnection]>([])
    private let open: @Sendable () throws(StoreError) -> SQLiteConnection

    init(open: @escaping @Sendable () throws(StoreError) -> SQLiteConnection) {
        self.open = open
    }

    /// Runs `body` with a reader connection that no one else uses meanwhile.
    func withReader<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        let reader: SQLiteConnection
        if let idleReader = idle.withLock({ $0.popLast() }) {
            reader = idleReader
        } else {
            reader = try open()
        }
        defer { idle.withLock { $0.append(reader) } }
        return try body(reader)
    }

    /// Closes every idle reader.
    func closeAll() {
        idle.withLock { $0.removeAll() }
    }
}
