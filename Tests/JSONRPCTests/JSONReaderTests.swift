import Testing

@testable import JSONRPC

/// Parses the UTF-8 of `text`.
private func parse(_ text: String, maxDepth: Int = JSONReader.defaultMaxDepth) throws(JSONParseError) -> JSONValue {
    try JSONReader.parse(Array(text.utf8), maxDepth: maxDepth)
}

/// `depth` nested empty arrays: `[[[...]]]`.
private func nestedArrays(_ depth: Int) -> [UInt8] {
    [UInt8](repeating: UInt8(ascii: "["), count: depth) + [UInt8](repeating: UInt8(ascii: "]"), count: depth)
}

@Suite("JSONReader")
struct JSONReaderTests {
    @Test(
        "reads every kind of value",
        arguments: [
            ("null", JSONValue.null),
            ("true", true),
            ("false", false),
            ("0", 0),
            ("-12", -12),
            (#""""#, ""),
            (#""abc""#, "abc"),
            ("[]", []),
            ("[1,\"a\",null,[true]]", [1, "a", nil, [true]]),
            ("{}", [:]),
            (#"{"a":{"b":[]},"c":false}"#, ["a": ["b": []], "c": false]),
        ] as [(String, JSONValue)]
    )
    func readsValues(text: String, expected: JSONValue) throws {
        #expect(try parse(text) == expected)
    }

    @Test(
        "allows the four whitespace characters around and between tokens",
        arguments: [" \t\n\r[ 1 , { \"a\" : 2 } ]\r\n\t ", "\n[1,{\"a\":2}]\n", "[1\n,\n{\"a\"\t:\r2}]"]
    )
    func allowsWhitespace(text: String) throws {
        #expect(try parse(text) == [1, ["a": 2]])
    }

    @Test(
        "rejects what RFC 8259 does not allow",
        arguments: [
            "", " ", "[1,]", "{\"a\":1,}", "[,1]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{1:2}", "{'a':1}", "['a']",
            "[1] // comment", "/* c */ [1]", "01", "-01", "00", "+1", ".5", "1.", "1.e3", "1e", "1e+", "-", "0x10",
            "NaN", "Infinity", "-Infinity", "nul", "True", "[", "]", "{", "[1", "{\"a\":1", "\"abc", "[1]]",
            "[1] [2]", "1 2", "\u{0C}[1]", "[1]\u{0C}", "\u{A0}1", "\u{FEFF}[1]", "\"a\tb\"", "\"a\nb\"", "\"\u{1F}\"",
            "\"\\x41\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"", "\"\\'\"", "\"\\", "[\"a\",\"b\"", "[1,,2]",
        ]
    )
    func rejectsInvalid(text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    @Test("reports the offset of the byte where reading stopped")
    func reportsOffset() {
        let trailingComma = #expect(throws: JSONParseError.self) { try parse("[1,]") }
        #expect(trailingComma?.offset == 3)
        let leadingZero = #expect(throws: JSONParseError.self) { try parse("[01]") }
        #expect(leadingZero?.offset == 2)
        let unterminated = #expect(throws: JSONParseError.self) { try parse("\"abc") }
        #expect(unterminated?.offset == 4)
    }

    @Test(
        "decodes every escape",
        arguments: [
            (#""\"""#, "\""),
            (#""\\""#, "\\"),
            (#""\/""#, "/"),
            (#""\b\f\n\r\t""#, "\u{08}\u{0C}\n\r\t"),
            (#""\u0041\u00e9\u20AC""#, "Aé€"),
            (#""a\u0000b""#, "a\u{0}b"),
            (#""x\ud83d\ude00y""#, "x😀y"),
            (#""\uD834\uDD1E""#, "𝄞"),
            (#""plain é 😀 then \n""#, "plain é 😀 then \n"),
        ]
    )
    func decodesEscapes(text: String, expected: String) throws {
        #expect(try parse(text) == .string(expected))
    }

    @Test("combines an escaped surrogate pair into one scalar")
    func combinesSurrogatePair() throws {
        let value = try parse(#""\ud83d\ude00""#)
        #expect(value == "😀")
        #expect(value.stringValue?.unicodeScalars.map(\.value) == [0x1F600])
    }

    // A lone surrogate has no Unicode scalar value, so no Swift String can hold it: the reader rejects it
    // instead of replacing it with U+FFFD and silently changing the text.
    @Test(
        "rejects an escaped lone or unpaired surrogate",
        arguments: [
            #""\uD800""#, #""\uDC00""#, #""\uD800x""#, #""\uD800\n""#, #""\uD800\u0041""#, #""\uD800\uD800""#,
            #""\uDE00\uD83D""#, #"{"\uDFAA":0}"#, #""\uD83D"#,
        ]
    )
    func rejectsLoneSurrogates(text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    @Test(
        "rejects invalid UTF-8 inside strings",
        arguments: [
            [0xFF], [0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xE0, 0x9F, 0xBF],
            [0xF0, 0x80, 0x80, 0xAF], [0xF0, 0x8F, 0xBF, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98],
            [0xC3, 0x41], [0xE9], [0xFC, 0x80, 0x80, 0x80, 0x80, 0xAF],
        ] as [[UInt8]]
    )
    func rejectsInvalidUTF8(body: [UInt8]) {
        let document = [UInt8(ascii: "\"")] + body + [UInt8(ascii: "\"")]
        #expect(throws: JSONParseError.self) { try JSONReader.parse(document) }
        // The same bytes after an escape take the slower decoding path, which must check them too.
        let escaped = Array(#""\n"#.utf8) + body + [UInt8(ascii: "\"")]
        #expect(throws: JSONParseError.self) { try JSONReader.parse(escaped) }
    }

    @Test(
        "rejects non-ASCII bytes outside strings",
        arguments: [[0xC3, 0xA9], [0xEF, 0xBB, 0xBF, 0x31]] as [[UInt8]]
    )
    func rejectsNonASCIIOutsideStrings(bytes: [UInt8]) {
        #expect(throws: JSONParseError.self) { try JSONReader.parse(bytes) }
    }

    @Test(
        "accepts well-formed UTF-8 up to U+10FFFF",
        arguments: [
            ([0xC2, 0x80], "\u{80}"), ([0xDF, 0xBF], "\u{7FF}"), ([0xE0, 0xA0, 0x80], "\u{800}"),
            ([0xED, 0x9F, 0xBF], "\u{D7FF}"), ([0xEE, 0x80, 0x80], "\u{E000}"), ([0xEF, 0xBF, 0xBF], "\u{FFFF}"),
            ([0xF0, 0x90, 0x80, 0x80], "\u{10000}"), ([0xF4, 0x8F, 0xBF, 0xBF], "\u{10FFFF}"),
        ] as [([UInt8], String)]
    )
    func acceptsUTF8(body: [UInt8], expected: String) throws {
        let document = [UInt8(ascii: "\"")] + body + [UInt8(ascii: "\"")]
        #expect(try JSONReader.parse(document) == .string(expected))
    }

    @Test(
        "accepts nesting of exactly maxDepth and rejects one more",
        arguments: [1, 2, 10, JSONReader.defaultMaxDepth]
    )
    func depthLimit(maxDepth: Int) throws {
        _ = try JSONReader.parse(nestedArrays(maxDepth), maxDepth: maxDepth)
        let error = #expect(throws: JSONParseError.self) {
            try JSONReader.parse(nestedArrays(maxDepth + 1), maxDepth: maxDepth)
        }
        #expect(error?.reason.contains("depth") == true)
        #expect(error?.offset == maxDepth)
    }

    @Test("counts objects and arrays together toward the depth limit")
    func depthCountsObjects() throws {
        _ = try parse(#"{"a":[{"b":[]}]}"#, maxDepth: 4)
        #expect(throws: JSONParseError.self) { try parse(#"{"a":[{"b":[[]]}]}"#, maxDepth: 4) }
        // Siblings do not add up: only containers open at the same time count.
        _ = try parse("[[],[],{},[[]]]", maxDepth: 3)
    }

    @Test("accepts scalars at top level with a depth limit of zero")
    func zeroDepth() throws {
        #expect(try parse("7", maxDepth: 0) == 7)
        #expect(throws: JSONParseError.self) { try parse("[]", maxDepth: 0) }
    }

    @Test("rejects 100,000 nested openings without overflowing the stack")
    func deepNesting() {
        let arrays = #expect(throws: JSONParseError.self) { try JSONReader.parse(nestedArrays(100_000)) }
        #expect(arrays?.reason.contains("depth") == true)
        let objects = Array(String(repeating: #"{"a":"#, count: 100_000).utf8)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(objects) }
        // With no limit to speak of, the openings alone must not overflow: the reader itself does not recurse.
        // (Closing them too would build a 100,000-deep value, which is what the limit exists to prevent.)
        let openings = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(openings, maxDepth: .max) }
    }

    @Test(
        "keeps a number's exact source text",
        arguments: ["0", "-0", "1.50", "1e2", "1E+2", "-1.0e-05", "0.000", "12345678901234567890123456789", "1e400"]
    )
    func keepsNumberText(text: String) throws {
        #expect(try parse(text) == .number(JSONNumber(text: text)))
        #expect(try parse("[\(text)]").jsonString == "[\(text)]")
    }

    @Test(
        "gives intValue only for exact integers that fit",
        arguments: [
            ("5", 5), ("-5", -5), ("0", 0), ("-0", 0), ("5.0", nil), ("1e2", nil), ("1E2", nil), ("0.5", nil),
            ("9223372036854775807", Int.max), ("-9223372036854775808", Int.min), ("9223372036854775808", nil),
            ("-9223372036854775809", nil), ("123456789012345678901", nil),
        ] as [(String, Int?)]
    )
    func intValue(text: String, expected: Int?) throws {
        let number = try #require(try parse(text).numberValue)
        #expect(number.intValue == expected)
    }

    @Test("gives doubleValue for finite numbers only")
    func doubleValue() {
        #expect(JSONNumber(text: "1.5").doubleValue == 1.5)
        #expect(JSONNumber(text: "-2e3").doubleValue == -2000)
        #expect(JSONNumber(text: "1e400").doubleValue == nil)
    }

    @Test("finds the last of duplicate member names and keeps them all in order")
    func duplicateKeys() throws {
        let object = try #require(try parse(#"{"a":1,"b":2,"a":3}"#).objectValue)
        #expect(object["a"] == 3)
        #expect(object["b"] == 2)
        #expect(object["c"] == nil)
        #expect(object.keys == ["a", "b"])
        #expect(object.members.map(\.key) == ["a", "b", "a"])
    }

    @Test("reads the same from an array, a slice and a raw buffer")
    func inputForms() throws {
        let document = Array(#"xx{"id":1}yy"#.utf8)
        let slice = document[2..<(document.count - 2)]
        let expected: JSONValue = ["id": 1]
        #expect(try JSONReader.parse(slice) == expected)
        #expect(try JSONReader.parse(Array(slice)) == expected)
        let fromRaw = try Array(slice).withUnsafeBytes { raw in try JSONReader.parse(raw) }
        #expect(fromRaw == expected)
        // Offsets count from the start of the slice, not of the array under it.
        let error = #expect(throws: JSONParseError.self) { try JSONReader.parse(document[2..<5]) }
        #expect(error?.offset == 3)
    }

    @Test("reads a typical request")
    func typicalRequest() throws {
        let request = try parse(#"{"jsonrpc":"2.0","id":17,"method":"contacts.get","params":{"username":"ada"}}"#)
        let object = try #require(request.objectValue)
        #expect(object["jsonrpc"]?.stringValue == "2.0")
        #expect(object["id"]?.numberValue?.intValue == 17)
        #expect(object["method"]?.stringValue == "contacts.get")
        #expect(object["params"]?.objectValue?["username"] == "ada")
    }

    @Test("answers the convenience accessors only for the matching kind")
    func accessors() {
        let values: [JSONValue] = [nil, true, 1, "s", [], [:]]
        #expect(values.map(\.isNull) == [true, false, false, false, false, false])
        #expect(values.compactMap(\.boolValue) == [true])
        #expect(values.compactMap(\.numberValue) == [JSONNumber(1)])
        #expect(values.compactMap(\.stringValue) == ["s"])
        #expect(values.compactMap(\.arrayValue) == [[]])
        #expect(values.compactMap(\.objectValue) == [JSONObject()])
    }
}
