import Foundation
import JSONRPC
import Logging
import Testing
import TestSupport

@testable import ContactService

/// Just enough JSON Schema to check the schemas `rpc.discover` publishes: type, string and
/// number limits, pattern, items, maxItems, const/enum are not needed for params.
func schemaAccepts(_ schema: JSONValue, _ value: JSONValue) -> Bool {
    guard let schema = schema.objectValue else { return true }
    if let type = schema["type"] {
        let types = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
        let matches = types.contains { name in
            switch (name, value) {
            case ("string", .string), ("array", .array), ("object", .object), ("boolean", .bool), ("null", .null): return true
            case ("integer", .number(let n)): return n.intValue != nil
            case ("number", .number): return true
            default: return false
            }
        }
        if !matches { return false }
    }
    if case .string(let string) = value {
        let length = string.unicodeScalars.count
        if let min = schema["minLength"]?.numberValue?.intValue, length < min { return false }
        if let max = schema["maxLength"]?.numberValue?.intValue, length > max { return false }
        if let pattern = schema["pattern"]?.stringValue, let regex = try? Regex(pattern), string.firstMatch(of: regex) == nil {
            return false
        }
    }
    if case .number(let number) = value, let int = number.intValue {
        if let min = schema["minimum"]?.numberValue?.intValue, int < min { return false }
        if let max = schema["maximum"]?.numberValue?.intValue, int > max { return false }
    }
    if case .array(let elements) = value {
        if let max = schema["maxItems"]?.numberValue?.intValue, elements.count > max { return false }
        if let items = schema["items"], !elements.allSatisfy({ schemaAccepts(items, $0) }) { return false }
    }
    return true
}

/// Params are valid by the method's published schemas: required present, no unknown names, each value valid.
func paramsAccepted(by method: JSONObject, _ params: JSONObject) -> Bool {
    let declared = (method["params"]?.arrayValue ?? []).compactMap(\.objectValue)
    for param in declared where param["required"]?.boolValue == true {
        if params[param["name"]?.stringValue ?? ""] == nil { return false }
    }
    for member in params.members {
        guard let param = declared.first(where: { $0["name"]?.stringValue == member.key }) else { return false }
        if !schemaAccepts(param["schema"] ?? nil, member.value) { return false }
    }
    return true
}

@Suite("introspection: rpc.discover, server.stats, server.ping")
struct IntrospectionTests {
    private func discover(_ client: LineClient) throws -> JSONValue {
        try #require(try client.call(#"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"#)["result"])
    }

    @Test("the document has OpenRPC's required fields and every method in the registry")
    func documentIsComplete() throws {
        try withRunningServer { server in
            let document = try discover(try server.connect())
            #expect(document["openrpc"]?.stringValue?.hasPrefix("1.3") == true)
            #expect(document["info"]?["title"] != nil && document["info"]?["version"] == "0.1.0")
            let methods = try #require(document["methods"]?.arrayValue)
            for method in methods {
                #expect(method["name"]?.stringValue != nil)
                #expect(method["params"]?.arrayValue != nil)
                #expect(method["result"]?["name"] != nil && method["result"]?["schema"] != nil)
            }
            let names = Set(methods.compactMap { $0["name"]?.stringValue })
            let store = try ContactStoreForTests.make()
            let registry = ServerMethods.registry(
                contactMethods: ContactMethods.all(store: store)
                    + SubscriptionMethods.all(store: store, logger: nil, limits: nil),
                store: store, stats: nil, limits: LimitEvents(logger: Logger(label: "test")),
                connections: ConnectionCounters(), output: OutputBudget(limit: 1 << 20),
                feed: ChangeFeed(store: store, maxQueue: 1000), databasePath: "", backupDirectory: "")
            #expect(names == Set(registry.map(\.name)))
            #expect(names.isSuperset(of: ["rpc.discover", "server.ping", "server.stats", "server.backup", "contacts.get"]))
        }
    }

    @Test("protocol.md names every method and every error code of the document")
    func protocolDocumentCoversDiscovery() throws {
        let protocolText = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("protocol.md"), encoding: .utf8)
        try withRunningServer { server in
            let methods = try discover(try server.connect())["methods"]?.arrayValue ?? []
            for method in methods {
                let name = method["name"]?.stringValue ?? ""
                #expect(protocolText.contains("`\(name)`"), "protocol.md does not name \(name)")
                for error in method["errors"]?.arrayValue ?? [] {
                    let code = error["code"]?.numberValue?.text ?? ""
                    #expect(protocolText.contains("`\(code)`"), "protocol.md does not name error \(code)")
                }
            }
        }
    }

    @Test("the published schemas reject exactly what the server rejects", arguments: [
        ("contacts.create", ["username": "ok", "first_name": "A", "last_name": "B"] as JSONValue),
        ("contacts.create", ["username": "-no", "first_name": "A", "last_name": "B"]),
        ("contacts.create", ["username": .string(String(repeating: "a", count: 65)), "first_name": "A", "last_name": "B"]),
        ("contacts.create", ["username": "ok2", "first_name": "", "last_name": "B"]),
        ("contacts.create", ["username": "ok3", "first_name": "A", "last_name": "B", "emails": ["x@example"]]),
        ("contacts.create", ["username": "ok4", "first_name": "A", "last_name": "B", "emails": .array((0..<21).map { .string("u\($0)@example.com") })]),
        ("contacts.create", ["username": "ok5", "first_name": "A"]),
        ("contacts.create", ["username": "ok6", "first_name": "A", "last_name": "B", "nick": "x"]),
        ("contacts.list", ["limit": 0]),
        ("contacts.list", ["limit": 1001]),
        ("contacts.list", ["limit": 50]),
        ("contacts.list", ["limit": "50"]),
        ("contacts.update", ["username": "ok", "expected_version": 0, "first_name": "C"]),
        ("contacts.delete", ["username": 7]),
        ("contacts.create", ["username": "sp", "first_name": .string("  " + String(repeating: "a", count: 100) + " "), "last_name": "B"]),
        ("contacts.create", ["username": "sp2", "first_name": .string(String(repeating: "a", count: 101)), "last_name": "B"]),
        ("contacts.create", ["username": "cc", "first_name": "A\u{1}B", "last_name": "B"]),
        ("contacts.create", ["username": "cc2", "first_name": "A", "last_name": "B", "emails": ["a\u{1}b@example.com"]]),
        ("contacts.create", ["username": "nl", "first_name": "A", "last_name": "B", "emails": nil]),
        ("contacts.list", ["username_prefix": .string(String(repeating: "é", count: 32))]),
        ("contacts.list", ["username_prefix": .string(String(repeating: "é", count: 65))]),
    ] as [(String, JSONValue)])
    func schemaAgreesWithServer(method: String, params: JSONValue) throws {
        try withRunningServer { server in
            let client = try server.connect()
            let document = try discover(client)
            let entry = try #require(document["methods"]?.arrayValue?.first { $0["name"]?.stringValue == method }?.objectValue)
            let schemaSaysValid = paramsAccepted(by: entry, params.objectValue ?? JSONObject())
            let response = try client.request(method, params)
            let serverSaysInvalid = response.errorCode == -32602
            #expect(schemaSaysValid == !serverSaysInvalid, "\(method) \(params.jsonString): \(response.jsonString)")
        }
    }

    @Test("server.ping answers pong with the version")
    func ping() throws {
        try withRunningServer { server in
            let response = try server.connect().call(#"{"jsonrpc":"2.0","id":1,"method":"server.ping"}"#)
            #expect(response["result"] == ["pong": true, "version": "0.1.0"])
        }
    }

    @Test("stats count exactly the requests sent, and errors under their code")
    func statsCount() throws {
        try withRunningServer { server in
            let client = try server.connect()
            let stats = #"{"jsonrpc":"2.0","id":0,"method":"server.stats"}"#
            let before = try #require(try client.call(stats)["result"])
            _ = try client.request("contacts.create", ["username": "s1", "first_name": "S", "last_name": "S"])
            for n in 0..<5 { _ = try client.request("contacts.get", [n % 2 == 0 ? "s1" : "missing"]) }
            _ = try client.call("{nope")
            try client.send(#"{"jsonrpc":"2.0","method":"contacts.get","params":["s1"]}"#)  // a notification counts too
            _ = try client.request("contacts.get", ["username": 5])
            _ = try client.call(#"{"jsonrpc":"2.0","id":8,"method":"contacts.get","params":"s1"}"#)
            let after = try #require(try client.call(stats)["result"])
            func count(_ value: JSONValue?, _ path: String...) -> Int {
                var current = value
                for key in path { current = current?[key] }
                return current?.numberValue?.intValue ?? 0
            }
            #expect(count(after, "methods", "contacts.get", "calls") - count(before, "methods", "contacts.get", "calls") == 7)
            #expect(count(after, "methods", "contacts.get", "errors") - count(before, "methods", "contacts.get", "errors") == 3)
            // A params of the wrong type is an invalid request: counted under errors only, not under the method.
            #expect(count(after, "errors", "-32600") - count(before, "errors", "-32600") == 1)
            #expect(count(after, "methods", "contacts.create", "calls") - count(before, "methods", "contacts.create", "calls") == 1)
            #expect(count(after, "errors", "404") - count(before, "errors", "404") == 2)
            #expect(count(after, "errors", "-32700") - count(before, "errors", "-32700") == 1)
            #expect(count(after, "errors", "-32602") - count(before, "errors", "-32602") == 1)
            #expect(count(after, "connections", "open") == 1)
            #expect(count(after, "store", "contacts") == 1)
            #expect((after["methods"]?["contacts.get"]?["p99_ms"]?.numberValue?.doubleValue ?? 0) > 0)
        }
    }

    @Test("the CLI lists methods, describes one, prints stats, and pings")
    func cliIntrospection() throws {
        try withRunningServer { server in
            let methods = try runCLI(["methods", "--socket", server.socketPath])
            #expect(methods.status == 0 && methods.out.contains("contacts.get") && methods.out.contains("rpc.discover"))
            let one = try runCLI(["methods", "contacts.create", "--socket", server.socketPath])
            #expect(one.status == 0 && one.out.contains("1-64 chars") && one.out.contains("409"))
            let unknown = try runCLI(["methods", "contacts.nope", "--socket", server.socketPath])
            #expect(unknown.status == 1)
            let stats = try runCLI(["stats", "--json", "--socket", server.socketPath])
            #expect(stats.status == 0)
            let parsed = try JSONReader.parse(Array(stats.out.utf8).dropLast())
            #expect(parsed["methods"] != nil)
            #expect(try runCLI(["ping", "--socket", server.socketPath]).status == 0)
        }
        #expect(try runCLI(["ping", "--socket", "/tmp/contacts-no-server.sock"]).status == 3)
    }

    @Test("a refused connection is counted, and ping then exits 3")
    func refusedConnections() throws {
        try withRunningServer(arguments: ["--max-connections", "1"]) { server in
            let holder = try server.admittedClient()
            #expect(try runCLI(["ping", "--socket", server.socketPath]).status == 3)
            let stats = try #require(try holder.call(#"{"jsonrpc":"2.0","id":2,"method":"server.stats"}"#)["result"])
            #expect(stats["connections"]?["refused"]?.numberValue?.intValue ?? 0 >= 1)
            // A refusal is counted under connections.refused only, as protocol.md says.
            #expect(stats["errors"]?["-32000"] == nil)
        }
    }
}

@Suite("logs")
struct LoggingTests {
    @Test("--log-format json writes one object a line; debug logs each request without params")
    func jsonDebugLog() throws {
        let server = try TestServer(arguments: ["--log-level", "debug", "--log-format", "json"])
        let client = try server.connect()
        _ = try client.request("contacts.create", ["username": "logme", "first_name": "L", "last_name": "M", "emails": ["secret@example.com"]])
        _ = try client.request("contacts.get", ["username": "nobody"], id: 7)
        #expect(server.stop() == 0)
        let lines = server.stderrText().split(separator: "\n")
        let objects = try lines.map { try JSONReader.parse(Array($0.utf8)) }
        #expect(objects.allSatisfy { $0["ts"] != nil && $0["level"] != nil && $0["message"] != nil })
        let requests = objects.filter { $0["message"] == "request" }
        #expect(requests.contains { $0["method"] == "contacts.get" && $0["id"] == "7" && $0["outcome"] == "error 404" && $0["duration_us"] != nil })
        #expect(!lines.contains { $0.contains("secret@example.com") })
    }

    @Test("at info level no request and no email address is logged")
    func infoLogIsQuiet() throws {
        let server = try TestServer(arguments: ["--log-level", "info"])
        _ = try server.connect().request(
            "contacts.create", ["username": "quiet", "first_name": "Q", "last_name": "Q", "emails": ["hidden@example.com"]])
        #expect(server.stop() == 0)
        let text = server.stderrText()
        #expect(text.contains("listening"))
        #expect(!text.contains("hidden@example.com"))
        #expect(!text.contains("method="))  // no per-request lines above debug
    }

    @Test(
        "no client string forges a log line or puts an email address in the log, in either format",
        arguments: ["text", "json"])
    func clientStringsAreSafeInLogs(format: String) throws {
        let server = try TestServer(arguments: ["--log-level", "debug", "--log-format", format])
        let client = try server.connect()
        let forged = #"{"jsonrpc":"2.0","id":1,"method":"x\n2026-01-01T00:00:00+0000 critical contactsd: forged"}"#
        _ = try client.call(forged)
        _ = try client.call(#"{"jsonrpc":"2.0","id":"ada@example.com","method":"server.ping"}"#)
        _ = try client.call(#"{"jsonrpc":"2.0","id":3,"method":"grace@example.com"}"#)
        _ = try client.call(#"{"jsonrpc":"2.0","id":"\u001b[2J","method":"server.ping"}"#)
        #expect(server.stop() == 0)
        let text = server.stderrText()
        let lines = text.split(separator: "\n")
        // Every line is one the server wrote: a timestamp, a level, and no forged critical one.
        let levels = lines.map { line in
            format == "json"
                ? (try? JSONReader.parse(Array(line.utf8)))?["level"]?.stringValue ?? "unparsable"
                : String(line.split(separator: " ").dropFirst().first ?? "")
        }
        #expect(levels.allSatisfy { ["info", "debug"].contains($0) }, "levels: \(levels)")
        #expect(!text.contains("@example.com"))
        #expect(!text.contains("\u{1b}"))
        #expect(lines.filter { $0.contains("<redacted>") }.count == 2)
        if format == "json" { #expect(lines.allSatisfy { (try? JSONReader.parse(Array($0.utf8))) != nil }) }
    }
}
