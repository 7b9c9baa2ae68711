import Foundation
import JSONRPC
import Testing
import TestSupport

/// A real `contactsd` process on a temporary socket and database, for integration tests.
final class TestServer: @unchecked Sendable {
    // @unchecked Sendable: `process` is set in init and only read afterwards; Process itself is
    // thread-safe for the calls used here (terminate, waitUntilExit, processIdentifier).
    let directory: URL
    let socketPath: String
    let databasePath: String
    let process: Process
    let stderrPipe = Pipe()

    /// The built `contactsd`, next to the test bundle in the build folder.
    static var binary: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("contactsd")
    }

    /// Starts a server and waits until it accepts connections.
    /// - Parameter openFileLimit: run it under `ulimit -n` of this (through `/bin/sh`).
    init(arguments: [String] = [], directory: URL? = nil, waitForSocket: Bool = true, openFileLimit: Int? = nil) throws {
        let dir = try directory ?? TestServer.makeTemporaryDirectory()
        self.directory = dir
        self.socketPath = dir.appendingPathComponent("s.sock").path
        self.databasePath = dir.appendingPathComponent("contacts.db").path
        process = Process()
        let serverArguments = ["--socket", socketPath, "--db", databasePath, "--log-level", "warning"] + arguments
        if let openFileLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(openFileLimit) && exec \"$0\" \"$@\"", TestServer.binary.path] + serverArguments
        } else {
            process.executableURL = TestServer.binary
            process.arguments = serverArguments
        }
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        if waitForSocket {
            try waitUntil("the server accepts connections") { (try? LineClient(path: self.socketPath)) != nil }
        }
    }

    /// A fresh private temporary directory for one server.
    static func makeTemporaryDirectory() throws -> URL {
        try TestSupport.makeTemporaryDirectory(prefix: "contacts-test")
    }

    /// A new connection to this server.
    func connect() throws -> LineClient {
        try LineClient(path: socketPath)
    }

    /// A connection the server has admitted and answers on (under `--max-connections 1`, the
    /// start-up probe's connection may still be closing, so try until one is served).
    func admittedClient() throws -> LineClient {
        var holder: LineClient?
        try waitUntil("one client is admitted") {
            holder = try? connect()
            return (try? holder?.call(#"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"#))?["id"] == 1
        }
        return try #require(holder)
    }

    /// Sends a signal and waits for the process to exit; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself (after a signal already sent); returns its status.
    /// Unlike `stop`, it sends nothing: a second SIGTERM during a drain exits at once with 143.
    @discardableResult
    func waitForExit() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Everything the server wrote to stderr (call after it exited).
    func stderrText() -> String {
        String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body` with a fresh server, and stops it afterwards.
func withRunningServer<T>(arguments: [String] = [], _ body: (TestServer) throws -> T) throws -> T {
    let server = try TestServer(arguments: arguments)
    defer { server.stop() }
    return try body(server)
}
