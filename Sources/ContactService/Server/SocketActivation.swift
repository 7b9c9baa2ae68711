import Glibc

/// The listening socket a service manager handed over (systemd socket activation, sd_listen_fds(3)'s
/// protocol, read here without libsystemd): when `LISTEN_PID` is this process and `LISTEN_FDS` is
/// 1 or more, descriptors 3 (`SD_LISTEN_FDS_START`) onwards are open sockets, named by
/// `LISTEN_FDNAMES` (colon-separated; `FileDescriptorName=`, by default the socket unit's name).
///
/// The server serves that socket instead of binding its own; it never unlinks or closes it (the
/// manager keeps it, so clients never find it missing during a restart).
public struct SocketActivation: Sendable {
    /// The first descriptor passed (`SD_LISTEN_FDS_START`).
    public static let firstDescriptor: Int32 = 3
    /// The names a unit may give the socket to serve when it passes several.
    public static let preferredNames: Set<String> = ["contactsd", "contactsd.socket"]

    /// The listening descriptor.
    public let fd: Int32
    /// Its name from `LISTEN_FDNAMES` ("" when none was given).
    public let name: String

    /// Reads and removes `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` (removed whether or not they
    /// are for this process, as `sd_listen_fds(unset_environment=1)` does, so no child inherits
    /// them), marks every passed descriptor close-on-exec, and checks the one to serve.
    /// Call it before any thread starts (it changes the environment).
    /// - Returns: nil when the variables are absent or meant for another process (then the server
    ///   binds its own socket).
    /// - Throws: a configuration error (exit 78) when the variables are malformed, or the
    ///   descriptor is not a listening `AF_UNIX` stream socket.
    public static func receive() throws(ServerStartError) -> SocketActivation? {
        let variables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
        let values = variables.map { name in getenv(name).map { String(cString: $0) } }
        for name in variables { unsetenv(name) }
        return try receive(pid: values[0], fds: values[1], names: values[2])
    }

    static func receive(pid: String?, fds: String?, names: String?) throws(ServerStartError) -> SocketActivation? {
        guard let pid, let fds else { return nil }
        guard let listenPID = Int32(pid), listenPID > 0 else {
            throw configuration("LISTEN_PID=\(pid) is not a process id")
        }
        guard listenPID == getpid() else { return nil }
        guard let count = Int32(fds), count >= 0, count <= Int32.max - firstDescriptor else {
            throw configuration("LISTEN_FDS=\(fds) is not a count of descriptors")
        }
        guard count > 0 else { return nil }
        let descriptors = Array(firstDescriptor..<(firstDescriptor + count))
        for fd in descriptors {
            // Kept from any program this one may start, as sd_listen_fds() does.
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0, fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 else {
                throw configuration("LISTEN_FDS=\(count) but descriptor \(fd) is not open")
            }
        }
        let labels = names.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        let chosen: Int
        if count == 1 {
            chosen = 0
        } else if let index = labels.firstIndex(where: preferredNames.contains), index < descriptors.count {
            chosen = index
        } else {
            throw configuration(
                "the service manager passed \(count) sockets (LISTEN_FDNAMES=\(names ?? "")); name the one to serve "
                    + "contactsd (FileDescriptorName=contactsd) or pass one")
        }
        let fd = descriptors[chosen]
        try checkListeningUnixStream(fd)
        // The accept loop expects a non-blocking descriptor (systemd passes blocking ones unless
        // NonBlocking=yes); the flag is on the shared file description, which the manager only polls.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return SocketActivation(fd: fd, name: chosen < labels.count ? labels[chosen] : "")
    }

    /// Refuses anything but a listening `AF_UNIX` `SOCK_STREAM` socket.
    private static func checkListeningUnixStream(_ fd: Int32) throws(ServerStartError) {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        guard let domain = option(SO_DOMAIN) else {
            throw configuration(
                "descriptor \(fd) from the service manager is not a socket (\(String(cString: strerror(errno))))")
        }
        guard domain == AF_UNIX else {
            throw configuration("descriptor \(fd) from the service manager is not a Unix socket (family \(domain)); use ListenStream=/path")
        }
        guard option(SO_TYPE) == Int32(SOCK_STREAM.rawValue) else {
            throw configuration("descriptor \(fd) from the service manager is not a stream socket; use ListenStream=")
        }
        guard option(SO_ACCEPTCONN) == 1 else {
            throw configuration("descriptor \(fd) from the service manager is not listening (not a socket unit's listening socket)")
        }
    }

    private static func configuration(_ problem: String) -> ServerStartError {
        ServerStartError(message: "socket activation: \(problem)", configuration: true)
    }
}
