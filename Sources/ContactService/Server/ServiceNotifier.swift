import Glibc
import Locking
import Logging

/// The service manager's notification socket, `$NOTIFY_SOCKET`: sd_notify(3)'s protocol, written
/// here (no libsystemd). Each message is one datagram of newline-separated `NAME=value`
/// assignments (`READY=1`, `STOPPING=1`, `STATUS=…`, `EXTEND_TIMEOUT_USEC=…`, `WATCHDOG=1`) sent to
/// an `AF_UNIX` datagram socket at a path, or in the abstract namespace when the variable starts
/// with `@`.
///
/// A notification that cannot be sent is logged (once until one gets through again), never
/// fatal: the server serves whether or not anyone listens.
public final class ServiceNotifier: Sendable {
    /// The variable as found (`/run/systemd/notify`, or `@name` for an abstract socket).
    public let socketName: String
    private let fd: Int32
    /// The `sockaddr_un` bytes: family, then the path (NUL-terminated), or a NUL and the abstract name.
    private let address: [UInt8]
    private let logger: Logger
    private let failing = LockedValue(false)

    /// A notifier for `$NOTIFY_SOCKET`, which it removes from the environment (as
    /// `sd_notify(unset_environment=1)` does) so that no child inherits it; nil when it is unset,
    /// empty, or not a usable address (logged).
    public static func fromEnvironment(logger: Logger) -> ServiceNotifier? {
        guard let raw = getenv("NOTIFY_SOCKET") else { return nil }
        let name = String(cString: raw)
        unsetenv("NOTIFY_SOCKET")
        guard !name.isEmpty else { return nil }
        return ServiceNotifier(socketName: name, logger: logger)
    }

    /// A notifier sending to `socketName` (a path, or `@` and an abstract name); nil (logged) when
    /// it is neither or does not fit in a socket address.
    init?(socketName: String, logger: Logger) {
        var name = Array(socketName.utf8)
        guard name.first == UInt8(ascii: "/") || name.first == UInt8(ascii: "@"), name.count >= 2 else {
            logger.error("ignoring NOTIFY_SOCKET=\(socketName): neither an absolute path nor @ and an abstract name")
            return nil
        }
        let abstract = name[0] == UInt8(ascii: "@")
        if abstract { name[0] = 0 } else { name.append(0) }
        let pathOffset = MemoryLayout<sa_family_t>.size
        guard name.count <= MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            logger.error("ignoring NOTIFY_SOCKET=\(socketName): too long for a Unix socket address")
            return nil
        }
        var family = sa_family_t(AF_UNIX)
        let familyBytes = withUnsafeBytes(of: &family) { Array($0) }
        precondition(familyBytes.count == pathOffset)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            logger.error("cannot notify the service manager: cannot create a socket: \(String(cString: strerror(errno)))")
            return nil
        }
        // A manager that does not read must not stall the server: give up on a datagram after 1 s.
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        self.address = familyBytes + name
        self.socketName = socketName
        self.logger = logger
    }

    deinit {
        close(fd)
    }

    /// Sends `assignments` (such as `"READY=1"`, `"STATUS=serving"`) as one notification.
    public func send(_ assignments: String...) {
        let message = Array(assignments.joined(separator: "\n").utf8)
        var storage = sockaddr_un()
        let sent = withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyBytes(from: address)
            let target = raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)
            return message.withUnsafeBytes { bytes in
                Socket.retryingOnInterrupt {
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), target, socklen_t(address.count))
                }
            }
        }
        let failure = sent < 0 ? errno : 0
        let wasFailing = failing.withLock { failing in
            defer { failing = failure != 0 }
            return failing
        }
        if failure != 0, !wasFailing {
            logger.warning(
                "cannot notify the service manager at \(socketName): \(String(cString: strerror(failure)))",
                metadata: ["message": "\(assignments.joined(separator: " "))"])
        } else if failure == 0, wasFailing {
            logger.notice("notifying the service manager at \(socketName) works again")
        }
    }
}
