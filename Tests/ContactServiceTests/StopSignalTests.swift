import Foundation
import TestSupport
import Testing

/// True once `contactsd` handles SIGTERM itself (ignored or caught, no longer the default action):
/// it is in `main` and has set up its stop signals. (A blocked mask says nothing: a process can
/// inherit one from its parent.)
private func handlesSIGTERM(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
    let bit = UInt64(1) << (UInt64(SIGTERM) - 1)
    return status.split(separator: "\n").contains { line in
        guard line.hasPrefix("SigIgn:") || line.hasPrefix("SigCgt:") else { return false }
        let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
        return mask & bit != 0
    }
}

/// Waits (with a deadline) for `server` to exit; false if it did not.
private func waitForExit(_ server: TestServer) -> Bool {
    (try? waitUntil("the server exits") { !server.process.isRunning }) != nil
}

@Suite("stop signals")
struct StopSignalTests {
    @Test("a SIGTERM during startup stops the server cleanly: exit 0, no socket file", arguments: [0, 5, 20, 50])
    func sigtermDuringStartup(delayMilliseconds: Int) throws {
        let server = try TestServer(waitForSocket: false)
        let pid = server.process.processIdentifier
        try waitUntil("contactsd handles SIGTERM") { handlesSIGTERM(pid) || !server.process.isRunning }
        usleep(UInt32(delayMilliseconds * 1000))
        kill(pid, SIGTERM)
        try #require(waitForExit(server), "a SIGTERM during startup was lost")
        #expect(server.process.terminationReason == .exit, "killed by a signal")
        #expect(server.process.terminationStatus == 0, "\(server.stderrText())")
        #expect(!FileManager.default.fileExists(atPath: server.socketPath))
    }

    @Test("a SIGTERM sent right after spawning never leaves the server hanging")
    func sigtermRightAfterSpawn() throws {
        let server = try TestServer(waitForSocket: false)
        kill(server.process.processIdentifier, SIGTERM)
        try #require(waitForExit(server), "a SIGTERM right after spawning was lost")
        // Before main runs, SIGTERM has its default action (nothing is open yet); after, exit 0.
        if server.process.terminationReason == .exit {
            #expect(server.process.terminationStatus == 0, "\(server.stderrText())")
        } else {
            #expect(server.process.terminationStatus == SIGTERM)
        }
        #expect(!FileManager.default.fileExists(atPath: server.socketPath))
    }

    @Test(
        "a second signal while draining exits at once with 128 plus its number, after a last log line",
        arguments: [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")])
    func secondSignalDuringDrain(signal: Int32, name: String) throws {
        let server = try TestServer()
        // A client that asks for megabytes of answers and reads none holds the drain open.
        let stalled = try server.connect()
        let request = #"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"# + "\n"
        try stalled.send(raw: Array(String(repeating: request, count: 400).utf8))
        // One answer back means the server has read the first chunk of requests: megabytes of
        // answers are then due, which the drain waits for.
        _ = try stalled.readJSON()
        kill(server.process.processIdentifier, signal)
        // The socket file goes when the drain starts.
        try waitUntil("the drain starts") { !FileManager.default.fileExists(atPath: server.socketPath) }
        #expect(server.process.isRunning, "the drain did not wait for the stalled client")
        kill(server.process.processIdentifier, signal)
        try #require(waitForExit(server))
        #expect(server.process.terminationReason == .exit)
        #expect(server.process.terminationStatus == 128 + signal)
        let lastLine = server.stderrText().split(separator: "\n").last.map(String.init) ?? ""
        #expect(
            lastLine.contains("second \(name) received while stopping: exiting at once with status \(128 + signal)"),
            "\(lastLine)")
        withExtendedLifetime(stalled) {}
    }
}
