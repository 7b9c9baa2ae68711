import Foundation
import Testing

@testable import ContactService

@Suite("WALWriteWatch: waking the change feed's poller when the WAL is written")
struct WALWriteWatchTests {
    /// A fresh file in a temporary directory, removed afterwards.
    static func withFile(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("walwatch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("c.db-wal").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        try body(path)
    }

    @Test("a write to the file, by a handle of its own, is reported once however many writes came")
    func writesAreReported() throws {
        try Self.withFile { path in
            let watch = try #require(WALWriteWatch(walPath: path))
            #expect(watch.wait(milliseconds: 0) == false)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            defer { try? handle.close() }
            for _ in 0..<3 { try handle.write(contentsOf: Data("frame".utf8)) }
            #expect(watch.wait(milliseconds: 5000) == true)
            #expect(watch.wait(milliseconds: 0) == false)
        }
    }

    @Test("wake ends a wait that no write would end, and reports no write")
    func wakeEndsAWait() throws {
        try Self.withFile { path in
            let watch = try #require(WALWriteWatch(walPath: path))
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { watch.wake() }
            // Without the wake this waits the whole minute.
            let started = Date()
            #expect(watch.wait(milliseconds: 60_000) == false)
            #expect(Date().timeIntervalSince(started) < 59)
        }
    }

    @Test("a file that does not exist cannot be watched (the poller then looks at its interval)")
    func missingFileIsNotWatched() {
        #expect(WALWriteWatch(walPath: "/nonexistent-\(UUID().uuidString)/c.db-wal") == nil)
    }
}
