import Foundation
import JSONRPC
import TestSupport
import Testing

/// The uid and gid the other user's client runs as (`nobody`).
private let otherUser: UInt32 = 65534

/// Runs `arguments` (a program and its arguments) as uid and gid 65534 with no supplementary groups.
private func runAsOtherUser(_ arguments: [String], stdin: String? = nil) throws -> (
    status: Int32, out: String, err: String
) {
    try runProgram(
        URL(fileURLWithPath: "/usr/bin/setpriv"),
        ["--reuid", "\(otherUser)", "--regid", "\(otherUser)", "--clear-groups"] + arguments, stdin: stdin)
}

/// A server whose socket anyone may open (mode 0666, in a 0755 directory), so that only the
/// peer-credential check stands between another user and the server.
private func withOpenSocketServer(arguments: [String] = [], _ body: (TestServer) throws -> Void) throws {
    let directory = try TestServer.makeTemporaryDirectory()
    guard chmod(directory.path, 0o755) == 0 else { throw TestFailure("cannot chmod \(directory.path)") }
    let server = try TestServer(arguments: ["--socket-mode", "0666"] + arguments, directory: directory)
    defer { server.stop() }
    try body(server)
}

@Suite("peer credentials", .enabled(if: getuid() == 0, "needs root to run a client as another user"))
struct PeerCredentialsTests {
    private let ping = #"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"# + "\n"

    @Test("another user's client reads one -32001 line naming its uid, then the connection closes")
    func otherUserRefused() throws {
        try withOpenSocketServer { server in
            let result = try runAsOtherUser(
                ["socat", "-t", "5", "-", "UNIX-CONNECT:\(server.socketPath)"], stdin: ping)
            let lines = result.out.split(separator: "\n")
            #expect(lines.count == 1, "\(result.out)\(result.err)")
            let answer = try JSONReader.parse(Array((lines.first ?? "").utf8))
            #expect(answer.errorCode == -32001)
            #expect(answer["id"] == .null)
            #expect(answer["error"]?["data"]?["reason"] == "peer_not_allowed")
            #expect(answer["error"]?["data"]?["uid"] == .number(JSONNumber(Int(otherUser))))
            let stats = try server.connect().request("server.stats", [:])
            #expect(stats["result"]?["limits"]?["refused_peer_credentials"] == 1)
        }
    }

    @Test(
        "another user's client is served when --allow-uid or --allow-gid names it",
        arguments: ["--allow-uid", "--allow-gid"])
    func allowedPeerServed(flag: String) throws {
        try withOpenSocketServer(arguments: [flag, "\(otherUser)"]) { server in
            let result = try runAsOtherUser(
                ["socat", "-t", "5", "-", "UNIX-CONNECT:\(server.socketPath)"], stdin: ping)
            let answer = try JSONReader.parse(Array(result.out.utf8))
            #expect(answer["result"] != nil, "\(result.out)\(result.err)")
        }
    }

    @Test("contacts run by another user exits 1 with a message naming its uid")
    func cliNamesTheUID() throws {
        try withOpenSocketServer { server in
            let result = try runAsOtherUser([contactsBinary.path, "--socket", server.socketPath, "list"])
            #expect(result.status == 1)
            #expect(result.err.contains("uid \(otherUser)"), "\(result.err)")
        }
    }

    @Test("a client in the socket's group as a supplementary group is served by default (mode 0660)")
    func supplementaryGroupServed() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        guard chmod(directory.path, 0o755) == 0 else { throw TestFailure("cannot chmod \(directory.path)") }
        let server = try TestServer(arguments: ["--socket-mode", "0660"], directory: directory)
        defer { server.stop() }
        var info = stat()
        guard stat(server.socketPath, &info) == 0 else { throw TestFailure("cannot stat the socket") }
        // Primary group 65534, the socket's group only as a supplementary one.
        let result = try runProgram(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid", "\(otherUser)", "--regid", "\(otherUser)", "--groups", "\(info.st_gid)",
             "socat", "-t", "5", "-", "UNIX-CONNECT:\(server.socketPath)"],
            stdin: ping)
        let answer = try JSONReader.parse(Array(result.out.utf8))
        #expect(answer["result"]?["pong"] == true, "\(result.out)\(result.err)")
    }
}
