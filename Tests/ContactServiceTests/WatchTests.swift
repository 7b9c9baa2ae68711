import ContactClient
import Foundation
import JSONRPC
import Testing

/// `contacts watch` and the client's subscriptions, against a scripted server on a real Unix
/// socket (`ScriptedServer`): a dropped subscription, a 410 when resubscribing and a server gone at
/// a chosen moment are hard to force on a real server, so the script plays the server's part of
/// the wire format (protocol.md, `contacts.subscribe`) and the real `contacts` binary runs against
/// it. The end-to-end tests against the real server are in `WatchServerTests`.
@Suite("contacts watch resumes where it left off")
struct WatchTests {
    /// A change object as `contacts.changes` returns it.
    static func change(_ seq: Int, _ username: String = "ada") -> JSONValue {
        [
            "seq": .number(JSONNumber(seq)), "op": "created", "username": .string(username), "version": 1,
            "at": "2026-11-30T16:00:00.000Z", "author": "contactsd",
            "contact": [
                "username": .string(username), "first_name": "A", "last_name": "L", "emails": [],
                "created_at": "2026-11-30T16:00:00.000Z", "updated_at": "2026-11-30T16:00:00.000Z", "version": 1,
            ],
        ]
    }

    static func changed(_ subscription: String, _ seqs: [Int]) -> JSONValue {
        ["subscription": .string(subscription), "changes": .array(seqs.map { change($0) })]
    }

    /// The seq each printed line starts with.
    static func seqs(_ lines: [String]) -> [Int] {
        lines.compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
    }

    /// A scripted server in a fresh directory, and `contacts watch` started against it.
    static func withWatch(
        _ arguments: [String] = [], _ body: (ScriptedServer, RunningProgram) throws -> Void
    ) throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ScriptedServer(path: directory.appendingPathComponent("s.sock").path)
        let watch = try RunningProgram(contactsBinary, ["watch", "--socket", server.path] + arguments)
        try body(server, watch)
    }

    @Test("after a dropped subscription, watch resubscribes from the last seq it printed and prints nothing twice")
    func resumesAfterADrop() throws {
        try Self.withWatch { server, watch in
            let connection = try server.accept()
            let subscribe = try connection.readRequest()
            #expect(subscribe["method"] == "contacts.subscribe")
            #expect(subscribe["params"]?["since"] == nil)
            connection.reply(to: subscribe, result: ["subscription": "s1", "head_seq": 5])
            connection.notify("contacts.changed", Self.changed("s1", [6, 7]))
            // The server had sent up to 9, but the watch printed only up to 7.
            connection.notify(
                "contacts.subscription_dropped", ["subscription": "s1", "last_seq": 9, "reason": "queue_full"])
            let again = try connection.readRequest()
            #expect(again["method"] == "contacts.subscribe")
            #expect(again["params"]?["since"] == 7)
            connection.reply(to: again, result: ["subscription": "s2", "head_seq": 9])
            connection.notify("contacts.changed", Self.changed("s1", [8]))
            connection.notify("contacts.changed", Self.changed("s2", [7, 8, 9]))
            try watch.waitForLines(4)
            #expect(watch.stop(signal: SIGTERM) == 0)
            #expect(Self.seqs(watch.lines) == [6, 7, 8, 9])
            #expect(watch.stderr.contains("dropped the subscription (queue_full)"), "\(watch.stderr)")
            #expect(watch.stderr.contains("resubscribed from seq 7"), "\(watch.stderr)")
        }
    }

    @Test("when the server goes away, watch says so once, waits for it and resumes from the last seq it printed")
    func resumesAfterARestart() throws {
        try Self.withWatch(["--since", "3", "--prefix", "a", "--exclude-author", "bot"]) { server, watch in
            let first = try server.accept()
            let subscribe = try first.readRequest()
            #expect(subscribe["params"] == ["since": 3, "username_prefix": "a", "exclude_authors": ["bot"]])
            first.reply(to: subscribe, result: ["subscription": "s1", "head_seq": 5])
            first.notify("contacts.changed", Self.changed("s1", [4, 5]))
            try watch.waitForLines(2)
            server.stopListening()
            first.close()
            try watch.waitForError(containing: "lost the server")
            try server.listen()
            let second = try server.accept()
            let again = try second.readRequest()
            #expect(again["params"] == ["since": 5, "username_prefix": "a", "exclude_authors": ["bot"]])
            second.reply(to: again, result: ["subscription": "s1", "head_seq": 6])
            second.notify("contacts.changed", Self.changed("s1", [6]))
            try watch.waitForLines(3)
            #expect(watch.stop(signal: SIGINT) == 0)
            #expect(Self.seqs(watch.lines) == [4, 5, 6])
            #expect(watch.stderr.components(separatedBy: "lost the server").count == 2, "\(watch.stderr)")
            #expect(watch.stderr.contains("resubscribed from seq 5"), "\(watch.stderr)")
        }
    }

    @Test("when the changes to resume from are gone (410), watch exits 1 with a hint to resync")
    func goneOnResubscribing() throws {
        try Self.withWatch(["--json"]) { server, watch in
            let first = try server.accept()
            let subscribe = try first.readRequest()
            first.reply(to: subscribe, result: ["subscription": "s1", "head_seq": 1])
            first.notify("contacts.changed", Self.changed("s1", [2]))
            try watch.waitForLines(1)
            first.close()
            let second = try server.accept()
            let again = try second.readRequest()
            #expect(again["params"]?["since"] == 2)
            second.reply(
                to: again,
                error: [
                    "code": 410, "message": "the changes after seq 2 are no longer kept (the oldest kept is 40)",
                    "data": ["reason": "pruned", "since": 2, "oldest": 40, "head_seq": 50],
                ])
            #expect(watch.waitForExit() == 1)
            #expect(try JSONReader.parse(Array(watch.lines[0].utf8)) == Self.change(2))
            #expect(watch.stderr.contains("no longer kept"), "\(watch.stderr)")
            #expect(watch.stderr.contains("hint: resync") && watch.stderr.contains("contacts watch --since HEAD"))
        }
    }

    @Test("with no server at the start, watch exits 3 with the hint every subcommand gives")
    func noServerAtTheStart() throws {
        let result = try runCLI(["watch", "--socket", "/tmp/contacts-no-server.sock"])
        #expect(result.status == 3)
        #expect(result.err.contains("cannot connect to /tmp/contacts-no-server.sock"), "\(result.err)")
        #expect(result.err.contains("hint: is contactsd running?"))
    }

    @Test("a notification that comes before an answer waits for nextNotification")
    func notificationBeforeAnAnswer() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ScriptedServer(path: directory.appendingPathComponent("s.sock").path)
        let client = try ContactClient(socketPath: server.path, readTimeout: 10)
        let connection = try server.accept()
        // Written before the request is even sent: the client's first request has id 1.
        connection.notify("contacts.changed", Self.changed("s0", [3]))
        connection.send(#"{"jsonrpc":"2.0","id":1,"result":{"subscription":"s1","head_seq":3}}"#)
        connection.notify("contacts.changed", Self.changed("s1", [4]))
        #expect(try client.subscribe() == Subscription(id: "s1", headSeq: 3))
        let early = try #require(try client.nextNotification())
        #expect(SubscriptionEvent(early) == .changed(subscription: "s0", changes: [Self.change(3)]))
        let next = try #require(try client.nextNotification())
        #expect(SubscriptionEvent(next) == .changed(subscription: "s1", changes: [Self.change(4)]))
        #expect(try connection.readRequest()["method"] == "contacts.subscribe")
        connection.close()
        #expect(try client.nextNotification() == nil)
    }

    @Test(
        "notifications read as subscription events, and anything else as none",
        arguments: [
            (
                ServerNotification(method: "contacts.changed", params: ["subscription": "s", "changes": []]),
                SubscriptionEvent.changed(subscription: "s", changes: [])
            ),
            (
                ServerNotification(
                    method: "contacts.subscription_dropped",
                    params: ["subscription": "s", "last_seq": 12, "reason": "queue_full"]),
                SubscriptionEvent.dropped(subscription: "s", lastSeq: 12, reason: "queue_full")
            ),
            (ServerNotification(method: "contacts.changed", params: ["changes": []]), nil),
            (ServerNotification(method: "contacts.subscription_dropped", params: ["subscription": "s"]), nil),
            (ServerNotification(method: "server.other", params: ["subscription": "s", "changes": []]), nil),
        ] as [(ServerNotification, SubscriptionEvent?)])
    func events(notification: ServerNotification, event: SubscriptionEvent?) {
        #expect(SubscriptionEvent(notification) == event)
    }
}
