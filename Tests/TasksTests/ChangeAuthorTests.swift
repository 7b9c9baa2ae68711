import ContactClient
import Foundation
import JSONRPC
import TestSupport
import Testing

/// The change log across processes: a real `contactsd` and a real `contacts-tasks` on one file.
@Suite("changes from both writers")
struct ChangeAuthorTests {
    @Test("changes written by contacts-tasks (creates and purges) and by contactsd all appear, each with its author")
    func bothWritersAreLogged() throws {
        let env = try TaskEnvironment()
        let socket = env.directory.appendingPathComponent("s.sock").path
        let server = Process()
        server.executableURL = TasksProcess.binary.deletingLastPathComponent().appendingPathComponent("contactsd")
        server.arguments = ["--socket", socket, "--db", env.databasePath, "--log-level", "warning"]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var connected: ContactClient?
        try waitUntil("contactsd answers") {
            connected = try? ContactClient(socketPath: socket)
            return connected != nil
        }
        let client = try #require(connected)
        _ = try client.create(username: "mine", firstName: "Mine", lastName: "Own")
        // Generated contacts only, so the purge is the runner's own and `mine` stays.
        let runner = try TasksProcess(
            ["run"]
                + env.flags([
                    "--create-every", "200ms", "--max-age", "1s", "--purge-every", "300ms", "--purge-scope",
                    "generated",
                ]))
        defer { runner.stop() }
        var changes: [JSONValue] = []
        try waitUntil("the runner's creates and purges are in the log", timeout: bound(20)) {
            changes = try Self.changes(client)
            let runners = changes.filter { $0["author"] == "contacts-tasks" }
            return runners.contains { $0["op"] == "created" } && runners.contains { $0["op"] == "deleted" }
        }
        let mine = changes.filter { $0["username"] == "mine" }
        #expect(mine.count == 1 && mine.first?["author"] == "contactsd" && mine.first?["op"] == "created")
        // Every contact the runner purged had been logged as created by it, and went with its contact.
        let created = Set(
            changes.filter { $0["op"] == "created" && $0["author"] == "contacts-tasks" }.compactMap {
                $0["username"]?.stringValue
            })
        let deleted = changes.filter { $0["op"] == "deleted" }
        #expect(
            deleted.allSatisfy {
                $0["author"] == "contacts-tasks" && created.contains($0["username"]?.stringValue ?? "")
            })
        #expect(deleted.allSatisfy { $0["contact"]?["username"] == $0["username"] })
        let seqs = changes.compactMap { $0["seq"]?.numberValue?.intValue }
        #expect(seqs == Array(1...seqs.count), "the two processes' changes share one gap-free seq")
    }

    /// Every change from the start, through the server.
    static func changes(_ client: ContactClient) throws -> [JSONValue] {
        var all: [JSONValue] = []
        var since = 0
        while true {
            let result = try client.call(
                method: "contacts.changes", params: ["since": .number(JSONNumber(since)), "limit": 1000])
            let page = result["changes"]?.arrayValue ?? []
            all += page
            since = result["next"]?.numberValue?.intValue ?? since
            if page.isEmpty { return all }
        }
    }
}

extension JSONValue {
    /// Member lookup for tests.
    fileprivate subscript(key: String) -> JSONValue? { objectValue?[key] }
}

/// Subscriptions across processes: a commit of `contacts-tasks` reaches a subscriber of `contactsd`.
@Suite("subscriptions across processes")
struct CrossProcessSubscriptionTests {
    @Test("changes committed by a real contacts-tasks process arrive on a contactsd subscription")
    func tasksChangesArrive() throws {
        let env = try TaskEnvironment()
        let socket = env.directory.appendingPathComponent("s.sock").path
        let server = Process()
        server.executableURL = TasksProcess.binary.deletingLastPathComponent().appendingPathComponent("contactsd")
        server.arguments = ["--socket", socket, "--db", env.databasePath, "--log-level", "warning"]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var connected: LineConnection?
        try waitUntil("contactsd answers") {
            connected = try? LineConnection(path: socket, readTimeout: bound(20))
            return connected != nil
        }
        let subscriber = try #require(connected)
        try subscriber.send(Array(#"{"jsonrpc":"2.0","id":1,"method":"contacts.subscribe"}"#.utf8))
        let reply = try JSONReader.parse(try #require(try subscriber.readLine()))
        #expect(reply["result"]?["head_seq"] == 0)
        let runner = try TasksProcess(["run"] + env.flags(["--create-every", "200ms"]))
        defer { runner.stop() }
        // The runner writes the file directly: only the feed's look at the WAL-index header can see it.
        let message = try JSONReader.parse(try #require(try subscriber.readLine()))
        #expect(message["method"] == "contacts.changed")
        let change = try #require(message["params"]?["changes"]?.arrayValue?.first)
        #expect(change["author"] == "contacts-tasks" && change["op"] == "created" && change["seq"] == 1)
    }
}
