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
                #expect(try runCLI(["create", name, "--first", "E", "--last", "X", "--socket", server.socketPath]).status == 0)
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
        arguments: ["list", "get", "create", "update", "delete", "call", "methods", "stats", "ping"])
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
        case "zsh": #expect(script.contains("--socket[The server'\\''s Unix socket (env CONTACTS_SOCKET).]:socket:_files"))
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
        #expect(folder.err.contains("is a directory, not a socket") && !folder.err.contains("Start it with"), "\(folder.err)")
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
        let readme = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/ContactServiceTests/CLIContractTests.swift", with: "README.md"), encoding: .utf8)
        #expect(readme.contains("`methods --json`: the whole\n  `rpc.discover` document"))
    }
}
