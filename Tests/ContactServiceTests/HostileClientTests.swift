import Foundation
import JSONRPC
import Testing
import TestSupport

/// The limits of protocol.md's "Hostile clients" section, each against the real server: a test
/// fails if the limit breaks.
@Suite("hostile clients: output caps, deadlines, fairness")
struct HostileClientTests {
    /// Creates `count` contacts with five addresses and 50-character names each, in batches.
    static func seed(_ server: TestServer, count: Int) throws {
        let client = try server.connect()
        let long = String(repeating: "n", count: 46)
        var created = 0
        while created < count {
            let chunk = min(500, count - created)
            let batch: [JSONValue] = (created..<created + chunk).map { n in
                let username = "user\(n)"
                let emails: [JSONValue] = (0..<5).map { .string("\(username).\($0)@example.com") }
                return [
                    "jsonrpc": "2.0", "id": .number(JSONNumber(n)), "method": "contacts.create",
                    "params": [
                        "username": .string(username), "first_name": .string("F\(n % 10)\(long)"),
                        "last_name": .string("L\(n % 10)\(long)"), "emails": .array(emails),
                    ],
                ]
            }
            try client.send(JSONValue.array(batch).jsonString)
            let reply = try client.readJSON()
            #expect(reply.arrayValue?.allSatisfy { $0["result"] != nil } == true)
            created += chunk
        }
    }

    /// One `server.stats` result, over a fresh connection.
    static func stats(_ server: TestServer) throws -> JSONValue {
        try #require(try server.connect().call(#"{"jsonrpc":"2.0","id":0,"method":"server.stats"}"#)["result"])
    }

    static func limit(_ stats: JSONValue, _ name: String) -> Int {
        stats["limits"]?[name]?.numberValue?.intValue ?? -1
    }

    /// A batch of `count` `contacts.list` calls asking for 1000 contacts each.
    static func listBatch(_ count: Int) -> String {
        "[" + (0..<count).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"contacts.list","params":{"limit":1000}}"# }
            .joined(separator: ",") + "]"
    }

    @Test("a client that never reads a huge batch reply makes the server hold at most its output cap plus one reply")
    func outputCapHolds() throws {
        let cap = 65536
        try withRunningServer(arguments: ["--max-connection-output", "\(cap)"]) { server in
            try Self.seed(server, count: 100)
            let onePage = try server.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"contacts.list","params":{"limit":1000}}"#)
            let pageBytes = onePage.jsonString.utf8.count
            let slow = try server.connect()
            try slow.send(Self.listBatch(100))  // about 100 × pageBytes of reply, never read for now
            try waitUntil("the batch pauses") { Self.limit(try Self.stats(server), "batches_paused") >= 1 }
            // Give the batch every chance to run further than it may.
            usleep(300_000)
            let unsent = try Self.stats(server)["connections"]?["unsent_bytes"]?.numberValue?.intValue ?? -1
            #expect(unsent > 0)
            #expect(unsent <= cap + pageBytes + 64, "the server holds \(unsent) unsent bytes for one client")
            // The whole reply still arrives, in order, once the client reads.
            let reply = try slow.readJSON()
            let elements = try #require(reply.arrayValue)
            #expect(elements.count == 100)
            #expect(elements.enumerated().allSatisfy { index, element in
                element["id"]?.numberValue?.intValue == index && element["result"]?["contacts"]?.arrayValue?.count == 100
            })
        }
    }

    @Test("a reply over --max-response-bytes is replaced by -32003, in a batch in that element's place")
    func responseTooLarge() throws {
        try withRunningServer(arguments: ["--max-response-bytes", "2048"]) { server in
            try Self.seed(server, count: 20)
            let client = try server.connect()
            let single = try client.call(#"{"jsonrpc":"2.0","id":7,"method":"contacts.list","params":{"limit":1000}}"#)
            #expect(single.errorCode == -32003)
            #expect(single["id"] == 7)
            #expect(single["error"]?["data"]?["limit"] == 2048)
            let batch = try client.call(
                #"[{"jsonrpc":"2.0","id":1,"method":"server.ping"},{"jsonrpc":"2.0","id":2,"method":"contacts.list","params":{"limit":1000}},{"jsonrpc":"2.0","id":3,"method":"contacts.get","params":["user1"]}]"#
            )
            #expect(batch[0]?["result"]?["pong"] == true)
            #expect(batch[1]?.errorCode == -32003 && batch[1]?["id"] == 2)
            #expect(batch[2]?["result"]?["username"] == "user1")
            #expect(Self.limit(try Self.stats(server), "responses_too_large") == 2)
        }
    }

    // Found while writing the dispatcher fuzz target's reply check (docs/reliability.md): the limit
    // was held against the result alone, so its envelope and id could take a reply past it.
    @Test("a result that fits --max-response-bytes gets -32003 when its id takes the reply over")
    func responseLimitCountsTheID() throws {
        try withRunningServer(arguments: ["--max-response-bytes", "2048"]) { server in
            try Self.seed(server, count: 20)
            let client = try server.connect()
            let list = { (id: String, limit: Int) in
                #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.list","params":{"limit":\#(limit)}}"#
            }
            // The biggest page that is answered with a short id…
            var limit = 1
            while try client.call(list("1", limit + 1))["result"] != nil { limit += 1 }
            // …is too large with a long one.
            try client.send(list("\"" + String(repeating: "i", count: 1500) + "\"", limit))
            let line = try #require(try client.readLine())
            #expect(line.utf8.count <= 2048)
            let reply = try JSONReader.parse(Array(line.utf8))
            #expect(reply.errorCode == -32003)
            #expect(Self.limit(try Self.stats(server), "responses_too_large") == 2)
        }
    }

    @Test("-32602 lists at most 100 problems and counts the others in data.omitted")
    func problemsAreCapped() throws {
        try withRunningServer { server in
            let zeros = [String](repeating: "0", count: 100_000).joined(separator: ",")
            let client = try server.connect()
            try client.send(#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":[\#(zeros)]}"#)
            let line = try #require(try client.readLine())
            #expect(line.utf8.count < 32 * 1024, "the error reply is \(line.utf8.count) bytes")
            let reply = try JSONReader.parse(Array(line.utf8))
            #expect(reply.errorCode == -32602)
            #expect(reply["error"]?["data"]?["errors"]?.arrayValue?.count == 100)
            #expect(reply["error"]?["data"]?["omitted"] == 99_900)
            #expect(reply["error"]?["message"]?.stringValue?.hasSuffix("and 99900 more") == true)
        }
    }

    @Test("a connection whose output does not move for --write-timeout is closed, and idle ones stay open")
    func writeTimeout() throws {
        try withRunningServer(arguments: ["--write-timeout", "1s", "--max-connection-output", "65536"]) { server in
            try Self.seed(server, count: 100)
            let idle = try server.connect()
            let slow = try server.connect()
            try slow.send(Self.listBatch(100))
            try waitUntil("the stuck connection is closed") { Self.limit(try Self.stats(server), "write_timeouts") == 1 }
            try waitUntil("the closed connection is no longer counted (open: the idle one and this one)") {
                try Self.stats(server)["connections"]?["open"] == 2
            }
            #expect(try idle.call(#"{"jsonrpc":"2.0","id":2,"method":"server.ping"}"#)["result"]?["pong"] == true)
        }
    }

    @Test("a partial line with no new byte for --read-timeout closes the connection; a quiet one stays open")
    func readTimeout() throws {
        try withRunningServer(arguments: ["--read-timeout", "1s"]) { server in
            let quiet = try server.connect()
            let typing = try server.connect()
            try typing.send(raw: Array(#"{"jsonrpc":"2.0","id":1,"#.utf8))
            #expect(try typing.readLine() == nil)  // closed by the server, before the client's 10 s timeout
            #expect(Self.limit(try Self.stats(server), "read_timeouts") == 1)
            usleep(1_200_000)  // longer than the read timeout: a connection without a partial line is not cut
            #expect(try quiet.call(#"{"jsonrpc":"2.0","id":2,"method":"server.ping"}"#)["result"]?["pong"] == true)
        }
    }

    @Test("a long batch yields: another client's get is answered while the batch is still running")
    func batchesYield() throws {
        try withRunningServer { server in
            try Self.seed(server, count: 100)
            // Only the reader thread uses it after the send.
            nonisolated(unsafe) let heavy = try server.connect()
            try heavy.send(Self.listBatch(300))
            let finished = Flag()
            let reader = Thread {
                _ = try? heavy.readLine()
                finished.set()
            }
            reader.start()
            let other = try server.connect()
            let reply = try other.call(#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":["user1"]}"#)
            #expect(reply["result"]?["username"] == "user1")
            #expect(!finished.isSet, "the get was answered only after the whole batch")
            try waitUntil("the batch finishes", timeout: 60) { finished.isSet }
        }
    }

    @Test("a batch whose client has gone stops before its next element")
    func batchStopsWhenClientLeaves() throws {
        try withRunningServer { server in
            let batch = "[" + (0..<1000).map {
                #"{"jsonrpc":"2.0","id":\#($0),"method":"contacts.create","params":{"username":"gone\#($0)","first_name":"G","last_name":"G"}}"#
            }.joined(separator: ",") + "]"
            do {
                let client = try server.connect()
                try client.send(batch)
            }  // the client closes both directions here
            var last = -1
            try waitUntil("the number of contacts stops changing") {
                let count = try Self.stats(server)["store"]?["contacts"]?.numberValue?.intValue ?? -1
                defer { last = count }
                usleep(200_000)
                return count == last
            }
            #expect(last < 1000, "every element of the abandoned batch ran")
        }
    }
    @Test("a pipelined server.stats on a server with one reader is answered: its read uses the run's session")
    func pipelinedStatsWithOneReader() throws {
        try withRunningServer(arguments: ["--max-readers", "1"]) { server in
            let client = try server.connect()
            // The get takes the run's reader; the stats after it must read through it too.
            try client.send(
                #"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":["x"]}"# + "\n"
                    + #"{"jsonrpc":"2.0","id":2,"method":"server.stats"}"#)
            #expect(try client.readJSON()["id"] == 1)
            #expect(try client.readJSON()["result"]?["store"]?["contacts"] == 0)
        }
    }

    @Test("an error that would be over --max-response-bytes is replaced by -32003 as well")
    func errorRepliesAreCapped() throws {
        try withRunningServer(arguments: ["--max-response-bytes", "1024"]) { server in
            let method = String(repeating: "m", count: 5000)
            let client = try server.connect()
            try client.send(#"{"jsonrpc":"2.0","id":4,"method":"\#(method)"}"#)
            let line = try #require(try client.readLine())
            let reply = try JSONReader.parse(Array(line.utf8))
            #expect(reply.errorCode == -32003 && reply["id"] == 4)
            #expect(line.utf8.count < 1024)
        }
    }

    @Test("a client that leaves in the middle of a big reply leaves no unsent bytes counted")
    func budgetIsReleasedWhenClientsLeave() throws {
        try withRunningServer(arguments: ["--max-connection-output", "65536"]) { server in
            try Self.seed(server, count: 100)
            for _ in 0..<5 {
                let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_un()
                address.sun_family = sa_family_t(AF_UNIX)
                withUnsafeMutableBytes(of: &address.sun_path) { raw in
                    server.socketPath.utf8CString.withUnsafeBytes { raw.copyMemory(from: $0) }
                }
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
                #expect(connected == 0)
                let batch = Array((Self.listBatch(100) + "\n").utf8)
                _ = batch.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                _ = read(fd, &buffer, buffer.count)  // a little of the reply, then gone
                close(fd)
            }
            try waitUntil("every left connection's output is given back") {
                let stats = try Self.stats(server)
                return stats["connections"]?["open"] == 1 && stats["connections"]?["unsent_bytes"] == 0
            }
        }
    }
}

/// A flag set once from another thread.
final class Flag: @unchecked Sendable {
    // @unchecked Sendable: the value is behind the lock.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
