import Foundation
import ContactStore
import JSONRPC
import Testing
import TestSupport

@Suite("contacts.search over the real socket")
struct SearchMethodTests {
    private func usernames(_ reply: JSONValue) -> [String] {
        (reply["result"]?["contacts"]?.arrayValue ?? []).compactMap { $0["username"]?.stringValue }
    }

    @Test("search finds fragments, folds accents, ranks, and says when more match")
    func searchesOverTheSocket() throws {
        try withRunningServer { server in
            let client = try server.connect()
            for (username, first, last, email) in [
                ("ada", "Ada", "Lovelace", "ada@analytical.example"), ("jose", "José", "Núñez", "jn@navy.example"),
                ("alan", "Alan", "Turing", "alan@bletchley.example"),
            ] {
                let reply = try client.request(
                    "contacts.create", ["username": .string(username), "first_name": .string(first), "last_name": .string(last), "emails": [.string(email)]])
                #expect(reply["result"] != nil)
            }
            #expect(usernames(try client.request("contacts.search", ["query": "OVELA"])) == ["ada"])
            #expect(usernames(try client.request("contacts.search", ["query": "nunez jose"])) == ["jose"])
            #expect(usernames(try client.request("contacts.search", ["@navy"])) == ["jose"])
            let more = try client.request("contacts.search", ["query": "example", "limit": 2])
            #expect(usernames(more) == ["ada", "alan"])
            #expect(more["result"]?["has_more"] == true)
            #expect(try client.request("contacts.search", ["query": "example"])["result"]?["has_more"] == false)
        }
    }

    @Test("a bad query or limit is -32602 naming the field, and the server goes on")
    func badParams() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let cases: [(JSONValue, String)] = [
                ([:], "query"), (["query": 7], "query"), (["query": " \t\n "], "query"), (["query": "\u{1}\u{2}"], "query"),
                (["query": .string(String(repeating: "x", count: 257))], "query"),
                (["query": "ada", "limit": 0], "limit"), (["query": "ada", "limit": 101], "limit"),
                (["query": "ada", "limit": "2"], "limit"), (["query": "ada", "nick": 1], "nick"),
            ]
            for (params, field) in cases {
                let reply = try client.request("contacts.search", params)
                #expect(reply.errorCode == -32602, "\(params)")
                #expect(reply["error"]?["data"]?["errors"]?[0]?["field"]?.stringValue == field, "\(params)")
            }
            // FTS5 query syntax in the words is text like any other.
            for query in ["\"", "a\"b OR c*", "NEAR(x y)", "{username}: x", "^ada", "-", "*", "a\u{1}\u{2}b"] {
                #expect(try client.request("contacts.search", ["query": .string(query)])["result"] != nil, "\(query)")
            }
            #expect(try client.request("server.ping", [:])["result"] != nil)
        }
    }

    @Test("what another process writes to the file is found at once: the index is kept by the database")
    func indexKeptWhoeverWrites() throws {
        try withRunningServer { server in
            let client = try server.connect()
            // Another process's store on the same file, as contacts-tasks has.
            let other = try ContactStore(path: server.databasePath)
            _ = try other.create(try NewContact(username: "grace", firstName: "Grace", lastName: "Hopper", emails: []))
            #expect(usernames(try client.request("contacts.search", ["query": "hopp"])) == ["grace"])
            _ = try other.update(ContactUpdate(username: "grace", lastName: "Murray"))
            other.close()
            #expect(usernames(try client.request("contacts.search", ["query": "hopper"])).isEmpty)
            #expect(usernames(try client.request("contacts.search", ["query": "murr"])) == ["grace"])
            _ = try client.request("contacts.delete", ["username": "grace"])
            #expect(usernames(try client.request("contacts.search", ["query": "murr"])).isEmpty)
        }
    }

    @Test("contacts search prints a table, --json the result, and says when more match")
    func cli() throws {
        try withRunningServer { server in
            let client = try server.connect()
            for name in ["ada", "adam", "adele"] {
                _ = try client.request("contacts.create", ["username": .string(name), "first_name": "A", "last_name": "Lovelace"])
            }
            let table = try runCLI(["search", "love", "--limit", "2", "--socket", server.socketPath])
            #expect(table.status == 0, "\(table.err)")
            #expect(table.out == "USERNAME\tFIRST\tLAST\tEMAILS\tVERSION\nada\tA\tLovelace\t\t1\nadam\tA\tLovelace\t\t1\n")
            #expect(table.err.contains("more match"))
            let json = try runCLI(["search", "ADELE", "--json", "--socket", server.socketPath])
            let direct = try client.request("contacts.search", ["query": "ADELE"])
            #expect(json.out == (direct["result"]?.jsonString ?? "") + "\n")
            #expect(try runCLI(["search", "zzz", "--socket", server.socketPath]).out.contains("no contacts match"))
            #expect(try runCLI(["search", "--socket", server.socketPath]).status == 2)
            #expect(try runCLI(["search", "x", "--limit", "101", "--socket", server.socketPath]).status == 2)
        }
    }
}
