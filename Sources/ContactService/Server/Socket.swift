import Glibc

import UnixSocketAddress

/// A failed socket call: what we tried, and errno's text.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    /// A sentence saying what failed, naming the path where there is one.
    public var message: String
    /// The errno value, when a system call failed.
    public var errno: Int32?

    init(_ message: String, errno: Int32? = nil) {
        self.message = message
        self.errno = errno
    }

    public var description: String {
        guard let errno else { return message }
        return "\(message): \(String(cString: strerror(errno)))"
    }
}

/// Thin, safe wrappers over the Unix socket calls the server needs. Every call retries on
/// EINTR here, in one place.
enum Socket {
    /// Runs a system call again while it fails with EINTR.
    static func retryingOnInterrupt<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }

    /// The longest socket path the kernel accepts.
    static var maxPathLength: Int { UnixSocketAddress.maxPathLength }

    /// Calls `body` with a `sockaddr_un` for `path`.
    static func withAddress<T>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
    ) throws(SocketError) -> T {
        guard let result = UnixSocketAddress.with(path: path, body) else { throw pathTooLong(path) }
        return result
    }

    /// The error for a path that does not fit in `sockaddr_un`.
    static func pathTooLong(_ path: String) -> SocketError {
        SocketError(
            "the socket path is \(path.utf8.count) bytes, longer than the \(maxPathLength) a Unix socket address allows: \(path)")
    }

    /// A new non-blocking, close-on-exec stream socket.
    static func makeStreamSocket(nonBlocking: Bool) throws(SocketError) -> Int32 {
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { throw SocketError("cannot create a socket", errno: errno) }
        return fd
    }

    /// What a connection attempt says about the socket file at a path.
    enum Liveness: Equatable {
        /// A server accepted the connection, or its backlog is full (it is alive, only busy).
        case answering
        /// Nobody listens (`ECONNREFUSED`) or the file is gone (`ENOENT`).
        case stale
        /// The attempt failed for another reason (such as `EACCES`): nothing can be concluded.
        case unknown(errno: Int32)
    }

    /// Tries a non-blocking connection to `path`: a full backlog (`EAGAIN`) or a connection still
    /// in progress means a live server, and the probe never waits for one.
    static func probe(_ path: String) -> Liveness {
        guard let fd = try? makeStreamSocket(nonBlocking: true) else { return .unknown(errno: errno) }
        defer { close(fd) }
        let rc = (try? withAddress(path) { address, length in
            retryingOnInterrupt { connect(fd, address, length) }
        }) ?? -1
        if rc == 0 { return .answering }
        switch errno {
        case EAGAIN, EINPROGRESS: return .answering
        case ECONNREFUSED, ENOENT: return .stale
        case let other: return .unknown(errno: other)
        }
    }

    /// The uid and gid of the process at the other end of a connected Unix socket (`SO_PEERCRED`).
    /// The peer's supplementary groups (`SO_PEERGROUPS`, Linux 4.13 and later), as the kernel
    /// recorded them when it connected; empty when they cannot be read.
    static func peerGroups(_ fd: Int32) -> [gid_t] {
        let optionPeerGroups: Int32 = 59  // SO_PEERGROUPS (asm-generic/socket.h); not in Glibc's Swift module
        var groups = [gid_t](repeating: 0, count: 64)
        var length = socklen_t(groups.count * MemoryLayout<gid_t>.size)
        var rc = groups.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, optionPeerGroups, $0.baseAddress, &length) }
        if rc != 0, errno == ERANGE {
            // More than 64 groups: the kernel said how much room it needs.
            groups = [gid_t](repeating: 0, count: Int(length) / MemoryLayout<gid_t>.size)
            rc = groups.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, optionPeerGroups, $0.baseAddress, &length) }
        }
        guard rc == 0 else { return [] }
        return Array(groups.prefix(Int(length) / MemoryLayout<gid_t>.size))
    }

    static func peerCredentials(_ fd: Int32) -> (uid: uid_t, gid: gid_t)? {
        // struct ucred (pid, uid, gid: three 32-bit fields) is hidden behind _GNU_SOURCE in Glibc's
        // Swift module, so read it into three words.
        var words: [UInt32] = [0, 0, 0]
        var length = socklen_t(MemoryLayout<UInt32>.size * 3)
        let rc = words.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, SO_PEERCRED, $0.baseAddress, &length) }
        guard rc == 0, length == socklen_t(MemoryLayout<UInt32>.size * 3) else { return nil }
        return (uid_t(words[1]), gid_t(words[2]))
    }

    /// True when the peer of a connected socket has closed both directions (not just its
    /// writing side, as `printf … | socat` does while it still reads the replies).
    static func peerHungUp(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        return poll(&entry, 1, 0) == 1 && entry.revents & Int16(POLLHUP) != 0
    }

    /// Writes as much of `bytes` as the socket takes now; returns the count, 0 on EAGAIN, nil on a broken peer.
    static func writeSome(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = retryingOnInterrupt { write(fd, bytes.baseAddress, bytes.count) }
        if n >= 0 { return n }
        if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
        return nil
    }
}
