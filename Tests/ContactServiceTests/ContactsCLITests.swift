import Foundation
import JSONRPC
import Testing
import TestSupport

/// The built `contacts` binary.
var contactsBinary: URL { TestServer.binary.deletingLastPathComponent().appendingPathComponent("contacts") }

/// Runs the real `contacts` binary.
func runCLI(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    try runProgram(contactsBinary, arguments, stdin: stdin, environment: environment)
}

@Suite("the contacts CLI against a real server")
struct ContactsCLITests {
    private func create(_ server: TestServer, _ name: String, emails: [String] = []) throws {
        let result = try runCLI(["create", name, "--first", "Ada", "--last", "Lovelace", "--socket", server.socketPath] + emails.flatMap { ["--email", $0] })
        #expect(result.status == 0, "\(result.err)")
    }

    @Test("create and get print an aligned record, with no colour when stdout is not a terminal")
    func createAndGetRecord() throws {
        try withRunningServer { server in
            try create(server, "ada", emails: ["ada@example.com", "ada@example.org"])
            let result = try runCLI(["--socket", server.socketPath, "get", "ADA"])
            #expect(result.status == 0)
            #expect(result.out.contains("username    ada\n"))
            #expect(result.out.contains("emails      ada@example.com\n            ada@example.org\n"))
            #expect(!result.out.contains("\u{1B}["))
        }
    }

    @Test("--json prints exactly the server's result, compact, before or after the subcommand")
    func jsonOutput() throws {
        try withRunningServer { server in
            try create(server, "ada")
            let cli = try runCLI(["get", "ada", "--json", "--socket", server.socketPath])
            let direct = try server.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":["ada"]}"#)
            #expect(cli.out == (direct["result"]?.jsonString ?? "") + "\n")
            let before = try runCLI(["--socket", server.socketPath, "--json", "get", "ada"])
            #expect(before.out == cli.out)
        }
    }

    @Test("the socket comes from CONTACTS_SOCKET when no flag is given")
    func socketFromEnvironment() throws {
        try withRunningServer { server in
            let result = try runCLI(["list"], environment: ["CONTACTS_SOCKET": server.socketPath])
            #expect(result.status == 0)
        }
    }

    @Test("list prints tab-separated rows when piped; list --all --json streams one contact per line across pages")
    func listModes() throws {
        try withRunningServer { server in
            for n in 0..<7 { try create(server, "user\(n)") }
            let table = try runCLI(["list", "--socket", server.socketPath])
            let lines = table.out.split(separator: "\n")
            #expect(lines.first == "USERNAME\tFIRST\tLAST\tEMAILS\tVERSION")
            #expect(lines.count == 8)
            let stream = try runCLI(["list", "--all", "--json", "--limit", "3", "--socket", server.socketPath])
            let names = try stream.out.split(separator: "\n").map { try JSONReader.parse(Array($0.utf8)).objectValue?["username"]?.stringValue }
            #expect(names == (0..<7).map { "user\($0)" })
            let page = try runCLI(["list", "--json", "--limit", "3", "--prefix", "USER", "--socket", server.socketPath])
            #expect(try JSONReader.parse(Array(page.out.utf8).dropLast()).objectValue?["next_cursor"]?.stringValue != nil)
        }
    }

    @Test("update adds, removes and renames; delete removes")
    func updateAndDelete() throws {
        try withRunningServer { server in
            try create(server, "ada", emails: ["a@example.com", "b@example.com"])
            let updated = try runCLI([
                "update", "ada", "--add-email", "c@example.com", "--remove-email", "a@example.com", "--rename", "countess",
                "--if-version", "1", "--json", "--socket", server.socketPath,
            ])
            #expect(updated.status == 0, "\(updated.err)")
            let contact = try JSONReader.parse(Array(updated.out.utf8).dropLast())
            #expect(contact.objectValue?["emails"] == ["b@example.com", "c@example.com"])
            #expect(contact.objectValue?["username"] == "countess")
            let stale = try runCLI(["delete", "countess", "--if-version", "1", "--socket", server.socketPath])
            #expect(stale.status == 1)
            let deleted = try runCLI(["delete", "countess", "--socket", server.socketPath])
            #expect(deleted.status == 0 && deleted.out == "deleted countess\n")
        }
    }

    @Test("an error reply exits 1 with one line naming what failed")
    func serverErrorExitsOne() throws {
        try withRunningServer { server in
            let result = try runCLI(["get", "bob", "--socket", server.socketPath])
            #expect(result.status == 1)
            #expect(result.err == "contacts: no contact named \"bob\"\n")
        }
    }

    @Test("usage errors exit 2", arguments: [["get"], ["create", "x"], ["frobnicate"], ["call", "m", "{bad"], ["update", "ada"]])
    func usageExitsTwo(arguments: [String]) throws {
        let result = try runCLI(arguments + ["--socket", "/tmp/unused.sock"])
        #expect(result.status == 2)
    }

    @Test("an unreachable server exits 3 with a hint naming the socket")
    func unreachableExitsThree() throws {
        let result = try runCLI(["list", "--socket", "/tmp/contacts-no-such.sock"])
        #expect(result.status == 3)
        #expect(result.err.contains("/tmp/contacts-no-such.sock"))
        #expect(result.err.contains("contactsd"))
    }

    @Test("call prints a raw result; call - streams requests and batches from stdin")
    func rawCalls() throws {
        try withRunningServer { server in
            try create(server, "ada")
            let single = try runCLI(["call", "contacts.get", #"["ada"]"#, "--socket", server.socketPath])
            #expect(single.status == 0)
            #expect(try JSONReader.parse(Array(single.out.utf8).dropLast()).objectValue?["username"] == "ada")
            let input = """
                {"jsonrpc":"2.0","id":1,"method":"contacts.get","params":["ada"]}
                [{"jsonrpc":"2.0","id":2,"method":"contacts.list","params":{"limit":1}},{"jsonrpc":"2.0","method":"contacts.list"},{"jsonrpc":"2.0","id":3,"method":"contacts.get","params":["nobody"]}]
                {"jsonrpc":"2.0","method":"contacts.list"}

                """
            let streamed = try runCLI(["call", "-", "--socket", server.socketPath], stdin: input)
            let lines = streamed.out.split(separator: "\n")
            #expect(lines.count == 2)
            let batch = try JSONReader.parse(Array(lines[1].utf8)).arrayValue
            #expect(batch?.count == 2)
            #expect(streamed.status == 1)  // one response in the batch is an error
        }
    }

    @Test("a server that dies mid-call gives exit 3")
    func serverDiesMidCall() throws {
        let server = try TestServer()
        // Hold the write lock so the create waits in the server; then kill the server.
        let holder = try SQLiteLockHolder(path: server.databasePath, seconds: 3)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { kill(server.process.processIdentifier, SIGKILL) }
        let result = try runCLI(["create", "zed", "--first", "Z", "--last", "Z", "--socket", server.socketPath])
        holder.waitUntilReleased()
        #expect(result.status == 3)
        #expect(result.err.contains("closed the connection"))
    }

    @Test("completion scripts are generated for bash, zsh and fish", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let result = try runCLI(["--generate-completion-script", shell])
        #expect(result.status == 0)
        #expect(result.out.contains("contacts"))
    }
}
