import ContactStore
import VCard

/// Between vCards and the store's model (protocol.md, "vCard rules"): which card property
/// becomes which field, and what is kept besides.
enum VCardMapping {
    /// Properties an import neither models nor keeps: the export writes its own.
    private static let dropped: Set<String> = ["VERSION", "PRODID", "REV", "UID"]
    /// Longest UID kept, in bytes.
    static let maxUIDBytes = 1024

    /// The contact a card maps to, or the problems that keep it out (`.invalid`, naming the
    /// property or field and why).
    static func imported(from card: VCard) -> Result<ImportedContact, StoreError> {
        var problems: [FieldError] = []
        var warnings: [FieldError] = []
        var kept: [String] = []
        var nameLines: [String] = []
        // Names: N's given and family parts, else FN split at its last word, else ORG.
        let n = card.first("N").map { VCardText.components($0.value) } ?? []
        var first = n.count > 1 ? Validation.trim(n[1]) : ""
        var last = Validation.trim(n.first ?? "")
        let fnWords = card.first("FN").map { Validation.trim($0.text).split(whereSeparator: \.isWhitespace) } ?? []
        if first.isEmpty, !fnWords.isEmpty {
            first = fnWords.count > 1 ? fnWords.dropLast().joined(separator: " ") : String(fnWords[0])
        }
        if last.isEmpty, fnWords.count > 1 { last = String(fnWords[fnWords.count - 1]) }
        let org = card.first("ORG").map { Validation.trim(VCardText.components($0.value).first ?? "") } ?? ""
        if first.isEmpty { first = org }
        if last.isEmpty { last = org }
        if first.isEmpty || last.isEmpty {
            problems.append(FieldError(
                field: "N", message: "the card has no \(first.isEmpty ? "first" : "last") name: no N, FN (of two words or more) or ORG to take it from"))
        }
        let firstName = first.isEmpty ? nil : Validation.name(first, field: "first_name", into: &problems)
        let lastName = last.isEmpty ? nil : Validation.name(last, field: "last_name", into: &problems)
        // Addresses: valid and distinct ones are offered to the model, the others kept.
        var emails: [(email: Email, line: String)] = []
        var seen: Set<String> = []
        for property in card.all("EMAIL") {
            var errors: [FieldError] = []
            let address = Validation.trim(property.text)
            if let email = Validation.email(address, field: "EMAIL", into: &errors), seen.insert(email.key).inserted {
                emails.append((email, property.contentLine))
            } else {
                kept.append(property.contentLine)
                let why = errors.first?.message ?? "repeats an address of this card"
                warnings.append(FieldError(field: "EMAIL", message: "\(address) \(why); kept as an unmodelled EMAIL"))
            }
        }
        // The username: NICKNAME when valid, else the first address's local part, else the name.
        var errors: [FieldError] = []
        let nickname = card.first("NICKNAME").map { Validation.trim(VCardText.list($0.value).first ?? "") }
        let username =
            nickname.flatMap { Validation.username($0, into: &errors) }
            ?? emails.first.flatMap { usernameLike(String($0.email.address.split(separator: "@")[0])) }
            ?? usernameLike("\(firstName ?? first).\(lastName ?? last)") ?? "contact"
        let uid = card.first("UID").map { Validation.trim($0.text) }.flatMap { $0.isEmpty ? nil : $0 } ?? derivedUID(card)
        if uid.utf8.count > maxUIDBytes {
            problems.append(FieldError(field: "UID", message: "must be at most \(maxUIDBytes) bytes"))
        }
        guard problems.isEmpty, let firstName, let lastName else { return .failure(.invalid(problems)) }
        let fn = card.first("FN")
        let generated = (fn: generatedFN(firstName, lastName), n: generatedN(firstName, lastName))
        let originalN = card.first("N").map(\.contentLine)
        if let fn, fn.contentLine != generated.fn || (originalN != nil && originalN != generated.n) {
            nameLines.append(fn.contentLine)
        }
        if let originalN, originalN != generated.n || (fn != nil && fn?.contentLine != generated.fn) {
            nameLines.append(originalN)
        }
        var usedFN = false, usedN = false, usedNickname = false
        for property in card.properties {
            switch property.name {
            case _ where dropped.contains(property.name), "EMAIL": continue
            case "FN" where !usedFN: usedFN = true
            case "N" where !usedN: usedN = true
            case "NICKNAME" where !usedNickname && property.contentLine == "NICKNAME:" + username: usedNickname = true
            default: kept.append(property.contentLine)
            }
        }
        let record = VCardRecord(
            uid: uid, names: nameLines.isEmpty ? nil : (firstName, lastName), nameLines: nameLines, keptLines: kept)
        return .success(ImportedContact(
            usernames: [username], firstName: firstName, lastName: lastName, emails: emails, record: record,
            warnings: warnings))
    }

    /// `text` made a username: Latin letters without accents (`LatinFolding`), spaces to '.', other characters outside
    /// the username rule left out, starting with a letter or digit, at most 64; nil when nothing is left.
    static func usernameLike(_ text: String) -> String? {
        var bytes: [UInt8] = []
        for scalar in LatinFolding.fold(Validation.nfc(text)).unicodeScalars {
            if scalar.isASCII {
                let byte = UInt8(scalar.value)
                if Validation.isUsernameByte(byte) {
                    bytes.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
                } else if byte == 0x20 {
                    bytes.append(UInt8(ascii: "."))
                }
            }
        }
        while let first = bytes.first, !(Validation.isUsernameByte(first) && first != UInt8(ascii: ".") && first != UInt8(ascii: "_") && first != UInt8(ascii: "-")) {
            bytes.removeFirst()
        }
        let name = String(decoding: bytes.prefix(Validation.maxUsernameLength), as: UTF8.self)
        var errors: [FieldError] = []
        return Validation.username(name, into: &errors)
    }

    /// A UID for a card that has none, from its content: the same card always gets the same, so
    /// importing a file twice finds the first import's contacts.
    static func derivedUID(_ card: VCard) -> String {
        var high: UInt64 = 0xcbf2_9ce4_8422_2325
        var low: UInt64 = 0x8422_2325_cbf2_9ce4
        for property in card.properties where property.name != "REV" && property.name != "PRODID" {
            for byte in property.contentLine.utf8 + [0x0A] {
                high = (high ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
                low = (low ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
                low = low &+ (high >> 29)
            }
        }
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        bytes[6] = bytes[6] & 0x0F | 0x80  // version 8: a custom, name-based UUID
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { byte in String(byte >> 4, radix: 16) + String(byte & 0xF, radix: 16) }
        return "urn:uuid:" + [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }
            .joined(separator: "-")
    }

    private static func generatedFN(_ first: String, _ last: String) -> String {
        "FN:" + VCardText.escape(first + " " + last)
    }

    private static func generatedN(_ first: String, _ last: String) -> String {
        "N:" + VCardText.escape(last) + ";" + VCardText.escape(first) + ";;;"
    }

    /// The vCard 4.0 text of an exported contact: UID, FN, N, NICKNAME, EMAIL, REV, then every
    /// kept line. The original FN and N are written while the names are still those imported;
    /// an address's original EMAIL line (with its parameters) while the contact has the address.
    static func card(for exported: ExportedContact) -> [UInt8] {
        let (contact, record) = (exported.contact, exported.record)
        var out: [UInt8] = []
        out.reserveCapacity(256)
        VCardWriter.append(line: "BEGIN:VCARD", to: &out)
        VCardWriter.append(line: "VERSION:4.0", to: &out)
        VCardWriter.append(VCardProperty(name: "UID", value: VCardText.escape(record.uid)), to: &out)
        let namesCurrent = record.names.map { $0.first == contact.firstName && $0.last == contact.lastName } ?? false
        let originals = namesCurrent ? record.nameLines.compactMap(VCardProperty.init(contentLine:)) : []
        let fn = originals.first { $0.name == "FN" }.map(\.contentLine) ?? generatedFN(contact.firstName, contact.lastName)
        let n = originals.first { $0.name == "N" }.map(\.contentLine) ?? generatedN(contact.firstName, contact.lastName)
        VCardWriter.append(line: fn, to: &out)
        VCardWriter.append(line: n, to: &out)
        VCardWriter.append(line: "NICKNAME:" + contact.username, to: &out)
        var emailLines: [String: String] = [:]
        for line in record.emailLines {
            guard let property = VCardProperty(contentLine: line) else { continue }
            emailLines[Email(address: Validation.trim(property.text)).key] = line
        }
        for email in contact.emails {
            VCardWriter.append(line: emailLines[email.key] ?? "EMAIL:" + email.address, to: &out)
        }
        VCardWriter.append(line: "REV:" + rev(contact.updatedAt), to: &out)
        for line in record.keptLines { VCardWriter.append(line: line, to: &out) }
        VCardWriter.append(line: "END:VCARD", to: &out)
        return out
    }

    /// `20261126T064532Z`: RFC 6350's timestamp, in UTC.
    private static func rev(_ time: Timestamp) -> String {
        let rfc3339 = time.rfc3339  // 2026-11-26T06:45:32.968Z
        return String(rfc3339.prefix(19).filter { $0 != "-" && $0 != ":" }) + "Z"
    }
}

/// Latin letters with accents and ligatures spelled in ASCII (U+00C0 to U+017F), for usernames
/// made from names: `José Ødegård` becomes `jose.odegard`.
enum LatinFolding {
    private static let latin1: [String] =
        "A A A A A A AE C E E E E I I I I D N O O O O O - O U U U U Y TH ss a a a a a a ae c e e e e i i i i d n o o o o o - o u u u u y th y"
        .split(separator: " ").map(String.init)
    private static let extendedA: [String] =
        ("A a A a A a C c C c C c C c D d D d E e E e E e E e E e G g G g G g G g H h H h I i I i I i I i I i IJ ij J j "
        + "K k k L l L l L l L l L l N n N n N n n N n O o O o O o OE oe R r R r R r S s S s S s S s T t T t T t "
        + "U u U u U u U u U u U u W w Y y Y Z z Z z Z z s").split(separator: " ").map(String.init)

    /// `text` with every such letter spelled in ASCII; other characters stay.
    static func fold(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0xC0...0xFF where latin1[Int(scalar.value - 0xC0)] != "-": out += latin1[Int(scalar.value - 0xC0)]
            case 0x100...0x17F: out += extendedA[Int(scalar.value - 0x100)]
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
