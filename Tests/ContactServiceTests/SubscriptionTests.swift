import Dispatch
import Foundation
import JSONRPC
import Locking
import TestSupport
import Testing

/// `contacts.subscribe`, its notifications and its limits, against a real `contactsd`.
@Suite("subscriptions against a real server")
struct SubscriptionTests {
    /// Subscribes on `client` and returns the subscription id and head_seq.
    static func subscribe(_ client: LineClient, _ params: JSONValue = [:], id: Int = 1) throws -> (String, Int) {
        let reply = try client.request("contacts.subscribe", params, id: id)
        let result = try #require(reply["result"], "\(reply)")
        return (
            try #require(result["subscription"]?.stringValue), try #require(result["head_seq"]?.numberValue?.intValue)
        )
    }

    /// Reads messages until `done` holds for the changes of `subscription` read so far; every
    /// other message is handed to `other`.
    static func changes(
        on client: LineClient, subscription: String, other: (JSONValue) throws -> Void = { _ in },
        until done: ([JSONValue]) -> Bool
    ) throws -> [JSONValue] {
        var changes: [JSONValue] = []
        while !done(changes) {
            let message = try client.readJSON()
            if message["method"] == "contacts.changed", message["params"]?["subscription"] == .string(subscription) {
                changes += message["params"]?["changes"]?.arrayValue ?? []
            } else {
                try other(message)
            }
        }
        return changes
    }

    static func seqs(_ changes: [JSONValue]) -> [Int] { changes.compactMap { $0["seq"]?.numberValue?.intValue } }

    static func create(_ client: LineClient, _ username: String, author: String? = nil) throws {
        var params: JSONValue = ["username": .string(username), "first_name": "F", "last_name": "L"]
        if let author, case .object(var object) = params {
            object.append("author", .string(author))
            params = .object(object)
        }
        let reply = try client.request("contacts.create", params)
        if reply["result"] == nil { throw TestFailure("create \(username): \(reply)") }
    }

    @Test("changes written through the server arrive on a subscription, and requests on that connection are answered")
    func serverChangesArrive() throws {
        try withRunningServer { server in
            let subscriber = try server.connect()
            let (id, head) = try Self.subscribe(subscriber)
            #expect(head == 0)
            let writer = try server.connect()
            for n in 0..<3 { try Self.create(writer, "c\(n)") }
            let changes = try Self.changes(on: subscriber, subscription: id) { $0.count >= 3 }
            #expect(Self.seqs(changes) == [1, 2, 3])
            #expect(changes.map { $0["op"] } == ["created", "created", "created"])
            #expect(changes[0]["contact"]?["username"] == "c0")
            // Requests keep working: a get and a list are answered in order on the subscribed connection.
            try subscriber.send(#"{"jsonrpc":"2.0","id":7,"method":"contacts.get","params":["c1"]}"#)
            try subscriber.send(#"{"jsonrpc":"2.0","id":8,"method":"contacts.list","params":{}}"#)
            var answers: [JSONValue] = []
            while answers.count < 2 {
                let message = try subscriber.readJSON()
                if message["id"] != nil { answers.append(message) }
            }
            #expect(answers[0]["id"] == 7 && answers[0]["result"]?["username"] == "c1")
            #expect(answers[1]["id"] == 8 && answers[1]["result"]?["head_seq"] == 3)
        }
    }

    @Test(
        "a subscription without since starts after head_seq; with since the missed changes come first, then live ones")
    func sinceReplaysThenFollows() throws {
        try withRunningServer { server in
            let writer = try server.connect()
            for n in 0..<5 { try Self.create(writer, "old\(n)") }
            let fresh = try server.connect()
            let (freshID, head) = try Self.subscribe(fresh)
            #expect(head == 5)
            let resumed = try server.connect()
            let (resumedID, _) = try Self.subscribe(resumed, ["since": 2])
            try Self.create(writer, "new")
            #expect(try Self.seqs(Self.changes(on: fresh, subscription: freshID) { $0.count >= 1 }) == [6])
            #expect(
                try Self.seqs(Self.changes(on: resumed, subscription: resumedID) { $0.count >= 4 }) == [3, 4, 5, 6])
        }
    }

    @Test("resuming with since after a disconnect loses nothing and repeats nothing, under concurrent writers")
    func resumeLosesNothing() throws {
        try withRunningServer { server in
            let stop = LockedValue(false)
            let writers = DispatchGroup()
            for writer in 0..<4 {
                DispatchQueue.global().async(group: writers) {
                    guard let client = try? server.connect() else { return }
                    var n = 0
                    while !stop.withLock({ $0 }) && n < 150 {
                        n += 1
                        try? Self.create(client, "w\(writer)-\(n)")
                    }
                }
            }
            var seen: [Int] = []
            var since = 0
            // Three connections in turn, each dropped after a few notifications and resumed from
            // the last seq it received.
            for round in 0..<3 {
                let client = try server.connect()
                let (id, _) = try Self.subscribe(client, round == 0 ? [:] : ["since": .number(JSONNumber(since))])
                let got = try Self.changes(on: client, subscription: id) { $0.count >= 20 }
                seen += Self.seqs(got)
                since = seen.last ?? since
            }
            stop.withLock { $0 = true }
            writers.wait()
            let head = try #require(
                try server.connect().request("contacts.list", ["limit": 1])["result"]?["head_seq"]?.numberValue?
                    .intValue)
            let last = try server.connect()
            let (id, _) = try Self.subscribe(last, ["since": .number(JSONNumber(since))])
            if since < head {
                seen += Self.seqs(try Self.changes(on: last, subscription: id) { Self.seqs($0).last == head })
            }
            let first = try #require(seen.first)
            #expect(seen == Array(first...head), "resumed changes have a gap or a repeat")
        }
    }

    @Test(
        "a subscriber that lets its socket fill catches up a backlog of many pages, every change once and in order")
    func slowReaderCatchesUpTheWholeBacklog() throws {
        try withRunningServer { server in
            let total = 6000
            let writer = try server.connect()
            let creates = (0..<total).map { n in
                #"{"jsonrpc":"2.0","id":\#(n),"method":"contacts.create","params":["b\#(n)","Backlog","Reader"]}"#
            }
            try writer.send(raw: Array((creates.joined(separator: "\n") + "\n").utf8))
            for _ in 0..<total { _ = try writer.readLine() }
            let reader = try server.connect()
            let (id, head) = try Self.subscribe(reader, ["since": 0])
            #expect(head == total)
            // Pages of the backlog (500 changes, over 100 KB each) fill the socket while the
            // client does not read; the next page must still come once it reads them.
            usleep(500_000)
            var seqs: [Int] = []
            while seqs.count < total {
                let message = try reader.readJSON()
                #expect(message["method"] == "contacts.changed", "\(message)")
                seqs += Self.seqs(message["params"]?["changes"]?.arrayValue ?? [])
                if seqs.count % 1000 == 0 { usleep(100_000) }
            }
            #expect(seqs == Array(1...total), "the caught-up changes have a gap or a repeat")
            _ = id
        }
    }

    @Test("subscribe with a since whose changes are pruned gets 410, as contacts.changes does; one beyond the head too")
    func prunedSinceIsGone() throws {
        try withRunningServer(arguments: ["--changes-max-rows", "2"]) { server in
            let client = try server.connect()
            for n in 0..<5 { try Self.create(client, "p\(n)") }
            try waitUntil("the log is pruned") { try client.request("contacts.changes", ["since": 0]).errorCode == 410 }
            let subscribe = try client.request("contacts.subscribe", ["since": 0])
            let changes = try client.request("contacts.changes", ["since": 0])
            #expect(subscribe.errorCode == 410)
            #expect(subscribe["error"] == changes["error"], "subscribe's 410 differs from contacts.changes'")
            let beyond = try client.request("contacts.subscribe", ["since": 99])
            #expect(beyond.errorCode == 410 && beyond["error"]?["data"]?["reason"] == "beyond_head")
            let bad = try client.request("contacts.subscribe", ["since": -1, "username_prefix": 3])
            #expect(bad.errorCode == -32602)
        }
    }

    @Test(
        "a subscriber that never reads is dropped with subscription_dropped, while another keeps receiving every change"
    )
    func slowSubscriberIsDropped() throws {
        try withRunningServer(arguments: ["--max-subscription-queue", "400", "--write-timeout", "60s"]) { server in
            let slow = try server.connect()
            let (slowID, _) = try Self.subscribe(slow)
            let fast = try server.connect()
            let (fastID, _) = try Self.subscribe(fast)
            let total = 3000
            // Pipelined creates: far more notification bytes than the slow client's socket holds.
            let names = (0..<total).map { n in
                #"{"jsonrpc":"2.0","id":\#(n),"method":"contacts.create","params":["u\#(n)","U","L"]}"#
            }
            DispatchQueue.global().async {
                guard let writer = try? server.connect() else { return }
                try? writer.send(raw: Array((names.joined(separator: "\n") + "\n").utf8))
                for _ in 0..<total { _ = try? writer.readLine() }
            }
            let received = try Self.changes(on: fast, subscription: fastID) { $0.count >= total }
            #expect(Self.seqs(received) == Array(1...total), "the reading subscriber missed changes")
            // The slow client reads at last: a gap-free prefix, then one drop naming its last seq.
            var slowSeqs: [Int] = []
            var drop: JSONValue?
            while drop == nil {
                let message = try slow.readJSON()
                if message["method"] == "contacts.subscription_dropped" {
                    drop = message["params"]
                } else if message["params"]?["subscription"] == .string(slowID) {
                    slowSeqs += Self.seqs(message["params"]?["changes"]?.arrayValue ?? [])
                }
            }
            #expect(drop?["subscription"] == .string(slowID) && drop?["reason"] == "queue_full")
            #expect(slowSeqs.count < total)
            #expect(slowSeqs == Array(1..<(slowSeqs.count + 1)), "the slow subscriber's changes have a gap")
            #expect(drop?["last_seq"] == .number(JSONNumber(slowSeqs.last ?? 0)))
            // Nothing more for it: the next line on that connection is the answer to a ping.
            try slow.send(#"{"jsonrpc":"2.0","id":"p","method":"server.ping"}"#)
            #expect(try slow.readJSON()["id"] == "p")
            let stats = try fast.request("server.stats", [:], id: 9)
            var statsReply = stats
            while statsReply["id"] != 9 { statsReply = try fast.readJSON() }
            #expect((statsReply["result"]?["limits"]?["subscriptions_dropped"]?.numberValue?.intValue ?? 0) >= 1)
            #expect(statsReply["result"]?["connections"]?["subscriptions"] == 1)
        }
    }

    @Test("exclude_authors and username_prefix filter a subscription; a rename away from the prefix is delivered")
    func filters() throws {
        try withRunningServer { server in
            let subscriber = try server.connect()
            let (id, _) = try Self.subscribe(subscriber, ["username_prefix": "A", "exclude_authors": ["Me"]])
            let writer = try server.connect()
            try Self.create(writer, "ada", author: "me")  // 1: excluded author
            try Self.create(writer, "al")  // 2: delivered
            try Self.create(writer, "bob")  // 3: other prefix
            _ = try writer.request("contacts.update", ["username": "al", "new_username": "bert"])  // 4: renamed away
            try Self.create(writer, "azz")  // 5: delivered
            let changes = try Self.changes(on: subscriber, subscription: id) { Self.seqs($0).last == 5 }
            #expect(Self.seqs(changes) == [2, 4, 5])
            #expect(changes[1]["old_username"] == "al" && changes[1]["username"] == "bert")
        }
    }

    @Test("unsubscribe stops delivery at once; an unknown id gets 404 unknown_subscription")
    func unsubscribeStops() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let (first, _) = try Self.subscribe(client)
            let writer = try server.connect()
            try Self.create(writer, "x")
            _ = try Self.changes(on: client, subscription: first) { $0.count >= 1 }
            try client.send(
                #"{"jsonrpc":"2.0","id":5,"method":"contacts.unsubscribe","params":{"subscription":"\#(first)"}}"#)
            var answer = try client.readJSON()
            while answer["id"] != 5 { answer = try client.readJSON() }
            #expect(answer["result"] == ["unsubscribed": true])
            let (second, _) = try Self.subscribe(client, id: 6)
            try Self.create(writer, "y")
            try Self.create(writer, "z")
            var late: [JSONValue] = []
            _ = try Self.changes(
                on: client, subscription: second,
                other: { message in if message["method"] != nil { late.append(message) } }
            ) { $0.count >= 2 }
            #expect(late.isEmpty, "notifications after unsubscribe: \(late)")
            let unknown = try client.request("contacts.unsubscribe", [.string(first)], id: 7)
            #expect(unknown.errorCode == 404)
            #expect(unknown["error"]?["data"] == ["reason": "unknown_subscription", "subscription": .string(first)])
        }
    }

    @Test("a notification never appears inside a batch reply line")
    func notificationsBetweenLines() throws {
        // A long write timeout: under a sanitizer the client reads these long lines slowly.
        try withRunningServer(arguments: ["--write-timeout", "60s"]) { server in
            let subscriber = try server.connect()
            let (id, _) = try Self.subscribe(subscriber)
            let stop = LockedValue(false)
            let writing = DispatchGroup()
            DispatchQueue.global().async(group: writing) {
                guard let writer = try? server.connect() else { return }
                var n = 0
                while !stop.withLock({ $0 }) {
                    n += 1
                    try? Self.create(writer, "b\(n)")
                    usleep(1000)  // a steady stream, not a flood that overflows the subscriber's queue
                }
            }
            defer {
                stop.withLock { $0 = true }
                writing.wait()
            }
            // The writer is going: changes are arriving.
            _ = try Self.changes(on: subscriber, subscription: id) { !$0.isEmpty }
            // Batches long enough to pause and yield many times while changes keep arriving.
            let element = #"{"jsonrpc":"2.0","id":1,"method":"contacts.list","params":{"limit":20}}"#
            let batch = "[" + Array(repeating: element, count: 400).joined(separator: ",") + "]"
            var notifications = 0
            for _ in 0..<5 {
                try subscriber.send(batch)
                var reply: JSONValue?
                while reply == nil {
                    let line = try #require(try subscriber.readLine())
                    // Any line mixing a notification into the batch fails to parse here.
                    let message = try JSONReader.parse(Array(line.utf8))
                    if case .array(let elements) = message {
                        reply = message
                        #expect(elements.count == 400)
                    } else {
                        // A whole notification line. On a slow machine (a sanitizer build) the
                        // writer may outrun a subscriber busy reading batches: then its queue
                        // overflows and the drop notice comes, also as a line of its own.
                        let method = message["method"]
                        #expect(method == "contacts.changed" || method == "contacts.subscription_dropped")
                        #expect(message["params"]?["subscription"] == .string(id))
                        notifications += 1
                    }
                }
            }
            #expect(notifications > 0, "no notification arrived while the batches ran")
        }
    }

    @Test("rpc.discover lists subscribe and unsubscribe, and both notifications under x-notifications")
    func discovery() throws {
        try withRunningServer { server in
            let document = try #require(try server.connect().request("rpc.discover", [:])["result"])
            let methods = (document["methods"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(methods.contains("contacts.subscribe") && methods.contains("contacts.unsubscribe"))
            let subscribe = try #require(document["methods"]?.arrayValue?.first { $0["name"] == "contacts.subscribe" })
            #expect(
                subscribe["params"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [
                    "since", "username_prefix", "exclude_authors",
                ])
            let notifications = (document["x-notifications"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(notifications == ["contacts.changed", "contacts.subscription_dropped"])
        }
    }
}
