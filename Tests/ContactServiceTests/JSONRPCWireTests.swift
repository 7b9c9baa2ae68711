import Foundation
import JSONRPC
import Testing

@Suite("JSON-RPC rules over the real socket")
struct JSONRPCWireTests {
    @Test("pipelined requests are answered in request order")
    func pipelinedInOrder() throws {
        try withRunningServer { server in
            let client = try server.connect()
            var lines = ""
            for id in 1...40 {
                let method = id % 3 == 0 ? "contacts.create" : "contacts.get"
                lines += #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":{"username":"u\#(id)","first_name":"F","last_name":"L"}}"# + "\n"
            }
            try client.send(raw: Array(lines.utf8))
            for id in 1...40 {
                let response = try client.readJSON()
                #expect(response["id"] == .number(JSONNumber(id)))
            }
        }
    }

    @Test("a batch answers each request in place and leaves out notifications")
    func batchMixed() throws {
        try withRunningServer { server in
            let response = try server.connect().call(
                #"[{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":{"username":"nobody"}},{"jsonrpc":"2.0","method":"contacts.get","params":{"username":"x"}},1,{"jsonrpc":"2.0","id":"two","method":"nope"}]"#)
            let entries = try #require(response.arrayValue)
            #expect(entries.count == 3)
            #expect(entries[0]["id"] == 1 && entries[0].errorCode == 404)
            #expect(entries[1]["id"] == .null && entries[1].errorCode == -32600)
            #expect(entries[2]["id"] == "two" && entries[2].errorCode == -32601)
        }
    }

    @Test("an empty batch is one -32600 error object")
    func emptyBatch() throws {
        try withRunningServer { server in
            let response = try server.connect().call("[]")
            #expect(response.errorCode == -32600)
            #expect(response["id"] == .null)
        }
    }

    @Test("notifications and all-notification batches get no line at all")
    func notificationsAreSilent() throws {
        try withRunningServer { server in
            let client = try server.connect()
            try client.send(#"{"jsonrpc":"2.0","method":"contacts.create","params":{"username":"n","first_name":"N","last_name":"N"}}"#)
            try client.send(#"[{"jsonrpc":"2.0","method":"contacts.get","params":["n"]},{"jsonrpc":"2.0","method":"nope"}]"#)
            let response = try client.call(#"{"jsonrpc":"2.0","id":9,"method":"contacts.get","params":["n"]}"#)
            #expect(response["id"] == 9)
            #expect(response["result"]?["username"] == "n")
        }
    }

    @Test("each malformed request gets its specific error code", arguments: [
        (#"{"jsonrpc":"2.0","id":1,"method":"contacts.get""#, -32700),
        (#"{"jsonrpc":"1.0","id":1,"method":"contacts.get"}"#, -32600),
        (#"{"id":1,"method":"contacts.get"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":{},"method":"contacts.get"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":5}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":"ada"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"contacts.frobnicate"}"#, -32601),
        (#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":{"username":"a","extra":1}}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":["a","b"]}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":{"username":7}}"#, -32602),
    ])
    func errorCodes(line: String, code: Int) throws {
        try withRunningServer { server in
            let response = try server.connect().call(line)
            #expect(response.errorCode == code)
        }
    }

    @Test("100,000 nested arrays are a parse error, not a crash")
    func deepNesting() throws {
        try withRunningServer { server in
            let client = try server.connect()
            #expect(try client.call(String(repeating: "[", count: 100_000)).errorCode == -32700)
            #expect(try client.call(#"{"jsonrpc":"2.0","id":2,"method":"contacts.list"}"#)["id"] == 2)
        }
    }

    @Test("an invalid request without an id is still answered, with id null")
    func invalidRequestWithoutID() throws {
        try withRunningServer { server in
            let response = try server.connect().call(#"{"jsonrpc":"2.0","method":"contacts.get","params":"x"}"#)
            #expect(response.errorCode == -32600)
            #expect(response["id"] == .null)
        }
    }

    @Test("invalid UTF-8 is a parse error and the connection stays usable")
    func invalidUTF8() throws {
        try withRunningServer { server in
            let client = try server.connect()
            try client.send(raw: Array(#"{"jsonrpc":"2.0","id":1,"method":""#.utf8) + [0xC3, 0x28] + Array("\"}\n".utf8))
            #expect(try client.readJSON().errorCode == -32700)
            #expect(try client.call(#"{"jsonrpc":"2.0","id":2,"method":"contacts.list"}"#)["id"] == 2)
        }
    }

    @Test("an over-long line gets -32600 with id null and the next line is served")
    func overLongLine() throws {
        try withRunningServer(arguments: ["--max-request-bytes", "1024"]) { server in
            let client = try server.connect()
            let long = #"{"jsonrpc":"2.0","id":1,"method":"contacts.get","params":{"username":""# + String(repeating: "a", count: 200_000) + #""}}"#
            try client.send(long)
            let error = try client.readJSON()
            #expect(error.errorCode == -32600)
            #expect(error["id"] == .null)
            #expect(try client.call(#"{"jsonrpc":"2.0","id":2,"method":"contacts.list"}"#)["id"] == 2)
        }
    }

    @Test("after a reply larger than the output cap, the connection still answers")
    func hugeReplyThenMore() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let batch = "[" + (0..<120).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"rpc.discover"}"# }.joined(separator: ",") + "]"
            let reply = try client.call(batch)
            #expect(reply.arrayValue?.count == 120)
            #expect(try client.call(#"{"jsonrpc":"2.0","id":"after","method":"server.ping"}"#)["id"] == "after")
        }
    }

    @Test("CRLF endings and blank lines are accepted")
    func crlfAndBlankLines() throws {
        try withRunningServer { server in
            let client = try server.connect()
            try client.send(raw: Array("\r\n\n   \n{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"contacts.list\"}\r\n".utf8))
            #expect(try client.readJSON()["id"] == 3)
        }
    }

    @Test("ids come back exactly as sent: strings, numbers and null")
    func idsEchoExactly() throws {
        try withRunningServer { server in
            let client = try server.connect()
            for id in [#""abc""#, "1.50", "-7", "null", "12345678901234567890"] {
                let line = try #require(try {
                    try client.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"contacts.list"}"#)
                    return try client.readLine()
                }())
                #expect(line.hasPrefix(#"{"jsonrpc":"2.0","id":\#(id),"#))
            }
        }
    }

    @Test("a last line without a newline is answered before the server sees EOF")
    func unterminatedLastLine() throws {
        try withRunningServer { server in
            let client = try server.connect()
            try client.send(raw: Array(#"{"jsonrpc":"2.0","id":5,"method":"contacts.list"}"#.utf8))
            client.closeWrite()
            #expect(try client.readJSON()["id"] == 5)
            #expect(try client.readLine() == nil)
        }
    }
}
