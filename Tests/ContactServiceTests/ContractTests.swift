import Foundation
import JSONRPC
import TestSupport
import Testing

/// The contract of protocol.md held to the letter, where it once was not (issue 13).
@Suite("the contract exactly as written")
struct ContractTests {
    private static func addresses(_ prefix: String, _ count: Int) -> JSONValue {
        .array((0..<count).map { .string("\(prefix)\($0)@example.com") })
    }

    @Test("a refused connection is counted under connections.refused and not under connections.accepted")
    func refusedIsNotAccepted() throws {
        try withRunningServer(arguments: ["--max-connections", "1"]) { server in
            let client = try server.admittedClient()
            let before = try #require(try client.call(#"{"jsonrpc":"2.0","id":2,"method":"server.stats"}"#)["result"])
            let refused = try server.connect()
            #expect(try refused.readJSON().errorCode == -32000)
            let after = try #require(try client.call(#"{"jsonrpc":"2.0","id":3,"method":"server.stats"}"#)["result"])
            #expect(after["connections"]?["accepted"] == before["connections"]?["accepted"])
            #expect(
                after["connections"]?["refused"]?.numberValue?.intValue
                    == (before["connections"]?["refused"]?.numberValue?.intValue ?? -1) + 1)
        }
    }

    @Test("username_prefix is limited to 64 bytes of UTF-8, so 64 × é (128 bytes) is -32602")
    func prefixCountsBytes() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let long = try client.request(
                "contacts.list", ["username_prefix": .string(String(repeating: "é", count: 64))])
            #expect(long.errorCode == -32602)
            #expect(long["error"]?["data"]?["errors"]?[0]?["field"] == "username_prefix")
            let fits = try client.request(
                "contacts.list", ["username_prefix": .string(String(repeating: "é", count: 32))])
            #expect(fits["result"]?["contacts"] == [])
        }
    }

    @Test(
        "on a contact with 20 addresses, adding one another contact owns is 409 email_taken, not the 21-address -32602")
    func emailTakenBeforeTooMany() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request(
                "contacts.create",
                ["username": "full", "first_name": "F", "last_name": "L", "emails": Self.addresses("f", 20)])
            _ = try client.request(
                "contacts.create",
                ["username": "owner", "first_name": "O", "last_name": "W", "emails": ["taken@example.com"]])
            let response = try client.request(
                "contacts.update", ["username": "full", "add_emails": ["taken@example.com"]])
            #expect(response.errorCode == 409)
            #expect(response["error"]?["data"]?["reason"] == "email_taken")
            let free = try client.request("contacts.update", ["username": "full", "add_emails": ["free@example.com"]])
            #expect(free.errorCode == -32602)
        }
    }

    @Test("rpc.discover gives every error entry a data schema and lists no -32603")
    func discoverErrorsHaveData() throws {
        try withRunningServer { server in
            let document = try server.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"#)
            let methods = try #require(document["result"]?["methods"]?.arrayValue)
            for method in methods {
                for error in method["errors"]?.arrayValue ?? [] {
                    #expect(error["data"] != nil, "\(method["name"] ?? nil) lists \(error["code"] ?? nil) without data")
                    #expect(error["code"] != -32603, "\(method["name"] ?? nil) lists -32603")
                }
            }
        }
    }

    @Test(
        "a well-formed cursor the server did not issue is -32602; an issued one pages on",
        arguments: ["c7a", "c616461", "c6164618fd40cfe"])
    func madeUpCursorIsRefused(cursor: String) throws {
        try withRunningServer { server in
            let client = try server.connect()
            for name in ["ada", "bob", "cy"] {
                _ = try client.request(
                    "contacts.create", ["username": .string(name), "first_name": "F", "last_name": "L"])
            }
            let made = try client.request("contacts.list", ["cursor": .string(cursor)])
            #expect(made.errorCode == -32602)
            #expect(made["error"]?["data"]?["errors"]?[0]?["field"] == "cursor")
            let first = try client.request("contacts.list", ["limit": 1])
            let issued = try #require(first["result"]?["next_cursor"])
            let next = try client.request("contacts.list", ["limit": 1, "cursor": issued])
            #expect(next["result"]?["contacts"]?[0]?["username"] == "bob")
        }
    }

    @Test("an update that changes nothing returns the contact unchanged, at the same version")
    func noOpUpdateKeepsVersion() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let created = try #require(
                try client.request(
                    "contacts.create",
                    ["username": "ada", "first_name": "Ada", "last_name": "L", "emails": ["a@example.com"]])["result"])
            let same = try client.request(
                "contacts.update",
                [
                    "username": "ADA", "first_name": "Ada", "last_name": " L ", "new_username": "ada",
                    "remove_emails": ["nope@example.com"], "add_emails": ["A@example.com"],
                ])
            #expect(same["result"] == created)
            let other = try client.request(
                "contacts.update", ["username": "ada", "first_name": "Augusta", "expected_version": 1])
            #expect(other["result"]?["version"] == 2)
        }
    }
}

@Suite("Unicode NFC on input")
struct NormalisationTests {
    @Test("an address written in NFD is the address another contact owns in NFC, and is stored in NFC")
    func emailsAreNormalised() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let nfc = "\u{E9}@x.com"
            let nfd = "e\u{301}@x.com"
            let created = try client.request(
                "contacts.create",
                ["username": "one", "first_name": "Rene\u{301}", "last_name": "L", "emails": [.string(nfd)]])
            #expect(created["result"]?["emails"]?[0]?.stringValue.map { Array($0.utf8) } == Array(nfc.utf8))
            #expect(created["result"]?["first_name"]?.stringValue.map { Array($0.utf8) } == Array("Ren\u{E9}".utf8))
            let second = try client.request(
                "contacts.create", ["username": "two", "first_name": "T", "last_name": "W", "emails": [.string(nfc)]])
            #expect(second.errorCode == 409)
            #expect(second["error"]?["data"]?["reason"] == "email_taken")
            let found = try client.request("contacts.list", ["email": .string(nfd)])
            #expect(found["result"]?["contacts"]?[0]?["username"] == "one")
            let removed = try client.request("contacts.update", ["username": "one", "remove_emails": [.string(nfc)]])
            #expect(removed["result"]?["emails"] == [])
        }
    }
}
