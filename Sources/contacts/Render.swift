import ContactClient
import JSONRPC

/// Human output: aligned tables and records.
enum Render {
    /// Columns `text` takes on a terminal: two for wide characters (CJK, emoji), none for
    /// combining marks and other zero-width scalars, one otherwise; one grapheme at a time.
    static func width(_ text: String) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    static func width(of character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if first.isASCII { return first.value < 0x20 || first.value == 0x7F ? 0 : 1 }
        if scalars.contains(where: { $0.properties.isEmojiPresentation || $0.value == 0xFE0F }) { return 2 }
        switch first.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return 0
        default: break
        }
        return isWide(first.value) ? 2 : 1
    }

    /// East Asian Wide and Fullwidth ranges (Unicode's EastAsianWidth.txt, W and F, condensed).
    private static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF,
            0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19,
            0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF,
            0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - Self.width(text)))
    }

    /// `text` cut to at most `width` columns, ending in `…` when something was cut.
    static func truncate(_ text: String, _ width: Int) -> String {
        guard Self.width(text) > width else { return text }
        var out = ""
        var used = 0
        for character in text {
            let next = Self.width(of: character)
            if used + next > width - 1 { break }
            out.append(character)
            used += next
        }
        return out + "…"
    }

    static let titles = ["USERNAME", "FIRST", "LAST", "EMAILS", "VERSION"]

    static func cells(_ contact: ContactRecord) -> [String] {
        [contact.username, contact.firstName, contact.lastName, contact.emails.joined(separator: ", "), String(contact.version)]
    }

    /// Contacts as tab-separated rows (a header first when asked), no padding: what `cut` and
    /// `awk -F'\t'` read when stdout is not a terminal.
    static func tabSeparated(_ contacts: [ContactRecord], header: Bool) -> String {
        var lines = header ? [titles.joined(separator: "\t")] : []
        lines += contacts.map { cells($0).joined(separator: "\t") }
        return lines.joined(separator: "\n")
    }

    /// Column widths for a table of `contacts`: by display width, and, unless `wide`, shrunk to
    /// fit `columns` (the widest of FIRST, LAST and EMAILS first, never below its title). With
    /// `fill` (the first page of several), EMAILS also takes what the terminal has left, so that
    /// later pages, which keep these widths, cut fewer addresses.
    static func widths(_ contacts: [ContactRecord], fitting columns: Int?, wide: Bool, fill: Bool = false) -> [Int] {
        var widths = titles.map(width)
        for row in contacts.map(cells) {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], width(cell)) }
        }
        guard !wide, let columns else { return widths }
        let total = widths.reduce(0, +) + 2 * (widths.count - 1)
        if fill && total < columns { widths[3] += columns - total }
        let shrinkable = [3, 1, 2]
        while widths.reduce(0, +) + 2 * (widths.count - 1) > columns {
            guard let widest = shrinkable.filter({ widths[$0] > titles[$0].count }).max(by: { widths[$0] < widths[$1] })
            else { break }
            widths[widest] -= 1
        }
        return widths
    }

    /// Aligned columns at `widths`, header in bold on a terminal; a longer cell is cut with `…`
    /// unless `wide` (then it shows whole and pushes the rest of its line right).
    static func table(_ contacts: [ContactRecord], widths: [Int], header: Bool, wide: Bool) -> String {
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let fitted = wide ? cell : truncate(cell, widths[index])
                return index == cells.count - 1 ? fitted : pad(fitted, widths[index])
            }
            .joined(separator: "  ")
        }
        var lines: [String] = []
        if header { lines.append(Terminal.bold(line(titles))) }
        lines += contacts.map { line(cells($0)) }
        return lines.joined(separator: "\n")
    }

    /// One contact as a record: a label per line, emails one per line.
    static func record(_ contact: ContactRecord) -> String {
        var fields: [(String, String)] = [
            ("username", contact.username), ("first name", contact.firstName), ("last name", contact.lastName),
        ]
        if contact.emails.isEmpty {
            fields.append(("emails", Terminal.dim("(none)")))
        } else {
            for (index, email) in contact.emails.enumerated() { fields.append((index == 0 ? "emails" : "", email)) }
        }
        fields += [("created", contact.createdAt), ("updated", contact.updatedAt), ("version", String(contact.version))]
        let labelWidth = fields.map { width($0.0) }.max() ?? 0
        return fields.map { Terminal.bold(pad($0.0, labelWidth)) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// One change of the log on one line, as `changes` and `watch` print it:
    /// `12  2026-11-30T16:00:06.691Z  updated  ada.l (was ada)  v2  by my-app`
    static func change(_ change: JSONValue) -> String {
        let object = change.objectValue
        func text(_ key: String) -> String {
            if let string = object?[key]?.stringValue { return string }
            return object?[key]?.numberValue?.intValue.map(String.init) ?? "?"
        }
        var name = text("username")
        if let old = object?["old_username"]?.stringValue { name += " (was \(old))" }
        return [text("seq"), text("at"), text("op"), name, "v" + text("version"), "by " + text("author")]
            .joined(separator: "  ")
    }

    /// Indented JSON for people (scripts get compact JSON with --json).
    static func prettyJSON(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let elements) where !elements.isEmpty:
            return "[\n" + elements.map { inner + prettyJSON($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object) where !object.members.isEmpty:
            return "{\n" + object.members.map { member in
                inner + JSONValue.string(member.key).jsonString + ": " + prettyJSON(member.value, indent: inner)
            }.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.jsonString
        }
    }
}
