import Foundation
import TestSupport
import Testing

/// Starts a `contactsd` that is expected to refuse to start; returns its exit status and stderr.
private func startRefused(_ arguments: [String]) throws -> (status: Int32, err: String) {
    let result = try runProgram(TestServer.binary, arguments)
    return (result.status, result.err)
}

/// Binds a listening socket at `path` as another program would, and returns its descriptor.
private func bindForeignSocket(at path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: Array(path.utf8) + [0])
    }
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard fd >= 0, rc == 0, listen(fd, 8) == 0 else { throw TestFailure("cannot bind \(path)") }
    return fd
}

/// The device and inode of the file at `path`.
private func identity(of path: String) -> (dev_t, ino_t)? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return (info.st_dev, info.st_ino)
}

@Suite("the server owns its socket")
struct SocketOwnershipTests {
    @Test("a second server refuses while the first lives, even after the socket file was removed")
    func lockHeldWithoutSocketFile() throws {
        try withRunningServer { first in
            #expect(unlink(first.socketPath) == 0)
            let second = try startRefused(["--socket", first.socketPath, "--db", first.databasePath + "2"])
            #expect(second.status == 1)
            #expect(second.err.contains("another contactsd holds the lock \(first.socketPath).lock"), "\(second.err)")
            #expect(!FileManager.default.fileExists(atPath: first.socketPath), "the refused server bound the path")
        }
    }

    @Test("a stop leaves alone a socket file that replaced the one it bound")
    func replacedSocketNotRemoved() throws {
        let server = try TestServer()
        #expect(unlink(server.socketPath) == 0)
        let foreign = try bindForeignSocket(at: server.socketPath)
        defer { close(foreign) }
        let before = try #require(identity(of: server.socketPath))
        #expect(server.stop() == 0)
        let after = try #require(
            identity(of: server.socketPath), "the stopping server removed another program's socket")
        #expect(after == before)
    }

    @Test("the lock file stays after a clean stop, and a new server starts over it")
    func lockFileStays() throws {
        let first = try TestServer()
        #expect(first.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: first.socketPath + ".lock"))
        let second = try TestServer(directory: first.directory)
        defer { second.stop() }
        #expect(try second.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"#)["result"] != nil)
    }

    @Test("a socket path longer than a Unix socket address allows is refused at start with exit 78")
    func pathTooLong() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.path + "/" + String(repeating: "s", count: 120) + ".sock"
        let result = try startRefused(["--socket", path, "--db", directory.path + "/c.db"])
        #expect(result.status == 78)
        #expect(result.err.contains("longer than the 107 a Unix socket address allows"), "\(result.err)")
    }

    @Test("a socket file nobody answers on is replaced only under the lock; a live one is never touched")
    func liveSocketWithoutLockRefused() throws {
        // A server that holds no lock (another program, or an older contactsd) still answers on the path.
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.path + "/s.sock"
        let foreign = try bindForeignSocket(at: path)
        defer { close(foreign) }
        let before = try #require(identity(of: path))
        let result = try startRefused(["--socket", path, "--db", directory.path + "/c.db"])
        #expect(result.status == 1)
        #expect(result.err.contains("another server is already listening on \(path)"), "\(result.err)")
        #expect(identity(of: path).map { $0 == before } == true)
    }
}
