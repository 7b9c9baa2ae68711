import Glibc

/// A listening Unix socket at a path, created safely: a stale socket file is replaced, a live
/// server or a non-socket file is never touched, and the file mode is set before anyone can connect.
final class UnixListener: Sendable {
    /// The listening descriptor (non-blocking).
    let fd: Int32
    /// The socket path.
    let path: String

    /// Binds and listens at `path` with file mode `mode`.
    init(path: String, mode: mode_t, backlog: Int32 = 1024) throws(SocketError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw SocketError("\(path) exists and is not a socket; refusing to replace it")
            }
            if Socket.isAnswering(path) {
                throw SocketError("another server is already listening on \(path); stop it first or choose another --socket")
            }
            // Nobody answers: a stale file left by a server that did not exit cleanly.
            guard unlink(path) == 0 || errno == ENOENT else {
                throw SocketError("cannot remove the stale socket \(path)", errno: errno)
            }
        }
        let fd = try Socket.makeStreamSocket(nonBlocking: true)
        // Bind with a umask that leaves only the owner's bits, so the socket is never briefly
        // open to others; then widen to the requested mode.
        let oldMask = umask(0o177)
        let rc: Int32
        do {
            rc = try Socket.withAddress(path) { address, length in bind(fd, address, length) }
        } catch {
            umask(oldMask)
            close(fd)
            throw error
        }
        let bindErrno = errno
        umask(oldMask)
        guard rc == 0 else {
            close(fd)
            throw SocketError("cannot bind the socket \(path)", errno: bindErrno)
        }
        guard chmod(path, mode) == 0, listen(fd, backlog) == 0 else {
            let failure = errno
            close(fd)
            unlink(path)
            throw SocketError("cannot listen on \(path)", errno: failure)
        }
        self.fd = fd
        self.path = path
    }

    /// Accepts one pending connection: its descriptor (non-blocking), nil when none is waiting.
    func accept() -> Result<Int32, SocketError>? {
        // accept4 is not exported by Glibc's Swift module, so set the flags by hand.
        let client = Socket.retryingOnInterrupt { Glibc.accept(fd, nil, nil) }
        if client >= 0 {
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            return .success(client)
        }
        if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        return .failure(SocketError("accept failed", errno: errno))
    }

    /// Removes the socket file if it is still ours.
    func removeFile() {
        unlink(path)
    }
}
