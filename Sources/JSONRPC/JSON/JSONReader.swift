/// Why a document is not valid JSON, with the byte offset where reading stopped.
public struct JSONParseError: Error, Sendable, Equatable {
    /// The offset, from the start of the document, of the byte that could not be read
    /// (the document's length when it ended too early).
    public var offset: Int
    /// What was wrong, in words for a log or an error message's `data`.
    public var reason: String

    /// Makes an error.
    /// - Parameters:
    ///   - offset: Where reading stopped, in bytes from the start of the document.
    ///   - reason: What was wrong.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
}

/// A strict, non-recursive RFC 8259 reader from UTF-8 bytes to ``JSONValue``.
///
/// What it accepts is exactly RFC 8259: no comments, trailing commas, single quotes, leading zeros,
/// `NaN`/`Infinity`, byte order mark or whitespace other than space, tab, line feed and carriage return.
/// Every string must be valid UTF-8 (no overlong forms, no encoded surrogates, nothing above U+10FFFF).
///
/// Decisions where the RFC leaves a choice:
/// - An escaped lone surrogate (`"\uD800"`, or a low surrogate without a high one before it) is rejected:
///   it has no Unicode scalar value, so it cannot become a Swift `String` without silently changing it.
/// - `\u0000` is accepted and becomes a NUL character in the string.
/// - Duplicate object names are all kept; ``JSONObject`` lookup takes the last one.
/// - Nesting deeper than `maxDepth` arrays and objects is an error, so the reader's memory stays bounded
///   and no value is ever built deep enough for its recursive `deinit` to overflow the stack.
public enum JSONReader {
    /// Nesting limit (arrays+objects) documented in protocol.md.
    public static let defaultMaxDepth = 512

    /// Parses exactly one JSON value (RFC 8259), surrounding whitespace allowed, nothing else after it.
    /// - Parameters:
    ///   - bytes: The document as UTF-8.
    ///   - maxDepth: How many arrays and objects may be open at once; one more is an error.
    /// - Returns: The value the document holds.
    /// - Throws: ``JSONParseError`` when the bytes are not one valid JSON document.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer,
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw JSONParseError(offset: 0, reason: "empty document")
        }
        // Rebinding raw bytes to UInt8 is always valid, and a typed pointer reads without any checks.
        let result = base.withMemoryRebound(to: UInt8.self, capacity: bytes.count) { pointer in
            var parser = JSONReaderState(pointer, count: bytes.count, maxDepth: maxDepth)
            return Result { () throws(JSONParseError) in try parser.parseDocument() }
        }
        return try result.get()
    }

    /// Parses exactly one JSON value from an array of bytes; see ``parse(_:maxDepth:)-(UnsafeRawBufferPointer,_)``.
    /// - Throws: ``JSONParseError`` when the bytes are not one valid JSON document.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) in try parse(raw, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    /// Parses exactly one JSON value from a slice of bytes; offsets in errors count from the slice's start.
    /// - Throws: ``JSONParseError`` when the bytes are not one valid JSON document.
    public static func parse(
        _ bytes: ArraySlice<UInt8>,
        maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) in try parse(raw, maxDepth: maxDepth) }
        }
        return try result.get()
    }
}

// ASCII bytes the grammar cares about, in a namespace so their short names cannot clash elsewhere in the module.
private enum ReaderByte {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let dot = UInt8(ascii: ".")
}

/// One open array or object.
private struct JSONReaderFrame {
    /// Whether this is an object (its entries on the scratch stack alternate name, value).
    var isObject: Bool
    /// Where this container's entries start on the scratch stack.
    var start: Int
}

/// The reading state over one document: a cursor, the open containers, and the values read so far.
private struct JSONReaderState {
    let bytes: UnsafePointer<UInt8>
    let end: Int
    let maxDepth: Int
    var index = 0
    /// Open containers, innermost last. This explicit stack replaces recursion, so depth costs heap, not stack.
    var frames: [JSONReaderFrame] = []
    /// Finished values (and object member names, as `.string`) of every open container, in order; a container
    /// takes its own entries off the top when it closes. One shared stack avoids an array per open level.
    var scratch: [JSONValue] = []

    init(_ bytes: UnsafePointer<UInt8>, count: Int, maxDepth: Int) {
        self.bytes = bytes
        self.end = count
        self.maxDepth = maxDepth
    }

    func error(_ reason: String, at offset: Int) -> JSONParseError {
        JSONParseError(offset: offset, reason: reason)
    }

    /// An error for the byte at `index`, or for the end of input when there is none.
    func unexpected(_ expected: String) -> JSONParseError {
        if index >= end {
            return error("unexpected end of input, expected \(expected)", at: index)
        }
        return error("unexpected byte 0x\(hexByte(bytes[index])), expected \(expected)", at: index)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < end {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Reads the whole document: the state machine alternates between "a value starts here" (the outer loop)
    /// and "a value just ended" (the inner loop), with containers pushed and popped on `frames`.
    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        var value: JSONValue
        readValues: while true {
            skipWhitespace()
            guard index < end else { throw unexpected("a value") }
            switch bytes[index] {
            case ReaderByte.quote:
                value = .string(try readString())
            case ReaderByte.openBracket:
                try open(isObject: false)
                skipWhitespace()
                if index < end && bytes[index] == ReaderByte.closeBracket {
                    index += 1
                    frames.removeLast()
                    value = .array([])
                } else {
                    continue readValues
                }
            case ReaderByte.openBrace:
                try open(isObject: true)
                skipWhitespace()
                if index < end && bytes[index] == ReaderByte.closeBrace {
                    index += 1
                    frames.removeLast()
                    value = .object(JSONObject())
                } else {
                    try readMemberName()
                    continue readValues
                }
            case ReaderByte.minus, ReaderByte.zero...ReaderByte.nine:
                value = .number(try readNumber())
            case UInt8(ascii: "t"):
                try readLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try readLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try readLiteral("null")
                value = .null
            default:
                throw unexpected("a value")
            }

            // A value is complete: hand it to the innermost container, then see what follows it. Closing a
            // container completes another value, hence the loop.
            while let frame = frames.last {
                scratch.append(value)
                skipWhitespace()
                guard index < end else {
                    throw unexpected(frame.isObject ? "',' or '}'" : "',' or ']'")
                }
                let byte = bytes[index]
                if byte == ReaderByte.comma {
                    index += 1
                    if frame.isObject {
                        skipWhitespace()
                        try readMemberName()
                    }
                    continue readValues
                } else if byte == ReaderByte.closeBracket && !frame.isObject {
                    index += 1
                    value = .array(Array(scratch[frame.start...]))
                } else if byte == ReaderByte.closeBrace && frame.isObject {
                    index += 1
                    value = .object(JSONObject(members(from: frame.start)))
                } else {
                    throw unexpected(frame.isObject ? "',' or '}'" : "',' or ']'")
                }
                scratch.removeSubrange(frame.start...)
                frames.removeLast()
            }
            break readValues
        }

        skipWhitespace()
        guard index == end else { throw unexpected("end of input after the value") }
        return value
    }

    /// Pushes a container whose opening byte is at `index`, enforcing the depth limit.
    @inline(__always)
    mutating func open(isObject: Bool) throws(JSONParseError) {
        guard frames.count < maxDepth else {
            throw error("nesting depth exceeds the limit of \(maxDepth)", at: index)
        }
        if frames.capacity == 0 {
            // Enough for a typical request without regrowing.
            frames.reserveCapacity(8)
            scratch.reserveCapacity(16)
        }
        frames.append(JSONReaderFrame(isObject: isObject, start: scratch.count))
        index += 1
    }

    /// Reads `"name"` and `:` (with whitespace around the colon), pushing the name on the scratch stack.
    mutating func readMemberName() throws(JSONParseError) {
        guard index < end && bytes[index] == ReaderByte.quote else { throw unexpected("a member name string") }
        scratch.append(.string(try readString()))
        skipWhitespace()
        guard index < end && bytes[index] == ReaderByte.colon else { throw unexpected("':'") }
        index += 1
    }

    /// Takes the alternating names and values above `start` as object members.
    func members(from start: Int) -> [JSONObject.Member] {
        var members: [JSONObject.Member] = []
        members.reserveCapacity((scratch.count - start) / 2)
        var position = start
        while position < scratch.count {
            guard case .string(let key) = scratch[position] else { preconditionFailure("member name expected") }
            members.append(JSONObject.Member(key: key, value: scratch[position + 1]))
            position += 2
        }
        return members
    }

    mutating func readLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let expected = literal.utf8Start
        for offset in 0..<count {
            guard index < end && bytes[index] == expected[offset] else { throw unexpected("'\(literal)'") }
            index += 1
        }
    }

    /// Reads a number at `index`, checking its grammar and keeping its text.
    mutating func readNumber() throws(JSONParseError) -> JSONNumber {
        let start = index
        if bytes[index] == ReaderByte.minus { index += 1 }
        guard index < end else { throw unexpected("a digit") }
        switch bytes[index] {
        case ReaderByte.zero:
            // A leading zero stands alone: "01" is invalid, and the '1' fails wherever the number is used.
            index += 1
        case ReaderByte.zero + 1...ReaderByte.nine:
            index += 1
            skipDigits()
        default:
            throw unexpected("a digit")
        }
        if index < end && bytes[index] == ReaderByte.dot {
            index += 1
            guard index < end && isDigit(bytes[index]) else { throw unexpected("a digit after '.'") }
            skipDigits()
        }
        if index < end && (bytes[index] | 0x20) == UInt8(ascii: "e") {
            index += 1
            if index < end && (bytes[index] == ReaderByte.plus || bytes[index] == ReaderByte.minus) { index += 1 }
            guard index < end && isDigit(bytes[index]) else { throw unexpected("a digit in the exponent") }
            skipDigits()
        }
        return JSONNumber(text: makeString(from: start, to: index))
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool {
        byte &- ReaderByte.zero < 10
    }

    @inline(__always)
    mutating func skipDigits() {
        while index < end && isDigit(bytes[index]) { index += 1 }
    }

    /// A string from bytes already known to be valid UTF-8.
    @inline(__always)
    func makeString(from start: Int, to stop: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: bytes + start, count: stop - start), as: UTF8.self)
    }

    /// Reads a string whose opening quote is at `index`.
    ///
    /// The fast path covers strings without escapes: one pass finds the closing quote and checks UTF-8,
    /// then the `String` is made straight from the input bytes.
    mutating func readString() throws(JSONParseError) -> String {
        let start = index + 1
        index = start
        while index < end {
            let byte = bytes[index]
            if byte == ReaderByte.quote {
                let string = makeString(from: start, to: index)
                index += 1
                return string
            } else if byte == ReaderByte.backslash {
                return try readEscapedString(start: start)
            } else if byte < 0x20 {
                throw error("unescaped control character 0x\(hexByte(byte)) in string", at: index)
            } else if byte < 0x80 {
                index += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        throw error("unterminated string", at: end)
    }

    /// Continues a string at its first backslash (at `index`), decoding into a buffer.
    mutating func readEscapedString(start: Int) throws(JSONParseError) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(index - start + 16)
        // Bytes from `runStart` to `index` are plain and already checked; they are copied in one go.
        var runStart = start
        while index < end {
            let byte = bytes[index]
            if byte == ReaderByte.quote {
                buffer.append(contentsOf: UnsafeBufferPointer(start: bytes + runStart, count: index - runStart))
                index += 1
                return String(decoding: buffer, as: UTF8.self)
            } else if byte == ReaderByte.backslash {
                buffer.append(contentsOf: UnsafeBufferPointer(start: bytes + runStart, count: index - runStart))
                try readEscape(into: &buffer)
                runStart = index
            } else if byte < 0x20 {
                throw error("unescaped control character 0x\(hexByte(byte)) in string", at: index)
            } else if byte < 0x80 {
                index += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        throw error("unterminated string", at: end)
    }

    /// Decodes the escape whose backslash is at `index` and appends its UTF-8.
    mutating func readEscape(into buffer: inout [UInt8]) throws(JSONParseError) {
        index += 1
        guard index < end else { throw error("unterminated string", at: end) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case ReaderByte.quote, ReaderByte.backslash, UInt8(ascii: "/"): buffer.append(byte)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            let escapeStart = index - 2
            var scalar = UInt32(try readHex4())
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                // A high surrogate must be followed at once by an escaped low surrogate; together they make
                // one scalar. Anything else is a lone surrogate, which no String can hold, so it is an error.
                let lowFollows =
                    index + 1 < end && bytes[index] == ReaderByte.backslash && bytes[index + 1] == UInt8(ascii: "u")
                guard lowFollows else { throw error("unpaired high surrogate escape", at: escapeStart) }
                index += 2
                let low = UInt32(try readHex4())
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw error("high surrogate escape not followed by a low surrogate", at: index - 6)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw error("unpaired low surrogate escape", at: escapeStart)
            }
            appendUTF8(scalar, to: &buffer)
        default:
            throw error("invalid escape '\\\(Character(Unicode.Scalar(byte)))'", at: index - 2)
        }
    }

    /// Reads four hex digits at `index` as a UTF-16 code unit.
    mutating func readHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard index < end else { throw error("unterminated string", at: end) }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case ReaderByte.zero...ReaderByte.nine: digit = byte - ReaderByte.zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("expected 4 hex digits after '\\u'", at: index)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    func appendUTF8(_ scalar: UInt32, to buffer: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            buffer.append(UInt8(scalar))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | scalar >> 6))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | scalar >> 12))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        default:
            buffer.append(UInt8(0xF0 | scalar >> 18))
            buffer.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Checks the multi-byte UTF-8 sequence whose lead byte is at `index` and steps over it.
    ///
    /// Follows the well-formed byte sequences of the Unicode Standard, table 3-7: that rules out overlong
    /// forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates (ED A0..BF) and anything above U+10FFFF
    /// (F4 90.., F5..FF), as well as stray continuation bytes and truncated sequences.
    @inline(__always)
    mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw error("invalid UTF-8 byte 0x\(hexByte(lead))", at: index)
        }
        // Only the first continuation byte has a narrowed range; the rest are 80..BF.
        for offset in 1..<length {
            let position = index + offset
            guard position < end else { throw error("truncated UTF-8 sequence", at: position) }
            let byte = bytes[position]
            guard byte >= low && byte <= high else {
                throw error("invalid UTF-8 continuation byte 0x\(hexByte(byte))", at: position)
            }
            low = 0x80
            high = 0xBF
        }
        index += length
    }
}

/// Two uppercase hex digits, for error messages.
private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
}
