import Foundation
import JSONRPC
import Testing

@Suite("contacts methods over the real socket")
struct ContactMethodsTests {
    static let ada: JSONValue = [
        "username": "ada", "first_name": " Ada ", "last_name": "Lovelace",
        "emails": ["ada@example.com", "Ada.L@Example.org"],
    ]

    @Test("create returns the stored contact at version 1 with emails in order")
    func createReturnsContact() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let response = try client.request("contacts.create", Self.ada)
            let contact = try #require(response["result"])
            #expect(contact["username"] == "ada")
            #expect(contact["first_name"] == "Ada")
            #expect(contact["emails"] == ["ada@example.com", "Ada.L@Example.org"])
            #expect(contact["version"] == 1)
            let created = try #require(contact["created_at"]?.stringValue)
            #expect(created.count == 24 && created.hasSuffix("Z"))
            #expect(contact["updated_at"] == contact["created_at"])
        }
    }

    @Test("get finds a contact case-insensitively and keeps the username as given")
    func getIsCaseInsensitive() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", ["username": "AdaL", "first_name": "Ada", "last_name": "L"])
            let response = try client.request("contacts.get", ["username": "adal"])
            #expect(response["result"]?["username"] == "AdaL")
        }
    }

    @Test("get of an unknown username is 404 naming it")
    func getUnknownIs404() throws {
        try withRunningServer { server in
            let response = try server.connect().request("contacts.get", ["username": "bob"])
            #expect(response.errorCode == 404)
            #expect(response["error"]?["message"] == "no contact named \"bob\"")
            #expect(response["error"]?["data"] == ["username": "bob"])
        }
    }

    @Test("a taken username, in any case, is 409 username_taken")
    func duplicateUsernameIsConflict() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", Self.ada)
            let response = try client.request("contacts.create", ["username": "ADA", "first_name": "A", "last_name": "B"])
            #expect(response.errorCode == 409)
            #expect(response["error"]?["data"]?["reason"] == "username_taken")
        }
    }

    @Test("an address owned by another contact, in any case, is 409 email_taken")
    func takenEmailIsConflict() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", Self.ada)
            let response = try client.request(
                "contacts.create", ["username": "bob", "first_name": "B", "last_name": "B", "emails": ["ADA@example.COM"]])
            #expect(response.errorCode == 409)
            #expect(response["error"]?["data"]?["reason"] == "email_taken")
            #expect(try client.request("contacts.get", ["username": "bob"]).errorCode == 404)
        }
    }

    @Test("validation reports every problem with its field")
    func validationListsEveryProblem() throws {
        try withRunningServer { server in
            let response = try server.connect().request(
                "contacts.create",
                ["username": "-bad", "first_name": "", "last_name": "ok", "emails": ["a@example.com", "A@EXAMPLE.com", "nope"]])
            #expect(response.errorCode == -32602)
            let fields = response["error"]?["data"]?["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue }
            #expect(fields == ["username", "first_name", "emails[1]", "emails[2]"])
        }
    }

    @Test("unknown params and bad values are listed together, non-string emails included")
    func everyProblemListed() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let response = try client.request(
                "contacts.create",
                ["username": "bad name", "first_name": "", "last_name": "B", "nick": "x", "emails": ["not-an-address", 5]])
            let fields = response["error"]?["data"]?["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
            #expect(Set(fields) == ["nick", "username", "first_name", "emails[0]", "emails[1]"])
        }
    }

    @Test("username_prefix is compared as ASCII only: the Kelvin sign is not a k")
    func prefixIsLiteral() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", ["username": "kate", "first_name": "K", "last_name": "K"])
            let response = try client.request("contacts.list", ["username_prefix": "\u{212A}"])
            #expect(response["result"]?["contacts"] == [])
        }
    }

    @Test("update replaces the emails, bumps the version and renames")
    func updateReplacesEmails() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", Self.ada)
            let response = try client.request(
                "contacts.update", ["username": "ada", "new_username": "countess", "emails": ["c@example.net"]])
            let contact = try #require(response["result"])
            #expect(contact["username"] == "countess")
            #expect(contact["emails"] == ["c@example.net"])
            #expect(contact["version"] == 2)
            // The old address is free again.
            let other = try client.request(
                "contacts.create", ["username": "x", "first_name": "X", "last_name": "X", "emails": ["ada@example.com"]])
            #expect(other["result"] != nil)
        }
    }

    @Test("update with a stale expected_version is 409 version_mismatch and changes nothing")
    func staleUpdateIsRejected() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", Self.ada)
            let response = try client.request(
                "contacts.update", ["username": "ada", "first_name": "Augusta", "expected_version": 7])
            #expect(response.errorCode == 409)
            #expect(response["error"]?["data"]?["reason"] == "version_mismatch")
            #expect(try client.request("contacts.get", ["username": "ada"])["result"]?["first_name"] == "Ada")
        }
    }

    @Test("add_emails and remove_emails change the stored list in place")
    func addAndRemoveEmails() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", Self.ada)
            let response = try client.request(
                "contacts.update",
                ["username": "ada", "add_emails": ["new@example.net", "ADA@example.com"], "remove_emails": ["ada.l@example.org"]])
            #expect(response["result"]?["emails"] == ["ada@example.com", "new@example.net"])
            let both = try client.request("contacts.update", ["username": "ada", "emails": ["x@example.com"], "add_emails": ["y@example.com"]])
            #expect(both.errorCode == -32602)
        }
    }

    @Test("two clients adding emails at once both keep theirs")
    func concurrentAdds() throws {
        try withRunningServer { server in
            _ = try server.connect().request("contacts.create", ["username": "shared", "first_name": "S", "last_name": "S"])
            DispatchQueue.concurrentPerform(iterations: 10) { n in
                let client = try? server.connect()
                _ = try? client?.request("contacts.update", ["username": "shared", "add_emails": .array([.string("u\(n)@example.com")])])
            }
            let emails = try server.connect().request("contacts.get", ["username": "shared"])["result"]?["emails"]?.arrayValue
            #expect(emails?.count == 10)
        }
    }

    @Test("update without any change is -32602")
    func emptyUpdateIsInvalid() throws {
        try withRunningServer { server in
            let response = try server.connect().request("contacts.update", ["username": "ada"])
            #expect(response.errorCode == -32602)
        }
    }

    @Test("delete removes the contact and its emails")
    func deleteRemovesEmails() throws {
        try withRunningServer { server in
            let client = try server.connect()
            _ = try client.request("contacts.create", Self.ada)
            let response = try client.request("contacts.delete", ["username": "ADA"])
            #expect(response["result"] == ["username": "ada", "deleted": true])
            #expect(try client.request("contacts.get", ["username": "ada"]).errorCode == 404)
            #expect(try client.request("contacts.delete", ["username": "ada"]).errorCode == 404)
            let reuse = try client.request(
                "contacts.create", ["username": "z", "first_name": "Z", "last_name": "Z", "emails": ["ada@example.com"]])
            #expect(reuse["result"] != nil)
        }
    }

    @Test("positional params follow the documented order")
    func positionalParams() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let created = try client.request("contacts.create", ["grace", "Grace", "Hopper", ["grace@example.com"]])
            #expect(created["result"]?["last_name"] == "Hopper")
            #expect(try client.request("contacts.get", ["grace"])["result"]?["username"] == "grace")
        }
    }

    @Test("list pages follow next_cursor to every contact exactly once, in case-insensitive order")
    func listFollowsCursor() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let names = (0..<25).map { String(format: $0 % 2 == 0 ? "user%02d" : "USER%02d", $0) }
            for name in names.shuffled() {
                _ = try client.request("contacts.create", ["username": .string(name), "first_name": "F", "last_name": "L"])
            }
            var seen: [String] = []
            var cursor: JSONValue = nil
            repeat {
                let page = try #require(try client.request("contacts.list", ["limit": 7, "cursor": cursor])["result"])
                seen += page["contacts"]?.arrayValue?.compactMap { $0["username"]?.stringValue } ?? []
                cursor = page["next_cursor"] ?? nil
            } while cursor != nil
            #expect(seen == names)
        }
    }

    @Test("a limit outside 1...1000 and a forged cursor are -32602")
    func listRejectsBadLimitAndCursor() throws {
        try withRunningServer { server in
            let client = try server.connect()
            #expect(try client.request("contacts.list", ["limit": 0]).errorCode == -32602)
            #expect(try client.request("contacts.list", ["limit": 1001]).errorCode == -32602)
            #expect(try client.request("contacts.list", ["cursor": "not-a-cursor"]).errorCode == -32602)
        }
    }

    @Test("username_prefix is literal and case-insensitive; email finds the owner")
    func listFilters() throws {
        try withRunningServer { server in
            let client = try server.connect()
            for name in ["a_b", "aXb", "A_c", "b"] {
                _ = try client.request(
                    "contacts.create",
                    ["username": .string(name), "first_name": "F", "last_name": "L", "emails": .array([.string("\(name)@example.com")])])
            }
            let prefixed = try client.request("contacts.list", ["username_prefix": "a_"])["result"]?["contacts"]
            #expect(prefixed?.arrayValue?.compactMap { $0["username"]?.stringValue } == ["a_b", "A_c"])
            let percent = try client.request("contacts.list", ["username_prefix": "%"])["result"]?["contacts"]
            #expect(percent == [])
            let byEmail = try client.request("contacts.list", ["email": "AXB@EXAMPLE.COM"])["result"]?["contacts"]
            #expect(byEmail?.arrayValue?.compactMap { $0["username"]?.stringValue } == ["aXb"])
        }
    }
}
