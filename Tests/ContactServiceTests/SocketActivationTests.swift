import Foundation
import JSONRPC
import TestSupport
import Testing

/// A socket's device and inode, or nil when no socket is at `path`.
private func socketIdentity(_ path: String) -> [UInt64]? {
    var info = stat()
    guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
    return [UInt64(info.st_dev), UInt64(info.st_ino)]
}

/// True when `pid` is a process running `binary` now.
private func runs(_ pid: pid_t, _ binary: String) -> Bool {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) == binary
}

private let ping = #"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"#

/// Answers `server.ping` on `path`.
private func pings(_ path: String) throws -> Bool {
    try LineClient(path: path).call(ping)["result"] != nil
}

@Suite("systemd socket activation")
struct SocketActivationTests {
    @Test(
        "under systemd-socket-activate the socket exists before contactsd runs, a client is served through it, and SIGTERM leaves the file in place"
    )
    func systemdSocketActivate() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("s.sock").path
        let notify = try NotifyListener(name: directory.appendingPathComponent("notify").path)
        let launcher = Process()
        launcher.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
        // systemd-socket-activate passes on only the variables named with -E: a sanitizer build's
        // options (tools/test --sanitize: where reports go, no leak check at exit) must be among them.
        let sanitizerOptions = ["ASAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"]
            .filter { ProcessInfo.processInfo.environment[$0] != nil }
            .flatMap { ["-E", $0] }
        launcher.arguments =
            ["-l", socket, "-E", "NOTIFY_SOCKET=\(notify.name)"] + sanitizerOptions + [
                TestServer.binary.path, "--db", directory.appendingPathComponent("c.db").path, "--log-level", "warning",
            ]
        let stderrPipe = Pipe()
        launcher.standardError = stderrPipe
        launcher.standardOutput = FileHandle.nullDevice
        try launcher.run()
        defer { if launcher.isRunning { kill(launcher.processIdentifier, SIGKILL) } }
        try waitUntil("systemd-socket-activate listens") { socketIdentity(socket) != nil }
        let identity = socketIdentity(socket)
        // It executes contactsd (in its own process) only on the first connection.
        #expect(runs(launcher.processIdentifier, "/usr/bin/systemd-socket-activate"))
        #expect(notify.next(timeout: 0.3) == nil)
        #expect(try pings(socket))
        #expect(runs(launcher.processIdentifier, TestServer.binary.path))
        let startup = try notify.messages(through: "READY=1", timeout: 15)
        #expect(startup.last?.text.contains("STATUS=serving on \(socket)") == true)
        kill(launcher.processIdentifier, SIGTERM)
        launcher.waitUntilExit()
        let err = String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(launcher.terminationStatus == 0, "\(err)")
        _ = try notify.messages(through: "STOPPING=1", timeout: 5)
        #expect(socketIdentity(socket) == identity, "the handed-over socket was removed or replaced")
        #expect(!FileManager.default.fileExists(atPath: socket + ".lock"))
    }

    @Test("a restart keeps the handed socket: a client that connects while no server runs is answered by the next one")
    func restartKeepsSocket() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("s.sock").path
        let fd = try HandedSocketServer.listeningSocket(at: socket)
        defer { close(fd) }
        let arguments = ["--db", directory.appendingPathComponent("c.db").path, "--log-level", "warning"]
        let stderrPath = directory.appendingPathComponent("err").path
        let first = try HandedSocketServer(fd: fd, arguments: arguments, stderrPath: stderrPath)
        try waitUntil("the first server answers") { (try? pings(socket)) == true }
        let identity = socketIdentity(socket)
        first.send(SIGTERM)
        #expect(first.exitStatus(within: 15) == 0, "\(first.stderrText())")
        #expect(socketIdentity(socket) == identity)
        #expect(!FileManager.default.fileExists(atPath: socket + ".lock"))
        // Nobody serves now, yet the socket accepts into its backlog: the client never sees it missing.
        let waiting = try LineClient(path: socket)
        try waiting.send(ping)
        let second = try HandedSocketServer(fd: fd, arguments: arguments, stderrPath: stderrPath)
        #expect(try waiting.readJSON()["result"] != nil)
        second.send(SIGTERM)
        #expect(second.exitStatus(within: 15) == 0, "\(second.stderrText())")
        #expect(socketIdentity(socket) == identity)
    }

    /// Descriptors that are not a listening Unix stream socket, made in `directory`.
    enum NotListening: String, CaseIterable, CustomTestStringConvertible {
        case unboundStream = "a stream socket that does not listen"
        case datagram = "a datagram socket"
        case file = "a regular file"

        var testDescription: String { rawValue }

        func make(in directory: URL) -> Int32 {
            switch self {
            case .unboundStream: socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            case .datagram: socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            case .file: open(directory.appendingPathComponent("plain").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            }
        }
    }

    @Test("a handed descriptor that is not a listening Unix stream socket is refused with exit 78, binding nothing", arguments: NotListening.allCases)
    func refusesNonListening(kind: NotListening) throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fd = kind.make(in: directory)
        #expect(fd >= 0)
        defer { close(fd) }
        let own = directory.appendingPathComponent("own.sock").path
        let server = try HandedSocketServer(
            fd: fd, arguments: ["--socket", own, "--db", directory.appendingPathComponent("c.db").path],
            stderrPath: directory.appendingPathComponent("err").path)
        #expect(server.exitStatus(within: 15) == 78)
        #expect(server.stderrText().contains("socket activation: descriptor 3"), "\(server.stderrText())")
        #expect(!FileManager.default.fileExists(atPath: own))
    }

    @Test("of two handed sockets, the one LISTEN_FDNAMES names contactsd is served; unnamed, two are refused with exit 78")
    func severalSockets() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let other = directory.appendingPathComponent("other.sock").path
        let served = directory.appendingPathComponent("served.sock").path
        let fds = [try HandedSocketServer.listeningSocket(at: other), try HandedSocketServer.listeningSocket(at: served)]
        defer { for fd in fds { close(fd) } }
        let arguments = ["--db", directory.appendingPathComponent("c.db").path, "--log-level", "warning"]
        let stderrPath = directory.appendingPathComponent("err").path
        let named = try HandedSocketServer(
            fds: fds, names: ["other", "contactsd"], arguments: arguments, stderrPath: stderrPath)
        try waitUntil("the server answers on the socket named contactsd") { (try? pings(served)) == true }
        // The other socket is not served: its connection waits in the backlog, unanswered.
        let unanswered = try LineClient(path: other, timeoutSeconds: 0.5)
        try unanswered.send(ping)
        #expect(throws: (any Error).self) { try unanswered.readLine() }
        named.send(SIGTERM)
        #expect(named.exitStatus(within: 15) == 0)

        let unnamed = try HandedSocketServer(fds: fds, names: ["a", "b"], arguments: arguments, stderrPath: stderrPath)
        #expect(unnamed.exitStatus(within: 15) == 78)
        #expect(unnamed.stderrText().contains("passed 2 sockets"), "\(unnamed.stderrText())")
    }

    @Test("LISTEN_PID naming another process is ignored: the server binds its own socket and leaves descriptor 3 alone")
    func otherProcessVariablesIgnored() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let handed = directory.appendingPathComponent("handed.sock").path
        let fd = try HandedSocketServer.listeningSocket(at: handed)
        defer { close(fd) }
        let own = directory.appendingPathComponent("own.sock").path
        let server = try HandedSocketServer(
            fd: fd, arguments: ["--socket", own, "--db", directory.appendingPathComponent("c.db").path],
            listenPID: 1, stderrPath: directory.appendingPathComponent("err").path)
        try waitUntil("the server answers on its own socket") { (try? pings(own)) == true }
        #expect(FileManager.default.fileExists(atPath: own + ".lock"))
        server.send(SIGTERM)
        #expect(server.exitStatus(within: 15) == 0)
        #expect(socketIdentity(own) == nil, "a socket the server bound is removed on stop")
        #expect(socketIdentity(handed) != nil)
    }
}

/// The uid and gid the other user's client runs as (`nobody`), and a group only the socket has.
private let otherUser: UInt32 = 65534
private let socketGroup: UInt32 = 4242

@Suite("socket activation: peers", .enabled(if: getuid() == 0, "needs root to run a client as another user"))
struct SocketActivationPeerTests {
    /// Runs socat as `nobody` with `groups` against a handed socket made with `mode` and group
    /// `socketGroup`; returns its one answer line.
    private func answer(mode: mode_t, groups: [UInt32]) throws -> JSONValue {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        guard chmod(directory.path, 0o755) == 0 else { throw TestFailure("cannot chmod \(directory.path)") }
        let socket = directory.appendingPathComponent("s.sock").path
        let fd = try HandedSocketServer.listeningSocket(at: socket, mode: mode)
        defer { close(fd) }
        guard chown(socket, 0, socketGroup) == 0 else { throw TestFailure("cannot chown \(socket)") }
        let server = try HandedSocketServer(
            fd: fd, arguments: ["--db", directory.appendingPathComponent("c.db").path, "--log-level", "warning"],
            stderrPath: directory.appendingPathComponent("err").path)
        defer { server.send(SIGTERM) }
        try waitUntil("the server answers") { (try? pings(socket)) == true }
        let groupFlags = groups.isEmpty ? ["--clear-groups"] : ["--groups", groups.map(String.init).joined(separator: ",")]
        let result = try runProgram(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid", "\(otherUser)", "--regid", "\(otherUser)"] + groupFlags
                + ["socat", "-t", "5", "-", "UNIX-CONNECT:\(socket)"],
            stdin: ping + "\n")
        return try JSONReader.parse(Array(result.out.utf8))
    }

    @Test("a member of the handed socket's group is served when its mode (SocketMode=0660) grants the group, without --allow-gid")
    func socketGroupServed() throws {
        #expect(try answer(mode: 0o660, groups: [socketGroup])["result"] != nil)
    }

    @Test("another user outside the handed socket's group is refused with -32001 even when its mode lets anyone connect")
    func othersRefused() throws {
        let refused = try answer(mode: 0o666, groups: [])
        #expect(refused.errorCode == -32001)
        #expect(refused["error"]?["data"]?["reason"] == "peer_not_allowed")
    }
}
