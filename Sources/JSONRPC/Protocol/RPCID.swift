/// A request id: a string, a number (kept as its exact text) or null.
public enum RPCID: Sendable, Equatable, Hashable, CustomStringConvertible {
    case string(String)
    case number(JSONNumber)
    case null

    /// The id of a JSON value, or nil when JSON-RPC does not allow that type as an id.
    init?(_ value: JSONValue) {
        switch value {
        case .string(let s): self = .string(s)
        case .number(let n): self = .number(n)
        case .null: self = .null
        default: return nil
        }
    }

    /// The id as JSON text (`"abc"`, `7`, `null`), for logs.
    public var description: String {
        var writer = JSONWriter(capacity: 16)
        write(to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func write(to writer: inout JSONWriter) {
        switch self {
        case .string(let s): writer.writeString(s)
        case .number(let n): writer.writeNumber(n)
        case .null: writer.writeNull()
        }
    }
}
