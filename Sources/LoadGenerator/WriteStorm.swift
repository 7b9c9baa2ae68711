import Locking

import Glibc

/// A write storm that records what the server acknowledged, and the check of a database against
/// that record (tools/crash-matrix: kill -9 and a full disk under writes).
///
/// Each connection works through contacts of its own, one request at a time: create (version 1),
/// update with `expected_version` 1 (version 2), and for every third contact a delete with
/// `expected_version` 2. No username is used twice, so the last line about a contact says what
/// the database must hold. The record has one line per reply, written with one `write(2)` each
/// as it arrives (so a reader sees it at once, and a crash of this process loses no line):
///
///     C name 1                acknowledged create
///     U name 2                acknowledged update
///     D name                  acknowledged delete
///     E op name code reason   refused with an error (`data.reason`, spaces as underscores)
///     I op name               sent, no reply (the server went away)
///
/// A contact whose write was refused is left as it is and the connection goes on with the next.
public enum WriteStorm {
    /// What a storm saw.
    public struct Totals: Sendable {
        public var acknowledged = 0
        public var refused = 0
        /// Refusals by error code and `data.reason` ("-32603 disk_full").
        public var reasons: [String: Int] = [:]
        /// Connections that ended because the server went away (or refused to be reached).
        public var lost = 0
    }

    /// Runs `connections` connections for `seconds`, or until the server goes away from all of
    /// them; appends the record to `ackPath`.
    public static func run(socketPath: String, ackPath: String, connections: Int, seconds: Double, tag: String) throws
        -> Totals
    {
        let record = open(ackPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard record >= 0 else { throw LoadError("cannot open \(ackPath): errno \(errno)") }
        defer { close(record) }
        let totals = LockedValue(Totals())
        let end = LoadGenerator.now() + UInt64(seconds * 1e9)
        var handles: [pthread_t] = []
        for lane in 0..<connections {
            handles.append(ThreadJob {
                let mine = storm(socketPath, record: record, prefix: "\(tag)c\(lane)n", until: end)
                totals.withLock {
                    $0.acknowledged += mine.acknowledged
                    $0.refused += mine.refused
                    $0.lost += mine.lost
                    $0.reasons.merge(mine.reasons, uniquingKeysWith: +)
                }
            }.start())
        }
        for handle in handles { pthread_join(handle, nil) }
        return totals.withLock { $0 }
    }

    private static func storm(_ socketPath: String, record: Int32, prefix: String, until end: UInt64) -> Totals {
        var totals = Totals()
        guard let fd = try? LoadGenerator.connect(socketPath) else {
            totals.lost = 1
            return totals
        }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var reader = LineReader(fd: fd)
        var index = 0
        contacts: while LoadGenerator.now() < end {
            let name = "\(prefix)\(index)"
            var steps: [(op: String, params: String, ack: String)] = [
                ("create", #"["\#(name)","Storm","Contact \#(index)",["\#(name)@example.com"]]"#, "C \(name) 1"),
                ("update", #"{"username":"\#(name)","first_name":"Stormed","expected_version":1}"#, "U \(name) 2"),
            ]
            if index % 3 == 0 {
                steps.append(("delete", #"{"username":"\#(name)","expected_version":2}"#, "D \(name)"))
            }
            index += 1
            for step in steps {
                let request = #"{"jsonrpc":"2.0","id":\#(index),"method":"contacts.\#(step.op)","params":\#(step.params)}"# + "\n"
                guard (try? Seeder.writeAll(fd, Array(request.utf8))) != nil, let reply = reader.next() else {
                    append(record, "I \(step.op) \(name)")
                    totals.lost = 1
                    return totals
                }
                if reply.contains(#""result":"#) {
                    append(record, step.ack)
                    totals.acknowledged += 1
                } else {
                    let code = field("code", in: reply) ?? "?"
                    let reason = String((field("reason", in: reply) ?? "none").map { $0 == " " ? "_" : $0 })
                    append(record, "E \(step.op) \(name) \(code) \(reason)")
                    totals.refused += 1
                    totals.reasons["\(code) \(reason)", default: 0] += 1
                    continue contacts
                }
            }
        }
        return totals
    }

    /// What a check found.
    public struct Verdict: Sendable {
        /// Contacts whose state the record decides, and so were looked up.
        public var checked = 0
        /// Acknowledged writes among the lines read.
        public var acknowledged = 0
        /// Contacts left undecided: their last write was in flight when the server went away.
        public var undecided = 0
        /// One line per contact in the wrong state.
        public var wrong: [String] = []
    }

    /// Looks up, over the server's socket, every contact the record decides: an acknowledged
    /// delete must be absent (404); an acknowledged create or update must be there at that
    /// version or later; a contact whose create was refused must be absent, and one whose update
    /// or delete was refused must be at the version before it (a refused write left nothing).
    /// A contact whose last write got no reply may be either way, and is only counted.
    public static func check(socketPath: String, ackPath: String) throws -> Verdict {
        var verdict = Verdict()
        // Per contact: nil = must be absent, else the lowest version allowed and whether it is exact.
        var expected: [String: (version: Int, exact: Bool)?] = [:]
        var order: [String] = []
        var undecided = Set<String>()
        let recordFD = open(ackPath, O_RDONLY | O_CLOEXEC)
        guard recordFD >= 0 else { throw LoadError("cannot read \(ackPath): errno \(errno)") }
        defer { close(recordFD) }
        var lines = LineReader(fd: recordFD)
        while let line = lines.next() {
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 2 else { continue }
            let name = words[0] == "E" || words[0] == "I" ? words[2] : words[1]
            if expected[name] == nil && !undecided.contains(name) { order.append(name) }
            switch words[0] {
            case "C": expected[name] = .some((1, false)); verdict.acknowledged += 1
            case "U": expected[name] = .some((2, false)); verdict.acknowledged += 1
            case "D": expected[name] = .some(nil); verdict.acknowledged += 1
            case "E":
                switch words[1] {
                case "create": expected[name] = .some(nil)
                case "update": expected[name] = .some((1, true))
                default: expected[name] = .some((2, true))
                }
            default:
                // An update in flight leaves an acknowledged create at version 1 or more either way.
                if words[1] != "update" {
                    expected[name] = nil
                    undecided.insert(name)
                }
            }
        }
        verdict.undecided = undecided.count
        let names = order.filter { expected[$0] != nil }
        let fd = try LoadGenerator.connect(socketPath)
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var reader = LineReader(fd: fd)
        // Pipelined in groups, one reply line per request, in order.
        for group in stride(from: 0, to: names.count, by: 200) {
            let slice = names[group..<min(group + 200, names.count)]
            var requests = ""
            for name in slice {
                requests += #"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":["\#(name)"]}"# + "\n"
            }
            try Seeder.writeAll(fd, Array(requests.utf8))
            for name in slice {
                guard let reply = reader.next() else { throw LoadError("the server closed the connection") }
                verdict.checked += 1
                let found = reply.contains(#""result":"#) ? field("version", in: reply).flatMap { Int($0) } : nil
                if found == nil && !reply.contains(#""code":404"#) {
                    verdict.wrong.append("\(name): \(reply)")
                    continue
                }
                switch (expected[name]!, found) {
                case (nil, nil): break
                case (nil, let version?): verdict.wrong.append("\(name): must be absent, is at version \(version)")
                case (let want?, nil): verdict.wrong.append("\(name): missing, expected version \(want.version)")
                case (let want?, let version?):
                    if version < want.version || (want.exact && version != want.version) {
                        verdict.wrong.append("\(name): at version \(version), expected \(want.exact ? "" : "at least ")\(want.version)")
                    }
                }
            }
        }
        return verdict
    }

    private static func append(_ fd: Int32, _ line: String) {
        var bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// The value of the first `"key":` in a compact JSON line: a string's text or a number's digits.
    private static func field(_ key: String, in line: String) -> String? {
        guard let range = line.firstRange(of: #""\#(key)":"#) else { return nil }
        let rest = line[range.upperBound...]
        if rest.first == "\"" {
            return String(rest.dropFirst().prefix { $0 != "\"" })
        }
        return String(rest.prefix { $0 == "-" || ($0.isASCII && $0.isNumber) })
    }
}

/// Reads newline-terminated lines from a blocking descriptor.
struct LineReader {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline; nil once the peer closed or the read failed.
    mutating func next() -> String? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return line
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffer += chunk[..<n]
        }
    }
}
