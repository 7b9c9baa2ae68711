/// Appends compact JSON to a byte buffer (never pretty-printed: one message is one line).
///
/// The writer does not check structure: callers put commas, colons and brackets in with ``writeRaw(_:)-(StaticString)``
/// and the typed methods write the values between them. Every string is escaped so that no raw control
/// character, and so no line feed, can reach the output.
public struct JSONWriter: Sendable {
    /// The JSON written so far, as UTF-8.
    public var bytes: [UInt8]

    /// Makes an empty writer.
    /// - Parameter capacity: Bytes to reserve up front, to avoid regrowing for a typical message.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends literal ASCII bytes, such as `"{\"jsonrpc\":\"2.0\""`, unchanged.
    /// - Parameter s: Already valid JSON text.
    public mutating func writeRaw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends already-encoded JSON unchanged.
    /// - Parameter bytes: Valid JSON text as UTF-8.
    public mutating func writeRaw(_ bytes: some Sequence<UInt8>) {
        self.bytes.append(contentsOf: bytes)
    }

    /// Appends a quoted string, escaping `"`, `\` and every control character below U+0020.
    ///
    /// Line feed, carriage return, tab, backspace and form feed get their short escapes and other control
    /// characters `\u00XX`. DEL and non-ASCII characters are written as UTF-8 as they are.
    /// - Parameter s: The string to write.
    public mutating func writeString(_ s: String) {
        bytes.append(WriterByte.quote)
        var s = s
        // `withUTF8` gives contiguous UTF-8 (native strings already are), so runs that need no escaping,
        // usually the whole string, are copied with one append.
        s.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == WriterByte.quote || byte == WriterByte.backslash else { continue }
                if runStart < index {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                }
                appendEscape(for: byte)
                runStart = index + 1
            }
            if runStart < utf8.count {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
            }
        }
        bytes.append(WriterByte.quote)
    }

    private mutating func appendEscape(for byte: UInt8) {
        let short: UInt8
        switch byte {
        case WriterByte.quote: short = WriterByte.quote
        case WriterByte.backslash: short = WriterByte.backslash
        case 0x0A: short = UInt8(ascii: "n")
        case 0x0D: short = UInt8(ascii: "r")
        case 0x09: short = UInt8(ascii: "t")
        case 0x08: short = UInt8(ascii: "b")
        case 0x0C: short = UInt8(ascii: "f")
        default:
            // The remaining control characters: \u00XX with lowercase hex, as JSON.stringify writes them.
            let digits: StaticString = "0123456789abcdef"
            bytes.append(contentsOf: [WriterByte.backslash, UInt8(ascii: "u"), WriterByte.zero, WriterByte.zero])
            bytes.append(digits.utf8Start[Int(byte >> 4)])
            bytes.append(digits.utf8Start[Int(byte & 0x0F)])
            return
        }
        bytes.append(WriterByte.backslash)
        bytes.append(short)
    }

    /// Appends an integer in decimal, without making a `String` for it.
    /// - Parameter v: The integer to write.
    public mutating func writeInt(_ v: Int) {
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        // The magnitude as UInt is exact even for Int.min, whose negation does not fit in Int.
        var magnitude = v.magnitude
        let start = bytes.count
        repeat {
            bytes.append(WriterByte.zero + UInt8(truncatingIfNeeded: magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        // Digits come out least significant first.
        bytes[start...].reverse()
    }

    /// Appends `true` or `false`.
    /// - Parameter v: The boolean to write.
    public mutating func writeBool(_ v: Bool) {
        writeRaw(v ? "true" : "false")
    }

    /// Appends `null`.
    public mutating func writeNull() {
        writeRaw("null")
    }

    /// Appends a number's exact text.
    /// - Parameter n: The number to write.
    public mutating func writeNumber(_ n: JSONNumber) {
        var text = n.text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends a whole value, objects with their members in order (duplicates included).
    ///
    /// Recursive: values from ``JSONReader`` are depth-limited, and hand-built values are shallow.
    /// - Parameter v: The value to write.
    public mutating func writeValue(_ v: JSONValue) {
        switch v {
        case .null:
            writeNull()
        case .bool(let value):
            writeBool(value)
        case .number(let number):
            writeNumber(number)
        case .string(let string):
            writeString(string)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                writeValue(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                writeValue(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }
}

// In a namespace so their short names cannot clash elsewhere in the module.
private enum WriterByte {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let zero = UInt8(ascii: "0")
}

extension JSONValue {
    /// The value as compact JSON text in UTF-8.
    public var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        writer.writeValue(self)
        return writer.bytes
    }

    /// The value as compact JSON text.
    public var jsonString: String {
        String(decoding: jsonBytes, as: UTF8.self)
    }
}
