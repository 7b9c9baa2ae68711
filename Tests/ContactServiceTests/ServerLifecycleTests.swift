@testable import ContactStore
import Foundation
import JSONRPC
import Testing
import TestSupport

@Suite("server lifecycle, limits and durability")
struct ServerLifecycleTests {
    @Test("the socket file is created with mode 0600")
    func socketMode() throws {
        try withRunningServer { server in
            let attributes = try FileManager.default.attributesOfItem(atPath: server.socketPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }

    @Test("a new database file is private to its owner (mode 0600)")
    func databaseMode() throws {
        try withRunningServer { server in
            let attributes = try FileManager.default.attributesOfItem(atPath: server.databasePath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }

    @Test("a stale socket file is replaced at start")
    func staleSocketReplaced() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        // Leave a socket file behind with nobody listening on it.
        let first = try TestServer(directory: directory)
        first.stop(signal: SIGKILL)
        #expect(FileManager.default.fileExists(atPath: first.socketPath))
        let second = try TestServer(directory: directory)
        defer { second.stop() }
        #expect(try second.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"contacts.list"}"#)["id"] == 1)
    }

    @Test("a second server on a live socket refuses to start with a clear message")
    func liveSocketRefused() throws {
        try withRunningServer { server in
            let second = Process()
            second.executableURL = TestServer.binary
            second.arguments = ["--socket", server.socketPath, "--db", server.databasePath + "2"]
            let pipe = Pipe()
            second.standardError = pipe
            try second.run()
            second.waitUntilExit()
            #expect(second.terminationStatus != 0)
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(text.contains("holds the lock \(server.socketPath).lock"))
            // The first server still answers.
            #expect(try server.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"contacts.list"}"#)["id"] == 1)
        }
    }

    @Test("one connection over --max-connections gets one error line and is closed")
    func connectionLimit() throws {
        try withRunningServer(arguments: ["--max-connections", "2"]) { server in
            // The readiness probe may still count as open for a moment; wait until two clients fit.
            var admitted: [LineClient] = []
            try waitUntil("two clients are admitted") {
                admitted = [try server.connect(), try server.connect()]
                return admitted.allSatisfy {
                    (try? $0.call(#"{"jsonrpc":"2.0","id":1,"method":"contacts.list"}"#))?["id"] == 1
                }
            }
            let c = try server.connect()
            // A client that writes before reading still gets the line (no reset on close).
            try? c.send(#"{"jsonrpc":"2.0","id":9,"method":"contacts.list"}"#)
            #expect(try c.readJSON().errorCode == -32000)
            #expect(try c.readLine() == nil)
            // Closing one frees a place.
            admitted.removeFirst()
            try waitUntil("a place is free") {
                let d = try? server.connect()
                return (try? d?.call(#"{"jsonrpc":"2.0","id":2,"method":"contacts.list"}"#))?["id"] == 2
            }
        }
    }

    @Test("SIGTERM answers requests in flight, closes idle connections, removes the socket and exits 0")
    func gracefulShutdown() throws {
        let server = try TestServer()
        let idle = try server.connect()
        let busy = try server.connect()
        var lines = ""
        for id in 1...200 {
            lines += #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.create","params":["user\#(id)","F","L"]}"# + "\n"
        }
        try busy.send(raw: Array(lines.utf8))
        // Wait until the server is working on them, then ask it to stop.
        _ = try busy.readJSON()
        kill(server.process.processIdentifier, SIGTERM)
        var answered = 1
        while let line = try busy.readLine() {
            let response = try JSONReader.parse(Array(line.utf8))
            #expect(response["result"] != nil)
            answered += 1
        }
        #expect(try idle.readLine() == nil)
        #expect(server.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: server.socketPath))
        // Everything acknowledged is in the database.
        let again = try TestServer(directory: server.directory)
        defer { again.stop() }
        let list = try again.connect().request("contacts.list", ["limit": 1000])
        #expect(list["result"]?["contacts"]?.arrayValue?.count == answered)
    }

    @Test("50 concurrent writers: every acknowledged contact survives kill -9")
    func concurrentWritersSurviveKill() throws {
        let server = try TestServer()
        let acknowledged = Acknowledged()
        DispatchQueue.concurrentPerform(iterations: 50) { client in
            guard let connection = try? server.connect() else { return }
            for n in 0..<20 {
                let name = "c\(client)-\(n)"
                let response = try? connection.request(
                    "contacts.create",
                    ["username": .string(name), "first_name": "F", "last_name": "L", "emails": .array([.string("\(name)@example.com")])])
                if response?["result"] != nil { acknowledged.add(name) }
            }
        }
        #expect(acknowledged.names.count == 1000)
        server.stop(signal: SIGKILL)
        let again = try TestServer(directory: server.directory)
        defer { again.stop() }
        let client = try again.connect()
        var stored: Set<String> = []
        var cursor: JSONValue = nil
        repeat {
            let page = try #require(try client.request("contacts.list", ["limit": 1000, "cursor": cursor])["result"])
            for contact in page["contacts"]?.arrayValue ?? [] {
                if let name = contact["username"]?.stringValue { stored.insert(name) }
            }
            cursor = page["next_cursor"] ?? nil
        } while cursor != nil
        #expect(acknowledged.names.isSubset(of: stored))
    }

    @Test("a database from a newer version is refused and left untouched")
    func newerSchemaRefused() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        let path = directory.appendingPathComponent("contacts.db").path
        try SQLiteLockHolder.execute("CREATE TABLE t (x); PRAGMA user_version = 99", on: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let server = try TestServer(directory: directory, waitForSocket: false)
        let status = server.stop(signal: 0)
        #expect(status == 1)
        #expect(server.stderrText().contains("newer"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("an upgrade at start logs each schema step with its time, and a new database's schema is created without a word")
    func upgradeStepsAreLogged() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        try writeVersionOneDatabase(at: directory.appendingPathComponent("contacts.db").path)
        let upgraded = try TestServer(arguments: ["--log-level", "info"], directory: directory)
        #expect(upgraded.stop() == 0)
        let log = upgraded.stderrText()
        let latest = Schema.latestVersion
        #expect(log.contains("upgrading the database schema from version 1 to \(latest)"), "\(log)")
        for version in 2...latest {
            #expect(log.contains("schema step \(version) applied in "), "step \(version): \(log)")
        }
        #expect(!log.contains("schema step 1 applied"), "\(log)")
        #expect(log.contains("schema upgrade finished after "), "\(log)")

        let fresh = try TestServer(arguments: ["--log-level", "info"])
        #expect(fresh.stop() == 0)
        let freshLog = fresh.stderrText()
        #expect(!freshLog.contains("schema"), "\(freshLog)")
    }
}

/// Names acknowledged by the server, collected from several threads.
final class Acknowledged: @unchecked Sendable {
    // @unchecked Sendable: `lock` guards `storage`.
    private let lock = NSLock()
    private var storage: Set<String> = []
    func add(_ name: String) { lock.withLock { _ = storage.insert(name) } }
    var names: Set<String> { lock.withLock { storage } }
}

@Suite("robustness")
struct RobustnessTests {
    @Test("every JSONTestSuite document gets exactly one answer and the server stays up")
    func jsonTestSuiteOverTheWire() throws {
        let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("JSONRPCTests/JSONTestSuite/test_parsing")
        let files = try FileManager.default.contentsOfDirectory(atPath: suite.path).sorted()
        #expect(files.count > 300)
        try withRunningServer { server in
            let client = try server.connect()
            for file in files {
                var bytes = [UInt8](try Data(contentsOf: suite.appendingPathComponent(file)))
                while bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
                // Raw newlines inside a document are framing cases: the reader tests cover them.
                if bytes.contains(UInt8(ascii: "\n")) { continue }
                if bytes.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
                try client.send(raw: bytes + [UInt8(ascii: "\n")])
                // A valid document that is not a request object gets -32600; an invalid one -32700.
                // A batch-shaped one may get an array. Either way: one line, one JSON value.
                let answer = try client.readJSON()
                if file.hasPrefix("n_") { #expect(answer.errorCode == -32700, "\(file): \(answer.jsonString)") }
            }
            #expect(try client.call(#"{"jsonrpc":"2.0","id":"alive","method":"contacts.list"}"#)["id"] == "alive")
        }
    }

    @Test("a write waits while another process holds the write lock, then succeeds")
    func waitsForOtherWriters() throws {
        try withRunningServer { server in
            let holder = try SQLiteLockHolder(path: server.databasePath, seconds: 1.5)
            let response = try server.connect().request(
                "contacts.create", ["username": "patient", "first_name": "P", "last_name": "P"])
            holder.waitUntilReleased()
            #expect(response["result"]?["username"] == "patient")
        }
    }

    @Test("a write committed by another process is seen by the very next read")
    func externalWritesAreVisibleAtOnce() throws {
        try withRunningServer { server in
            let client = try server.connect()
            // Warm the server's readers up with a few reads first.
            for _ in 0..<20 { _ = try client.request("contacts.get", ["username": "outsider"]) }
            // Another process's store on the same file, as contacts-tasks has.
            let other = try ContactStore(path: server.databasePath)
            defer { other.close() }
            for n in 0..<50 {
                _ = try other.create(try NewContact(username: "outsider\(n)", firstName: "O", lastName: "S", emails: []))
                let response = try client.request("contacts.get", ["username": .string("outsider\(n)")])
                #expect(response["result"]?["username"] == .string("outsider\(n)"), "read \(n) missed a committed write")
                _ = try other.delete(username: "outsider\(n)")
                #expect(try client.request("contacts.get", ["username": .string("outsider\(n)")]).errorCode == 404)
            }
        }
    }

    @Test("the server keeps SQLite's shared-memory lock, so another process opening the file never resets it")
    func serverKeepsSharedMemoryLock() throws {
        try withRunningServer { server in
            let client = try server.connect()
            // A few reads and a write: every connection kind has used the shared memory.
            for _ in 0..<5 { _ = try client.request("contacts.get", ["username": "nobody"]) }
            _ = try client.request("contacts.create", ["username": "locker", "first_name": "L", "last_name": "K"])
            _ = try client.request("contacts.get", ["username": "locker"])
            // SQLite's "dead man switch": while any process holds a shared lock on byte 128 of the
            // -shm file, a process opening the database leaves the WAL index alone. If it is
            // free, the newcomer truncates and rebuilds the WAL index under the server's feet.
            let fd = open(server.databasePath + "-shm", O_RDONLY)
            #expect(fd >= 0)
            defer { close(fd) }
            var lock = flock()
            lock.l_type = Int16(F_WRLCK)
            lock.l_whence = Int16(SEEK_SET)
            lock.l_start = 128
            lock.l_len = 1
            #expect(fcntl(fd, F_GETLK, &lock) == 0)
            #expect(lock.l_type == Int16(F_RDLCK), "the server holds no lock on the -shm file's dead man switch")
        }
    }

    @Test("SIGINT stops the server cleanly too")
    func sigint() throws {
        let server = try TestServer()
        #expect(server.stop(signal: SIGINT) == 0)
        #expect(!FileManager.default.fileExists(atPath: server.socketPath))
    }
}
