import Locking
import Foundation
import Testing

@testable import ContactStore

/// Readers opened by a pool, and how many were in use at once (now and at most).
private final class ReaderUse: Sendable {
    let counts = LockedValue((opened: 0, inUse: 0, peak: 0))
    var opened: Int { counts.withLock { $0.opened } }
    var peak: Int { counts.withLock { $0.peak } }
}

/// A pool over the database at `path` that counts the readers it opens.
private func makePool(path: String, maxReaders: Int, use: ReaderUse) -> ReaderPool {
    ReaderPool(watcher: nil, maxReaders: maxReaders, file: DatabaseFile(path: path) { _ in }) {
        () throws(StoreError) -> SQLiteConnection in
        use.counts.withLock { $0.opened += 1 }
        do throws(SQLiteError) {
            return try SQLiteConnection(path: path, create: false)
        } catch {
            throw .from(error)
        }
    }
}

@Suite("reader pool")
struct ReaderPoolTests {
    @Test("at most maxReaders readers are open or in use at once: other reads wait for one")
    func readersAreBounded() throws {
        try withTemporaryStore { _, path in
            let use = ReaderUse()
            let pool = makePool(path: path, maxReaders: 2, use: use)
            let done = DispatchGroup()
            // Real threads, so that all eight reads truly overlap whatever the core count.
            for _ in 0..<8 {
                done.enter()
                Thread.detachNewThread {
                    _ = try? pool.withReader { db throws(StoreError) in
                        use.counts.withLock {
                            $0.inUse += 1
                            $0.peak = max($0.peak, $0.inUse)
                        }
                        usleep(20_000)  // hold the reader so that the others must share
                        use.counts.withLock { $0.inUse -= 1 }
                    }
                    done.leave()
                }
            }
            done.wait()
            #expect(use.peak <= 2)
            #expect(use.opened <= 2)
        }
    }

    @Test("reads given a session use its reader, so a pool of one does not deadlock")
    func sessionReaderIsReused() throws {
        try withTemporaryStore { _, path in
            let use = ReaderUse()
            let pool = makePool(path: path, maxReaders: 1, use: use)
            let count = pool.withSession { session in
                (try? pool.withReader(in: session) { db throws(StoreError) in
                    try StoreError.translating { try db.scalarInt("SELECT 1") }
                }) ?? nil
            }
            #expect(count == 1)
            // And the session's reader went back: a read after it does not wait forever.
            #expect((try? pool.withReader { _ throws(StoreError) in true }) == true)
            #expect(use.opened == 1)
        }
    }
}
