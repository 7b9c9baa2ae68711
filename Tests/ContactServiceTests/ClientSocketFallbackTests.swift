import Foundation
import TestSupport
import Testing

@Suite("the client's default socket")
struct ClientSocketFallbackTests {
    @Test("contacts without --socket uses the per-user socket when a server is there")
    func perUserSocketUsed() throws {
        let runtime = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: runtime) }
        let directory = runtime.appendingPathComponent("contacts")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        let server = try TestServer(directory: directory)
        defer { server.stop() }
        let socket = directory.appendingPathComponent("contactsd.sock").path
        #expect(symlink(server.socketPath, socket) == 0)
        let result = try runCLI(["ping"], environment: ["XDG_RUNTIME_DIR": runtime.path])
        #expect(result.status == 0, "\(result.err)")
    }

    @Test(
        "contacts without --socket and without a per-user socket tries the system one, and its hint names both",
        .enabled(if: !FileManager.default.fileExists(atPath: "/run/contacts/contactsd.sock"), "a system server runs here"))
    func fallsBackToSystemSocket() throws {
        let runtime = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: runtime) }
        let result = try runCLI(["ping"], environment: ["XDG_RUNTIME_DIR": runtime.path])
        #expect(result.status == 3)
        #expect(result.err.contains("cannot connect to /run/contacts/contactsd.sock"), "\(result.err)")
        #expect(result.err.contains("\(runtime.path)/contacts/contactsd.sock"), "\(result.err)")
    }
}
