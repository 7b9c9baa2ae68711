import JSONRPC

/// What the reply to one line must be, by JSON-RPC 2.0 and protocol.md, worked out from the line
/// alone (not from what the dispatcher decided); any difference stops the fuzzer (a finding).
///
/// A line that does not parse, is too long, or is an empty or oversized batch gets one error
/// object with id null. Otherwise every request is answered and a notification is not: one
/// response object for a single request, an array of them in request order for a batch, and no
/// line at all when nothing is answered. Each response is `{"jsonrpc":"2.0","id":…}` with the
/// id the request had (null when it had none that JSON-RPC allows) and exactly one of `result`
/// and `error` (`code` an integer, `message` a string, `data` optional), and no response is over
/// `--max-response-bytes`.
enum ReplyCheck {
    /// Checks the reply to `event`, in the pieces it was produced in (a batch: `[` or `,` and one
    /// response each, then `]` and the newline; a single reply: the response and the newline).
    static func check(_ pieces: [[UInt8]], answering event: LineFramer.Event, limits: RPCDispatcher.Limits) {
        let reply = Array(pieces.joined())
        guard let expected = expectedIDs(of: event, limits: limits) else {
            precondition(reply.isEmpty, "a line of notifications only was answered: \(text(reply))")
            return
        }
        precondition(reply.last == UInt8(ascii: "\n"), "a reply does not end its line: \(text(reply))")
        let line = reply.dropLast()
        precondition(!line.contains(UInt8(ascii: "\n")), "a reply spans more than one line: \(text(reply))")
        let value: JSONValue
        do {
            value = try JSONReader.parse(Array(line))
        } catch {
            preconditionFailure("a reply is not JSON (\(error.reason) at \(error.offset)): \(text(reply))")
        }
        for piece in pieces where piece != Array("]\n".utf8) {
            // Less the one framing byte: `[` or `,` before a batch element, the newline after a single reply.
            precondition(
                piece.count - 1 <= limits.maxResponseBytes,
                "a response of \(piece.count - 1) bytes is over the \(limits.maxResponseBytes)-byte limit")
        }
        switch expected {
        case .single(let id):
            checkResponse(value, id: id, in: reply)
        case .batch(let ids):
            guard case .array(let responses) = value, responses.count == ids.count else {
                preconditionFailure("a batch with \(ids.count) requests was not answered with as many: \(text(reply))")
            }
            for (response, id) in zip(responses, ids) { checkResponse(response, id: id, in: reply) }
        }
    }

    /// What a line must be answered with: the ids of its responses, or nil for no line.
    private enum Expected {
        case single(JSONValue)
        case batch([JSONValue])
    }

    private static func expectedIDs(of event: LineFramer.Event, limits: RPCDispatcher.Limits) -> Expected? {
        guard case .line(let line) = event, let document = try? JSONReader.parse(line, maxDepth: limits.maxDepth) else {
            return .single(.null)
        }
        guard case .array(let elements) = document else { return answeredID(document).map { .single($0) } }
        if elements.isEmpty || elements.count > limits.maxBatchSize { return .single(.null) }
        let ids = elements.compactMap(answeredID)
        return ids.isEmpty ? nil : .batch(ids)
    }

    /// The id the response to `request` carries, or nil when it is a notification (a well-formed
    /// request without an id), which gets no response.
    private static func answeredID(_ request: JSONValue) -> JSONValue? {
        guard case .object(let object) = request else { return .null }
        let id = object["id"]
        let usableID: JSONValue? =
            switch id {
            case .string?, .number?, .null?: id
            default: nil
            }
        if id != nil, usableID == nil { return .null }
        let params = object["params"]
        let wellFormed =
            object["jsonrpc"] == .string("2.0") && object["method"]?.stringValue != nil
            && (params == nil || params?.objectValue != nil || params?.arrayValue != nil)
        return wellFormed ? usableID : usableID ?? .null
    }

    private static func checkResponse(_ response: JSONValue, id: JSONValue, in reply: [UInt8]) {
        guard case .object(let object) = response else {
            preconditionFailure("a response is not an object: \(text(reply))")
        }
        precondition(object.keys.count == object.members.count, "a response repeats a member: \(text(reply))")
        precondition(object["jsonrpc"] == .string("2.0"), "a response lacks \"jsonrpc\":\"2.0\": \(text(reply))")
        precondition(object["id"] == id, "a response carries id \(text(object["id"])), not \(text(id)): \(text(reply))")
        let result = object["result"]
        let error = object["error"]
        precondition(
            (result == nil) != (error == nil), "a response needs exactly one of result and error: \(text(reply))")
        precondition(
            Set(object.keys).isSubset(of: ["jsonrpc", "id", "result", "error"]),
            "a response has members JSON-RPC does not define: \(text(reply))")
        guard let error else { return }
        guard case .object(let fields) = error,
            fields.keys.count == fields.members.count,
            Set(fields.keys).isSubset(of: ["code", "message", "data"]),
            fields["code"]?.numberValue?.intValue != nil,
            fields["message"]?.stringValue != nil
        else {
            preconditionFailure("an error object is not {code: integer, message: string, data?}: \(text(reply))")
        }
    }

    /// Text for a finding's message, cut short so a huge reply stays readable.
    private static func text(_ bytes: [UInt8]) -> String {
        let shown = String(decoding: bytes.prefix(2000), as: UTF8.self)
        return bytes.count > 2000 ? "\(shown)… (\(bytes.count) bytes)" : shown
    }

    private static func text(_ value: JSONValue?) -> String {
        value.map { text($0.jsonBytes) } ?? "(none)"
    }
}
