import Foundation
import Redis
import CSQLite
import Testing
import TestSupport

@testable import Tasks
@testable import ContactStore

/// A real redis-server on a temporary Unix socket, with no persistence.
final class RedisServer: @unchecked Sendable {
    // @unchecked Sendable: `process` is replaced only by `restart`, which tests call from one thread.
    let directory: URL
    let socketPath: String
    /// Extra redis-server arguments (a password, a TCP port, cluster mode, a renamed command).
    let extraArguments: [String]
    private(set) var process: Process

    /// Where redis-server is, if installed.
    static let binary: String? = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static var isInstalled: Bool { binary != nil }

    init(_ extraArguments: [String] = [], waitForIt: Bool = true) throws {
        directory = try makeTemporaryDirectory(prefix: "redis")
        socketPath = directory.appendingPathComponent("r.sock").path
        self.extraArguments = extraArguments
        process = Process()
        try start(waitForIt: waitForIt)
    }

    /// A loopback TCP port the kernel just handed out and nobody listens on now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length)
                return getsockname(fd, raw, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    var url: String { "unix://\(socketPath)" }

    func start(waitForIt: Bool = true) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: RedisServer.binary!)
        process.arguments = ["--port", "0", "--unixsocket", socketPath, "--save", "", "--appendonly", "no"] + extraArguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try waitUntil("redis-server listens") { FileManager.default.fileExists(atPath: socketPath) }
        if waitForIt {
            try waitUntil("redis-server answers") { (try? RedisConnection(url: RedisURL(url))) != nil }
        }
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Stops the server without closing anything (SIGSTOP): connections stay open, nothing answers.
    func freeze() { Foundation.kill(process.processIdentifier, SIGSTOP) }

    func connection() throws -> RedisConnection { try RedisConnection(url: RedisURL(url)) }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A real `contacts-tasks` process.
final class TasksProcess: @unchecked Sendable {
    // @unchecked Sendable: set up in init, then only signalled and waited on.
    let process = Process()
    let stderr = Pipe()

    static var binary: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("contacts-tasks")
    }

    /// Runs `contacts-tasks` with `arguments`; with `clockOffset` (libfaketime's `+70s`, `-70s`)
    /// through the `faketime` wrapper, its wall clock skewed and its monotonic clock left alone
    /// (Dispatch's timers need the real one).
    init(_ arguments: [String], clockOffset: String? = nil) throws {
        if let clockOffset {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/faketime")
            process.arguments = ["-f", clockOffset, TasksProcess.binary.path] + arguments
            var environment = ProcessInfo.processInfo.environment
            environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
            process.environment = environment
        } else {
            process.executableURL = TasksProcess.binary
            process.arguments = arguments
        }
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(signalTarget(), signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The process a signal is meant for. The faketime wrapper neither passes signals on nor
    /// handles them: signalled with it, the wrapper would die of SIGTERM (a status of 15) or,
    /// when it inherited SIGTERM blocked from a Dispatch worker thread, survive, so the exit
    /// status would depend on which thread started the test. So with a skewed clock the
    /// wrapper's child, `contacts-tasks` itself, is signalled, and the wrapper exits with its
    /// status; the whole process group only if that child cannot be found.
    private func signalTarget() -> pid_t {
        let pid = process.processIdentifier
        guard process.executableURL?.lastPathComponent == "faketime" else { return pid }
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { pid_t($0) } ?? -pid
    }

    func log() -> String { String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }

    deinit {
        if process.isRunning {
            kill(-process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs `contacts-tasks` to completion and returns (status, stdout, stderr).
func runTasksCommand(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = TasksProcess.binary
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// A test environment: Redis, a database path, and flags that point contacts-tasks at both.
final class TaskEnvironment: @unchecked Sendable {
    // @unchecked Sendable: immutable after init.
    let redis: RedisServer
    let directory: URL
    let databasePath: String
    let prefix = "t\(UInt32.random(in: 0...UInt32.max))"

    init() throws {
        redis = try RedisServer()
        directory = try makeTemporaryDirectory(prefix: "tasks")
        databasePath = directory.appendingPathComponent("contacts.db").path
    }

    func flags(_ extra: [String] = []) -> [String] {
        ["--redis", redis.url, "--db", databasePath, "--queue-prefix", prefix, "--log-level", "debug"] + extra
    }

    func openStore() throws -> ContactStore { try ContactStore(path: databasePath) }

    /// A worker inside a create-random job: it holds the job's lease and waits on SQLite's write
    /// lock, which the returned holder keeps until told (`release(after:)`).
    func workerInsideAJob() throws -> (TasksProcess, SQLiteLockHolder) {
        try openStore().close()
        let holder = try SQLiteLockHolder(path: databasePath, seconds: nil)
        let worker = try TasksProcess(["worker"] + flags())
        guard try runTasksCommand(["enqueue", "create-random"] + flags()).status == 0 else { throw TestFailure("enqueue") }
        let redis = try redis.connection()
        try waitUntil("the worker holds the job") { (try redis.command(["ZCARD", keys.leases]).int ?? 0) == 1 }
        return (worker, holder)
    }

    var keys: TaskKeys { TaskKeys(prefix: prefix) }

    /// The job ids recorded as run in the store's `task_runs` table, scheduled create-random ones only.
    func ranJobs() throws -> [String] {
        try sqliteRows("SELECT job_id FROM task_runs WHERE job_id LIKE 'create-random:%' AND job_id NOT LIKE '%:manual:%'")
    }

    /// The first column of every row `sql` returns, read with a separate connection.
    func sqliteRows(_ sql: String) throws -> [String] {
        var db: OpaquePointer?
        guard sqlite3_open_v2(databasePath, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw TestFailure("open") }
        defer { sqlite3_close(db) }
        sqlite3_busy_timeout(db, 5000)
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { throw TestFailure("prepare \(sql)") }
        defer { sqlite3_finalize(statement) }
        var rows: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW { rows.append(String(cString: sqlite3_column_text(statement, 0))) }
        return rows
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}


/// Writes `count` contacts created in 1970 (`old1`, `old2`, …) in one transaction on a connection
/// of the store's own (the schema's triggers need its functions to note them for the search
/// index), but without the store's write path: far faster than creating them one by one.
func insertExpiredContacts(_ count: Int, into path: String) throws {
    let db = try SQLiteConnection(path: path)
    try db.execute("BEGIN")
    let insert = try db.statement(
        """
        INSERT INTO contacts (username, id, first_name, last_name, created_at, updated_at, version, emails, search_key)
        VALUES (?1, ?2, 'O', 'L', 1000, 1000, 1, '', ?3)
        """)
    // Search keys (`SearchKey`) in an empty store: "old" and four more characters make a group.
    var next: [Int64: Int64] = [:]
    for n in 1...count {
        let username = "old\(n)"
        let group = SearchKey.group(username)
        let key = next[group] ?? SearchKey.keys(ofGroup: group).lowerBound
        next[group] = key + 1
        insert.bind(username, at: 1)
        insert.bind(Int64(n), at: 2)
        insert.bind(key, at: 3)
        try insert.run()
    }
    try db.execute("COMMIT")
}
