/// A JSON-RPC error object: `code`, `message` and optional structured `data`.
public struct RPCError: Error, Sendable, Equatable {
    /// The error code: the spec's -32700…-32600 range, or an application code such as 404.
    public var code: Int
    /// One human-readable sentence.
    public var message: String
    /// Machine-readable details (which field, which reason).
    public var data: JSONValue?

    /// An error with any code.
    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// -32700: the line is not valid JSON (or not UTF-8, or nested too deep).
    public static func parseError(_ reason: String, offset: Int) -> RPCError {
        RPCError(code: -32700, message: "Parse error: \(reason)", data: ["reason": .string(reason), "offset": .number(JSONNumber(offset))])
    }

    /// -32600: valid JSON that is not a valid request.
    public static func invalidRequest(_ reason: String) -> RPCError {
        RPCError(code: -32600, message: "Invalid Request: \(reason)", data: ["reason": .string(reason)])
    }

    /// -32601: no such method.
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: -32601, message: "Method not found: \(method)", data: ["method": .string(method)])
    }

    /// Most problems one `-32602` lists (in `data.errors` and in its message); the rest are
    /// counted in `data.omitted`, so a line of a million bad params cannot make a huge reply.
    public static let maxListedProblems = 100

    /// -32602: the params are wrong; lists the problems as `{"field", "message"}`, at most
    /// `maxListedProblems` of them, with the number left out (beyond those and `omitted`) in `data.omitted`.
    public static func invalidParams(_ problems: [ParamProblem], omitted: Int = 0) -> RPCError {
        let listed = problems.prefix(maxListedProblems)
        let left = omitted + problems.count - listed.count
        var summary = listed.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        if left > 0 { summary += "; and \(left) more" }
        let list: [JSONValue] = listed.map { .object(JSONObject([.init(key: "field", value: .string($0.field)), .init(key: "message", value: .string($0.message))])) }
        var data = JSONObject()
        data.append("errors", .array(list))
        if left > 0 { data.append("omitted", .number(JSONNumber(left))) }
        return RPCError(code: -32602, message: "Invalid params: \(summary)", data: .object(data))
    }

    /// -32003: the reply would be larger than the server sends (`--max-response-bytes`); ask for less.
    public static func responseTooLarge(limit: Int) -> RPCError {
        RPCError(
            code: -32003, message: "Response too large: the reply would exceed \(limit) bytes (--max-response-bytes); ask for fewer items",
            data: ["reason": "response_too_large", "limit": .number(JSONNumber(limit))])
    }

    /// -32603: the server failed; the reason is generic, never a stack trace.
    public static func internalError(_ reason: String) -> RPCError {
        RPCError(code: -32603, message: "Internal error: \(reason)", data: ["reason": .string(reason)])
    }
}

/// One problem with one parameter, for `-32602` errors.
public struct ParamProblem: Sendable, Equatable {
    /// The parameter path: `username`, `emails[2]`, `params[4]`.
    public var field: String
    /// What is wrong with it.
    public var message: String

    /// Creates a problem report.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}
