import Foundation
import JSONRPC
import TestSupport

/// A stand-in for `contactsd` on a real Unix socket, played step by step by the test: it accepts
/// connections, reads request lines and writes whatever lines the test scripts. For the paths a
/// real server cannot be made to take on demand: a dropped subscription, a 410 when resubscribing,
/// a server gone and back at a chosen moment.
final class ScriptedServer {
    let path: String
    private var listener: Int32 = -1

    /// Listens on `path`.
    init(path: String) throws {
        self.path = path
        try listen()
    }

    deinit {
        stopListening()
    }

    /// Listens again on the same path (the server is back).
    func listen() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard fd >= 0, bound == 0, Glibc.listen(fd, 8) == 0 else {
            throw TestFailure("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        listener = fd
    }

    /// Closes the listening socket and removes its path: nobody answers there any more.
    func stopListening() {
        guard listener >= 0 else { return }
        close(listener)
        unlink(path)
        listener = -1
    }

    /// The next connection, waiting at most `timeout` seconds for it.
    func accept(timeout: Double = 15) throws -> ScriptedConnection {
        try waitReadable(listener, timeout: timeout, "a client connects")
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { throw TestFailure("accept failed: \(String(cString: strerror(errno)))") }
        return ScriptedConnection(fd: fd)
    }
}

/// One accepted connection of a `ScriptedServer`.
final class ScriptedConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var closed = false

    init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close()
    }

    /// Reads the next request line and parses it, waiting at most `timeout` seconds.
    func readRequest(timeout: Double = 15) throws -> JSONValue {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                return try JSONReader.parse(line)
            }
            try waitReadable(fd, timeout: timeout, "a request arrives")
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw TestFailure("the client closed the connection before a request") }
            buffer += chunk[..<n]
        }
    }

    /// Writes one line (a newline is added).
    func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Answers `request` with `result`.
    func reply(to request: JSONValue, result: JSONValue) {
        send(message(("id", request["id"] ?? nil), ("result", result)))
    }

    /// Answers `request` with an error object.
    func reply(to request: JSONValue, error: JSONValue) {
        send(message(("id", request["id"] ?? nil), ("error", error)))
    }

    /// Sends a notification.
    func notify(_ method: String, _ params: JSONValue) {
        send(message(("method", .string(method)), ("params", params)))
    }

    /// A JSON-RPC 2.0 message with these members after `jsonrpc`, in this order.
    private func message(_ members: (String, JSONValue)...) -> String {
        let all = [("jsonrpc", JSONValue.string("2.0"))] + members
        return JSONValue.object(JSONObject(all.map { JSONObject.Member(key: $0.0, value: $0.1) })).jsonString
    }

    /// Closes the connection (the server went away).
    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}

/// Waits until `fd` is readable, or throws saying what did not happen.
private func waitReadable(_ fd: Int32, timeout: Double, _ what: String) throws {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let ready = poll(&entry, 1, Int32(bound(timeout) * 1000))
    guard ready == 1 else { throw TestFailure("timed out waiting until \(what)") }
}

/// A program left running while the test talks to it: its output is collected as it comes.
final class RunningProgram: @unchecked Sendable {
    // @unchecked Sendable: the collected output is behind `lock`; `process` is only signalled and
    // waited on, which Process allows from any thread.
    private let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    /// Pipes read to their end (the program and everything it started closed them).
    private var ended = 0

    init(_ executable: URL, _ arguments: [String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CONTACTS_SOCKET"] = nil
        process.environment = environment
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        outPipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            lock.withLock { if data.isEmpty { ended += 1 } else { out += data } }
        }
        errPipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            lock.withLock { if data.isEmpty { ended += 1 } else { err += data } }
        }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// What it printed on stdout so far.
    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    /// What it printed on stderr so far.
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }
    /// The lines it printed on stdout so far.
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// Waits until it has printed `count` lines on stdout.
    func waitForLines(_ count: Int) throws {
        try waitUntil("the program prints \(count) lines (so far: \(stdout.debugDescription))") { lines.count >= count }
    }

    /// Waits until its stderr holds `text`.
    func waitForError(containing text: String) throws {
        try waitUntil("the program says \(text.debugDescription) on stderr") { stderr.contains(text) }
    }

    /// Sends `signal` and waits for it to exit; returns its status.
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        kill(process.processIdentifier, signal)
        return waitForExit()
    }

    /// Waits for it to exit by itself; returns its status (once its output is all read).
    func waitForExit() -> Int32 {
        process.waitUntilExit()
        // The pipes may still hold the last lines: wait for their end.
        try? waitUntil("the output is read to its end") { lock.withLock { ended == 2 } }
        return process.terminationStatus
    }
}
