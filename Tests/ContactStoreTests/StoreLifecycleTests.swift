import Foundation
import Synchronization
import Testing

@testable import ContactStore

@Suite("the store's files on disk: closing, WAL size")
struct StoreLifecycleTests {
    @Test("the WAL stays under its bound while readers keep reading during a long run of writes")
    func walStaysBoundedUnderConcurrentReads() throws {
        try withTemporaryStore { store, path in
            _ = try store.create(try newContact("reader"))
            let writing = Atomic<Bool>(true)
            let readers = DispatchGroup()
            // Readers that always hold a snapshot: without a bound, checkpoints can never reset the WAL.
            for _ in 0..<3 {
                DispatchQueue.global().async(group: readers) {
                    while writing.load(ordering: .relaxed) { _ = try? store.get(username: "reader") }
                }
            }
            var largest: Int64 = 0
            // Each create commits on its own: about 40 MB of WAL frames in all if nothing resets it.
            for index in 0..<3_000 {
                _ = try store.create(try newContact("user\(index)", emails: ["user\(index)@example.com"]))
                if index % 100 == 0 { largest = max(largest, fileSize(path + "-wal")) }
            }
            writing.store(false, ordering: .relaxed)
            readers.wait()
            largest = max(largest, fileSize(path + "-wal"))
            #expect(largest <= ContactStore.walSizeBound, "the -wal file reached \(largest) bytes")
        }
    }
}

func fileSize(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : 0
}
