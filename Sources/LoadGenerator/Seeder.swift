import Locking

import Glibc

/// Fills a fresh server with `user0000000…` contacts, in batches of creates: names from
/// `SeedNames` and two emails each, or with `wide`, five emails and 50-character names (the shape
/// of the hostile-client scenarios).
public enum Seeder {
    /// The username of seeded contact `n`: "user" and at least 7 digits, so names sort by number.
    public static func username(_ n: Int) -> String {
        let digits = String(n)
        return "user" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    /// Creates contacts `from..<to`; returns how many the server acknowledged.
    public static func seed(
        socketPath: String, from: Int = 0, to count: Int, batch: Int = 500, connections: Int = 4, wide: Bool = false
    ) throws -> Int {
        let created = Counter()
        var handles: [pthread_t] = []
        let failure = FailureBox()
        for lane in 0..<connections {
            handles.append(ThreadJob {
                do {
                    let fd = try LoadGenerator.connect(socketPath)
                    defer { close(fd) }
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                    var start = from + lane * batch
                    while start < count {
                        let end = min(start + batch, count)
                        var line: [UInt8] = [UInt8(ascii: "[")]
                        for n in start..<end {
                            if n > start { line.append(UInt8(ascii: ",")) }
                            let name = username(n)
                            line += wide ? wideCreate(n, name) : Array(#"{"jsonrpc":"2.0","id":\#(n),"method":"contacts.create","params":["\#(name)","\#(SeedNames.first[n % 1000])","\#(SeedNames.last[n / 1000 % 1000])",["\#(name)@example.com","\#(name)@example.org"]]}"#.utf8)
                        }
                        line += Array("]\n".utf8)
                        try writeAll(fd, line)
                        let answer = try readLine(fd)
                        created.add(countOccurrences(of: #""result":"#, in: answer))
                        start += connections * batch
                    }
                } catch {
                    failure.set("\(error)")
                }
            }.start())
        }
        for handle in handles { pthread_join(handle, nil) }
        if let message = failure.value { throw LoadError(message) }
        return created.value
    }

    /// A create with five addresses and 50-character first and last names.
    private static func wideCreate(_ n: Int, _ name: String) -> [UInt8] {
        let padding = String(repeating: "x", count: 50 - 5 - name.count)
        let emails = (0..<5).map { #""\#(name).\#($0)@example.com""# }.joined(separator: ",")
        return Array(
            #"{"jsonrpc":"2.0","id":\#(n),"method":"contacts.create","params":["\#(name)","First\#(name)\#(padding)","Last\#(name)\#(padding)x",[\#(emails)]]}"#
                .utf8)
    }

    /// Sends all of `bytes` on a blocking socket (no SIGPIPE: a server gone is an error thrown).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LoadError("send failed, errno \(errno)") }
            sent += n
        }
    }

    private static func readLine(_ fd: Int32) throws -> [UInt8] {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw LoadError("seed: the server closed the connection") }
            line += chunk[..<n]
            if chunk[n - 1] == UInt8(ascii: "\n") { return line }
        }
    }

    private static func countOccurrences(of needle: String, in haystack: [UInt8]) -> Int {
        let pattern = Array(needle.utf8)
        var count = 0
        var index = 0
        while index + pattern.count <= haystack.count {
            if haystack[index] == pattern[0] && haystack[index..<(index + pattern.count)].elementsEqual(pattern) {
                count += 1
                index += pattern.count
            } else {
                index += 1
            }
        }
        return count
    }
}

private final class Counter: Sendable {
    private let count = LockedValue(0)
    func add(_ n: Int) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}

private final class FailureBox: Sendable {
    private let message = LockedValue<String?>(nil)
    func set(_ text: String) { message.withLock { $0 = $0 ?? text } }
    var value: String? { message.withLock { $0 } }
}
