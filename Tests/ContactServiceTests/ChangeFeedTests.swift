import Dispatch
import Foundation
import JSONRPC
import Locking
import TestSupport
import Testing

/// `contacts.changes`, `head_seq`, `author` and retention, against a real `contactsd`.
@Suite("the change feed against a real server")
struct ChangeFeedTests {
    /// Every change after `since`, following `next` until a page comes back empty.
    static func allChanges(_ client: LineClient, since: Int, excludeAuthors: [String]? = nil) throws -> [JSONValue] {
        var changes: [JSONValue] = []
        var since = since
        while true {
            var params = JSONObject()
            params.append("since", .number(JSONNumber(since)))
            params.append("limit", 1000)
            if let excludeAuthors { params.append("exclude_authors", .array(excludeAuthors.map { .string($0) })) }
            let reply = try client.request("contacts.changes", .object(params))
            let page = try #require(reply["result"]?["changes"]?.arrayValue, "\(reply)")
            changes += page
            since = try #require(reply["result"]?["next"]?.numberValue?.intValue)
            if page.isEmpty { return changes }
        }
    }

    /// Creates contacts c0, c1, … through `client`.
    static func createContacts(_ client: LineClient, count: Int) throws {
        for n in 0..<count {
            _ = try client.request("contacts.create", ["username": .string("c\(n)"), "first_name": "C", "last_name": "0"])
        }
    }

    @Test("20 concurrent writers give a gap-free seq, in commit order, each change the write's own result")
    func concurrentWritersGetGapFreeSeqs() throws {
        try withRunningServer { server in
            let writers = 20
            let updates = 10
            // Each write's result, by username and version.
            let results = LockedValue<[String: JSONValue]>([:])
            let failures = LockedValue<[String]>([])
            DispatchQueue.concurrentPerform(iterations: writers) { index in
                do {
                    let client = try server.connect()
                    let name = "w\(index)"
                    var replies = [
                        try client.request(
                            "contacts.create", ["username": .string(name), "first_name": "W", "last_name": "0"])
                    ]
                    for n in 1...updates {
                        replies.append(
                            try client.request(
                                "contacts.update", ["username": .string(name), "last_name": .string("\(n)")]))
                    }
                    for reply in replies {
                        guard let contact = reply["result"], let version = contact["version"]?.numberValue?.intValue
                        else {
                            throw TestFailure("a write failed: \(reply)")
                        }
                        results.withLock { $0["\(name)#\(version)"] = contact }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            let changes = try Self.allChanges(try server.connect(), since: 0)
            let seqs = changes.compactMap { $0["seq"]?.numberValue?.intValue }
            #expect(seqs == Array(1...(writers * (updates + 1))), "seqs are not 1...N without gaps")
            // Per contact, the log holds versions 1, 2, 3... in seq order: the order the writes committed.
            var versions: [String: [Int]] = [:]
            for change in changes {
                let name = try #require(change["username"]?.stringValue)
                let version = try #require(change["version"]?.numberValue?.intValue)
                versions[name, default: []].append(version)
                #expect(
                    change["contact"] == results.withLock { $0["\(name)#\(version)"] },
                    "change \(change) is not what its write returned")
                #expect(change["author"] == "contactsd")
            }
            #expect(versions.count == writers)
            #expect(versions.values.allSatisfy { $0 == Array(1...(updates + 1)) })
            // Commit order across contacts: a later seq never carries an earlier commit time.
            let times = changes.compactMap { $0["at"]?.stringValue }
            #expect(times == times.sorted())
        }
    }

    @Test(
        "listing every page, then following changes from the first page's head_seq, misses nothing under concurrent writes"
    )
    func listThenFollowMissesNothing() throws {
        try withRunningServer { server in
            let seeder = try server.connect()
            for n in 0..<200 {
                _ = try seeder.request(
                    "contacts.create", ["username": .string("s\(n)"), "first_name": "S", "last_name": "0"])
            }
            let stop = LockedValue(false)
            let writersDone = DispatchGroup()
            for writer in 0..<4 {
                DispatchQueue.global().async(group: writersDone) {
                    guard let client = try? server.connect() else { return }
                    var n = 0
                    while !stop.withLock({ $0 }) {
                        n += 1
                        let target = "s\(Int.random(in: 0..<200))"
                        switch n % 4 {
                        case 0:
                            _ = try? client.request(
                                "contacts.create",
                                ["username": .string("n\(writer)-\(n)"), "first_name": "N", "last_name": "0"])
                        case 1:
                            _ = try? client.request(
                                "contacts.update", ["username": .string(target), "last_name": .string("\(n)")])
                        case 2:
                            _ = try? client.request(
                                "contacts.update",
                                ["username": .string(target), "new_username": .string("r\(writer)-\(n)")])
                        default: _ = try? client.request("contacts.delete", ["username": .string(target)])
                        }
                    }
                }
            }
            // The client's copy: every page (small, so the walk spans many commits), then the changes.
            let client = try server.connect()
            var copy: [String: JSONValue] = [:]
            var cursor: JSONValue = .null
            var head: Int?
            repeat {
                let page = try #require(client.request("contacts.list", ["limit": 7, "cursor": cursor])["result"])
                if head == nil { head = page["head_seq"]?.numberValue?.intValue }
                for contact in page["contacts"]?.arrayValue ?? [] {
                    copy[contact["username"]?.stringValue?.lowercased() ?? ""] = contact
                }
                cursor = page["next_cursor"] ?? .null
            } while cursor != .null
            stop.withLock { $0 = true }
            writersDone.wait()
            for change in try Self.allChanges(client, since: try #require(head)) {
                if let old = change["old_username"]?.stringValue { copy[old.lowercased()] = nil }
                let name = try #require(change["username"]?.stringValue).lowercased()
                copy[name] = change["op"] == "deleted" ? nil : change["contact"]
            }
            var actual: [String: JSONValue] = [:]
            cursor = .null
            repeat {
                let page = try #require(client.request("contacts.list", ["limit": 1000, "cursor": cursor])["result"])
                for contact in page["contacts"]?.arrayValue ?? [] {
                    actual[contact["username"]?.stringValue?.lowercased() ?? ""] = contact
                }
                cursor = page["next_cursor"] ?? .null
            } while cursor != .null
            #expect(copy.count == actual.count)
            #expect(copy == actual, "the client's copy differs from the store")
        }
    }

    @Test(
        "an author given to a write is logged; exclude_authors leaves its changes out; an invalid one is -32602 naming the field"
    )
    func authors() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request(
                "contacts.create", ["username": "ada", "first_name": "Ada", "last_name": "L", "author": "app"])
            _ = try client.request("contacts.update", ["username": "ada", "new_username": "ada.l", "author": "sync-1"])
            _ = try client.request("contacts.delete", ["username": "ada.l"])
            let changes = try Self.allChanges(client, since: 0)
            #expect(changes.map { $0["author"] } == ["app", "sync-1", "contactsd"])
            #expect(changes.map { $0["op"] } == ["created", "updated", "deleted"])
            #expect(changes[1]["old_username"] == "ada" && changes[0]["old_username"] == nil)
            // The delete carries the contact as it was.
            #expect(changes[2]["contact"] == changes[1]["contact"])
            let others = try Self.allChanges(client, since: 0, excludeAuthors: ["APP", "contactsd"])
            #expect(others.map { $0["author"] } == ["sync-1"])
            for (method, params) in [
                (
                    "contacts.create",
                    ["username": "bob", "first_name": "B", "last_name": "B", "author": "no spaces"] as JSONValue
                ),
                ("contacts.update", ["username": "bob", "first_name": "C", "author": ""]),
                ("contacts.delete", ["username": "bob", "author": 7]),
            ] {
                let reply = try client.request(method, params)
                #expect(reply.errorCode == -32602, "\(method): \(reply)")
                #expect(reply["error"]?["data"]?["errors"]?[0]?["field"] == "author", "\(method): \(reply)")
            }
        }
    }

    @Test("contacts.changes checks since, limit and exclude_authors")
    func paramsAreChecked() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let cases: [(JSONValue, String)] = [
                (["limit": 5], "since"), (["since": -1], "since"), (["since": 0, "limit": 0], "limit"),
                (["since": 0, "limit": 1001], "limit"),
                (["since": 0, "exclude_authors": ["ok", "bad name"]], "exclude_authors[1]"),
                (["since": 0, "exclude_authors": "app"], "exclude_authors"),
            ]
            for (params, field) in cases {
                let reply = try client.request("contacts.changes", params)
                #expect(reply.errorCode == -32602, "\(params): \(reply)")
                #expect(reply["error"]?["data"]?["errors"]?[0]?["field"] == .string(field), "\(params): \(reply)")
            }
        }
    }

    @Test("--changes-max-rows prunes the oldest changes, and a since below them gets 410 with data.oldest")
    func pruneByRowsGives410() throws {
        try withRunningServer(arguments: ["--changes-max-rows", "5"]) { server in
            let client = try server.connect()
            try Self.createContacts(client, count: 12)
            var reply: JSONValue = .null
            // The pruner works in chunks: wait for the last of them, not the first 410.
            try waitUntil("the log is pruned to 5 rows") {
                reply = try client.request("contacts.changes", ["since": 0])
                return reply.errorCode == 410 && reply["error"]?["data"]?["oldest"] == 8
            }
            #expect(reply["error"]?["data"]?["head_seq"] == 12)
            #expect(reply["error"]?["message"]?.stringValue?.contains("resync with contacts.list") == true)
            #expect(try client.request("contacts.changes", ["since": 6]).errorCode == 410)
            let kept = try client.request("contacts.changes", ["since": 7])
            #expect(
                kept["result"]?["changes"]?.arrayValue?.compactMap { $0["seq"]?.numberValue?.intValue } == [
                    8, 9, 10, 11, 12,
                ])
        }
    }

    @Test("--changes-max-age prunes older changes but keeps the head; a since beyond the head gets 410 too")
    func pruneByAgeKeepsHead() throws {
        try withRunningServer(arguments: ["--changes-max-age", "300ms"]) { server in
            let client = try server.connect()
            try Self.createContacts(client, count: 3)
            try waitUntil("every change is pruned") {
                try client.request("contacts.changes", ["since": 0]).errorCode == 410
            }
            let gone = try client.request("contacts.changes", ["since": 2])
            #expect(gone["error"]?["data"]?["oldest"] == 4 && gone["error"]?["data"]?["reason"] == "pruned")
            #expect(try client.request("contacts.list", [:])["result"]?["head_seq"] == 3)
            #expect(try client.request("contacts.changes", ["since": 3])["result"] == ["changes": [], "next": 3])
            let beyond = try client.request("contacts.changes", ["since": 4])
            #expect(beyond.errorCode == 410 && beyond["error"]?["data"]?["reason"] == "beyond_head")
        }
    }

    @Test("rpc.discover lists contacts.changes with its params, result and the 410, and author on every write")
    func discovery() throws {
        let server = try TestServer()
        defer { server.stop() }
        let document = try #require(try server.connect().request("rpc.discover", [:])["result"])
        var byName: [String: JSONValue] = [:]
        for method in document["methods"]?.arrayValue ?? [] { byName[method["name"]?.stringValue ?? ""] = method }
        func paramNames(_ method: String) -> [String] {
            (byName[method]?["params"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        }
        let changes = try #require(byName["contacts.changes"])
        #expect(paramNames("contacts.changes") == ["since", "limit", "exclude_authors"])
        #expect(changes["params"]?[0]?["required"] == true)
        #expect(changes["result"]?["schema"]?["required"] == ["changes", "next"])
        let codes = (changes["errors"]?.arrayValue ?? []).compactMap { $0["code"]?.numberValue?.intValue }
        #expect(codes.contains(410))
        #expect(paramNames("contacts.create").last == "author")
        #expect(paramNames("contacts.update").last == "author")
        #expect(paramNames("contacts.delete").last == "author")
        #expect(byName["contacts.list"]?["result"]?["schema"]?["required"] == ["contacts", "next_cursor", "head_seq"])
        #expect(document["components"]?["schemas"]?["Change"] != nil)
    }

    @Test("contacts changes prints history as lines or JSON Lines, and exits 1 with a hint on 410")
    func cli() throws {
        try withRunningServer(arguments: ["--changes-max-rows", "3"]) { server in
            let client = try server.connect()
            _ = try client.request(
                "contacts.create", ["username": "ada", "first_name": "Ada", "last_name": "L", "author": "app"])
            _ = try client.request("contacts.update", ["username": "ada", "new_username": "ada.l"])
            let text = try runCLI(["changes", "--since", "0", "--socket", server.socketPath])
            #expect(text.status == 0, "\(text.err)")
            let lines = text.out.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(
                lines.first?.contains("created") == true && lines.first?.contains("ada") == true
                    && lines.first?.contains("app") == true)
            #expect(lines.last?.contains("ada.l") == true && lines.last?.contains("was ada") == true)
            let json = try runCLI(["changes", "--since", "0", "--json", "--limit", "1", "--socket", server.socketPath])
            #expect(json.status == 0)
            let objects = try json.out.split(separator: "\n").map { try JSONReader.parse(Array($0.utf8)) }
            #expect(objects.map { $0["seq"] } == [1])
            #expect(objects.first?["contact"]?["username"] == "ada")
            try Self.createContacts(client, count: 5)
            try waitUntil("the log is pruned") { try client.request("contacts.changes", ["since": 0]).errorCode == 410 }
            let gone = try runCLI(["changes", "--since", "0", "--socket", server.socketPath])
            #expect(gone.status == 1)
            #expect(gone.err.contains("contacts list"), "\(gone.err)")
        }
    }
}
