import Foundation
import Testing

/// The conventions docs/cli.md writes once for `contacts`, `contactsd` and `contacts-tasks`.
@Suite("one set of conventions across the three programs")
struct ConventionsTests {
    /// A program in the build folder, by name.
    static func binary(_ name: String) -> URL {
        TestServer.binary.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// One numeric flag of one program, with the arguments that make an accepted value end at once
    /// with a status other than 2 (no server, no Redis, a path nothing can be created under).
    struct NumericFlag: Sendable, CustomTestStringConvertible {
        var program: String
        var before: [String]
        var flag: String
        /// Zero is a valid value (a uid, a gid, a seed).
        var zeroIsValid = false
        var testDescription: String { "\(program) \(flag)" }
    }

    static let unreachable = ["--socket", "/proc/contacts-none/s.sock"]
    static let daemon = ["--socket", "/proc/contacts-none/s.sock", "--db", "/proc/contacts-none/c.db"]
    static let tasks = ["--redis", "redis://127.0.0.1:1/0", "--db", "/proc/contacts-none/c.db"]

    static let numericFlags: [NumericFlag] =
        [
            NumericFlag(program: "contacts", before: unreachable + ["ping"], flag: "--timeout"),
            NumericFlag(program: "contacts", before: unreachable + ["list"], flag: "--limit"),
            NumericFlag(
                program: "contacts", before: unreachable + ["update", "ada", "--first", "A"], flag: "--if-version"),
            NumericFlag(program: "contacts", before: unreachable + ["delete", "ada"], flag: "--if-version"),
        ]
        + [
            "--max-request-bytes", "--max-connections", "--max-batch", "--max-connection-output", "--max-output-bytes",
            "--max-response-bytes", "--write-timeout", "--read-timeout", "--max-readers", "--busy-timeout",
            "--busy-timeout-ms", "--socket-mode",
        ].map { NumericFlag(program: "contactsd", before: daemon, flag: $0) }
        + ["--allow-uid", "--allow-gid"].map {
            NumericFlag(program: "contactsd", before: daemon, flag: $0, zeroIsValid: true)
        }
        + [
            "--create-every", "--purge-every", "--max-age", "--visibility-timeout", "--max-attempts", "--dead-max",
            "--redis-backoff-max",
        ].map { NumericFlag(program: "contacts-tasks", before: ["status"] + tasks, flag: $0) }
        + [
            NumericFlag(program: "contacts-tasks", before: ["status"] + tasks, flag: "--seed", zeroIsValid: true),
            NumericFlag(program: "contacts-tasks", before: ["run"] + tasks, flag: "--concurrency"),
            NumericFlag(program: "contacts-tasks", before: ["worker"] + tasks, flag: "--concurrency"),
        ]

    @Test(
        "every numeric flag refuses inf, nan, -1, 0, 1e300 and a non-number with exit 2 and a message naming it",
        arguments: numericFlags)
    func numericFlagsRefuseNonsense(flag: NumericFlag) throws {
        for value in ["inf", "nan", "-1", "0", "1e300", "twelve"] where !(value == "0" && flag.zeroIsValid) {
            let result = try runProgram(Self.binary(flag.program), flag.before + [flag.flag, value])
            #expect(result.status == 2, "\(flag.program) \(flag.flag) \(value): \(result.err)")
            #expect(result.err.contains(flag.flag), "\(flag.program) \(flag.flag) \(value): \(result.err)")
        }
    }

    @Test("every duration flag takes 500ms, 15s, 1m30s and 1h", arguments: ["500ms", "15s", "1m30s", "1h"])
    func durationsReadAlike(duration: String) throws {
        let ping = try runProgram(Self.binary("contacts"), Self.unreachable + ["ping", "--timeout", duration])
        #expect(ping.status == 3, "\(ping.err)")
        let status = try runProgram(Self.binary("contacts-tasks"), ["status", "--create-every", duration] + Self.tasks)
        #expect(status.status == 3, "\(status.err)")
        let server = try TestServer(arguments: ["--busy-timeout", duration, "--write-timeout", duration])
        #expect(try server.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"#)["result"] != nil)
        #expect(server.stop() == 0)
    }

    @Test("contactsd still takes --busy-timeout-ms, hidden from its help")
    func busyTimeoutMillisecondsIsAHiddenAlias() throws {
        let server = try TestServer(arguments: ["--busy-timeout-ms", "250"])
        #expect(server.stop() == 0)
        let help = try runProgram(Self.binary("contactsd"), ["--help"])
        #expect(help.out.contains("--busy-timeout <busy-timeout>") && !help.out.contains("--busy-timeout-ms"))
    }

    @Test(
        "--log-level errors list the valid levels",
        arguments: [["contactsd"] + daemon, ["contacts-tasks", "status"] + tasks])
    func logLevelErrorsListValues(command: [String]) throws {
        let result = try runProgram(Self.binary(command[0]), Array(command.dropFirst()) + ["--log-level", "loud"])
        #expect(result.status == 2)
        for level in ["trace", "debug", "info", "notice", "warning", "error", "critical"] {
            #expect(result.err.contains(level), "\(result.err)")
        }
    }

    @Test("contacts-tasks takes its shared flags before or after the subcommand")
    func tasksSharedFlagsAnywhere() throws {
        let after = try runProgram(Self.binary("contacts-tasks"), ["status"] + Self.tasks)
        let before = try runProgram(Self.binary("contacts-tasks"), Self.tasks + ["status"])
        for result in [after, before] {
            #expect(result.status == 3, "\(result.err)")
            #expect(result.err.contains("127.0.0.1:1"), "\(result.err)")
        }
    }

    @Test("contacts-tasks status with Redis down exits 3 with a hint, as contacts does with no server")
    func tasksStatusUnreachableExits3() throws {
        let result = try runProgram(Self.binary("contacts-tasks"), ["status", "--redis", "redis://127.0.0.1:1/0"])
        #expect(result.status == 3)
        #expect(result.err.contains("hint:") && result.err.contains("--redis"), "\(result.err)")
    }

    @Test("a malformed --redis URL is a usage error: exit 2, not 64")
    func malformedRedisURLIsUsage() throws {
        let result = try runProgram(Self.binary("contacts-tasks"), ["status", "--redis", "http://nowhere"])
        #expect(result.status == 2, "\(result.err)")
    }
}
