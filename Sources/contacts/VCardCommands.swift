import ArgumentParser
import ContactClient
import JSONRPC
import VCard

import Glibc

extension ContactsCLI {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import contacts from a vCard file (4.0, 3.0 or 2.1).",
            discussion: """
                Reads FILE as a stream, in bounded memory, and sends its cards to the server \
                (contacts.import) in calls that fit the server's --max-batch and \
                --max-request-bytes. A card that cannot be imported is reported on stderr with \
                its line and why; the others go in (with --atomic, none do: the whole file is \
                checked with a dry run first). Importing the same file twice changes nothing: \
                contacts are matched by UID. Exit 1 when any card was not imported.
                """)
        @Argument(help: "The vCard file.", completion: .file(extensions: ["vcf", "vcard"])) var file: String
        @Flag(help: "Report what would happen; change nothing.") var dryRun = false
        @Option(help: "For a card whose UID a contact already has: skip (leave it), update it, or fail the card.")
        var onConflict: String = "skip"
        @Flag(help: "Import every card or none: a dry run of the whole file first, then each call all or nothing.")
        var atomic = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard ["skip", "update", "fail"].contains(onConflict) else {
                throw ValidationError("--on-conflict must be skip, update or fail")
            }
        }

        func run() throws {
            let failures = try global.withClient { client throws(ClientError) -> Int in
                let limits = ImportLimits.discover(client)
                var importer = CardImporter(
                    client: client, file: file, limits: limits, onConflict: onConflict, json: global.json)
                if atomic {
                    let checked = try importer.run(dryRun: true, atomic: false, quiet: true)
                    if checked.failed > 0 || dryRun {
                        importer.report(checked, dryRun: true, atomicRefused: checked.failed > 0)
                        return checked.failed
                    }
                    importer = CardImporter(
                        client: client, file: file, limits: limits, onConflict: onConflict, json: global.json)
                }
                let totals = try importer.run(dryRun: dryRun, atomic: atomic, quiet: false)
                importer.report(totals, dryRun: dryRun, atomicRefused: false)
                return totals.failed
            }
            if failures > 0 { throw ExitCode(1) }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every contact to FILE (or stdout) as vCard 4.0 or JSON Lines.",
            discussion: """
                vcard: one vCard 4.0 per contact (UID, FN, N, NICKNAME for the username, EMAIL, \
                REV, and every property an import kept), CRLF, folded at 75 octets. A contact \
                never imported gets a urn:uuid UID on its first export, stored, so every export \
                gives the same. jsonl: one contact per line, as contacts.get returns it. FILE is \
                written whole or not at all (a temporary file renamed at the end).
                """)
        @Option(help: "vcard or jsonl.") var format: String = "vcard"
        @Argument(help: "Where to write (default: stdout).", completion: .file()) var file: String?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard ["vcard", "jsonl"].contains(format) else { throw ValidationError("--format must be vcard or jsonl") }
        }

        func run() throws {
            let output = try OutputFile(path: file)
            var count = 0
            do {
                try global.withClient { client throws(ClientError) in
                    var cursor: String?
                    repeat {
                        var params = JSONObject()
                        params.append("limit", 1000)
                        if let cursor { params.append("cursor", .string(cursor)) }
                        let vcard = format == "vcard"
                        let result = try client.call(method: vcard ? "contacts.export" : "contacts.list", params: .object(params))
                        for item in result.objectValue?[vcard ? "cards" : "contacts"]?.arrayValue ?? [] {
                            if vcard { output.write(item.stringValue ?? "") } else { output.write(item.jsonString + "\n") }
                            count += 1
                        }
                        cursor = result.objectValue?["next_cursor"]?.stringValue
                    } while cursor != nil
                }
                try output.commit()
            } catch {
                output.abandon()
                throw error
            }
            if let file { Terminal.error("exported \(count) contact\(count == 1 ? "" : "s") to \(file)") }
        }
    }
}

/// How big one `contacts.import` call may be: from `rpc.discover` (the `cards` param's
/// `maxItems` and `x-max-request-bytes`), else the server's defaults.
struct ImportLimits {
    var maxCards = 1000
    var maxRequestBytes = 1 << 20

    static func discover(_ client: ContactClient) -> ImportLimits {
        var limits = ImportLimits()
        guard let document = try? client.call(method: "rpc.discover"),
            let method = document.objectValue?["methods"]?.arrayValue?.first(where: {
                $0.objectValue?["name"]?.stringValue == "contacts.import"
            }),
            let cards = method.objectValue?["params"]?.arrayValue?.first?.objectValue?["schema"]?.objectValue
        else { return limits }
        if let items = cards["maxItems"]?.numberValue?.intValue { limits.maxCards = max(1, items) }
        if let bytes = cards["x-max-request-bytes"]?.numberValue?.intValue { limits.maxRequestBytes = max(64, bytes) }
        return limits
    }
}

/// What an import did, added up over its calls.
struct ImportTotals {
    var created = 0, updated = 0, unchanged = 0, skipped = 0, failed = 0
}

/// Reads a vCard file as a stream and imports it in calls that fit the server's limits,
/// reporting every card that did not go in with its line.
struct CardImporter {
    let client: ContactClient
    let file: String
    let limits: ImportLimits
    let onConflict: String
    let json: Bool

    /// Room for the request around the cards: `{"jsonrpc":…,"params":{"cards":[…],…}}`.
    private static let envelopeBytes = 256
    /// Warnings printed for one card.
    private static let maxWarningsPerCard = 5

    init(client: ContactClient, file: String, limits: ImportLimits, onConflict: String, json: Bool) {
        self.client = client
        self.file = file
        self.limits = limits
        self.onConflict = onConflict
        self.json = json
    }

    /// Reads the whole file and imports it; `quiet` reports nothing per card (the atomic check).
    mutating func run(dryRun: Bool, atomic: Bool, quiet: Bool) throws(ClientError) -> ImportTotals {
        var totals = ImportTotals()
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .server(RPCError(code: 0, message: "cannot read \(file): \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var reader = VCardReader(maxCardBytes: limits.maxRequestBytes)
        var pending: [(line: Int, json: [UInt8])] = []
        var pendingBytes = 0
        var sawCard = false
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        func send() throws(ClientError) {
            guard !pending.isEmpty else { return }
            try sendCalls(pending, dryRun: dryRun, atomic: atomic, quiet: quiet, totals: &totals)
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        func handle(_ events: [VCardReader.Event]) throws(ClientError) {
            for event in events {
                switch event {
                case .failure(let failure) where failure.cardLine == nil:
                    // Text outside any card: said once per stretch, and not a card that failed.
                    if !quiet { Terminal.error("\(file):\(failure.line): warning: ignored: \(failure.message)") }
                case .failure(let failure):
                    sawCard = true
                    totals.failed += 1
                    if !quiet { reportFailure(line: failure.line, message: failure.message) }
                case .card(let card):
                    sawCard = true
                    var writer = JSONWriter()
                    writer.writeString(String(decoding: VCardWriter.card(card.properties), as: UTF8.self))
                    if writer.bytes.count + Self.envelopeBytes > limits.maxRequestBytes {
                        totals.failed += 1
                        if !quiet {
                            reportFailure(
                                line: card.line,
                                message: "the card is \(writer.bytes.count) bytes as JSON, more than one request to the server may hold (--max-request-bytes \(limits.maxRequestBytes))")
                        }
                        continue
                    }
                    if pending.count == limits.maxCards || pendingBytes + writer.bytes.count + 1 + Self.envelopeBytes > limits.maxRequestBytes {
                        try send()
                    }
                    pending.append((card.line, writer.bytes))
                    pendingBytes += writer.bytes.count + 1
                }
            }
        }
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .server(RPCError(code: 0, message: "cannot read \(file): \(String(cString: strerror(errno)))"))
            }
            if count == 0 { break }
            try handle(buffer.withUnsafeBytes { reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) })
        }
        try handle(reader.finish())
        try send()
        if !sawCard {
            throw .server(RPCError(code: 0, message: "\(file) holds no vCard (no BEGIN:VCARD … END:VCARD)"))
        }
        return totals
    }

    private func sendCalls(
        _ cards: [(line: Int, json: [UInt8])], dryRun: Bool, atomic: Bool, quiet: Bool, totals: inout ImportTotals
    ) throws(ClientError) {
        var params = JSONWriter(capacity: cards.reduce(128) { $0 + $1.json.count + 1 })
        params.writeRaw("{\"cards\":[")
        for (index, card) in cards.enumerated() {
            if index > 0 { params.writeRaw(",") }
            params.writeRaw(card.json)
        }
        params.writeRaw("],\"on_conflict\":")
        params.writeString(onConflict)
        params.writeRaw(dryRun ? ",\"dry_run\":true" : "")
        params.writeRaw(atomic ? ",\"atomic\":true" : "")
        params.writeRaw("}")
        let parsed: JSONValue
        do { parsed = try JSONReader.parse(params.bytes) } catch { throw .invalidResponse("the import request is not JSON") }
        let result = try client.call(method: "contacts.import", params: parsed)
        let results = result.objectValue?["results"]?.arrayValue ?? []
        for (card, entry) in zip(cards, results) {
            let object = entry.objectValue ?? JSONObject()
            switch object["status"]?.stringValue {
            case "created": totals.created += 1
            case "updated": totals.updated += 1
            case "unchanged": totals.unchanged += 1
            case "skipped": totals.skipped += 1
            default: totals.failed += 1
            }
            if quiet { continue }
            if json {
                var line = JSONObject()
                line.append("line", .number(JSONNumber(card.line)))
                for member in object.members { line.append(member.key, member.value) }
                Terminal.output(JSONValue.object(line).jsonString)
                continue
            }
            if let error = object["error"]?.objectValue {
                reportFailure(line: card.line, message: Self.reason(error))
            }
            // A card with thousands of addresses gets a few lines, not thousands.
            let warnings = (object["warnings"]?.arrayValue ?? []).compactMap(\.objectValue)
            for warning in warnings.prefix(Self.maxWarningsPerCard) {
                Terminal.error("\(file):\(card.line): warning: \(warning["message"]?.stringValue ?? "")")
            }
            if warnings.count > Self.maxWarningsPerCard {
                Terminal.error("\(file):\(card.line): warning: and \(warnings.count - Self.maxWarningsPerCard) more like these (--json lists them all)")
            }
        }
    }

    /// The reason of a card's error object: its field problems, else its message.
    private static func reason(_ error: JSONObject) -> String {
        let problems = error["data"]?.objectValue?["errors"]?.arrayValue?.compactMap(\.objectValue) ?? []
        if problems.isEmpty { return error["message"]?.stringValue ?? "not imported" }
        return problems.map { "\($0["field"]?.stringValue ?? "?"): \($0["message"]?.stringValue ?? "")" }
            .joined(separator: "; ")
    }

    private func reportFailure(line: Int, message: String) {
        if json {
            let entry: JSONValue = ["line": .number(JSONNumber(line)), "status": "failed", "reason": .string(message)]
            Terminal.output(entry.jsonString)
        } else {
            Terminal.error("\(file):\(line): not imported: \(message)")
        }
    }

    /// The summary line (stdout, or stderr with --json so stdout stays JSON Lines).
    func report(_ totals: ImportTotals, dryRun: Bool, atomicRefused: Bool) {
        var line = "created \(totals.created), updated \(totals.updated), unchanged \(totals.unchanged), "
            + "skipped \(totals.skipped), failed \(totals.failed)"
        if atomicRefused {
            line += " (--atomic: nothing was imported; the dry run found \(totals.failed) card\(totals.failed == 1 ? "" : "s") that would fail)"
        } else if dryRun {
            line += " (dry run: nothing was changed)"
        }
        if json { Terminal.error(line) } else { Terminal.output(line) }
    }
}

/// Standard output, or a file written through a temporary file renamed at `commit`, so a failed
/// export never leaves a partial file under the name asked for.
final class OutputFile {
    private let path: String?
    private let temporary: String?
    private let fd: Int32

    init(path: String?) throws {
        self.path = path
        guard let path else {
            temporary = nil
            fd = 1
            return
        }
        let temporary = path + ".tmp-\(getpid())"
        fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIFailure(code: 1, message: "contacts: cannot write \(path): \(String(cString: strerror(errno)))") }
        self.temporary = temporary
    }

    func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }

    func commit() throws {
        guard let path, let temporary else { return }
        if fsync(fd) != 0 || close(fd) != 0 || rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CLIFailure(code: 1, message: "contacts: cannot write \(path): \(reason)")
        }
    }

    func abandon() {
        guard let temporary else { return }
        close(fd)
        unlink(temporary)
    }
}
