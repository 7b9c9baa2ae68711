import Testing

@testable import JSONRPC

/// What `body` writes, as text.
private func written(_ body: (inout JSONWriter) -> Void) -> String {
    var writer = JSONWriter()
    body(&writer)
    return String(decoding: writer.bytes, as: UTF8.self)
}

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test(
        "escapes quotes, backslashes and control characters in strings",
        arguments: [
            ("", #""""#),
            ("plain", #""plain""#),
            ("say \"hi\"", #""say \"hi\"""#),
            ("a\\b", #""a\\b""#),
            ("line\nfeed\r\t", #""line\nfeed\r\t""#),
            ("\u{08}\u{0C}", #""\b\f""#),
            ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
            ("/", #""/""#),
            ("\u{7F}", "\"\u{7F}\""),
            ("é€😀", "\"é€😀\""),
            ("\"\"", #""\"\"""#),
        ]
    )
    func escapesStrings(string: String, expected: String) {
        #expect(written { $0.writeString(string) } == expected)
    }

    @Test("escapes every control character so that none, and no line break, reaches the output")
    func escapesAllControlCharacters() throws {
        let string = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        var writer = JSONWriter()
        writer.writeString(string)
        #expect(!writer.bytes.contains { $0 < 0x20 })
        #expect(try JSONReader.parse(writer.bytes) == .string(string))
    }

    @Test("writes integers in decimal", arguments: [0, 7, -7, 10, -10, 1_234_567_890, Int.max, Int.min, Int.min + 1])
    func writesIntegers(value: Int) {
        #expect(written { $0.writeInt(value) } == String(value))
    }

    @Test("writes literals, raw bytes and number text unchanged")
    func writesScalars() {
        #expect(written { $0.writeBool(true) } == "true")
        #expect(written { $0.writeBool(false) } == "false")
        #expect(written { $0.writeNull() } == "null")
        #expect(written { $0.writeNumber(JSONNumber(text: "1.50")) } == "1.50")
        #expect(written { $0.writeRaw("{\"jsonrpc\":\"2.0\"") } == #"{"jsonrpc":"2.0""#)
        #expect(written { $0.writeRaw("[") } == "[")
        #expect(written { $0.writeRaw(Array("[1]".utf8)) } == "[1]")
    }

    @Test("builds a message from pieces")
    func writesMessage() {
        let text = written { writer in
            writer.writeRaw("{\"jsonrpc\":\"2.0\",\"id\":")
            writer.writeInt(17)
            writer.writeRaw(",\"result\":{\"name\":")
            writer.writeString("Ada \"Countess\" Lovelace")
            writer.writeRaw(",\"active\":")
            writer.writeBool(true)
            writer.writeRaw(",\"note\":")
            writer.writeNull()
            writer.writeRaw("}}")
        }
        #expect(
            text
                == #"{"jsonrpc":"2.0","id":17,"result":{"name":"Ada \"Countess\" Lovelace","active":true,"note":null}}"#
        )
    }

    @Test(
        "writes back what it read, byte for byte, for compact documents",
        arguments: [
            "null", "true", "false", "0", "-0", "1.50", "1E+2", "-1.0e-05", "12345678901234567890123", #""""#,
            #""a\"b\\c\n\u0001é😀""#, "[]", "{}", "[1,[2,[3,[]]],{}]",
            #"{"b":1,"a":[true,false,null],"b":{"c":"d"}}"#,
            #"{"jsonrpc":"2.0","id":17,"method":"contacts.get","params":{"username":"ada"}}"#,
        ]
    )
    func roundTripsDocuments(text: String) throws {
        #expect(try JSONReader.parse(Array(text.utf8)).jsonString == text)
    }

    @Test(
        "writes escapes in their one canonical form and drops whitespace between tokens",
        arguments: [
            (#""\/\u0041\u00e9\ud83d\ude00\u001F""#, "\"/Aé😀\\u001f\""),
            (" [ 1 , { \"a\" : 2 } ] ", #"[1,{"a":2}]"#),
        ]
    )
    func normalizes(text: String, expected: String) throws {
        #expect(try JSONReader.parse(Array(text.utf8)).jsonString == expected)
    }

    @Test(
        "reads back the value it wrote",
        arguments: [
            nil, true, 42, -1, "text with \"quotes\", \\, \n, \u{0}, \u{7F} and 😀", [], [:],
            [1, "two", ["three": [nil]], false],
            ["id": 1, "id": 2, "nested": ["deeper": ["deepest": []]]],
        ] as [JSONValue]
    )
    func roundTripsValues(value: JSONValue) throws {
        #expect(try JSONReader.parse(value.jsonBytes) == value)
    }

    @Test("writes object members in order, duplicates included, on one line")
    func writesObjectsCompactly() {
        var object = JSONObject()
        object.append("z", 1)
        object.append("a", "multi\nline")
        object.append("z", 2)
        let value = JSONValue.object(object)
        #expect(value.jsonString == #"{"z":1,"a":"multi\nline","z":2}"#)
        #expect(!value.jsonBytes.contains(0x0A))
    }
}
