/// Reads vCard 4.0, 3.0 and 2.1 as real exports write them, from bytes fed in any chunk sizes,
/// in bounded memory: folded lines, CRLF or LF, a byte-order mark, quoted-printable soft line
/// breaks and `CHARSET` (2.1), quoted parameter values, bare 2.1 parameters, several cards.
///
/// Each card comes out as a `VCard` or, when it cannot be read, as one `VCardFailure` naming the
/// line and the reason; reading goes on with the next card. A property longer than
/// `maxPropertyBytes` (unfolded) or a card longer than `maxCardBytes` fails its card without
/// being held: the reader keeps at most about that much of the input at any time.
public struct VCardReader {
    /// What reading produces, in input order.
    public enum Event: Sendable, Equatable {
        case card(VCard)
        case failure(VCardFailure)
    }

    /// The default longest property: 256 KiB, unfolded.
    public static let defaultMaxPropertyBytes = 256 << 10
    /// The default longest card: 1 MiB, the server's default request size.
    public static let defaultMaxCardBytes = 1 << 20

    public let maxPropertyBytes: Int
    public let maxCardBytes: Int

    // The physical line being read.
    private var physical: [UInt8] = []
    private var physicalTooLong = false
    private var lineNumber = 0
    // The logical (unfolded) line being assembled.
    private var logical: [UInt8] = []
    private var logicalStarted = false
    private var logicalLine = 0
    private var logicalTooLong = false
    private var logicalHead = VCardPropertyParser.HeadScan()
    /// Whether the logical line's parameters ask for quoted-printable; nil until they have ended.
    private var logicalQuotedPrintable: Bool?
    // The card being read.
    private var properties: [VCardProperty] = []
    private var cardLine: Int?
    private var cardBytes = 0
    private var cardFailure: VCardFailure?
    /// Inside a stretch of lines outside any card (reported once per stretch).
    private var inJunk = false
    private var events: [Event] = []
    /// Cards and failures seen so far.
    public private(set) var cardsSeen = 0

    /// A reader with the given limits.
    public init(maxPropertyBytes: Int = defaultMaxPropertyBytes, maxCardBytes: Int = defaultMaxCardBytes) {
        self.maxPropertyBytes = maxPropertyBytes
        self.maxCardBytes = maxCardBytes
    }

    /// Every event of a whole input.
    public static func read(_ bytes: [UInt8], maxPropertyBytes: Int = defaultMaxPropertyBytes) -> [Event] {
        var reader = VCardReader(maxPropertyBytes: maxPropertyBytes, maxCardBytes: max(defaultMaxCardBytes, bytes.count))
        var events = reader.feed(bytes)
        events += reader.finish()
        return events
    }

    /// Reads `bytes` and returns the events they completed.
    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Reads `bytes` and returns the events they completed.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        var start = 0
        let limit = maxPropertyBytes + 1
        while start < bytes.count {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else {
                appendPhysical(bytes[start...], limit: limit)
                break
            }
            appendPhysical(bytes[start..<newline], limit: limit)
            endPhysicalLine()
            start = newline + 1
        }
        return takeEvents()
    }

    /// Ends the input: the last line, and a card left without `END:VCARD`.
    public mutating func finish() -> [Event] {
        if !physical.isEmpty || physicalTooLong { endPhysicalLine() }
        endLogicalLine()
        if let cardLine {
            fail(VCardFailure(line: cardLine, cardLine: cardLine, message: "the card has no END:VCARD"))
            finishCard()
        }
        return takeEvents()
    }

    private mutating func takeEvents() -> [Event] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    private mutating func appendPhysical(_ bytes: Slice<UnsafeRawBufferPointer>, limit: Int) {
        guard !physicalTooLong else { return }
        if physical.count + bytes.count > limit {
            physical.append(contentsOf: bytes.prefix(max(0, limit - physical.count)))
            physicalTooLong = true
        } else {
            physical.append(contentsOf: bytes)
        }
    }

    private mutating func endPhysicalLine() {
        lineNumber += 1
        defer {
            physical.removeAll(keepingCapacity: physical.capacity <= 1 << 16)
            physicalTooLong = false
        }
        if physical.last == 0x0D { physical.removeLast() }
        if lineNumber == 1 {
            if physical.starts(with: [0xEF, 0xBB, 0xBF]) { physical.removeFirst(3) }
            if physical.starts(with: [0xFF, 0xFE]) || physical.starts(with: [0xFE, 0xFF]) {
                events.append(.failure(VCardFailure(
                    line: 1, message: "the file is UTF-16 text; vCard files are read as UTF-8 (convert it first)")))
                inJunk = true
            }
        }
        // A quoted-printable soft line break: the value goes on on this line, as it is.
        if logicalStarted, logical.last == UInt8(ascii: "="), logicalIsQuotedPrintable() {
            logical.removeLast()
            appendLogical(physical[...], tooLong: physicalTooLong)
            return
        }
        // A folded line: drop the one white-space character that starts it.
        if logicalStarted, let first = physical.first, first == 0x20 || first == 0x09 {
            appendLogical(physical.dropFirst(), tooLong: physicalTooLong)
            return
        }
        endLogicalLine()
        // Blank lines separate nothing in vCard; 2.1 ends base64 values with one.
        if physical.isEmpty && !physicalTooLong { return }
        logicalStarted = true
        logicalLine = lineNumber
        logicalTooLong = false
        logical.removeAll(keepingCapacity: logical.capacity <= 1 << 16)
        logicalHead = VCardPropertyParser.HeadScan()
        logicalQuotedPrintable = nil
        appendLogical(physical[...], tooLong: physicalTooLong)
    }

    private mutating func appendLogical(_ bytes: ArraySlice<UInt8>, tooLong: Bool) {
        guard !logicalTooLong else { return }
        if tooLong || logical.count + bytes.count > maxPropertyBytes {
            logical.append(contentsOf: bytes.prefix(max(0, min(256, maxPropertyBytes - logical.count))))
            logicalTooLong = true
        } else {
            logical.append(contentsOf: bytes)
        }
    }

    /// True when the logical line's parameters ask for quoted-printable as the parser reads them
    /// (the first `ENCODING` is `QUOTED-PRINTABLE`); false while they have not ended. A `=` at
    /// the end of any other line is text, and folding may leave one there.
    private mutating func logicalIsQuotedPrintable() -> Bool {
        if let known = logicalQuotedPrintable { return known }
        guard let colon = logicalHead.advance(over: logical) else { return false }
        let head = try? VCardPropertyParser.parseHead(logical[..<colon], line: logicalLine).get()
        let known = head.map { VCardPropertyParser.declaresQuotedPrintable($0.parameters) } ?? false
        logicalQuotedPrintable = known
        return known
    }

    private mutating func endLogicalLine() {
        guard logicalStarted else { return }
        logicalStarted = false
        handle(logical, line: logicalLine, tooLong: logicalTooLong)
    }

    private mutating func handle(_ bytes: [UInt8], line: Int, tooLong: Bool) {
        let parsed = VCardPropertyParser.parse(bytes, line: line)
        let delimiter = Self.delimiter(parsed)
        let isBegin = delimiter == "BEGIN"
        guard let start = cardLine else {
            if isBegin {
                inJunk = false
                cardLine = line
            } else if !inJunk {
                inJunk = true
                events.append(.failure(VCardFailure(line: line, message: "not a vCard: expected BEGIN:VCARD")))
            }
            return
        }
        if isBegin {
            fail(VCardFailure(
                line: start, cardLine: start, message: "the card has no END:VCARD before the next BEGIN:VCARD (line \(line))"))
            finishCard()
            cardLine = line
            return
        }
        if delimiter == "END" {
            finishCard()
            return
        }
        guard cardFailure == nil else { return }
        if tooLong {
            let name = Self.name(of: bytes)
            fail(VCardFailure(
                line: line, cardLine: start, property: name,
                message: "\(name ?? "a property") is larger than \(maxPropertyBytes) bytes (\(maxPropertyBytes >> 10) KiB), the most a property may hold"))
            return
        }
        cardBytes += bytes.count
        if cardBytes > maxCardBytes {
            fail(VCardFailure(line: line, cardLine: start, message: "the card is larger than \(maxCardBytes) bytes"))
            return
        }
        switch parsed {
        case .success(let property): properties.append(property)
        case .failure(var failure):
            failure.cardLine = start
            fail(failure)
        }
    }

    private mutating func fail(_ failure: VCardFailure) {
        if cardFailure == nil { cardFailure = failure }
        properties.removeAll()
    }

    private mutating func finishCard() {
        cardsSeen += 1
        if let cardFailure {
            events.append(.failure(cardFailure))
        } else {
            events.append(.card(VCard(properties: properties, line: cardLine ?? 0)))
        }
        properties = []
        cardLine = nil
        cardBytes = 0
        cardFailure = nil
    }

    /// The property name at the start of a line (after any group), upper-cased, if it has one.
    private static func name(of bytes: [UInt8]) -> String? {
        let head = bytes.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: ":") }
        let name = head.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).last ?? []
        guard !name.isEmpty, name.count <= 64, name.allSatisfy(VCardPropertyParser.isNameByte) else { return nil }
        return String(decoding: name, as: UTF8.self).uppercased()
    }

    /// `BEGIN` or `END` when the line reads as `BEGIN:VCARD` or `END:VCARD`: no group, no
    /// parameters left once read (`CHARSET` and quoted-printable are undone), the value `VCARD` in
    /// any ASCII case with white space after it ignored. What reads as one is one, wherever it is,
    /// so no property read can be written back as a card's edge.
    private static func delimiter(_ parsed: Result<VCardProperty, VCardFailure>) -> String? {
        guard case .success(let property) = parsed, property.group == nil, property.parameters.isEmpty,
            property.name == "BEGIN" || property.name == "END"
        else { return nil }
        var value = property.value.utf8[...]
        while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
        let expected = "VCARD".utf8
        guard value.count == expected.count else { return nil }
        return zip(value, expected).allSatisfy { a, b in a == b || (a >= 0x61 && a <= 0x7A && a - 0x20 == b) } ? property.name : nil
    }
}
