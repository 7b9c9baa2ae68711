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
        guard let result = UnixSocketAddress.with(path: path, body) else {
            throw SocketError("socket path is \(path.utf8.count) bytes, longer than the \(maxPathLength) the system allows: \(path)")
        }
        return result
    }

    /// A new non-blocking, close-on-exec stream socket.
    static func makeStreamSocket(nonBlocking: Bool) throws(SocketError) -> Int32 {
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { throw SocketError("cannot create a socket", errno: errno) }
        return fd
    }

    /// True when a server accepts connections on `path` right now.
    static func isAnswering(_ path: String) -> Bool {
        guard let fd = try? makeStreamSocket(nonBlocking: false) else { return false }
        defer { close(fd) }
        let rc = (try? withAddress(path) { address, length in
            retryingOnInterrupt { connect(fd, address, length) }
        }) ?? -1
        return rc == 0
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
