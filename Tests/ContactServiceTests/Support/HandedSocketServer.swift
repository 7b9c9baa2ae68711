import Foundation
import TestSupport

/// A real `contactsd` started the way systemd starts a socket-activated service: the test's
/// descriptor as descriptor 3, `LISTEN_FDS=1`, `LISTEN_FDNAMES` and `LISTEN_PID` set to the
/// server's own pid (through `sh -c 'export LISTEN_PID=$$; exec …'`, since the pid is not known
/// before the spawn), plus any environment given (`NOTIFY_SOCKET`, `WATCHDOG_USEC`).
final class HandedSocketServer {
    /// The server's pid.
    let pid: pid_t
    /// Where its stderr goes.
    let stderrPath: String
    private var status: Int32?

    /// Starts `contactsd arguments…` with `fd` as descriptor 3.
    /// - Parameter listenPID: `LISTEN_PID` to set instead of the server's own pid.
    convenience init(
        fd: Int32, arguments: [String], environment: [String: String] = [:], listenPID: pid_t? = nil,
        stderrPath: String
    ) throws {
        try self.init(
            fds: [fd], names: ["contactsd"], arguments: arguments, environment: environment, listenPID: listenPID,
            stderrPath: stderrPath)
    }

    /// Starts `contactsd arguments…` with `fds` as descriptors 3, 4, …, `LISTEN_FDS` their count
    /// and `LISTEN_FDNAMES` the `names` joined with colons.
    init(
        fds: [Int32], names: [String], arguments: [String], environment: [String: String] = [:],
        listenPID: pid_t? = nil, stderrPath: String
    ) throws {
        self.stderrPath = stderrPath
        // Above any target, so no dup2 is a no-op that would leave close-on-exec set.
        let spares = fds.map { fcntl($0, F_DUPFD_CLOEXEC, 10) }
        defer { for spare in spares where spare >= 0 { close(spare) } }
        guard spares.allSatisfy({ $0 >= 0 }) else { throw TestFailure("cannot duplicate descriptors \(fds)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (index, spare) in spares.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, spare, 3 + Int32(index))
        }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var env = ProcessInfo.processInfo.environment
        for name in ["CONTACTS_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            env[name] = nil
        }
        env["LISTEN_FDS"] = "\(fds.count)"
        env["LISTEN_FDNAMES"] = names.joined(separator: ":")
        for (key, value) in environment { env[key] = value }
        let pidValue = listenPID.map { "\($0)" } ?? "$$"
        let argv = ["sh", "-c", "export LISTEN_PID=\(pidValue); exec \"$0\" \"$@\"", TestServer.binary.path] + arguments
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/bin/sh", &actions, nil, &cArgs, &cEnv)
        guard rc == 0 else { throw TestFailure("posix_spawn failed: \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// A new listening `AF_UNIX` stream socket bound at `path` with file `mode`, as a socket unit makes it.
    static func listeningSocket(at path: String, mode: mode_t = 0o600) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("cannot create a socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, chmod(path, mode) == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw TestFailure("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Sends `signal` to the server.
    func send(_ signal: Int32) { kill(pid, signal) }

    /// The exit status once the server exited (128 + the signal when a signal ended it), nil
    /// when it still runs after `timeout` seconds.
    func exitStatus(within timeout: Double) -> Int32? {
        if let status { return status }
        let deadline = Date().addingTimeInterval(bound(timeout))
        repeat {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let signal = raw & 0x7f
                status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
                return status
            }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// Everything the server wrote to stderr so far.
    func stderrText() -> String {
        (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    }

    deinit {
        if exitStatus(within: 0) == nil {
            kill(pid, SIGKILL)
            _ = exitStatus(within: 10)
        }
    }
}
