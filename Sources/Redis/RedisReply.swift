/// A decoded Redis reply (RESP2).
public enum RedisReply: Sendable, Equatable {
    /// `+OK` and other status replies.
    case status(String)
    /// A bulk string (binary-safe).
    case string([UInt8])
    /// An integer reply.
    case integer(Int64)
    /// A null bulk string or null array.
    case null
    /// An array reply.
    case array([RedisReply])

    /// The reply as text, for bulk strings and status replies.
    public var text: String? {
        switch self {
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let status): return status
        default: return nil
        }
    }

    /// The reply as an integer, for integer replies and numeric strings.
    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .string: return text.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array reply (empty for anything else).
    public var elements: [RedisReply] {
        if case .array(let elements) = self { return elements }
        return []
    }

    /// True for a null reply.
    public var isNull: Bool { self == .null }
}
