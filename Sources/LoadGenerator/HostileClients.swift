import Glibc
import Locking

/// The hostile clients of the server-hardening scenarios: connections that send batches of big
/// `contacts.list` pages and either never read the reply (`stall`) or read it and send the next
/// one at once (`read`), and optionally one 1 MiB line of bad positional params.
public enum HostileClients {
    /// How the batch senders behave.
    public enum Mode: String, Sendable {
        /// Send one batch, never read, hold the connection open.
        case stall
        /// Send a batch, read the whole reply, repeat.
        case read
    }

    /// Runs `clients` hostile connections for `seconds`; returns the batch replies read in full.
    public static func run(
        socketPath: String, clients: Int, mode: Mode, batch: Int, limit: Int, paramsLine: Bool, seconds: Double
    ) throws -> Int {
        let line = Array(
            ("[" + (0..<batch).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"contacts.list","params":{"limit":\#(limit)}}"# }
                .joined(separator: ",") + "]\n").utf8)
        let deadline = LoadGenerator.now() + UInt64(seconds * 1e9)
        let replies = ReplyCounter()
        var fds: [Int32] = []
        for _ in 0..<clients {
            let fd = try LoadGenerator.connect(socketPath)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            fds.append(fd)
        }
        if paramsLine {
            // 1 MiB of positional params: about 500,000 problems before the cap on -32602.
            let fd = try LoadGenerator.connect(socketPath)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            let zeros = [String](repeating: "0", count: 524_000).joined(separator: ",")
            sendAll(fd, Array(#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":[\#(zeros)]}"#.utf8) + [10])
            fds.append(fd)
        }
        var threads: [pthread_t] = []
        for fd in fds.prefix(clients) {
            threads.append(
                ThreadJob {
                    repeat {
                        sendAll(fd, line)
                        if mode == .stall { break }
                        if readReply(fd) { replies.add() } else { return }
                    } while LoadGenerator.now() < deadline
                }.start())
        }
        for thread in threads { pthread_join(thread, nil) }
        while LoadGenerator.now() < deadline { usleep(50_000) }
        for fd in fds { close(fd) }
        return replies.value
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads up to and including the next newline, discarding the bytes.
    private static func readReply(_ fd: Int32) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: 1 << 16, alignment: 1) { buffer in
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n <= 0 { return false }
                if UnsafeRawBufferPointer(rebasing: buffer[0..<n]).contains(10) { return true }
            }
        }
    }
}

/// Counts replies from several threads.
private final class ReplyCounter: Sendable {
    private let count = LockedValue(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
