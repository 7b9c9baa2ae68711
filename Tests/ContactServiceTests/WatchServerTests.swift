import ContactStore
import Foundation
import JSONRPC
import Testing
import TestSupport

/// `contacts watch` end to end: the real `contacts` binary against a real `contactsd` over its
/// real socket.
@Suite("contacts watch against a real server")
struct WatchServerTests {
    static func create(_ client: LineClient, _ username: String) throws {
        let reply = try client.request(
            "contacts.create", ["username": .string(username), "first_name": "A", "last_name": "B"])
        #expect(reply["result"] != nil, "\(reply)")
    }

    @Test("watch prints a change made by another client after it started, in the format of contacts changes")
    func printsAChangeOfAnotherClient() throws {
        try withRunningServer { server in
            let client = try server.connect()
            try Self.create(client, "before")
            let watch = try RunningProgram(contactsBinary, ["watch", "--socket", server.socketPath])
            try waitUntil("the watch has subscribed") {
                try client.request("server.stats", [:])["result"]?["connections"]?["subscriptions"] == 1
            }
            try Self.create(client, "ada")
            try watch.waitForLines(1)
            #expect(watch.stop() == 0)
            let history = try runCLI(["changes", "--since", "1", "--socket", server.socketPath])
            #expect(watch.lines == history.out.split(separator: "\n").map(String.init))
            #expect(watch.lines.first?.contains("created  ada  v1  by contactsd") == true, "\(watch.lines)")
        }
    }

    @Test("watch --json prints each change as the server sends it, one object a line")
    func printsJSONLines() throws {
        try withRunningServer { server in
            let watch = try RunningProgram(
                contactsBinary, ["watch", "--since", "0", "--json", "--socket", server.socketPath])
            let client = try server.connect()
            try Self.create(client, "ada")
            try Self.create(client, "grace")
            try watch.waitForLines(2)
            #expect(watch.stop(signal: SIGINT) == 0)
            let printed = try watch.lines.map { try JSONReader.parse(Array($0.utf8)) }
            let logged = try client.request("contacts.changes", ["since": 0])["result"]?["changes"]
            #expect(.array(printed) == logged)
        }
    }

    @Test("watch --prefix prints only the usernames starting with it")
    func prefixFilters() throws {
        try withRunningServer { server in
            let watch = try RunningProgram(
                contactsBinary, ["watch", "--since", "0", "--prefix", "GR", "--socket", server.socketPath])
            let client = try server.connect()
            for name in ["ada", "grace", "bob", "greg"] { try Self.create(client, name) }
            try watch.waitForLines(2)
            #expect(watch.stop() == 0)
            #expect(watch.lines.map { $0.split(separator: " ").dropFirst(3).first } == ["grace", "greg"])
        }
    }

    @Test("watch from a seq the server does not have exits 1 with a hint to resync")
    func goneExitsWithAHint() throws {
        try withRunningServer { server in
            let result = try runCLI(["watch", "--since", "999", "--socket", server.socketPath])
            #expect(result.status == 1)
            #expect(result.err.contains("beyond the newest change"), "\(result.err)")
            #expect(result.err.contains("hint: resync") && result.err.contains("contacts watch --since HEAD"))
        }
    }

    @Test(
        "after a server restart, watch resubscribes from the last seq it printed and prints what came meanwhile, once")
    func resumesAfterARestart() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        let first = try TestServer(directory: directory)
        try withExtendedLifetime(first) {
            let watch = try RunningProgram(contactsBinary, ["watch", "--since", "0", "--socket", first.socketPath])
            try Self.create(first.connect(), "ada")
            try watch.waitForLines(1)
            #expect(first.stop() == 0)
            try watch.waitForError(containing: "lost the server")
            // Written while no server runs, as contacts-tasks would: logged in the same database.
            let store = try ContactStore(path: first.databasePath)
            for name in ["bob", "cy"] {
                _ = try store.create(try NewContact(username: name, firstName: "A", lastName: "B", emails: []))
            }
            store.close()
            let second = try TestServer(directory: directory)
            defer { second.stop() }
            try Self.create(second.connect(), "dee")
            try watch.waitForLines(4)
            #expect(watch.stop() == 0)
            #expect(watch.lines.map { $0.split(separator: " ").first } == ["1", "2", "3", "4"], "\(watch.lines)")
            #expect(watch.stderr.contains("resubscribed from seq 1"), "\(watch.stderr)")
        }
    }
}
