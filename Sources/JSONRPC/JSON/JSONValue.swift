/// A parsed JSON document.
///
/// Values built by ``JSONReader`` are never nested deeper than its `maxDepth`, so the recursive
/// `deinit` the compiler generates for this indirect enum cannot run out of stack.
public enum JSONValue: Sendable, Equatable {
    /// The literal `null`.
    case null
    /// The literal `true` or `false`.
    case bool(Bool)
    /// A number, kept as its exact source text.
    case number(JSONNumber)
    /// A string, with its escapes decoded.
    case string(String)
    /// An array, in source order.
    case array([JSONValue])
    /// An object, its members in source order.
    case object(JSONObject)
}

/// A JSON number kept as its exact source text (so an id echoes back byte for byte).
///
/// Keeping the text rather than a `Double` means `1.50`, `1e2` and `12345678901234567890` are written
/// back exactly as the client sent them; conversions happen only when a caller asks for one.
public struct JSONNumber: Sendable, Equatable, Hashable {
    /// The number's text in JSON number grammar (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    public let text: String

    /// Wraps text that the caller guarantees is a valid JSON number; it is not checked.
    /// - Parameter text: A number in JSON grammar, for example `"-12.5e3"`.
    public init(text: String) {
        self.text = text
    }

    /// Makes the number for an integer.
    /// - Parameter value: The integer to write in decimal.
    public init(_ value: Int) {
        self.text = String(value)
    }

    /// The number as an `Int`, only when its text is an exact integer that fits.
    ///
    /// `"5"` gives 5 and `"-0"` gives 0, but `"5.0"` and `"1e2"` give `nil` even though their values are
    /// whole: a JSON-RPC id or a page size written that way is not what the client meant as an integer.
    /// Values outside `Int`'s range give `nil`.
    public var intValue: Int? {
        var text = text
        return text.withUTF8 { utf8 -> Int? in
            var index = 0
            let negative = utf8.first == UInt8(ascii: "-")
            if negative { index = 1 }
            guard index < utf8.count else { return nil }
            // Accumulate as a negative number so that Int.min, whose magnitude has no positive Int, fits.
            var result = 0
            while index < utf8.count {
                let digit = Int(utf8[index]) &- 0x30
                guard digit >= 0 && digit <= 9 else { return nil }
                let (shifted, overflow1) = result.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = shifted.subtractingReportingOverflow(digit)
                guard !overflow1 && !overflow2 else { return nil }
                result = next
                index += 1
            }
            if negative { return result }
            let (positive, overflow) = (0).subtractingReportingOverflow(result)
            return overflow ? nil : positive
        }
    }

    /// The number as the nearest `Double`, or `nil` when it is too large to be finite (such as `1e400`).
    public var doubleValue: Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }
}

/// A JSON object; members keep source order. Duplicate names: the last one wins on lookup.
///
/// RFC 8259 leaves duplicate names to the implementation; last-wins matches what most parsers do, and
/// keeping every member means a document can still be written back as it came in.
/// Equality compares members in order, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are different values.
public struct JSONObject: Sendable, Equatable {
    /// One `"name": value` pair of an object.
    public struct Member: Sendable, Equatable {
        /// The member's name.
        public var key: String
        /// The member's value.
        public var value: JSONValue

        /// Makes a member.
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// All members in source order, duplicates included.
    public var members: [Member]

    /// Makes an object from members, kept in the given order.
    /// - Parameter members: The members, duplicates allowed.
    public init(_ members: [Member] = []) {
        self.members = members
    }

    /// The value of the last member named `key`, or `nil` when there is none.
    ///
    /// A linear scan from the end: request objects have a handful of members, where this beats hashing.
    public subscript(key: String) -> JSONValue? {
        var index = members.endIndex
        while index > members.startIndex {
            index -= 1
            if members[index].key == key { return members[index].value }
        }
        return nil
    }

    /// The member names without duplicates, in the order each first appears.
    public var keys: [String] {
        var seen = Set<String>()
        var result: [String] = []
        result.reserveCapacity(members.count)
        for member in members where seen.insert(member.key).inserted {
            result.append(member.key)
        }
        return result
    }

    /// Adds a member at the end; an existing member with the same name is kept but no longer found by lookup.
    /// - Parameters:
    ///   - key: The member's name.
    ///   - value: The member's value.
    public mutating func append(_ key: String, _ value: JSONValue) {
        members.append(Member(key: key, value: value))
    }
}

extension JSONValue {
    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The object, when this is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The boolean, when this is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number, when this is a number.
    public var numberValue: JSONNumber? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// Makes a string value from a literal.
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    /// Makes a number value from an integer literal.
    public init(integerLiteral value: Int) {
        self = .number(JSONNumber(value))
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// Makes `true` or `false` from a literal.
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension JSONValue: ExpressibleByArrayLiteral {
    /// Makes an array value from a literal.
    public init(arrayLiteral elements: JSONValue...) {
        self = .array(elements)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Makes an object from a literal, keeping the members in the order written (duplicates too).
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { JSONObject.Member(key: $0.0, value: $0.1) }))
    }
}

extension JSONValue: ExpressibleByNilLiteral {
    /// Makes `null` from `nil`.
    public init(nilLiteral: ()) {
        self = .null
    }
}
