import Foundation
import JSONRPC
import TestSupport
import Testing

@testable import ContactStore

/// The lines of the messages, flattened.
private func lines(_ messages: [(text: String, at: Double)]) -> [String] {
    messages.flatMap { $0.text.split(separator: "\n").map(String.init) }
}

/// Times (seconds) of the messages holding `line`.
private func times(of line: String, in messages: [(text: String, at: Double)]) -> [Double] {
    messages.filter { $0.text.split(separator: "\n").contains(Substring(line)) }.map(\.at)
}

/// A socket-activated server in a fresh directory whose `$NOTIFY_SOCKET` the test holds.
private final class NotifiedServer {
    let directory: URL
    let socket: String
    let database: String
    let notify: NotifyListener
    let server: HandedSocketServer
    private let fd: Int32

    init(
        notifyName: ((URL) -> String)? = nil, environment: [String: String] = [:], arguments: [String] = [],
        prepare: (String) throws -> Void = { _ in }
    ) throws {
        directory = try TestServer.makeTemporaryDirectory()
        socket = directory.appendingPathComponent("s.sock").path
        database = directory.appendingPathComponent("c.db").path
        try prepare(database)
        notify = try NotifyListener(name: notifyName?(directory) ?? directory.appendingPathComponent("notify").path)
        fd = try HandedSocketServer.listeningSocket(at: socket)
        var env = environment
        env["NOTIFY_SOCKET"] = notify.name
        server = try HandedSocketServer(
            fd: fd, arguments: ["--db", database, "--log-level", "warning"] + arguments, environment: env,
            stderrPath: directory.appendingPathComponent("err").path)
    }

    deinit {
        server.send(SIGKILL)
        _ = server.exitStatus(within: 10)
        close(fd)
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("systemd notifications")
struct ServiceNotificationTests {
    @Test(
        "NOTIFY_SOCKET hears READY=1 once the server answers, then STOPPING=1 on SIGTERM (a path, and an abstract name)",
        arguments: ["path", "abstract"])
    func readyThenStopping(kind: String) throws {
        let abstract = "@contacts-test-\(UUID().uuidString)"
        let running = try NotifiedServer(notifyName: kind == "abstract" ? { _ in abstract } : nil)
        let startup = try running.notify.messages(through: "READY=1", timeout: 15)
        #expect(!lines(startup).contains("STOPPING=1"))
        // Ready means serving: the first request after it is answered.
        #expect(try LineClient(path: running.socket).call(#"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"#)["result"] != nil)
        running.server.send(SIGTERM)
        let stopping = try running.notify.messages(through: "STOPPING=1", timeout: 10)
        #expect(!lines(stopping).contains("READY=1"))
        #expect(running.server.exitStatus(within: 15) == 0, "\(running.server.stderrText())")
    }

    @Test("a schema upgrade held up at start sends EXTEND_TIMEOUT_USEC every 2 s until it is done, then READY=1")
    func extendsTimeoutDuringMigration() throws {
        var holder: SQLiteLockHolder?
        let running = try NotifiedServer(prepare: { database in
            try writeVersionOneDatabase(at: database)
            // Another process holds the write lock: the upgrade waits for it, as it would behind a
            // long upgrade of a million contacts.
            holder = try SQLiteLockHolder(path: database, seconds: nil)
        })
        let held = bound(4.5)
        holder?.release(after: held)
        let messages = try running.notify.messages(through: "READY=1", timeout: held + 15)
        let extensions = times(of: "EXTEND_TIMEOUT_USEC=10000000", in: messages)
        #expect(extensions.count >= 2, "\(messages.map(\.text))")
        for (earlier, later) in zip(extensions, extensions.dropFirst()) {
            #expect(later - earlier > 1.5 && later - earlier < bound(3.5), "\(extensions)")
        }
        #expect(lines(messages).contains { $0.hasPrefix("STATUS=upgrading the database schema from version 1 to ") })
        let ready = try #require(times(of: "READY=1", in: messages).first)
        #expect(extensions.allSatisfy { $0 < ready })
        // The upgraded file serves its old contact.
        let got = try LineClient(path: running.socket).request("contacts.get", ["username": "old"])
        #expect(got["result"]?["emails"] == ["old@example.com"])
    }

    @Test("WATCHDOG=1 comes every half of WATCHDOG_USEC, stops while the writer is wedged on a lock, and comes back once it commits")
    func watchdogFollowsProgress() throws {
        let interval = bound(1.0)
        let running = try NotifiedServer(
            environment: ["WATCHDOG_USEC": "\(Int(interval * 1_000_000))"], arguments: ["--busy-timeout", "60s"])
        _ = try running.notify.messages(through: "READY=1", timeout: 15)
        let steady = times(of: "WATCHDOG=1", in: running.notify.collect(for: 5 * interval))
        #expect(steady.count >= 7 && steady.count <= 11, "\(steady)")
        let gaps = zip(steady, steady.dropFirst()).map { $1 - $0 }
        let mean = gaps.reduce(0, +) / Double(max(1, gaps.count))
        #expect(mean > 0.4 * interval && mean < 0.6 * interval, "\(gaps)")

        // Wedge the writer for real: another connection holds the write lock while a create waits for it.
        let holder = try SQLiteLockHolder(path: running.database, seconds: nil)
        let client = try LineClient(path: running.socket, timeoutSeconds: 60)
        try client.send(
            #"{"jsonrpc":"2.0","id":7,"method":"contacts.create","params":{"username":"wedge","first_name":"W","last_name":"E"}}"#)
        // Pings may go on until the writer has been stuck for WATCHDOG_USEC, plus one period.
        _ = running.notify.collect(for: 1.6 * interval)
        let wedged = times(of: "WATCHDOG=1", in: running.notify.collect(for: 2.5 * interval))
        #expect(wedged.isEmpty, "pinged while the writer was wedged: \(wedged)")

        holder.release(after: 0)
        #expect(try client.readJSON()["result"]?["username"] == "wedge")
        let resumed = times(of: "WATCHDOG=1", in: running.notify.collect(for: 1.5 * interval))
        #expect(!resumed.isEmpty, "no ping after the writer committed")
    }

    @Test("WATCHDOG_PID naming another process turns the watchdog off")
    func watchdogForAnotherProcess() throws {
        let running = try NotifiedServer(environment: ["WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"])
        let startup = try running.notify.messages(through: "READY=1", timeout: 15)
        let later = running.notify.collect(for: 1.0)
        #expect(times(of: "WATCHDOG=1", in: startup + later).isEmpty)
    }
}
