import Foundation
import TestSupport

/// The test's own `$NOTIFY_SOCKET`: an `AF_UNIX` datagram socket bound at a path (or, for a name
/// starting with `@`, in the abstract namespace) that collects what the server tells its
/// service manager, each message with the time it arrived.
final class NotifyListener {
    /// What to put in `NOTIFY_SOCKET`.
    let name: String
    private let fd: Int32
    private let path: String?

    /// Binds `name`: a path, or `@` and an abstract name.
    init(name: String) throws {
        self.name = name
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("cannot create a datagram socket") }
        var bytes = Array(name.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        path = abstract ? nil : name
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            close(fd)
            throw TestFailure("cannot bind \(name): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next message, with the monotonic time it arrived (seconds), or nil after `timeout`.
    func next(timeout: Double) -> (text: String, at: Double)? {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n >= 0 else { return nil }
        return (String(decoding: buffer.prefix(n), as: UTF8.self), ProcessInfo.processInfo.systemUptime)
    }

    /// Every message until one contains the line `line` (included), within `timeout` seconds.
    func messages(through line: String, timeout: Double) throws -> [(text: String, at: Double)] {
        let deadline = ProcessInfo.processInfo.systemUptime + bound(timeout)
        var seen: [(text: String, at: Double)] = []
        while case let left = deadline - ProcessInfo.processInfo.systemUptime, left > 0,
            let message = next(timeout: left)
        {
            seen.append(message)
            if message.text.split(separator: "\n").contains(Substring(line)) { return seen }
        }
        throw TestFailure("no \(line) within \(timeout) s; got \(seen.map(\.text))")
    }

    /// Every message that arrives within the next `seconds`.
    func collect(for seconds: Double) -> [(text: String, at: Double)] {
        let deadline = ProcessInfo.processInfo.systemUptime + seconds
        var seen: [(text: String, at: Double)] = []
        while case let left = deadline - ProcessInfo.processInfo.systemUptime, left > 0,
            let message = next(timeout: left)
        {
            seen.append(message)
        }
        return seen
    }
}
