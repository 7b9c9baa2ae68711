import Glibc

import UnixSocketAddress

/// A blocking Unix-socket connection that writes and reads newline-terminated lines, with
/// connect and read timeouts. Use it from one thread at a time.
///
/// The transport under ``ContactClient``, public for programs that speak the line protocol
/// themselves (tests of framing, raw tools). The connection closes when the instance is released.
public final class LineConnection {
    private let fd: Int32
    /// The socket path.
    public let path: String
    private let readTimeout: Double
    private var buffer: [UInt8] = []
    /// What one `read` fills, allocated once (not 64 KiB of zeros appended to `buffer` per read).
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    private var start = 0
    /// Longest response line accepted (protects the client from a runaway server).
    public static let maxLineBytes = 256 << 20

    /// Connects to a Unix socket.
    /// - Parameters:
    ///   - path: the socket path.
    ///   - connectTimeout: seconds to wait for the connection.
    ///   - readTimeout: seconds to wait for each read and write; 0 waits forever.
    /// - Throws: ``ClientError/cannotConnect(path:reason:)`` when nothing answers at `path`.
    public init(path: String, connectTimeout: Double = 5, readTimeout: Double = 30) throws(ClientError) {
        self.path = path
        self.readTimeout = readTimeout
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotConnect(path: path, reason: String(cString: strerror(errno))) }
        self.fd = fd
        setTimeout(SO_SNDTIMEO, seconds: connectTimeout)
        guard let rc = UnixSocketAddress.with(path: path, { connect(fd, $0, $1) }) else {
            throw .cannotConnect(path: path, reason: "the path is too long for a Unix socket")
        }
        guard rc == 0 else {
            let reason = errno == EAGAIN || errno == EINPROGRESS
                ? "timed out (the server is not accepting connections)" : String(cString: strerror(errno))
            throw .cannotConnect(path: path, reason: reason)
        }
        setTimeout(SO_SNDTIMEO, seconds: readTimeout)
        setTimeout(SO_RCVTIMEO, seconds: readTimeout)
    }

    deinit {
        close(fd)
    }

    private func setTimeout(_ option: Int32, seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends one line; a newline is appended when `line` does not end in one.
    /// - Parameter line: the bytes to send.
    /// - Throws: ``ClientError/timedOut(path:seconds:)`` when the server does not read them in
    ///   time, ``ClientError/connectionClosed(path:)`` when it has gone.
    public func send(_ line: [UInt8]) throws(ClientError) {
        var bytes = line
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        try send(exactly: bytes)
    }

    /// Sends exactly these bytes, newline or not (for tests of framing).
    /// - Parameter bytes: the bytes to send.
    /// - Throws: as ``send(_:)``.
    public func send(exactly bytes: [UInt8]) throws(ClientError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send_(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                sent += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw .timedOut(path: path, seconds: readTimeout)
            } else {
                throw .connectionClosed(path: path)
            }
        }
    }

    /// Tells the server no more requests follow (it answers what it has, then closes).
    public func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads one line.
    /// - Returns: the line without its newline (a last line without one when the server closes
    ///   after it); nil when the server closed the connection cleanly.
    /// - Throws: ``ClientError/timedOut(path:seconds:)`` when no line comes within the read timeout,
    ///   ``ClientError/invalidResponse(_:)`` for a line longer than ``maxLineBytes``,
    ///   ``ClientError/connectionClosed(path:)`` when the connection fails.
    public func readLine() throws(ClientError) -> [UInt8]? {
        // Bytes from `start` up to `scanned` are known to hold no newline: each byte is searched
        // once, so a long line costs linear time.
        var scanned = start
        while true {
            if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                if start == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                }
                return line
            }
            if buffer.count - start > Self.maxLineBytes {
                throw .invalidResponse("a response line is longer than \(Self.maxLineBytes) bytes")
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            scanned = buffer.count
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
                continue
            }
            if n == 0 {
                guard buffer.isEmpty else {
                    defer { buffer.removeAll() }
                    return buffer
                }
                return nil
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(path: path, seconds: readTimeout) }
            throw .connectionClosed(path: path)
        }
    }
}

/// send(2) with MSG_NOSIGNAL: a write to a server that went away fails with EPIPE instead of
/// killing the program with SIGPIPE.
private func send_(_ fd: Int32, _ pointer: UnsafeRawPointer?, _ count: Int) -> Int {
    send(fd, pointer, count, Int32(MSG_NOSIGNAL))
}
