import Glibc

/// A listening Unix socket at a path that this server binds and owns, or one a service manager
/// handed over (`SocketActivation`), which the server only serves.
///
/// Ownership is held with an exclusive `flock` on a lock file beside the socket (`PATH.lock`)
/// for the listener's whole life: a second server on the same path is refused while this one
/// lives, whether or not the socket file still exists, and the stale-socket check runs under the
/// lock, so two servers starting together cannot both decide the file is stale. The lock file
/// is never removed: unlinking it would let a third server lock a new file while the second still
/// holds the old one. A stale socket file is replaced, a live server or a non-socket file is never
/// touched, the file mode is set before anyone can connect, and on stop the file is removed only
/// if it is still the one this listener bound (same device and inode).
///
/// A handed-over socket takes no lock, gets no stale check, and is never unlinked or closed: it
/// belongs to the service manager, which keeps it listening between two runs of the server.
final class UnixListener: Sendable {
    /// The listening descriptor (non-blocking).
    let fd: Int32
    /// The socket path ("" for a handed-over socket without one, such as an abstract name).
    let path: String
    /// The group of the socket file (for group access by its mode).
    let group: gid_t
    /// The socket file's permission bits: `--socket-mode` for a bound socket, the file's own for a
    /// handed-over one (`SocketMode=`).
    let mode: UInt32
    /// True for a socket the service manager handed over (see the type's comment).
    let isHandedOver: Bool
    /// The lock file held for the listener's life; -1 for a handed-over socket.
    private let lockFD: Int32
    private let device: dev_t
    private let inode: ino_t

    /// The lock file used for a socket at `path`.
    static func lockPath(for path: String) -> String { path + ".lock" }

    /// Takes the lock, replaces a stale socket file, binds and listens at `path` with file mode `mode`.
    init(path: String, mode: mode_t, backlog: Int32 = 1024) throws(SocketError) {
        guard path.utf8.count <= Socket.maxPathLength else { throw Socket.pathTooLong(path) }
        let lockPath = Self.lockPath(for: path)
        // O_NOFOLLOW: a symlink planted at the lock path must not make us create or lock another file.
        let lockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lockFD >= 0 else { throw SocketError("cannot open the lock file \(lockPath)", errno: errno) }
        guard Socket.retryingOnInterrupt({ flock(lockFD, LOCK_EX | LOCK_NB) }) == 0 else {
            let failure = errno
            close(lockFD)
            if failure == EWOULDBLOCK {
                throw SocketError(
                    "another contactsd holds the lock \(lockPath) for the socket \(path); stop it first or choose another --socket"
                )
            }
            throw SocketError("cannot lock \(lockPath)", errno: failure)
        }
        do {
            try Self.removeStaleSocket(at: path)
            (fd, device, inode, group) = try Self.bindAndListen(path: path, mode: mode, backlog: backlog)
        } catch {
            close(lockFD)
            throw error
        }
        self.lockFD = lockFD
        self.path = path
        self.mode = UInt32(mode) & 0o777
        self.isHandedOver = false
    }

    /// Serves the socket `activation` handed over; its path, mode and group are read from the
    /// socket's address (getsockname) and the file there (stat).
    init(handedOver activation: SocketActivation) {
        fd = activation.fd
        lockFD = -1
        isHandedOver = true
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(activation.fd, $0, &length) == 0 }
        }
        let pathOffset = MemoryLayout<sa_family_t>.size
        let bytes = withUnsafeBytes(of: &address.sun_path) { raw in
            Array(raw.prefix(max(0, min(Int(length) - pathOffset, raw.count))))
        }
        // A path socket's name starts with a byte other than NUL (an abstract one with NUL).
        let path = named && bytes.first.map({ $0 != 0 }) == true
            ? String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self) : ""
        self.path = path
        var info = stat()
        if !path.isEmpty, stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK {
            (mode, group, device, inode) = (UInt32(info.st_mode) & 0o777, info.st_gid, info.st_dev, info.st_ino)
        } else {
            // No file to read (abstract or unlinked): only the owner's uid, root and --allow-* are served.
            (mode, group, device, inode) = (0o600, getgid(), 0, 0)
        }
    }

    deinit {
        if lockFD >= 0 { close(lockFD) }
    }

    /// Removes a socket file nobody answers on (left by a server that was killed); refuses a live
    /// server, a file that is not a socket, or a file whose state cannot be told. Runs under the lock.
    private static func removeStaleSocket(at path: String) throws(SocketError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SocketError("\(path) exists and is not a socket; refusing to replace it")
        }
        switch Socket.probe(path) {
        case .answering:
            throw SocketError(
                "another server is already listening on \(path); stop it first or choose another --socket")
        case .unknown(let failure):
            throw SocketError("cannot tell whether a server listens on \(path); refusing to replace it", errno: failure)
        case .stale:
            guard unlink(path) == 0 || errno == ENOENT else {
                throw SocketError("cannot remove the stale socket \(path)", errno: errno)
            }
        }
    }

    private static func bindAndListen(
        path: String, mode: mode_t, backlog: Int32
    ) throws(SocketError) -> (Int32, dev_t, ino_t, gid_t) {
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
        var info = stat()
        guard stat(path, &info) == 0, chmod(path, mode) == 0, listen(fd, backlog) == 0 else {
            let failure = errno
            close(fd)
            unlink(path)
            throw SocketError("cannot listen on \(path)", errno: failure)
        }
        return (fd, info.st_dev, info.st_ino, info.st_gid)
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

    /// Removes the socket file if it is still the one this listener bound; false when the path
    /// now names another file (someone replaced it), which is left alone. Never called for a
    /// handed-over socket (and false for one).
    @discardableResult
    func removeFile() -> Bool {
        guard !isHandedOver else { return false }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK, info.st_dev == device, info.st_ino == inode
        else { return false }
        return unlink(path) == 0
    }
}
