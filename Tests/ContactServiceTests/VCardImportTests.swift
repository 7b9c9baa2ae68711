import Foundation
import JSONRPC
import Testing
import TestSupport

/// `contacts import` and `contacts export` with the real binaries over a real server.
@Suite("vCard import and export, end to end")
struct VCardImportTests {
    /// Cards as an iPhone (3.0) and an old Android phone (2.1, quoted-printable Latin-1) write them.
    static let phoneExport = """
        BEGIN:VCARD\r
        VERSION:3.0\r
        PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r
        N:Lovelace;Ada;Augusta;Lady;\r
        FN:Lady Ada Lovelace\r
        NICKNAME:ada\r
        ORG:Analytical Engines\\, Ltd.;\r
        item1.EMAIL;type=INTERNET;type=pref:ada@example.com\r
        EMAIL;TYPE=INTERNET,WORK:ada@engines\r
        TEL;type=CELL;type=VOICE;type=pref:+44 20 7946 0000\r
        NOTE:First programmer\\; wrote notes on the engine\\, in 1843. A long note that is folded o\r
         ver two lines.\r
        UID:3F2504E0-4F89-11D3-9A0C-0305E82C3301\r
        END:VCARD\r
        BEGIN:VCARD\r
        VERSION:2.1\r
        N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Garc=EDa;Jos=E9;;;\r
        FN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Jos=E9 Garc=EDa\r
        TEL;CELL;PREF:+34 600 000 000\r
        EMAIL;INTERNET:jose.garcia@example.es\r
        END:VCARD\r

        """

    private func file(_ directory: URL, _ name: String, _ bytes: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    private func cli(_ server: TestServer, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try runCLI(arguments + ["--socket", server.socketPath])
    }

    @Test("imports 3.0 and 2.1 cards, and a second import of the same file changes nothing")
    func importsPhoneExportsOnce() throws {
        try withRunningServer { server in
            let directory = try TestServer.makeTemporaryDirectory()
            let path = try file(directory, "phone.vcf", Array(Self.phoneExport.utf8))
            let first = try cli(server, ["import", path])
            #expect(first.status == 0, "\(first.err)")
            #expect(first.out == "created 2, updated 0, unchanged 0, skipped 0, failed 0\n")
            #expect(first.err.contains("phone.vcf:1: warning: ada@engines must have a dotted domain"))
            let ada = try cli(server, ["get", "ada", "--json"])
            #expect(ada.out.contains(#""first_name":"Ada","last_name":"Lovelace","emails":["ada@example.com"]"#))
            let jose = try cli(server, ["get", "jose.garcia", "--json"])
            #expect(jose.out.contains(#""first_name":"José","last_name":"García""#), "\(jose)")
            let again = try cli(server, ["import", path])
            #expect(again.out == "created 0, updated 0, unchanged 0, skipped 2, failed 0\n")
            let update = try cli(server, ["import", path, "--on-conflict", "update"])
            #expect(update.out == "created 0, updated 0, unchanged 2, skipped 0, failed 0\n")
            let changes = try cli(server, ["changes", "--since", "0", "--json"])
            #expect(changes.out.split(separator: "\n").count == 2)
        }
    }

    @Test("export writes back every property an import kept, with stable UIDs, and re-importing it changes nothing")
    func exportRoundTripsLosingNothing() throws {
        try withRunningServer { server in
            let directory = try TestServer.makeTemporaryDirectory()
            let path = try file(directory, "phone.vcf", Array(Self.phoneExport.utf8))
            _ = try cli(server, ["import", path])
            _ = try cli(server, ["create", "grace", "--first", "Grace", "--last", "Hopper", "--email", "grace@navy.example"])
            let exported = directory.appendingPathComponent("out.vcf").path
            let export = try cli(server, ["export", exported])
            #expect(export.status == 0, "\(export.err)")
            let text = try String(contentsOfFile: exported, encoding: .utf8)
            #expect(text.contains("UID:3F2504E0-4F89-11D3-9A0C-0305E82C3301\r\n"))
            #expect(text.contains("FN:Lady Ada Lovelace\r\nN:Lovelace;Ada;Augusta;Lady;\r\nNICKNAME:ada\r\n"))
            #expect(text.contains("item1.EMAIL;TYPE=INTERNET;TYPE=pref:ada@example.com\r\n"))
            #expect(text.contains("EMAIL;TYPE=INTERNET,WORK:ada@engines\r\n"))
            #expect(text.contains("TEL;TYPE=CELL;TYPE=VOICE;TYPE=pref:+44 20 7946 0000\r\n"))
            #expect(text.contains("ORG:Analytical Engines\\, Ltd.;\r\n"))
            #expect(text.contains("NOTE:First programmer\\; wrote notes on the engine\\, in 1843. A long note th\r\n at is folded over two lines.\r\n"))
            #expect(text.contains("FN:Grace Hopper\r\nN:Hopper;Grace;;;\r\nNICKNAME:grace\r\nEMAIL:grace@navy.example\r\n"))
            #expect(text.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 75 })
            let graceUID = try #require(text.firstMatch(of: /UID:(urn:uuid:[0-9a-f-]{36})\r\nFN:Grace/)?.output.1)
            let second = try cli(server, ["export"])
            #expect(second.out.contains("UID:\(graceUID)\r\n"))
            let again = try cli(server, ["import", exported])
            #expect(again.out == "created 0, updated 0, unchanged 0, skipped 3, failed 0\n", "\(again.err)")
            let update = try cli(server, ["import", exported, "--on-conflict", "update"])
            #expect(update.out == "created 0, updated 0, unchanged 3, skipped 0, failed 0\n", "\(update.err)")
            let jsonl = try cli(server, ["export", "--format", "jsonl"])
            #expect(jsonl.out.split(separator: "\n").count == 3)
        }
    }

    @Test("a card that cannot be imported is reported with its line and reason, and the others go in")
    func reportsBadCardsWithTheirLines() throws {
        try withRunningServer { server in
            let directory = try TestServer.makeTemporaryDirectory()
            let photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + String(repeating: "QUJD", count: 1_000_000)
            let text = """
                BEGIN:VCARD
                VERSION:4.0
                FN:Prince
                END:VCARD
                BEGIN:VCARD
                VERSION:3.0
                FN:Big Photo
                \(photo)
                END:VCARD
                BEGIN:VCARD
                VERSION:4.0
                FN:Ada Lovelace
                EMAIL:ada@example.com
                END:VCARD

                """
            let path = try file(directory, "mixed.vcf", Array(text.utf8))
            let result = try cli(server, ["import", path])
            #expect(result.status == 1)
            #expect(result.out == "created 1, updated 0, unchanged 0, skipped 0, failed 2\n")
            #expect(result.err.contains("mixed.vcf:1: not imported: N: the card has no last name"))
            #expect(result.err.contains("mixed.vcf:8: not imported: PHOTO is larger than 262144 bytes"))
            #expect(try cli(server, ["get", "ada"]).status == 0)
        }
    }

    @Test("--atomic imports nothing when any card would fail")
    func atomicImportsNothingOnFailure() throws {
        try withRunningServer { server in
            let directory = try TestServer.makeTemporaryDirectory()
            let text = "BEGIN:VCARD\nFN:Ada Lovelace\nEND:VCARD\nBEGIN:VCARD\nFN:Prince\nEND:VCARD\n"
            let path = try file(directory, "a.vcf", Array(text.utf8))
            let result = try cli(server, ["import", path, "--atomic"])
            #expect(result.status == 1)
            #expect(result.out.contains("--atomic: nothing was imported"))
            #expect(try cli(server, ["list", "--json"]).out.contains(#""contacts":[]"#))
            let dry = try cli(server, ["import", path, "--dry-run"])
            #expect(dry.out.contains("created 1") && dry.out.contains("dry run"))
            #expect(try cli(server, ["list", "--json"]).out.contains(#""contacts":[]"#))
        }
    }

    @Test("an empty file, a file that is not vCard and binary garbage get a clear error and change nothing")
    func refusesFilesWithoutCards() throws {
        try withRunningServer { server in
            let directory = try TestServer.makeTemporaryDirectory()
            var generator = SystemRandomNumberGenerator()
            let inputs: [(String, [UInt8])] = [
                ("empty.vcf", []), ("notes.txt", Array("just some notes\nnothing else\n".utf8)),
                ("garbage.bin", (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }),
            ]
            for (name, bytes) in inputs {
                let result = try cli(server, ["import", try file(directory, name, bytes)])
                #expect(result.status == 1, "\(name)")
                #expect(result.err.contains("\(name) holds no vCard"), "\(name): \(result.err)")
            }
            #expect(try cli(server, ["list", "--json"]).out.contains(#""contacts":[]"#))
        }
    }

    @Test("a card with 10,000 emails keeps 20 in the model and the rest as unmodelled EMAILs")
    func keepsAddressesBeyondTwenty() throws {
        try withRunningServer { server in
            let directory = try TestServer.makeTemporaryDirectory()
            let emails = (0..<10_000).map { "EMAIL:user\($0)@example.com" }.joined(separator: "\r\n")
            let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Many Addresses\r\n\(emails)\r\nEND:VCARD\r\n"
            let result = try cli(server, ["import", try file(directory, "many.vcf", Array(text.utf8))])
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out.hasPrefix("created 1,"))
            let contact = try cli(server, ["get", "user0", "--json"])
            #expect(contact.out.components(separatedBy: "@example.com").count - 1 == 20)
            let export = try cli(server, ["export"])
            #expect(export.out.components(separatedBy: "EMAIL:user").count - 1 == 10_000)
        }
    }

    @Test("a file is split into calls within the server's --max-batch and --max-request-bytes")
    func splitsFilesToFitTheServersLimits() throws {
        try withRunningServer(arguments: ["--max-batch", "7", "--max-request-bytes", "4096"]) { server in
            let directory = try TestServer.makeTemporaryDirectory()
            let text = (0..<50).map {
                "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Person Number\($0)\r\nNOTE:\(String(repeating: "x", count: 200))\r\nEND:VCARD\r\n"
            }.joined()
            let result = try cli(server, ["import", try file(directory, "fifty.vcf", Array(text.utf8))])
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out == "created 50, updated 0, unchanged 0, skipped 0, failed 0\n")
        }
    }

    @Test("a 100 MB file is read as a stream, in bounded memory")
    func readsAHundredMegabytesInBoundedMemory() throws {
        try withRunningServer { server in
            let directory = try TestServer.makeTemporaryDirectory()
            let path = directory.appendingPathComponent("big.vcf").path
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            let handle = try #require(FileHandle(forWritingAtPath: path))
            handle.write(Data("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Huge Photo\r\nPHOTO;ENCODING=b;TYPE=JPEG:\r\n".utf8))
            let folded = Data(String(repeating: " " + String(repeating: "A", count: 74) + "\r\n", count: 13_800).utf8)
            for _ in 0..<100 { handle.write(folded) }  // ~106 MB
            handle.write(Data("END:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n".utf8))
            try handle.close()
            let result = try runProgram(
                URL(fileURLWithPath: "/usr/bin/time"),
                ["-f", "maxrss_kb=%M", contactsBinary.path, "import", path, "--socket", server.socketPath])
            #expect(result.status == 1)
            #expect(result.out == "created 1, updated 0, unchanged 0, skipped 0, failed 1\n")
            #expect(result.err.contains("big.vcf:4: not imported: PHOTO is larger than 262144 bytes"))
            let rss = try #require(result.err.firstMatch(of: /maxrss_kb=(\d+)/).flatMap { Int($0.output.1) })
            // AddressSanitizer keeps freed memory in a quarantine (256 MB by default), so in that
            // build the peak says nothing of the reader's own bound.
            if testSanitizer != "address" { #expect(rss < 64 * 1024, "the CLI reached \(rss) KiB") }
        }
    }
}
