import CSQLite

/// Tells, with two memory reads and no lock or system call, whether any connection in any process
/// has committed to the database since a moment in the past.
///
/// SQLite keeps a "WAL-index header" at the start of the `-shm` file, in memory shared by every
/// process using the database. Every commit rewrites it (its change counter, last frame and
/// checksum change), in two copies written in order, before the commit returns. SQLite's own
/// readers compare it to detect changes (walIndexTryHdr in wal.c; the layout is documented in
/// https://sqlite.org/walformat.html). We read it the same way: equal copies that also equal the
/// copy taken before a snapshot began mean nothing was committed since.
final class WALChangeWatcher: @unchecked Sendable {
    // @unchecked Sendable: `connection` is never used after init (it stays open only so that
    // SQLite keeps the mapping) until `close`, which the reader pool calls once no reader can
    // call `current` any more; the mapping is only read, with the acquire fence and volatile
    // loads of the C helper.
    private var connection: SQLiteConnection?
    private let mapping: UnsafeRawPointer

    /// One reading of the header: 48 bytes, as six words.
    struct Header: Equatable, Sendable {
        fileprivate var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

        static func == (lhs: Header, rhs: Header) -> Bool {
            lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2
                && lhs.words.3 == rhs.words.3 && lhs.words.4 == rhs.words.4 && lhs.words.5 == rhs.words.5
        }
    }

    /// Watches the database at `path` through a connection of its own, using SQLite's mapping of
    /// the `-shm` file (never a descriptor of our own: closing one would drop SQLite's locks).
    /// Nil when the database is not in WAL mode (the caller then never reuses snapshots).
    init?(databasePath: String, busyTimeoutMilliseconds: Int32) {
        guard let connection = try? SQLiteConnection(path: databasePath, create: false) else { return nil }
        connection.setBusyTimeout(milliseconds: busyTimeoutMilliseconds)
        // Reading the journal mode also opens the WAL index (outside WAL mode there is none, and
        // asking SQLite for one would create a stray -shm file).
        guard (try? connection.scalarText("PRAGMA journal_mode")) == "wal", let mapping = connection.walIndex()
        else { return nil }
        self.connection = connection
        self.mapping = mapping
    }

    /// Closes the connection, and with it the mapping: `current()` must not be called after this.
    /// Until it is closed, SQLite cannot delete the `-wal` and `-shm` files when the store closes.
    func close() {
        connection = nil
    }

    /// The header now, or nil while a commit is rewriting it (the two copies differ) or before
    /// SQLite has initialized it.
    func current() -> Header? {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 12) { buffer in
            let words = buffer.baseAddress!
            contacts_read_wal_index_header(mapping, words)
            let first = Header(words: (words[0], words[1], words[2], words[3], words[4], words[5]))
            let second = Header(words: (words[6], words[7], words[8], words[9], words[10], words[11]))
            // Byte 12 of the header is isInit.
            guard first == second, (words[1] >> 32) & 0xFF == 1 else { return nil }
            return first
        }
    }
}
