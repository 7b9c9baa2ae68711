import Foundation
import Testing

@testable import JSONRPC

/// The vendored cases of Nicolas Seriot's JSONTestSuite, next to this file (see `JSONTestSuite/README.md`).
private func suiteDirectory() -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("JSONTestSuite/test_parsing")
}

/// The names of the cases starting with `prefix` (`y_`, `n_` or `i_`), sorted.
private func caseNames(_ prefix: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: suiteDirectory().path)) ?? []
    return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
}

/// A case file's bytes, whole: the reader sees the entire document, raw newlines included.
private func contents(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: suiteDirectory().appendingPathComponent(name)))
}

@Suite("JSONTestSuite conformance")
struct JSONTestSuiteTests {
    // Parameterized tests over an empty folder would pass without running anything; this one fails instead.
    @Test("finds the vendored suite next to the tests")
    func suiteIsPresent() {
        #expect(caseNames("y_").count == 95)
        #expect(caseNames("n_").count == 188)
        #expect(caseNames("i_").count == 35)
    }

    @Test("accepts every y_ case and reads back what it writes", arguments: caseNames("y_"))
    func acceptsValid(name: String) throws {
        let value = try JSONReader.parse(try contents(name))
        #expect(try JSONReader.parse(value.jsonBytes) == value)
    }

    @Test("rejects every n_ case", arguments: caseNames("n_"))
    func rejectsInvalid(name: String) throws {
        let bytes = try contents(name)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(bytes) }
    }

    @Test("answers every i_ case without crashing", arguments: caseNames("i_"))
    func answersImplementationDefined(name: String) throws {
        let bytes = try contents(name)
        _ = try? JSONReader.parse(bytes)
    }

    // Five cases hold a raw newline that a line framer would split. The reader gets the whole file, where a
    // newline is just whitespace; so each n_ one must fail for a reason of its own inside the document, not
    // because of the newline, or the test above would pass for the wrong reason.
    @Test(
        "rejects the n_ cases holding a raw newline for their own fault",
        arguments: [
            ("n_array_newlines_unclosed.json", "end of input"),
            ("n_array_unclosed_with_new_lines.json", "end of input"),
            ("n_string_unescaped_newline.json", "control character"),
        ]
    )
    func rejectsNewlineCases(name: String, reason: String) throws {
        let bytes = try contents(name)
        #expect(bytes.contains(0x0A))
        let error = #expect(throws: JSONParseError.self) { try JSONReader.parse(bytes) }
        #expect(error?.reason.contains(reason) == true)
    }

    @Test(
        "accepts the y_ cases holding a raw newline as whitespace",
        arguments: ["y_array_with_1_and_newline.json", "y_object_with_newlines.json"]
    )
    func acceptsNewlineCases(name: String) throws {
        let bytes = try contents(name)
        #expect(bytes.contains(0x0A))
        _ = try JSONReader.parse(bytes)
    }

    // Our answers to the implementation-defined cases, pinned so that a change is a decision, not an accident.
    @Test("keeps huge and tiny numbers as text", arguments: caseNames("i_number_"))
    func keepsHugeNumbers(name: String) throws {
        let value = try JSONReader.parse(try contents(name))
        #expect(value.arrayValue?.first?.numberValue != nil)
    }

    @Test(
        "rejects lone surrogates, invalid UTF-8, other encodings and a byte order mark",
        arguments: caseNames("i_").filter {
            $0.hasPrefix("i_string_") || $0.hasPrefix("i_object_") || $0.contains("BOM")
        }
    )
    func rejectsNonUnicodeText(name: String) throws {
        let bytes = try contents(name)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(bytes) }
    }

    @Test("accepts 500 nested arrays, within the default depth limit")
    func acceptsFiveHundredLevels() throws {
        _ = try JSONReader.parse(try contents("i_structure_500_nested_arrays.json"))
    }
}
