import ContactStore
import Foundation
import JSONRPC
import TestSupport
import Testing

@Suite("the database under faults: a clean stop, a full disk, a read-only or replaced file")
struct DatabaseFaultTests {
    static let isRoot = getuid() == 0

    @Test("a clean stop leaves contacts.db alone holding every acknowledged write, with no -wal or -shm file")
    func cleanStopLeavesTheFileWhole() throws {
        let server = try TestServer()
        let client = try server.connect()
        for index in 0..<20 {
            let created = try client.request("contacts.create", Self.contact("user\(index)"))
            #expect(created["result"]?["username"]?.stringValue == "user\(index)")
        }
        #expect(try client.request("contacts.get", ["username": "user3"])["result"] != nil)
        #expect(server.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: server.databasePath + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: server.databasePath + "-shm"))
        let elsewhere = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let copy = elsewhere.appendingPathComponent("alone.db").path
        try FileManager.default.copyItem(atPath: server.databasePath, toPath: copy)
        let store = try ContactStore(path: copy)
        defer { store.close() }
        #expect(try store.count() == 20)
    }

    @Test(
        "on a full disk writes get -32603 disk_full, reads keep working, and writes succeed again once space is free",
        .enabled(if: isRoot, "mounting a tmpfs needs root"))
    func diskFull() throws {
        try Self.onSmallFileSystem(Self.fillTheDisk)
    }

    /// Runs `body` with a server whose database is on a 2 MiB file system of its own, a client,
    /// and `filler`: a file that takes half the space, for `body` to remove to free space under
    /// the running server.
    private static func onSmallFileSystem(_ body: (TestServer, LineClient, URL) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            try withMount(["-t", "tmpfs", "-o", "size=2m", "tmpfs"], at: directory.path) {
                let filler = directory.appendingPathComponent("filler")
                try Data(count: 1 << 20).write(to: filler)
                let server = try TestServer(directory: directory)
                defer { server.stop() }
                try body(server, try server.connect(), filler)
            }
        }
    }

    /// Fills the disk with creates under a running server, then frees space.
    private static func fillTheDisk(server: TestServer, client: LineClient, filler: URL) throws {
        #expect(try client.request("contacts.create", Self.contact("keep"))["result"] != nil)
        var reasons: [String] = []
        for round in 0..<100 where reasons.isEmpty {
            let batch: [JSONValue] = (0..<20).map { index in
                [
                    "jsonrpc": "2.0", "id": .number(JSONNumber(index)), "method": "contacts.create",
                    "params": Self.contact("fill\(round)-\(index)", emails: 20),
                ]
            }
            let answers = try client.call(JSONValue.array(batch).jsonString).arrayValue ?? []
            #expect(answers.count == 20)
            for answer in answers where answer["error"] != nil {
                #expect(answer.errorCode == -32603)
                reasons.append(answer["error"]?["data"]?["reason"]?.stringValue ?? "none")
            }
        }
        #expect(!reasons.isEmpty, "the disk never filled up")
        // Every write of a transaction SQLite rolled back keeps the disk-full error, none the savepoint's.
        #expect(Set(reasons) == ["disk_full"])
        #expect(try client.request("contacts.get", ["username": "keep"])["result"]?["username"]?.stringValue == "keep")
        try FileManager.default.removeItem(at: filler)
        #expect(
            try client.request("contacts.create", Self.contact("after"))["result"]?["username"]?.stringValue == "after")
        #expect(server.stop() == 0)
        let log = server.stderrText()
        #expect(log.contains("disk is full") && log.contains("sqlite_code"), "log: \(log)")
    }

    @Test(
        "an import on a full disk keeps every card it reported created and no other, and goes in once space is free",
        .enabled(if: isRoot, "mounting a tmpfs needs root"))
    func importOnAFullDisk() throws {
        try Self.onSmallFileSystem(Self.importUntilTheDiskIsFull)
    }

    /// Imports calls of ten large cards until the disk is full, then frees space and checks what
    /// the server said against what it holds.
    private static func importUntilTheDiskIsFull(server: TestServer, client: LineClient, filler: URL) throws {
        // A NOTE of 60,000 bytes, kept with the contact, makes each card big.
        let note = String(repeating: "n", count: 60_000)
        func call(_ round: Int) -> JSONValue {
            let cards = (0..<10).map { index -> JSONValue in
                .string(
                    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:fill-\(round)-\(index)\r\n"
                        + "NICKNAME:fill-\(round)-\(index)\r\nN:Fill;Card;;;\r\nNOTE:\(note)\r\nEND:VCARD\r\n")
            }
            return ["cards": .array(cards)]
        }
        var created: Set<String> = []
        var notCreated: Set<String> = []
        var reasons: [String] = []
        var failedRound: Int?
        for round in 0..<40 where failedRound == nil {
            let answer = try client.request("contacts.import", call(round))
            let all = (0..<10).map { "fill-\(round)-\($0)" }
            guard let results = answer["result"]?["results"]?.arrayValue else {
                #expect(answer.errorCode == -32603, "\(answer)")
                reasons.append(answer["error"]?["data"]?["reason"]?.stringValue ?? "none")
                notCreated.formUnion(all)
                failedRound = round
                continue
            }
            for (username, result) in zip(all, results) {
                if result["status"]?.stringValue == "created" {
                    created.insert(username)
                } else {
                    notCreated.insert(username)
                    reasons.append(result["error"]?["data"]?["reason"]?.stringValue ?? "none")
                    failedRound = round
                }
            }
        }
        let failed = try #require(failedRound, "the disk never filled up")
        #expect(Set(reasons) == ["disk_full"])
        #expect(!created.isEmpty)
        try FileManager.default.removeItem(at: filler)
        for username in created {
            #expect(try client.request("contacts.get", ["username": .string(username)])["result"] != nil, "\(username)")
        }
        for username in notCreated {
            #expect(try client.request("contacts.get", ["username": .string(username)]).errorCode == 404, "\(username)")
        }
        // The call that met the full disk goes in whole now.
        let again = try client.request("contacts.import", call(failed))
        #expect(again["result"]?["created"]?.numberValue?.intValue == 10, "\(again)")
        #expect(server.stop() == 0)
    }

    @Test(
        "a database in a read-only directory is refused at start with exit 78, naming the path and why",
        .enabled(if: isRoot, "a read-only bind mount needs root"))
    func readOnlyDirectoryIsRefused() throws {
        try Self.withTemporaryDirectory { directory in
            let source = directory.appendingPathComponent("data")
            let readOnly = directory.appendingPathComponent("ro")
            for folder in [source, readOnly] {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            }
            try ContactStore(path: source.appendingPathComponent("contacts.db").path).close()
            try Self.withMount(["--bind", source.path], at: readOnly.path) {
                try Self.mount(["-o", "remount,bind,ro"], at: readOnly.path)
                let database = readOnly.appendingPathComponent("contacts.db").path
                let result = Self.run(
                    TestServer.binary.path, "--db", database, "--socket",
                    directory.appendingPathComponent("s.sock").path)
                #expect(result.status == 78)
                #expect(
                    result.stderr.contains(database) && result.stderr.contains("Read-only file system"),
                    "\(result.stderr)")
            }
        }
    }

    @Test("a read-only database file is refused at start with exit 78, naming the path and why")
    func readOnlyFileIsRefused() throws {
        try Self.withTemporaryDirectory { directory in
            let database = directory.appendingPathComponent("contacts.db").path
            try ContactStore(path: database).close()
            chmod(database, 0o400)
            var command = [
                TestServer.binary.path, "--db", database, "--socket", directory.appendingPathComponent("s.sock").path,
            ]
            if Self.isRoot {
                // Root writes any file whatever its mode: run the server as nobody, owner of both.
                chown(directory.path, 65534, 65534)
                chown(database, 65534, 65534)
                command = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"] + command
            }
            let result = Self.run(command)
            #expect(result.status == 78)
            #expect(result.stderr.contains(database) && result.stderr.contains("Permission denied"), "\(result.stderr)")
        }
    }

    @Test(
        "a directory made read-only under a running server: reads are served, writes get -32603 read_only, and succeed again once it is writable",
        .enabled(if: isRoot, "a read-only bind mount needs root"))
    func readOnlyUnderARunningServer() throws {
        try Self.withTemporaryDirectory { directory in
            let server = try TestServer(directory: directory)
            defer { server.stop() }
            let client = try server.connect()
            #expect(try client.request("contacts.create", Self.contact("before"))["result"] != nil)
            // The server's descriptors stay writable under a read-only bind mount of their
            // directory: only a check of the path can tell that it was made read-only.
            try Self.mount(["--bind", directory.path], at: directory.path)
            var mounted = true
            // Lazily: the server's readers may hold files open through the mount.
            defer { if mounted { _ = Self.run("/bin/umount", "-l", directory.path) } }
            try Self.mount(["-o", "remount,bind,ro"], at: directory.path)
            let refused = try client.request("contacts.create", Self.contact("during"))
            #expect(refused.errorCode == -32603)
            #expect(refused["error"]?["data"]?["reason"]?.stringValue == "read_only")
            #expect(try client.request("contacts.get", ["username": "before"])["result"] != nil)
            #expect(Self.run("/bin/umount", "-l", directory.path).status == 0)
            mounted = false
            #expect(try client.request("contacts.create", Self.contact("after"))["result"] != nil)
            #expect(try client.request("contacts.get", ["username": "during"]).errorCode == 404)
        }
    }

    enum Replacement: String, CaseIterable, CustomTestStringConvertible {
        case movedOver = "a backup moved over it"
        case deleted = "the file deleted"
        var testDescription: String { rawValue }
    }

    @Test(
        "after the file at --db changes under the server, writes and reads get database_replaced, a critical line is logged, and a restart serves the file now there",
        arguments: Replacement.allCases)
    func replacedDatabase(_ replacement: Replacement) throws {
        let directory = try TestServer.makeTemporaryDirectory()
        let backup = directory.appendingPathComponent("backup.db").path
        let restored = try ContactStore(path: backup)
        _ = try restored.create(try NewContact(username: "restored", firstName: "R", lastName: "R", emails: []))
        restored.close()
        let first = try TestServer(directory: directory)
        try withExtendedLifetime(first) {
            let client = try first.connect()
            #expect(try client.request("contacts.create", Self.contact("before"))["result"] != nil)
            switch replacement {
            case .movedOver: #expect(rename(backup, first.databasePath) == 0)
            case .deleted: #expect(unlink(first.databasePath) == 0)
            }
            let refused = try client.request("contacts.create", Self.contact("after"))
            #expect(refused.errorCode == -32603)
            #expect(refused["error"]?["data"]?["reason"]?.stringValue == "database_replaced")
            let read = try client.request("contacts.get", ["username": "before"])
            #expect(read["error"]?["data"]?["reason"]?.stringValue == "database_replaced")
            #expect(first.stop() == 0)
            let log = first.stderrText()
            #expect(log.contains("critical") && log.contains("deleted or replaced"), "log: \(log)")

            let second = try TestServer(directory: directory)
            defer { second.stop() }
            let again = try second.connect()
            #expect(try again.request("contacts.get", ["username": "before"]).errorCode == 404)
            #expect(try again.request("contacts.get", ["username": "after"]).errorCode == 404)
            let found = try again.request("contacts.get", ["username": "restored"])
            switch replacement {
            case .movedOver: #expect(found["result"]?["username"]?.stringValue == "restored")
            case .deleted: #expect(found.errorCode == 404)
            }
        }
    }

    /// The params of a create; `emails` long addresses make a contact of several kilobytes.
    static func contact(_ username: String, emails: Int = 0) -> JSONValue {
        let local = String(repeating: "x", count: 180)
        let addresses = (0..<emails).map { JSONValue.string("\(local)\($0)@\(username).example") }
        return ["username": .string(username), "first_name": "First", "last_name": "Last", "emails": .array(addresses)]
    }

    /// Runs `body` with a fresh private directory, removed afterwards.
    static func withTemporaryDirectory(_ body: (URL) throws -> Void) throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    /// Runs `body` with `mount OPTIONS TARGET` in place, and unmounts afterwards.
    static func withMount(_ options: [String], at target: String, _ body: () throws -> Void) throws {
        try mount(options, at: target)
        defer { _ = run("/bin/umount", target) }
        try body()
    }

    /// Runs `mount OPTIONS TARGET`; when that fails, cancels the test (shown as skipped) saying why.
    static func mount(_ options: [String], at target: String) throws {
        let result = run(["/bin/mount"] + options + [target])
        guard result.status == 0 else {
            try Test.cancel("skipped: mount \(options.joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    /// Runs a program to its end; its exit status and what it wrote to stderr.
    static func run(_ arguments: String...) -> (status: Int32, stderr: String) {
        run(arguments)
    }

    static func run(_ arguments: [String]) -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
