import Foundation
import Testing

import TestSupport

/// The shell examples in the docs are run, in order, against a real server, and must print what
/// the docs show. An example is a ```sh block followed directly by a bare ``` block (its output).
@Suite("documentation examples")
struct DocumentationExamplesTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("every shell example prints what the docs show", arguments: ["protocol.md", "README.md", "docs/cli.md"])
    func examplesPrintWhatTheDocsShow(file: String) throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent(file), encoding: .utf8)
        let examples = DocumentationExample.all(in: text)
        #expect(!examples.isEmpty, "\(file) has no examples")
        let outputs = try DocumentationExample.run(examples, binaries: TestServer.binary.deletingLastPathComponent())
        for (example, output) in zip(examples, outputs) {
            #expect(
                DocumentationExample.normalized(output) == DocumentationExample.normalized(example.output),
                "\(file): `\(example.command.prefix(120))` printed:\n\(output)")
        }
    }
}

/// One shell example of a Markdown file and the output the file shows for it.
struct DocumentationExample {
    var command: String
    var output: String

    /// Every ```sh block directly followed (white space aside) by a bare ``` block.
    static func all(in markdown: String) -> [DocumentationExample] {
        var blocks: [(language: Substring, body: Substring, range: Range<String.Index>)] = []
        for match in markdown.matches(of: /```(\w*)\n((?s).*?)```/) {
            blocks.append((match.output.1, match.output.2, match.range))
        }
        var examples: [DocumentationExample] = []
        for (block, next) in zip(blocks, blocks.dropFirst())
        where block.language == "sh" && next.language.isEmpty
            && markdown[block.range.upperBound..<next.range.lowerBound].allSatisfy(\.isWhitespace) {
            examples.append(DocumentationExample(command: String(block.body), output: String(next.body)))
        }
        return examples
    }

    /// Runs the examples in one bash script, in order, against a fresh `contactsd` on a fresh
    /// database; returns what each printed (standard output and error together).
    ///
    /// In the script: `$dir` (a fresh directory), `$SOCK` (the server's socket, also exported as
    /// `CONTACTS_SOCKET`), `$pid` (the server) and a `contacts` function running the built client.
    /// `.build/release/` in an example means the binaries under test.
    static func run(_ examples: [DocumentationExample], binaries: URL) throws -> [String] {
        let dir = try makeTemporaryDirectory(prefix: "docs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bin = binaries.path
        var script = """
            dir=\(dir.path); SOCK=$dir/s.sock; export CONTACTS_SOCKET=$SOCK
            contacts() { \(bin)/contacts "$@"; }
            \(bin)/contactsd --socket "$SOCK" --db "$dir/c.db" 2>"$dir/server.log" & pid=$!
            for i in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done

            """
        for (index, example) in examples.enumerated() {
            let command = example.command.replacingOccurrences(of: ".build/release/", with: bin + "/")
            script += "{\n\(command)\n} > \"$dir/out.\(index)\" 2>&1 < /dev/null\n"
        }
        script += "kill -TERM \"$pid\"; wait \"$pid\"\n"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = DocumentationExamplesTests.repository
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        do {
            try waitUntil("the examples have run", timeout: 120) { !process.isRunning }
        } catch {
            process.terminate()
            throw error
        }
        return examples.indices.map { index in
            (try? String(contentsOf: dir.appendingPathComponent("out.\(index)"), encoding: .utf8)) ?? "(no output file)"
        }
    }

    /// Text with what legitimately differs between runs replaced: timestamps (and those of
    /// default backup names), temporary paths, pids, sizes, durations, decimal numbers, and the
    /// widths of table columns.
    static func normalized(_ text: String) -> String {
        text.replacing(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}Z|[+-]\d{4})/, with: "T")
            .replacing(/\/tmp\/docs-[A-Za-z0-9_]+/, with: "/tmp/docs-X")
            .replacing(/("pid":|pid )\d+/) { $0.output.1 + "N" }
            .replacing(/("(?:db|wal|size)_bytes":|wal |db |\()\d+(?= bytes|[,}\s])/) { $0.output.1 + "N" }
            .replacing(/\d{8}T\d{6}Z/, with: "STAMP")
            .replacing(/duration_us[=":]+\d+/, with: "duration_us=N")
            .replacing(/\d+\.\d+/, with: "F")
            .replacing(/[ \t]+/, with: " ")
    }
}
