import Foundation
import JSONRPC
import Testing

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
    init(arguments: [String] = [], directory: URL? = nil, waitForSocket: Bool = true) throws {
        let dir = try directory ?? TestServer.makeTemporaryDirectory()
        self.directory = dir
        self.socketPath = dir.appendingPathComponent("s.sock").path
        self.databasePath = dir.appendingPathComponent("contacts.db").path
        process = Process()
        process.executableURL = TestServer.binary
        process.arguments = ["--socket", socketPath, "--db", databasePath, "--log-level", "warning"] + arguments
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        if waitForSocket {
            try waitUntil("the server accepts connections") { (try? LineClient(path: self.socketPath)) != nil }
        }
    }

    /// A fresh private temporary directory (short, because socket paths are limited to 107 bytes).
    static func makeTemporaryDirectory() throws -> URL {
        var template = Array("/tmp/contacts-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        return URL(fileURLWithPath: String(cString: made))
    }

    /// A new connection to this server.
    func connect() throws -> LineClient {
        try LineClient(path: socketPath)
    }

    /// Sends a signal and waits for the process to exit; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
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

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or the deadline passes (never sleep-and-hope).
func waitUntil(_ what: String, timeout: Double = 10, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(10_000)
    }
    throw TestFailure("timed out waiting until \(what)")
}
