import Foundation
import JSONRPC
import Locking
import Testing
import TestSupport

@Suite("contactsd's threads and descriptors: fixed, whatever the connections do")
struct ServerThreadsTests {
    /// The names of `pid`'s threads now.
    static func threadNames(_ pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { task in
            (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Runs `round` in a loop on `count` connections of their own to `server` while `sample` runs
    /// on this thread; returns the errors the clients met.
    static func load(
        _ server: TestServer, connections count: Int, round: @escaping @Sendable (LineClient, _ client: Int, _ round: Int) throws -> Void,
        while sample: () -> Void
    ) -> [String] {
        let stop = LockedValue(false)
        let failures = LockedValue<[String]>([])
        let clients = DispatchGroup()
        for client in 0..<count {
            DispatchQueue.global().async(group: clients) {
                do {
                    let connection = try server.connect()
                    var rounds = 0
                    while !stop.withLock({ $0 }) {
                        try round(connection, client, rounds)
                        rounds += 1
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        sample()
        stop.withLock { $0 = true }
        if clients.wait(timeout: .now() + bound(30)) != .success { failures.withLock { $0.append("clients did not stop") } }
        return failures.withLock { $0 }
    }

    @Test("a load on which every request blocks (one reader, 32 connections) adds no thread to the server")
    func blockingLoadAddsNoThread() throws {
        // One reader for 32 connections that pipeline long lists: nearly every request waits for
        // the reader. libdispatch's pool, which ran connections before, added a worker each
        // second its workers were all waiting like this; the connection threads are a fixed set.
        let server = try TestServer(arguments: ["--max-readers", "1"])
        defer { server.stop() }
        let pid = server.process.processIdentifier
        let seeder = try server.connect()
        for chunk in 0..<4 {
            let creates = (0..<500).map { n -> String in
                let id = chunk * 500 + n
                return #"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.create","params":{"username":"u\#(id)","first_name":"F","last_name":"L","emails":["u\#(id)@example.com"]}}"#
            }
            let reply = try seeder.call("[" + creates.joined(separator: ",") + "]")
            guard case .array(let replies) = reply, replies.count == 500, replies.allSatisfy({ $0["result"] != nil }) else {
                throw TestFailure("seeding failed: \(reply.jsonString.prefix(300))")
            }
        }
        let connectionThreads = Self.threadNames(pid).filter { $0 == "contactsd-conn" }.count
        #expect(connectionThreads >= 2, "the connection threads are not named contactsd-conn, or not running")
        let before = Self.threadNames(pid).count

        let list = (0..<4).map {
            #"{"jsonrpc":"2.0","id":\#($0),"method":"contacts.list","params":{"limit":500}}"#
        }.joined(separator: "\n")
        let answered = LockedValue(0)
        var most = before
        var mostNames: [String] = []
        let failures = Self.load(server, connections: 32) { client, _, _ in
            try client.send(list)
            for _ in 0..<4 {
                guard try client.readJSON()["result"] != nil else { throw TestFailure("a list failed") }
            }
            answered.withLock { $0 += 4 }
        } while: {
            let deadline = Date().addingTimeInterval(4)
            while Date() < deadline {
                let names = Self.threadNames(pid)
                if names.count > most { (most, mostNames) = (names.count, names) }
                usleep(20_000)
            }
        }
        #expect(failures.isEmpty)
        #expect(answered.withLock { $0 } > 32)
        #expect(
            most <= before, "the server went from \(before) threads to \(most) under the load: \(mostNames.sorted())")
        #expect(Self.threadNames(pid).filter { $0 == "contactsd-conn" }.count == connectionThreads)
    }

    @Test("a storm of batched creates opens no temporary file: savepoint journals stay in memory")
    func writesOpenNoTemporaryFile() throws {
        // Each write of a group commit runs in a savepoint, whose journal SQLite moved to a
        // deleted file in /var/tmp past 64 KiB: a descriptor that came and went with the writes.
        let server = try TestServer()
        defer { server.stop() }
        let pid = server.process.processIdentifier
        var temporary: Set<String> = []
        var samples = 0
        let failures = Self.load(server, connections: 4) { connection, client, round in
            let creates = (0..<200).map { n -> String in
                let name = "t\(client)x\(round)x\(n)"
                return #"{"jsonrpc":"2.0","id":\#(n),"method":"contacts.create","params":{"username":"\#(name)","first_name":"F","last_name":"L","emails":["\#(name)@example.com"]}}"#
            }
            guard case .array(let replies) = try connection.call("[" + creates.joined(separator: ",") + "]"),
                replies.allSatisfy({ $0["result"] != nil })
            else { throw TestFailure("a batch of creates failed") }
        } while: {
            let deadline = Date().addingTimeInterval(3)
            while Date() < deadline {
                samples += 1
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
                for fd in fds {
                    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")
                    else { continue }
                    if target.contains("(deleted)") || target.contains("etilqs") { temporary.insert(target) }
                }
            }
        }
        #expect(failures.isEmpty)
        #expect(samples > 100)
        #expect(temporary.isEmpty, "the server held temporary files: \(temporary.sorted().prefix(3))")
    }
}
