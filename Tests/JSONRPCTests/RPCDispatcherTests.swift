import Dispatch
import Testing

@testable import JSONRPC

@Suite("RPCDispatcher")
struct RPCDispatcherTests {
    /// `echo` returns its params by name; `later` answers from another queue; `fail` errors.
    static let dispatcher = RPCDispatcher(
        methods: [
            RPCMethod.simple("echo", ["a", "b"]) { params in .result(JSONFragment(.object(params.values))) },
            RPCMethod.simple("later", ["x"]) { params in
                let x = params["x"] ?? .null
                return .deferred { finish in DispatchQueue.global().async { finish(.success(JSONFragment(x))) } }
            },
            RPCMethod.simple("fail", []) { _ in .error(RPCError(code: 404, message: "gone")) },
        ],
        limits: .init(maxBatchSize: 3, maxDepth: 16))

    /// Runs one line and waits for the answer, whether immediate or deferred.
    func answer(_ line: String) -> JSONValue? {
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        Self.dispatcher.respond(to: Array(line.utf8)) { bytes in
            box.bytes = bytes
            done.signal()
        }
        done.wait()
        guard let bytes = box.bytes else { return nil }
        #expect(bytes.last == UInt8(ascii: "\n"))
        #expect(bytes.dropLast().contains(UInt8(ascii: "\n")) == false)
        return try? JSONReader.parse(Array(bytes.dropLast()))
    }

    final class Box: @unchecked Sendable {
        // @unchecked Sendable: written before the semaphore signals, read after it is awaited.
        var bytes: [UInt8]?
    }

    func code(_ value: JSONValue?) -> Int? {
        value?.objectValue?["error"]?.objectValue?["code"]?.numberValue?.intValue
    }

    @Test("a request gets its result with the same id")
    func result() {
        let response = answer(#"{"jsonrpc":"2.0","id":"x","method":"echo","params":{"a":1}}"#)
        #expect(response == ["jsonrpc": "2.0", "id": "x", "result": ["a": 1]])
    }

    @Test("by-position params are named in the method's order")
    func positional() {
        let response = answer(#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[true,"b"]}"#)
        #expect(response?.objectValue?["result"] == ["a": true, "b": "b"])
    }

    @Test("error codes follow the spec", arguments: [
        ("{", -32700),
        ("\"just a string\"", -32600),
        (#"{"jsonrpc":"2.0","id":1}"#, -32600),
        (#"{"jsonrpc":2,"id":1,"method":"echo"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":[1],"method":"echo"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"echo","params":null}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#, -32601),
        (#"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"c":1}}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1,2,3]}"#, -32602),
        (#"{"jsonrpc":"2.0","id":1,"method":"fail"}"#, 404),
        (String(repeating: "[", count: 17) + String(repeating: "]", count: 17), -32700),
        ("[1,2,3,4]", -32600),
        ("[]", -32600),
    ])
    func errorCodes(line: String, expected: Int) {
        #expect(code(answer(line)) == expected)
    }

    @Test("notifications get nothing, even when they fail")
    func notifications() {
        #expect(answer(#"{"jsonrpc":"2.0","method":"echo"}"#) == nil)
        #expect(answer(#"{"jsonrpc":"2.0","method":"nope"}"#) == nil)
        #expect(answer(#"{"jsonrpc":"2.0","method":"later","params":[1]}"#) == nil)
        #expect(answer(#"[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"later"}]"#) == nil)
    }

    @Test("a batch answers in order, deferred ones included, with invalid elements in place")
    func batch() {
        let response = answer(
            #"[{"jsonrpc":"2.0","id":1,"method":"later","params":["L"]},5,{"jsonrpc":"2.0","id":2,"method":"echo","params":{"b":2}}]"#)
        let entries = response?.arrayValue ?? []
        #expect(entries.count == 3)
        #expect(entries.first?.objectValue?["result"] == "L")
        #expect(code(entries.dropFirst().first) == -32600)
        #expect(entries.last?.objectValue?["id"] == 2)
    }

    @Test("an invalid request with a usable id echoes it; otherwise the id is null")
    func invalidRequestIDs() {
        #expect(answer(#"{"jsonrpc":"1.0","id":7,"method":"echo"}"#)?.objectValue?["id"] == 7)
        #expect(answer(#"{"jsonrpc":"2.0","id":{},"method":"echo"}"#)?.objectValue?["id"] == .null)
        #expect(answer("{")?.objectValue?["id"] == .null)
    }
}

extension RPCMethod {
    /// A method with untyped params, for dispatcher tests.
    static func simple(_ name: String, _ params: [String], _ handler: @escaping @Sendable (Params) -> RPCOutcome) -> RPCMethod {
        RPCMethod(
            name: name, summary: name, params: params.map { RPCParam($0, schema: [:], summary: $0) },
            result: (name: "result", schema: [:]), handler: handler)
    }
}
