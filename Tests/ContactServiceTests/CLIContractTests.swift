import Foundation
import JSONRPC
import Testing

/// The `contacts` client as issue 13 holds it: hints, usage errors, help and completion.
@Suite("the contacts client, as a user meets it")
struct CLIContractTests {
    static let noServer = ["--socket", "/tmp/contacts-no-server.sock"]

    @Test("the next-page hint goes to stderr and reproduces the same query")
    func nextPageHintKeepsTheQuery() throws {
        try withRunningServer { server in
            for name in ["eve", "ed", "emma", "bob"] {
                #expect(
                    try runCLI(["create", name, "--first", "E", "--last", "X", "--socket", server.socketPath]).status
                        == 0)
            }
            let first = try runCLI(["list", "--limit", "1", "--prefix", "e", "--socket", server.socketPath])
            #expect(first.out.split(separator: "\n").count == 2, "stdout: \(first.out)")
            let hint = try #require(first.err.split(separator: "\n").first { $0.hasPrefix("more: contacts list ") })
            let words = hint.dropFirst("more: contacts ".count).split(separator: " ").map(String.init)
            let next = try runCLI(words)
            #expect(next.status == 0, "\(next.err)")
            #expect(next.out.contains("emma") && !next.out.contains("bob") && !next.out.contains("eve"), "\(next.out)")
        }
    }

    @Test(
        "flag values the server would refuse are usage errors, found before anything is sent",
        arguments: [
            (["list", "--limit", "0"], "--limit must be 1 to 1000"),
            (["list", "--limit", "1001"], "--limit must be 1 to 1000"),
            (["update", "ada", "--first", "A", "--if-version", "0"], "--if-version must be 1 to 9007199254740991"),
            (["delete", "ada", "--if-version", "0"], "--if-version must be 1 to 9007199254740991"),
            (["create", "ada", "--first", "", "--last", "L"], "--first must not be empty"),
            (["update", "ada", "--last", " "], "--last must not be empty"),
        ] as [([String], String)])
    func usageErrorsBeforeSending(arguments: [String], message: String) throws {
        let result = try runCLI(arguments + Self.noServer)
        #expect(result.status == 2)
        #expect(result.err.contains(message), "\(result.err)")
    }

    @Test("an unknown subcommand suggests the nearest one, and help of an unknown one is a usage error")
    func unknownSubcommands() throws {
        let typo = try runCLI(["lst"])
        #expect(typo.status == 2)
        #expect(typo.err.contains("did you mean `list`?"), "\(typo.err)")
        let help = try runCLI(["help", "nosuch"])
        #expect(help.status == 2)
        #expect(help.out.isEmpty)
    }

    @Test(
        "every subcommand's help ends with two or three examples",
        arguments: ["list", "get", "create", "update", "delete", "changes", "watch", "call", "methods", "stats", "ping"])
    func helpEndsWithExamples(subcommand: String) throws {
        for arguments in [["help", subcommand], [subcommand, "--help"]] {
            let result = try runCLI(arguments)
            #expect(result.status == 0)
            let lines = result.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let start = try #require(lines.lastIndex(of: "EXAMPLES:"), "\(result.out)")
            let examples = lines[(start + 1)...].filter { !$0.isEmpty }
            #expect((2...3).contains(examples.count))
            #expect(examples.allSatisfy { $0.hasPrefix("  contacts ") || $0.hasPrefix("  printf ") })
        }
    }

    @Test("--socket completes file names and methods completes method names", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let script = try runCLI(["--generate-completion-script", shell]).out
        #expect(script.contains("contacts.update") && script.contains("server.stats"))
        switch shell {
        case "zsh":
            #expect(script.contains("--socket[The server'\\''s Unix socket (env CONTACTS_SOCKET).]:socket:_files"))
        case "fish": #expect(script.contains("-l 'socket' -d 'The server\\'s Unix socket (env CONTACTS_SOCKET).' -rF"))
        default: #expect(script.contains("complete -o filenames"))
        }
    }

    @Test("a --socket that is a directory, or too long for a socket, is named as the problem")
    func hintsNameTheRealProblem() throws {
        let directory = try TestServer.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = try runCLI(["ping", "--socket", directory.path])
        #expect(folder.status == 3)
        #expect(
            folder.err.contains("is a directory, not a socket") && !folder.err.contains("Start it with"),
            "\(folder.err)")
        let long = "/tmp/" + String(repeating: "x", count: 120) + ".sock"
        let tooLong = try runCLI(["ping", "--socket", long])
        #expect(tooLong.status == 3)
        #expect(tooLong.err.contains("longer than the 107") && !tooLong.err.contains("Start it with"), "\(tooLong.err)")
    }

    @Test("methods --json prints the whole rpc.discover document, as README says")
    func methodsJSONIsTheDocument() throws {
        try withRunningServer { server in
            let result = try runCLI(["methods", "--json", "--socket", server.socketPath])
            let document = try JSONReader.parse(Array(result.out.utf8).dropLast())
            #expect(document.objectValue?["openrpc"] != nil && document.objectValue?["methods"] != nil)
        }
        let readme = try String(
            contentsOfFile: #filePath.replacingOccurrences(
                of: "Tests/ContactServiceTests/CLIContractTests.swift", with: "README.md"), encoding: .utf8)
        #expect(readme.contains("`methods --json`: the whole\n  `rpc.discover` document"))
    }
}

/// `contacts list` tables on a terminal (a pseudo-terminal from util-linux `script`) and in a pipe.
@Suite("tables by display width, fitted to the terminal")
struct TableTests {
    /// Display width as a terminal shows it, for the characters these tests use.
    static func width(_ text: Substring) -> Int {
        text.reduce(0) { total, character in
            let value = character.unicodeScalars.first!.value
            return total + ((0x4E00...0x9FFF).contains(value) || value >= 0x1F300 ? 2 : 1)
        }
    }

    /// `contacts ARGS` on a terminal `columns` wide: its lines, without escapes and carriage returns.
    static func onTerminal(_ arguments: [String], columns: Int) throws -> [Substring] {
        let command = ([contactsBinary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let result = try runProgram(
            URL(fileURLWithPath: "/usr/bin/script"), ["-qc", command, "/dev/null"],
            environment: ["COLUMNS": "\(columns)"])
        return result.out.replacing(/\u{1B}\[[0-9;]*m/, with: "").replacing("\r\n", with: "\n")
            .split(separator: "\n").filter { !$0.hasPrefix("more: ") }
    }

    /// Where each line's last column (VERSION) starts, in display columns.
    static func lastColumnStarts(_ lines: [Substring]) -> [Int] {
        lines.map { line in width(line[..<line.lastIndex(of: " ")!]) + 1 }
    }

    static func withPeople(_ body: (TestServer) throws -> Void) throws {
        try withRunningServer { server in
            let people = [
                ["emo", "--first", "😀😀", "--last", "Zoë"],
                [
                    "mary", "--first", "Mary Ann", "--last", "山田太郎", "--email",
                    "mary.ann.with.a.rather.long.address@example.com",
                ],
                ["zed", "--first", "Zed", "--last", "Z"],
            ]
            for person in people {
                #expect(try runCLI(["create"] + person + ["--socket", server.socketPath]).status == 0)
            }
            try body(server)
        }
    }

    @Test("piped, list prints tab-separated rows under a header, nothing padded or cut")
    func pipedIsTabSeparated() throws {
        try Self.withPeople { server in
            let lines = try runCLI(["list", "--socket", server.socketPath]).out.split(separator: "\n")
            #expect(lines.first == "USERNAME\tFIRST\tLAST\tEMAILS\tVERSION")
            let mary = try #require(lines.first { $0.hasPrefix("mary\t") })
            #expect(
                mary.split(separator: "\t").map(String.init) == [
                    "mary", "Mary Ann", "山田太郎", "mary.ann.with.a.rather.long.address@example.com", "1",
                ])
        }
    }

    @Test("on a terminal, columns line up by display width and the table fits, cut with …; --wide shows all")
    func terminalTablesFit() throws {
        try Self.withPeople { server in
            let wide = try Self.onTerminal(["list", "--socket", server.socketPath], columns: 200)
            #expect(Set(Self.lastColumnStarts(wide)).count == 1, "\(wide)")
            let narrow = try Self.onTerminal(["list", "--socket", server.socketPath], columns: 50)
            #expect(narrow.allSatisfy { Self.width($0) <= 50 }, "\(narrow)")
            #expect(narrow.contains { $0.contains("…") })
            #expect(Set(Self.lastColumnStarts(narrow)).count == 1, "\(narrow)")
            let whole = try Self.onTerminal(["list", "--wide", "--socket", server.socketPath], columns: 50)
            #expect(whole.contains { $0.contains("mary.ann.with.a.rather.long.address@example.com") })
        }
    }

    @Test("every page of list --all keeps the widths of the first")
    func allPagesKeepWidths() throws {
        try Self.withPeople { server in
            let lines = try Self.onTerminal(
                ["list", "--all", "--limit", "1", "--socket", server.socketPath], columns: 60)
            #expect(lines.count == 4, "\(lines)")
            #expect(Set(Self.lastColumnStarts(lines)).count == 1, "\(lines)")
        }
    }
}
